package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
)

// Every stage has the event bus, and every function that commits an
// audited transition is told its name (and may put events on it only).
func TestEventBus(t *testing.T) {
	for _, st := range stages(t) {
		s := st.s
		check(t, st.name+" bus", func() {
			s.T.HasResourceProperties(jsii.String("AWS::Events::EventBus"), &map[string]any{"Name": "certctl-test-events"})
		})
		for _, fn := range FunctionNames {
			env := render(props(s.resource(t, construct(fn)))["Environment"])
			has := strings.Contains(env, EnvEventBus)
			if has != publishers[fn] {
				t.Errorf("%s %s: %s set = %v, want %v", st.name, fn, EnvEventBus, has, publishers[fn])
			}
			puts := false
			for _, g := range s.grants(construct(fn) + "Role") {
				if strings.Contains(g, "events:") {
					puts = true
					if g != "Allow events:PutEvents ${EventBus.Arn}" {
						t.Errorf("%s %s: %s", st.name, fn, g)
					}
				}
			}
			if puts != publishers[fn] {
				t.Errorf("%s %s: events:PutEvents granted = %v, want %v", st.name, fn, puts, publishers[fn])
			}
		}
	}
}

// The prod stage's notify context: one rule per target matching the
// events routed to it; an SNS topic with its subscriptions gets the text;
// a webhook gets {"text": …} ($.detail.message) through an API
// destination and its connection; undeliverable events go to the DLQ.
func TestNotifyTargets(t *testing.T) {
	s := prodStack(t)
	for _, name := range []string{"ops", "chat", "pager"} {
		check(t, "rule "+name, func() {
			s.T.HasResourceProperties(jsii.String("AWS::Events::Rule"), &map[string]any{
				"Name":         "certctl-test-notify-" + name,
				"EventBusName": map[string]any{"Ref": s.logicalID(t, "EventBus")},
				"EventPattern": map[string]any{"source": []any{EventSource}, "detail": RulePattern(name)},
			})
		})
	}
	rules := s.resources("AWS::Events::Rule")
	targetsOf := func(name string) []any {
		for _, r := range rules {
			if props(r)["Name"] == "certctl-test-notify-"+name {
				return list(props(r)["Targets"])
			}
		}
		t.Fatalf("no rule for %s", name)
		return nil
	}
	// ops: e-mail through SNS, the text only.
	ops := render(targetsOf("ops"))
	for _, want := range []string{`"InputPathsMap":{"detail-message-text":"$.detail.message.text"}`, `"InputTemplate":"\"\u003cdetail-message-text\u003e\""`,
		"${NotifyOpsTopic", "${DeadLetterQueue.Arn}", `"MaximumRetryAttempts":185`} {
		if !strings.Contains(ops, want) {
			t.Errorf("ops target lacks %s: %s", want, ops)
		}
	}
	for _, e := range []string{"ops@example.com", "oncall@example.com"} {
		check(t, "subscription "+e, func() {
			s.T.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), &map[string]any{"Protocol": "email", "Endpoint": e})
		})
	}
	// chat and pager: webhooks.
	for _, name := range []string{"chat", "pager"} {
		tg := render(targetsOf(name))
		if !strings.Contains(tg, `"InputPath":"`+WebhookInputPath+`"`) || !strings.Contains(tg, "${DeadLetterQueue.Arn}") ||
			!strings.Contains(tg, "${Notify"+construct(name)+"Destination") {
			t.Errorf("%s target: %s", name, tg)
		}
	}
	check(t, "pager destination", func() {
		s.T.HasResourceProperties(jsii.String("AWS::Events::ApiDestination"), &map[string]any{
			"Name": "certctl-test-notify-pager", "HttpMethod": "POST", "InvocationEndpoint": "https://pager.example.com/hooks/certctl",
		})
	})
	// The pending-approval alarm also tells the default targets' topic.
	var actions string
	for _, r := range s.resources("AWS::CloudWatch::Alarm") {
		if props(r)["AlarmName"] == "certctl-test-approval-pending-too-long" {
			actions = render(props(r)["AlarmActions"])
		}
	}
	if !strings.Contains(actions, "${NotifyOpsTopic") || !strings.Contains(actions, "${AlarmTopic") {
		t.Errorf("pending alarm actions: %s", actions)
	}
	// The publishers know the targets, the defaults and the escalation.
	env := render(props(s.resource(t, "Reaper"))["Environment"])
	for _, want := range []string{`"CERTCTL_NOTIFY_TARGETS":"chat,ops,pager"`, `"CERTCTL_NOTIFY_DEFAULT":"ops,chat"`,
		`"CERTCTL_NOTIFY_ESCALATION":"pager"`, `"CERTCTL_CONSOLE_URL":"https://certs.example.com/console/"`,
		`"CERTCTL_APPROVAL_REMIND_AFTER":"24h"`, `"CERTCTL_APPROVAL_ESCALATE_AFTER":"72h"`, `"CERTCTL_EXPIRY_WARNING":"336h"`} {
		if !strings.Contains(env, want) {
			t.Errorf("reaper environment lacks %s: %s", want, env)
		}
	}
}

// No webhook secret is ever in the template: a URL that is a secret and
// an authorization value are dynamic references to Secrets Manager,
// resolved by CloudFormation at deploy; a literal URL that carries a
// secret is refused at synth.
func TestWebhookSecretsStayOutOfTheTemplate(t *testing.T) {
	s := prodStack(t)
	var chat, pager map[string]any
	for _, r := range s.resources("AWS::Events::ApiDestination") {
		switch props(r)["Name"] {
		case "certctl-test-notify-chat":
			chat = props(r)
		case "certctl-test-notify-pager":
			pager = props(r)
		}
	}
	if e := render(chat["InvocationEndpoint"]); e != "{{resolve:secretsmanager:certctl/prod/slack-webhook:SecretString:::}}" {
		t.Errorf("chat endpoint: %s", e)
	}
	if pager == nil {
		t.Fatal("no pager destination")
	}
	for _, r := range s.resources("AWS::Events::Connection") {
		p := props(r)
		auth := render(p["AuthParameters"])
		switch p["Name"] {
		case "certctl-test-notify-pager":
			if !strings.Contains(auth, `"ApiKeyName":"Authorization"`) ||
				!strings.Contains(auth, `"ApiKeyValue":"{{resolve:secretsmanager:certctl/prod/pager-token:SecretString:::}}"`) {
				t.Errorf("pager connection: %s", auth)
			}
		case "certctl-test-notify-chat":
			// No credential: a fixed, non-secret source header.
			if !strings.Contains(auth, `"ApiKeyName":"X-Certctl-Source","ApiKeyValue":"certctl-serverless-test"`) {
				t.Errorf("chat connection: %s", auth)
			}
		default:
			t.Errorf("unexpected connection %v", p["Name"])
		}
	}
	b, _ := json.Marshal(s.Template)
	for _, leaked := range []string{"hooks.slack.com", "Bearer "} {
		if strings.Contains(string(b), leaked) {
			t.Errorf("the template contains %q", leaked)
		}
	}
	for name, raw := range map[string]string{
		"slack literal":   `{"targets":{"c":{"webhook":"https://hooks.slack.com/services/T0/B0/XXXX"}}}`,
		"teams literal":   `{"targets":{"c":{"webhook":"https://contoso.webhook.office.com/webhookb2/x"}}}`,
		"query string":    `{"targets":{"c":{"webhook":"https://example.com/hook?token=abc"}}}`,
		"credentials":     `{"targets":{"c":{"webhook":"https://user:pw@example.com/hook"}}}`,
		"plain http":      `{"targets":{"c":{"webhook":"http://example.com/hook"}}}`,
		"both kinds":      `{"targets":{"c":{"webhook":"https://example.com/h","emails":["a@example.com"]}}}`,
		"neither":         `{"targets":{"c":{}}}`,
		"unknown field":   `{"targets":{"c":{"emails":["a@example.com"],"url":"x"}}}`,
		"unknown default": `{"targets":{"c":{"emails":["a@example.com"]}},"default":["d"]}`,
		"bad name":        `{"targets":{"C D":{"emails":["a@example.com"]}}}`,
		"secret value":    `{"targets":{"c":{"urlSecret":"{{resolve:secretsmanager:x}}"}}}`,
	} {
		if _, err := ParseNotify(raw); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if c, err := ParseNotify(`{"targets":{"c":{"urlSecret":"certctl/slack"},"m":{"emails":["a@example.com"]}},"default":["m"],"escalation":["c"]}`); err != nil || c == nil {
		t.Errorf("a good config: %v", err)
	}
}

// logicalID is the full logical id of the one resource named prefix.
func (s *synthed) logicalID(t *testing.T, prefix string) string {
	t.Helper()
	for id := range s.Template["Resources"].(map[string]any) {
		if logical(id) == prefix {
			return id
		}
	}
	t.Fatalf("no resource %s", prefix)
	return ""
}

// resource is the resource named prefix.
func (s *synthed) resource(t *testing.T, prefix string) map[string]any {
	t.Helper()
	return s.Template["Resources"].(map[string]any)[s.logicalID(t, prefix)].(map[string]any)
}
