package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/jsii-runtime-go"
)

// Notifications: the event bus every stage has, and the targets the
// `notify` context configures. The functions publish one event per fact
// (pkg/domain.EventTypes); each target gets, through its own rule, the
// events whose detail routes to it (route.<name> = true).

// Shared with pkg/eventbus and pkg/domain (a test keeps them in step).
const (
	EventSource      = "certctl-serverless"
	WebhookInputPath = "$.detail.message"
	EmailTextPath    = "$.detail.message.text"
	RouteField       = "route"
)

// Environment variables of the notification settings (pkg/config).
const (
	EnvEventBus         = "CERTCTL_EVENT_BUS"
	EnvRemindAfter      = "CERTCTL_APPROVAL_REMIND_AFTER"
	EnvEscalateAfter    = "CERTCTL_APPROVAL_ESCALATE_AFTER"
	EnvExpiryWarning    = "CERTCTL_EXPIRY_WARNING"
	EnvConsoleURL       = "CERTCTL_CONSOLE_URL"
	EnvNotifyTargets    = "CERTCTL_NOTIFY_TARGETS"
	EnvNotifyDefault    = "CERTCTL_NOTIFY_DEFAULT"
	EnvNotifyEscalation = "CERTCTL_NOTIFY_ESCALATION"
)

// NotifyConfig is the `notify` context: named targets, who is told by
// default, and who an escalation also goes to.
type NotifyConfig struct {
	Targets    map[string]NotifyTarget `json:"targets"`
	Default    []string                `json:"default"`
	Escalation []string                `json:"escalation"`
}

// NotifyTarget is an SNS topic (with e-mail subscriptions) or a webhook.
// A webhook's URL is given literally only when it holds no secret; a URL
// that is itself the secret (Slack, Teams) is named by urlSecret, a
// Secrets Manager secret whose string is the URL. An authorization header
// value, if the endpoint wants one, comes from authSecret. Either way the
// template holds only a dynamic reference to the secret, never its value.
type NotifyTarget struct {
	Emails     []string `json:"emails,omitempty"`
	Topic      bool     `json:"topic,omitempty"` // an SNS topic without subscriptions (subscribe later)
	Webhook    string   `json:"webhook,omitempty"`
	URLSecret  string   `json:"urlSecret,omitempty"`
	AuthSecret string   `json:"authSecret,omitempty"`
	AuthHeader string   `json:"authHeader,omitempty"`
}

func (t NotifyTarget) isWebhook() bool { return t.Webhook != "" || t.URLSecret != "" }

var (
	notifyNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	secretNameRE = regexp.MustCompile(`^[A-Za-z0-9/_+=.@!-]{1,512}$`)
	headerRE     = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	// Webhook hosts whose URL is itself the credential.
	secretURLHosts = []string{"hooks.slack.com", "webhook.office.com", "discord.com", "discordapp.com", "chat.googleapis.com"}
)

// ParseNotify reads the `notify` context (a JSON object, as a string from
// -c or as the object from cdk.json).
func ParseNotify(v any) (*NotifyConfig, error) {
	if v == nil {
		return nil, nil
	}
	raw, ok := v.(string)
	if !ok {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("context notify: %w", err)
		}
		raw = string(b)
	}
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	var c NotifyConfig
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf(`context notify: want {"targets":{"ops":{"emails":["ops@example.com"]}},"default":["ops"]}: %w`, err)
	}
	return &c, c.check()
}

func (c *NotifyConfig) check() error {
	var errs []error
	if len(c.Targets) > 20 {
		errs = append(errs, errors.New("notify: at most 20 targets"))
	}
	for _, name := range sortedKeys(c.Targets) {
		t := c.Targets[name]
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("notify target %q: "+format, append([]any{name}, args...)...))
		}
		if !notifyNameRE.MatchString(name) {
			bad("want 1-63 characters of a-z, 0-9, '.', '_' and '-'")
		}
		sns := len(t.Emails) > 0 || t.Topic
		if sns == t.isWebhook() {
			bad(`want either "emails" (or "topic": true) or a webhook ("webhook" or "urlSecret")`)
			continue
		}
		for _, e := range t.Emails {
			if !strings.Contains(e, "@") || strings.ContainsAny(e, " ,;") {
				bad("%q is not an e-mail address", e)
			}
		}
		if t.Webhook != "" && t.URLSecret != "" {
			bad(`give "webhook" or "urlSecret", not both`)
		}
		if t.Webhook != "" {
			u, err := url.Parse(t.Webhook)
			switch {
			case err != nil || u.Scheme != "https" || u.Host == "":
				bad("webhook %q: want an https URL", t.Webhook)
			case u.User != nil || u.RawQuery != "":
				bad("webhook: a URL with credentials or a query string holds a secret: put it in Secrets Manager and name it with urlSecret")
			default:
				for _, h := range secretURLHosts {
					if u.Hostname() == h || strings.HasSuffix(u.Hostname(), "."+h) {
						bad("webhook: a %s URL is itself the credential: put it in Secrets Manager and name it with urlSecret", h)
					}
				}
			}
		}
		for field, s := range map[string]string{"urlSecret": t.URLSecret, "authSecret": t.AuthSecret} {
			if s != "" && (!secretNameRE.MatchString(s) || strings.Contains(s, "{{")) {
				bad("%s %q: want a Secrets Manager secret name or ARN", field, s)
			}
		}
		if (t.AuthSecret != "" || t.AuthHeader != "") && !t.isWebhook() {
			bad("authSecret and authHeader go with a webhook")
		}
		if t.AuthHeader != "" && !headerRE.MatchString(t.AuthHeader) {
			bad("authHeader %q: not a header name", t.AuthHeader)
		}
	}
	for field, list := range map[string][]string{"default": c.Default, "escalation": c.Escalation} {
		for _, n := range list {
			if _, ok := c.Targets[n]; !ok {
				errs = append(errs, fmt.Errorf("notify %s: %q is not a target", field, n))
			}
		}
	}
	return errors.Join(errs...)
}

// names lists the target names, sorted.
func (c *NotifyConfig) names() []string {
	if c == nil {
		return nil
	}
	return sortedKeys(c.Targets)
}

// RulePattern is the detail pattern of a target's rule (pkg/eventbus).
func RulePattern(target string) map[string]any {
	return map[string]any{RouteField: map[string]any{target: []any{true}}}
}

// notifications builds the bus and every target's rule.
func (s *Stack) notifications() {
	s.EventBus = awsevents.NewEventBus(s.Stack, jsii.String("EventBus"), &awsevents.EventBusProps{
		EventBusName: jsii.String(s.name("events")),
		Description:  jsii.String(fmt.Sprintf("certctl-serverless %s: approval and certificate events (source %s)", s.Props.Stage, EventSource)),
	})
	s.NotifyTopics = map[string]awssns.Topic{}
	s.NotifyRules = map[string]awsevents.Rule{}
	c := s.Props.Notify
	for _, name := range c.names() {
		t := c.Targets[name]
		id := "Notify" + construct(strings.NewReplacer(".", "-", "_", "-").Replace(name))
		rule := awsevents.NewRule(s.Stack, jsii.String(id+"Rule"), &awsevents.RuleProps{
			RuleName:    jsii.String(s.name("notify-" + name)),
			Description: jsii.String(fmt.Sprintf("certctl-serverless %s: events for notification target %s", s.Props.Stage, name)),
			EventBus:    s.EventBus,
			EventPattern: &awsevents.EventPattern{
				Source: jsii.Strings(EventSource),
				Detail: &map[string]any{RouteField: map[string]any{name: []any{true}}},
			},
		})
		s.NotifyRules[name] = rule
		// EventBridge retries a failed delivery for a day (185 attempts at
		// most); what it gives up on lands in the dead-letter queue.
		retries, age := jsii.Number(185), awscdk.Duration_Hours(jsii.Number(24))
		if !t.isWebhook() {
			topic := awssns.NewTopic(s.Stack, jsii.String(id+"Topic"), &awssns.TopicProps{
				DisplayName: jsii.String(s.name(name)),
				EnforceSSL:  jsii.Bool(true),
			})
			for _, e := range t.Emails {
				topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(e), nil))
			}
			s.NotifyTopics[name] = topic
			rule.AddTarget(awseventstargets.NewSnsTopic(topic, &awseventstargets.SnsTopicProps{
				Message:         awsevents.RuleTargetInput_FromText(awsevents.EventField_FromPath(jsii.String(EmailTextPath))),
				DeadLetterQueue: s.DLQ, RetryAttempts: retries, MaxEventAge: age,
			}))
			continue
		}
		header, value := "X-Certctl-Source", awscdk.SecretValue_UnsafePlainText(jsii.String("certctl-serverless-"+s.Props.Stage))
		if t.AuthSecret != "" {
			header, value = "Authorization", awscdk.SecretValue_SecretsManager(jsii.String(t.AuthSecret), nil)
		}
		if t.AuthHeader != "" {
			header = t.AuthHeader
		}
		conn := awsevents.NewConnection(s.Stack, jsii.String(id+"Connection"), &awsevents.ConnectionProps{
			ConnectionName: jsii.String(s.name("notify-" + name)),
			Description:    jsii.String(fmt.Sprintf("certctl-serverless %s: webhook target %s", s.Props.Stage, name)),
			Authorization:  awsevents.Authorization_ApiKey(jsii.String(header), value),
		})
		endpoint := jsii.String(t.Webhook)
		if t.URLSecret != "" {
			endpoint = awscdk.SecretValue_SecretsManager(jsii.String(t.URLSecret), nil).UnsafeUnwrap()
		}
		dest := awsevents.NewApiDestination(s.Stack, jsii.String(id+"Destination"), &awsevents.ApiDestinationProps{
			ApiDestinationName: jsii.String(s.name("notify-" + name)),
			Connection:         conn,
			Endpoint:           endpoint,
			HttpMethod:         awsevents.HttpMethod_POST,
			RateLimitPerSecond: jsii.Number(10),
		})
		rule.AddTarget(awseventstargets.NewApiDestination(dest, &awseventstargets.ApiDestinationProps{
			Event:           awsevents.RuleTargetInput_FromEventPath(jsii.String(WebhookInputPath)),
			DeadLetterQueue: s.DLQ, RetryAttempts: retries, MaxEventAge: age,
		}))
	}
}

// notifyEnv is the notification settings every publishing function reads.
func (s *Stack) notifyEnv() map[string]*string {
	p := s.Props
	env := map[string]*string{
		EnvEventBus:      s.EventBus.EventBusName(),
		EnvRemindAfter:   jsii.String(FormatDuration(p.RemindAfter)),
		EnvEscalateAfter: jsii.String(FormatDuration(p.EscalateAfter)),
		EnvExpiryWarning: jsii.String(FormatDuration(p.ExpiryWarning)),
	}
	if p.ConsoleURL != "" {
		env[EnvConsoleURL] = jsii.String(p.ConsoleURL)
	}
	if c := p.Notify; c != nil {
		for k, list := range map[string][]string{EnvNotifyTargets: c.names(), EnvNotifyDefault: c.Default, EnvNotifyEscalation: c.Escalation} {
			if len(list) > 0 {
				env[k] = jsii.String(strings.Join(list, ","))
			}
		}
	}
	return env
}

// consoleLinks points the messages at the stage's own console (the key
// API's /console/) unless consoleUrl names another. The URL is built from
// the API's id and the stage name, not from its deployment stage, which
// depends on the api function: a reference to it would be a cycle.
func (s *Stack) consoleLinks() {
	if s.Props.ConsoleURL != "" {
		return
	}
	url := awscdk.Fn_Join(jsii.String(""), &[]*string{s.apiBaseURL(s.KeyAPI), jsii.String("/console/")})
	for _, fn := range FunctionNames {
		if publishers[fn] {
			s.Functions[fn].AddEnvironment(jsii.String(EnvConsoleURL), url, nil)
		}
	}
}

// publishers are the functions that commit audited transitions and so
// publish their events.
var publishers = map[string]bool{FnAPI: true, FnIssue: true, FnFinalize: true, FnSweep: true, FnReaper: true}

// pendingAlarmTopics are the topics the pending-approval alarm notifies
// besides the alarm topic: the SNS topics among the default targets.
func (s *Stack) pendingAlarmTopics() []awssns.Topic {
	var out []awssns.Topic
	if c := s.Props.Notify; c != nil {
		for _, n := range c.Default {
			if t, ok := s.NotifyTopics[n]; ok {
				out = append(out, t)
			}
		}
	}
	return out
}

// allowAlarms lets CloudWatch publish the pending-approval alarm to a
// notification topic.
func (s *Stack) allowAlarms(topic awssns.Topic) {
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Effect:     awsiam.Effect_ALLOW,
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  &[]*string{topic.TopicArn()},
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": s.Account()}},
	}))
}

// Notification defaults (pkg/config's).
const (
	DefaultRemindAfter   = 24 * time.Hour
	DefaultEscalateAfter = 72 * time.Hour
	DefaultExpiryWarning = 14 * 24 * time.Hour
)
