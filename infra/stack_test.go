package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// Configurations under test. Every point of the production-readiness work
// is pinned on a development stage (defaultStack) and a production stage
// (prodStack); customStack turns the remaining knobs.
func defaultStack(t *testing.T) *synthed { return synth(t, "default", nil) }

// prodIAMPrincipals: a shared role, and a role whose sessions are people
// (its trust policy requires sts:SourceIdentity), in this and in another account.
const prodIAMPrincipals = `[{"role":"CertOps","roles":["operator"]},` +
	`{"role":"CertApprovers","sessions":"source-identity","roles":["approver"]},` +
	`{"arn":"arn:aws:iam::210987654321:role/people/Auditors","sessions":"source-identity","roles":["auditor"]}]`

// prodStack: production with bypass explicitly allowed, alarm e-mail,
// execution logs and the log level at WARN, so the optional parts are
// synthesized and nagged too.
func prodStack(t *testing.T) *synthed {
	return synth(t, "prod", func(p *Props) {
		p.Production = true
		p.Bypass = true
		p.AllowBypassInProduction = true
		p.AlarmEmail = "ops@example.com"
		p.APIExecutionLogs = true
		p.ApprovalTimeout = 48 * time.Hour
		p.LogLevel = "warn"
		p.IAMPrincipals = prodIAMPrincipals
		p.CallerRoles = map[string][]string{"approvers": {"approver"}, "operators": {"operator", "viewer"}}
		p.Notify = prodNotify
		p.ConsoleURL = "https://certs.example.com/console/"
	})
}

// prodNotify: an e-mail target (the default), a webhook whose URL is a
// secret (Slack), and one with a literal URL and a bearer token (the
// escalation).
var prodNotify = &NotifyConfig{
	Targets: map[string]NotifyTarget{
		"ops":   {Emails: []string{"ops@example.com", "oncall@example.com"}},
		"chat":  {URLSecret: "certctl/prod/slack-webhook"},
		"pager": {Webhook: "https://pager.example.com/hooks/certctl", AuthSecret: "certctl/prod/pager-token"},
	},
	Default:    []string{"ops", "chat"},
	Escalation: []string{"pager"},
}

// customStack: the knobs LocalStack and larger accounts use.
func customStack(t *testing.T) *synthed {
	return synth(t, "custom", func(p *Props) {
		p.Architecture = "amd64"
		p.SweepRate = 30 * time.Minute
		p.ReaperRate = 2 * time.Hour
		p.DigestRate = 15 * time.Minute
		p.ReservedConcurrency = true
		p.LogLevel = "debug"
		p.IAMPrincipals = `[{"role":"CertOps","roles":["operator"]}]`
		p.APIGatewayAccountRole = false
		p.AlarmPendingApprovalAge = 24 * time.Hour
		p.AlarmHandoffQueue = 3
		p.AlarmStartQueue = 4
		p.AlarmAPI5xx = 10
	})
}

type stage struct {
	name string
	s    *synthed
}

// stages are the development and the production stage.
func stages(t *testing.T) []stage {
	return []stage{{"dev", defaultStack(t)}, {"prod", prodStack(t)}}
}

func TestResourceCounts(t *testing.T) {
	for _, st := range stages(t) {
		// 7 function errors, authorizer failures, executions, DLQ, 2 × API 5XX, 4 reaper reports,
		// a signing key changed, audit digests stopped
		alarms := 18.0
		topics, rules := 1.0, 2.0 // the signing keys' changes; the execution-ended and key-changes rules
		if st.name == "prod" {
			// + bypass; + the alarm and ops topics; + a rule per notification target
			alarms, topics, rules = 19, 3, 5
		}
		for typ, n := range map[string]float64{
			"AWS::Lambda::Function":            8,
			"AWS::DynamoDB::Table":             2,
			"AWS::StepFunctions::StateMachine": 1,
			"AWS::Scheduler::Schedule":         4,
			"AWS::ApiGateway::RestApi":         2,
			"AWS::ApiGateway::Stage":           2,
			"AWS::ApiGateway::Authorizer":      1,
			"AWS::ApiGateway::Method":          24, // per API: two health paths, the OpenAPI document, the proxy; ANY on issuers, {id} and its proxy; GET and ANY on crl and ca; the console's two on the key API
			"AWS::KMS::Key":                    2,
			"AWS::SQS::Queue":                  1,
			"AWS::CloudWatch::Alarm":           alarms,
			"AWS::SNS::Topic":                  topics,
			"AWS::Lambda::EventInvokeConfig":   4,
			"AWS::Events::Rule":                rules,
			"AWS::Events::EventBus":            1,
			"AWS::Logs::MetricFilter":          1,
		} {
			check(t, st.name+" "+typ, func() { st.s.T.ResourceCountIs(jsii.String(typ), jsii.Number(n)) })
		}
	}
	p := prodStack(t)
	check(t, "prod subscription", func() {
		p.T.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), &map[string]any{
			"Protocol": "email", "Endpoint": "ops@example.com",
		})
	})
}

// stateMachineARN is the formatted ARN the functions name the state
// machine by (its name carries the stack instance).
const stateMachineARN = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:certctl-test-renewal-${Instance}"

func TestFunctions(t *testing.T) {
	for _, st := range stages(t) {
		byName := map[string]map[string]any{}
		for _, r := range st.s.resources("AWS::Lambda::Function") {
			byName[props(r)["FunctionName"].(string)] = props(r)
		}
		for _, fn := range FunctionNames {
			p, ok := byName["certctl-test-"+fn]
			if !ok {
				t.Errorf("%s: no function certctl-test-%s (have %v)", st.name, fn, keys(byName))
				continue
			}
			if p["Runtime"] != "provided.al2023" || p["Handler"] != "bootstrap" {
				t.Errorf("%s %s: runtime %v handler %v", st.name, fn, p["Runtime"], p["Handler"])
			}
			if got := render(p["Architectures"]); got != `["arm64"]` {
				t.Errorf("%s %s: architectures %s, want arm64 by default", st.name, fn, got)
			}
			if got := render(p["TracingConfig"]); got != `{"Mode":"Active"}` {
				t.Errorf("%s %s: tracing %s", st.name, fn, got)
			}
			// Lambda's filter stays at INFO whatever CERTCTL_LOG_LEVEL says:
			// it would drop the EMF lines (no "level" field, so INFO) at
			// WARN or ERROR, and the alarms on them with it.
			lc := p["LoggingConfig"].(map[string]any)
			if lc["LogFormat"] != "JSON" || render(lc["LogGroup"]) != "${"+construct(fn)+"Logs}" ||
				lc["ApplicationLogLevel"] != "INFO" || lc["SystemLogLevel"] != "INFO" {
				t.Errorf("%s %s: logging %s", st.name, fn, render(lc))
			}
			env := map[string]string{}
			for k, v := range p["Environment"].(map[string]any)["Variables"].(map[string]any) {
				env[k] = render(v)
			}
			want := map[string]string{
				EnvStateTable:      "${StateTable}",
				EnvAuditTable:      "${AuditTable}",
				EnvStage:           testStage,
				EnvBypass:          "false",
				EnvApprovalTimeout: "168h",
				EnvLogLevel:        "INFO",
			}
			if st.name == "prod" {
				want[EnvBypass], want[EnvApprovalTimeout], want[EnvLogLevel] = "true", "48h", "WARN"
			}
			switch fn {
			case FnAPI, FnSweep, FnReaper:
				want[EnvStateMachineARN] = stateMachineARN
			case FnIssue:
				want[EnvCAKeyID] = "${CaKey.Arn}"
				want[EnvPublicURL] = "https://${KeyApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/test"
			}
			if fn == FnAPI {
				want[EnvCRLFunction] = "certctl-test-issue"
			}
			if fn == FnDigest || fn == FnAPI {
				want[EnvDigestKeyID] = "${DigestKey.Arn}"
			}
			if publishers[fn] {
				want[EnvEventBus], want[EnvRemindAfter], want[EnvEscalateAfter], want[EnvExpiryWarning] = "${EventBus}", "24h", "72h", "336h"
				// The stage's own console, unless consoleUrl names another.
				want[EnvConsoleURL] = "https://${KeyApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/test/console/"
				if st.name == "prod" {
					want[EnvConsoleURL] = "https://certs.example.com/console/"
					want[EnvNotifyTargets], want[EnvNotifyDefault], want[EnvNotifyEscalation] = "chat,ops,pager", "ops,chat", "pager"
				}
			}
			if fn == FnAPI && st.name == "prod" {
				// The mapping given, then one rule per caller role the stack creates.
				want[EnvIAMPrincipals] = strings.TrimSuffix(prodIAMPrincipals, "]") +
					`,{"role":"certctl-test-approvers","sessions":"source-identity","roles":["approver"]}` +
					`,{"role":"certctl-test-operators","sessions":"source-identity","roles":["operator","viewer"]}]`
			}
			if !reflect.DeepEqual(env, want) {
				t.Errorf("%s %s: environment\n got  %v\n want %v", st.name, fn, env, want)
			}
			// No reserved concurrency by default: an account whose quota is
			// below 100 + the reservation refuses the deployment.
			if r, ok := p["ReservedConcurrentExecutions"]; ok {
				t.Errorf("%s %s: reserved concurrency %v by default", st.name, fn, r)
			}
		}

		// Async invocations fail into the DLQ: Scheduler → sweep/reaper, and
		// EventBridge → finalize.
		seen := map[string]bool{}
		for _, r := range st.s.resources("AWS::Lambda::EventInvokeConfig") {
			p := props(r)
			seen[render(p["FunctionName"])] = true
			if got := render(p["DestinationConfig"]); got != `{"OnFailure":{"Destination":"${DeadLetterQueue.Arn}"}}` || p["MaximumRetryAttempts"] != 2.0 {
				t.Errorf("%s: async config %s", st.name, render(p))
			}
		}
		if !seen["${Sweep}"] || !seen["${Reaper}"] || !seen["${Finalize}"] || !seen["${Digest}"] {
			t.Errorf("%s: async invoke configs for %v, want sweep, reaper, digest and finalize", st.name, seen)
		}
	}

	// Knobs: architecture, log level, reserved concurrency when asked.
	c := customStack(t)
	for _, r := range c.resources("AWS::Lambda::Function") {
		p := props(r)
		if got := render(p["Architectures"]); got != `["x86_64"]` {
			t.Errorf("custom: architectures %s", got)
		}
		name := strings.TrimPrefix(p["FunctionName"].(string), "certctl-test-")
		wantReserved := map[string]any{FnSweep: 1.0, FnReaper: 1.0, FnIssue: float64(DefaultIssueConcurrency)}[name]
		if p["ReservedConcurrentExecutions"] != wantReserved {
			t.Errorf("custom %s: reserved concurrency %v, want %v", name, p["ReservedConcurrentExecutions"], wantReserved)
		}
		if got := p["Environment"].(map[string]any)["Variables"].(map[string]any)[EnvLogLevel]; got != "DEBUG" {
			t.Errorf("custom: log level %v", got)
		}
		if got := p["LoggingConfig"].(map[string]any)["ApplicationLogLevel"]; got != "DEBUG" {
			t.Errorf("custom: Lambda's application log level %v, want DEBUG", got)
		}
	}
	// The IAM mapping goes to the api function only.
	for _, r := range c.resources("AWS::Lambda::Function") {
		p := props(r)
		got, ok := p["Environment"].(map[string]any)["Variables"].(map[string]any)[EnvIAMPrincipals]
		if (p["FunctionName"] == "certctl-test-api") != ok {
			t.Errorf("custom: %v has %s=%v", p["FunctionName"], EnvIAMPrincipals, got)
		}
		if ok && got != `[{"role":"CertOps","roles":["operator"]}]` {
			t.Errorf("custom: %s=%v", EnvIAMPrincipals, got)
		}
	}
}

func keys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestTables(t *testing.T) {
	want := map[string][]string{
		"StateTable": {"list list_pk list_sk", "by_parent parent_pk parent_sk", "pending pending_pk pending_sk", "due due_pk due_sk"},
		"AuditTable": {"by_actor actor sk", "by_action action sk", "by_day day sk", "by_chain chain chain_seq"},
	}
	for _, st := range stages(t) {
		// A production stage keeps and protects its tables; any other
		// stage deletes them with the stack.
		policy, protection := "Delete", false
		if st.name == "prod" {
			policy, protection = "Retain", true
		}
		for id, r := range st.s.resources("AWS::DynamoDB::Table") {
			name := st.name + " " + logical(id)
			p := props(r)
			if r["DeletionPolicy"] != policy || r["UpdateReplacePolicy"] != policy {
				t.Errorf("%s: deletion policy %v/%v, want %s", name, r["DeletionPolicy"], r["UpdateReplacePolicy"], policy)
			}
			if _, named := p["TableName"]; named {
				t.Errorf("%s: a fixed table name would collide with a retained table on the next deploy", name)
			}
			if got := render(p["KeySchema"]); got != `[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}]` {
				t.Errorf("%s: key schema %s", name, got)
			}
			if p["BillingMode"] != "PAY_PER_REQUEST" || p["DeletionProtectionEnabled"] != protection {
				t.Errorf("%s: billing %v deletion protection %v, want %v", name, p["BillingMode"], p["DeletionProtectionEnabled"], protection)
			}
			if got := render(p["PointInTimeRecoverySpecification"]); got != `{"PointInTimeRecoveryEnabled":true}` {
				t.Errorf("%s: PITR %s", name, got)
			}
			if got := render(p["SSESpecification"]); got != `{"SSEEnabled":true}` {
				t.Errorf("%s: SSE %s (want the AWS-managed KMS key)", name, got)
			}
			var got []string
			for _, g := range list(p["GlobalSecondaryIndexes"]) {
				gm := g.(map[string]any)
				line := gm["IndexName"].(string)
				for _, k := range list(gm["KeySchema"]) {
					line += " " + k.(map[string]any)["AttributeName"].(string)
				}
				if render(gm["Projection"]) != `{"ProjectionType":"ALL"}` {
					t.Errorf("%s/%s: projection %s", name, gm["IndexName"], render(gm["Projection"]))
				}
				got = append(got, line)
			}
			if !reflect.DeepEqual(got, want[logical(id)]) {
				t.Errorf("%s: GSIs\n got  %v\n want %v", name, got, want[logical(id)])
			}
			for _, a := range list(p["AttributeDefinitions"]) {
				if a.(map[string]any)["AttributeType"] != "S" {
					t.Errorf("%s: attribute %v not a string", name, a)
				}
			}
		}
	}
}

// The CA key and the audit digest key: a production stage retains them
// (deletion, if someone asks, waits 30 days; old digests stay verifiable);
// any other stage schedules their deletion with the stack (7 days, KMS's
// minimum). Their aliases are never retained: a redeploy takes them.
func TestSigningKeysLifecycle(t *testing.T) {
	for _, st := range stages(t) {
		policy, window := "Delete", 7.0
		if st.name == "prod" {
			policy, window = "Retain", 30
		}
		keys := st.s.resources("AWS::KMS::Key")
		for id, r := range keys {
			if r["DeletionPolicy"] != policy || props(r)["PendingWindowInDays"] != window {
				t.Errorf("%s: %s deletion policy %v window %v, want %s and %v days", st.name, logical(id), r["DeletionPolicy"], props(r)["PendingWindowInDays"], policy, window)
			}
		}
		aliases := map[string]string{}
		for _, r := range st.s.resources("AWS::KMS::Alias") {
			aliases[props(r)["AliasName"].(string)] = render(props(r)["TargetKeyId"])
			if r["DeletionPolicy"] == "Retain" {
				t.Errorf("%s: alias %v retained", st.name, props(r)["AliasName"])
			}
		}
		want := map[string]string{"alias/certctl-test-ca-default": "${CaKey.Arn}", "alias/certctl-test-audit-digest": "${DigestKey.Arn}"}
		if len(keys) != 2 || !reflect.DeepEqual(aliases, want) {
			t.Errorf("%s: %d keys, aliases %v, want %v", st.name, len(keys), aliases, want)
		}
	}
}

// A point-in-time restore: a production stage uses the restored tables,
// names them everywhere the stack named its own, and manages none.
func TestRestoredTables(t *testing.T) {
	s := synth(t, "restored", func(p *Props) {
		p.Production = true
		p.StateTableName = "certctl-prod-state-restored"
		p.AuditTableName = "certctl-prod-audit-restored"
	})
	check(t, "no tables", func() { s.T.ResourceCountIs(jsii.String("AWS::DynamoDB::Table"), jsii.Number(0)) })
	for _, r := range s.resources("AWS::Lambda::Function") {
		v := props(r)["Environment"].(map[string]any)["Variables"].(map[string]any)
		if v[EnvStateTable] != "certctl-prod-state-restored" || v[EnvAuditTable] != "certctl-prod-audit-restored" {
			t.Errorf("%v: tables %v %v", props(r)["FunctionName"], v[EnvStateTable], v[EnvAuditTable])
		}
	}
	table := "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/"
	grants := strings.Join(s.grants("ApiRole"), "\n")
	for _, want := range []string{
		"Allow dynamodb:GetItem " + table + "certctl-prod-state-restored",
		"Allow dynamodb:Query " + table + "certctl-prod-state-restored/index/pending",
		"Allow dynamodb:PutItem " + table + "certctl-prod-audit-restored",
	} {
		if !strings.Contains(grants, want) {
			t.Errorf("api role lacks %q:\n%s", want, grants)
		}
	}
	outs := s.Template["Outputs"].(map[string]any)
	if render(outs[OutStateTable].(map[string]any)["Value"]) != "certctl-prod-state-restored" {
		t.Errorf("output %s", render(outs[OutStateTable]))
	}
	for _, m := range s.Messages {
		if strings.Contains(m.Text, "AwsSolutions-") {
			t.Errorf("unsuppressed cdk-nag %s at %s: %.160s", m.Level, m.Path, m.Text)
		}
	}
}

// nameProperty is the physical-name property of the types the stack might
// name; a fixed name on a resource that outlives the stack, or whose name
// stays taken after deletion, breaks the next deploy of the stage.
var nameProperty = map[string]string{
	"AWS::Logs::LogGroup":              "LogGroupName",
	"AWS::StepFunctions::StateMachine": "StateMachineName",
	"AWS::DynamoDB::Table":             "TableName",
	"AWS::KMS::Key":                    "",
	"AWS::KMS::Alias":                  "AliasName",
	"AWS::SQS::Queue":                  "QueueName",
	"AWS::SNS::Topic":                  "TopicName",
	"AWS::IAM::Role":                   "RoleName",
	"AWS::ApiGateway::Account":         "",
}

// `cdk destroy` then `cdk deploy` works for every stage: whatever the
// stack retains has no name or one unique to this deployment, and the
// state machine (whose name stays taken while executions of a deleted one
// wait for their next transition, up to the approval timeout) has one too.
func TestRedeployAfterDestroy(t *testing.T) {
	for _, st := range stages(t) {
		retained := map[string]bool{}
		for id, r := range st.s.Template["Resources"].(map[string]any) {
			m := r.(map[string]any)
			typ, _ := m["Type"].(string)
			if m["DeletionPolicy"] != "Retain" && m["UpdateReplacePolicy"] != "Retain" {
				continue
			}
			retained[logical(id)] = true
			prop, known := nameProperty[typ]
			if !known {
				t.Errorf("%s: %s (%s) is retained; the test does not know its name property", st.name, logical(id), typ)
				continue
			}
			if name, ok := props(m)[prop]; ok && prop != "" && !strings.Contains(render(name), "${Instance}") {
				t.Errorf("%s: retained %s has the fixed name %s: the next deploy would fail with \"already exists\"", st.name, logical(id), render(name))
			}
		}
		// A development stage keeps nothing of its own; only the region's
		// API Gateway logging setting and its role, which other APIs rely on.
		want := []string{"IamApiAccount", "IamApiCloudWatchRole"}
		if st.name == "prod" {
			want = append(want, "AuditTable", "StateTable", "CaKey", "DigestKey", "StateMachineLogs", "IamApiAccessLogs", "KeyApiAccessLogs")
			for _, fn := range FunctionNames {
				want = append(want, construct(fn)+"Logs")
			}
		}
		sort.Strings(want)
		if got := keys(retained); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: retained %v, want %v", st.name, got, want)
		}
		for _, typ := range []string{"AWS::Logs::LogGroup", "AWS::StepFunctions::StateMachine"} {
			for id, r := range st.s.resources(typ) {
				if name := render(props(r)[nameProperty[typ]]); !strings.HasSuffix(name, "-${Instance}") {
					t.Errorf("%s: %s is named %s, not unique to this deployment", st.name, logical(id), name)
				}
			}
		}
	}
}

// aslPlaceholders finds ${Name} placeholders in the ASL file.
var aslPlaceholder = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

func TestStateMachineDefinition(t *testing.T) {
	for _, st := range stages(t) {
		t.Run(st.name, func(t *testing.T) { checkStateMachineDefinition(t, st.s) })
	}
}

func checkStateMachineDefinition(t *testing.T, s *synthed) {
	root, err := FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	asl, err := os.ReadFile(filepath.Join(root, ASLFile))
	if err != nil {
		t.Fatal(err)
	}
	sms := s.resources("AWS::StepFunctions::StateMachine")
	if len(sms) != 1 {
		t.Fatalf("%d state machines", len(sms))
	}
	var sm map[string]any
	for _, r := range sms {
		sm = props(r)
	}
	if sm["StateMachineType"] != "STANDARD" || render(sm["StateMachineName"]) != "certctl-test-renewal-${Instance}" {
		t.Errorf("type %v name %v", sm["StateMachineType"], render(sm["StateMachineName"]))
	}
	if _, inline := sm["DefinitionString"]; inline {
		t.Errorf("definition is inline; want the ASL file as an asset (DefinitionBody.fromFile)")
	}
	// The asset CDK uploads is the ASL file, byte for byte.
	key, _ := sm["DefinitionS3Location"].(map[string]any)["Key"].(string)
	asset, err := os.ReadFile(filepath.Join(s.Outdir, "asset."+key))
	if err != nil {
		t.Fatalf("definition asset: %v", err)
	}
	if string(asset) != string(asl) {
		t.Errorf("definition asset differs from %s", ASLFile)
	}

	// Substitutions: exactly the ASL's placeholders, each the right function,
	// and the partition of the stack's region (no hard-coded arn:aws).
	subs := map[string]string{}
	for k, v := range sm["DefinitionSubstitutions"].(map[string]any) {
		subs[k] = render(v)
	}
	wantSubs := map[string]string{
		ASLPartition:              "${AWS::Partition}",
		"ApprovalWaitFunctionArn": "${ApprovalWait.Arn}",
		"IssueFunctionArn":        "${Issue.Arn}",
		"FinalizeFunctionArn":     "${Finalize.Arn}",
	}
	if !reflect.DeepEqual(subs, wantSubs) {
		t.Errorf("substitutions %v, want %v", subs, wantSubs)
	}
	placeholders := map[string]string{}
	for _, m := range aslPlaceholder.FindAllStringSubmatch(string(asl), -1) {
		placeholders[m[1]] = ""
	}
	if !reflect.DeepEqual(keys(placeholders), keys(wantSubs)) {
		t.Errorf("ASL placeholders %v, template substitutes %v", keys(placeholders), keys(wantSubs))
	}

	// After substitution the deployed definition is the ASL file with
	// function ARNs and the partition (here GovCloud's): compare as parsed JSON.
	const partition = "aws-us-gov"
	value := func(name, sub string) string {
		if name == ASLPartition {
			return partition
		}
		return "arn:" + partition + ":lambda:us-gov-west-1:123456789012:function:" + strings.Trim(sub, "${}")
	}
	substitute := func(text string, arn func(string) string) any {
		out := aslPlaceholder.ReplaceAllStringFunc(text, func(m string) string {
			return arn(aslPlaceholder.FindStringSubmatch(m)[1])
		})
		var v any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("definition after substitution is not JSON: %v", err)
		}
		return v
	}
	deployed := substitute(string(asset), func(name string) string { return value(name, subs[name]) })
	expected := substitute(string(asl), func(name string) string { return value(name, wantSubs[name]) })
	if !reflect.DeepEqual(deployed, expected) {
		t.Errorf("deployed definition differs from the ASL file after substitution")
	}
	// Every Lambda task names one of the three functions, through the
	// stack's partition.
	for name, st := range deployed.(map[string]any)["States"].(map[string]any) {
		stm := st.(map[string]any)
		if stm["Type"] != "Task" {
			continue
		}
		fn, _ := stm["Parameters"].(map[string]any)["FunctionName"].(string)
		res, _ := stm["Resource"].(string)
		if !strings.HasPrefix(fn, "arn:"+partition+":lambda:") || !strings.HasPrefix(res, "arn:"+partition+":states:::lambda:invoke") {
			t.Errorf("state %s: resource %q calls %q", name, res, fn)
		}
	}

	if got := render(sm["TracingConfiguration"]); got != `{"Enabled":true}` {
		t.Errorf("tracing %s", got)
	}
	lc := sm["LoggingConfiguration"].(map[string]any)
	if lc["Level"] != "ALL" || lc["IncludeExecutionData"] != false {
		t.Errorf("logging %s: want level ALL without execution data (task tokens stay out of logs)", render(lc))
	}
}

func TestSchedules(t *testing.T) {
	for _, tc := range []struct {
		s                            *synthed
		sweep, reaper, digest        string
		sweepAge, reapAge, digestAge float64
	}{
		{defaultStack(t), "rate(1 hour)", "rate(10 minutes)", "rate(1 hour)", 3600, 600, 3600},
		{customStack(t), "rate(30 minutes)", "rate(2 hours)", "rate(15 minutes)", 1800, 7200, 900},
	} {
		roles := map[string]string{"Sweep.Arn": "SweepSchedulerRole", "Reaper.Arn": "ReaperSchedulerRole", "Issue.Arn": "CrlSchedulerRole", "Digest.Arn": "DigestSchedulerRole"}
		got := map[string]string{}
		for _, r := range tc.s.resources("AWS::Scheduler::Schedule") {
			p := props(r)
			target := p["Target"].(map[string]any)
			fn := strings.Trim(render(target["Arn"]), "${}")
			got[fn] = p["ScheduleExpression"].(string)
			if render(target["DeadLetterConfig"]) != `{"Arn":"${DeadLetterQueue.Arn}"}` {
				t.Errorf("%s: dead letter %s", fn, render(target["DeadLetterConfig"]))
			}
			if render(target["RoleArn"]) != "${"+roles[fn]+".Arn}" {
				t.Errorf("%s: role %s", fn, render(target["RoleArn"]))
			}
			age := map[string]float64{"Sweep.Arn": tc.sweepAge, "Reaper.Arn": tc.reapAge, "Issue.Arn": 900, "Digest.Arn": tc.digestAge}[fn]
			if fn == "Issue.Arn" && target["Input"] != `{"action":"refresh_crl","issuer_id":"default","source":"certctl-scheduler"}` {
				t.Errorf("CRL schedule input %v", target["Input"])
			}
			rp := target["RetryPolicy"].(map[string]any)
			if rp["MaximumEventAgeInSeconds"] != age || rp["MaximumRetryAttempts"] != 3.0 {
				t.Errorf("%s: retry policy %s", fn, render(rp))
			}
			if p["State"] != "ENABLED" || render(p["FlexibleTimeWindow"]) != `{"Mode":"OFF"}` {
				t.Errorf("%s: state %v window %s", fn, p["State"], render(p["FlexibleTimeWindow"]))
			}
		}
		want := map[string]string{"Sweep.Arn": tc.sweep, "Reaper.Arn": tc.reaper, "Issue.Arn": "rate(15 minutes)", "Digest.Arn": tc.digest}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("schedules %v, want %v", got, want)
		}
	}
}

// wantAlarm is what one alarm watches and when it fires.
type wantAlarm struct {
	namespace, metric, stat string
	dims                    map[string]string
	period, threshold       float64
	periods                 float64
	missing                 string
}

func TestOutputs(t *testing.T) {
	s := defaultStack(t)
	outs := s.Template["Outputs"].(map[string]any)
	want := []string{OutAuditTable, OutAuthorizerCacheTTL, OutCAIssuerID, OutCAKeyARN, OutDLQURL, OutIamAPIID,
		OutIamAPIURL, OutKeyAPIID, OutKeyAPIURL, OutStage, OutStateMachineARN, OutStateTable, OutEventBusName, OutEventBusARN, OutDigestKeyARN, OutDigestFunction}
	sort.Strings(want)
	if got := keys(outs); !reflect.DeepEqual(got, want) {
		t.Errorf("outputs %v, want %v", got, want)
	}
	val := func(k string) string { return render(outs[k].(map[string]any)["Value"]) }
	for k, v := range map[string]string{
		OutCAIssuerID:         "default",
		OutAuthorizerCacheTTL: "30",
		OutStage:              testStage,
		OutStateTable:         "${StateTable}",
		OutAuditTable:         "${AuditTable}",
		OutStateMachineARN:    "${RenewalStateMachine}",
		OutDigestKeyARN:       "${DigestKey.Arn}",
		OutDigestFunction:     "${Digest}",
		OutIamAPIURL:          "https://${IamApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/test",
		OutKeyAPIURL:          "https://${KeyApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/test",
	} {
		if got := val(k); got != v {
			t.Errorf("output %s = %s, want %s", k, got, v)
		}
	}
	if _, ok := prodStack(t).Template["Outputs"].(map[string]any)[OutAlarmTopicARN]; !ok {
		t.Errorf("no %s output with an alarm topic", OutAlarmTopicARN)
	}
}

func TestNagAwsSolutions(t *testing.T) {
	for name, s := range map[string]*synthed{"default": defaultStack(t), "prod": prodStack(t), "custom": customStack(t)} {
		for _, m := range s.Messages {
			if strings.Contains(m.Text, "AwsSolutions-") {
				t.Errorf("%s: unsuppressed cdk-nag %s at %s: %.160s", name, m.Level, m.Path, m.Text)
			}
		}
		// Every suppression in the template carries a real reason.
		n := 0
		for id, r := range s.Template["Resources"].(map[string]any) {
			meta, _ := r.(map[string]any)["Metadata"].(map[string]any)
			nag, _ := meta["cdk_nag"].(map[string]any)
			for _, rule := range list(nag["rules_to_suppress"]) {
				rm := rule.(map[string]any)
				n++
				reason, _ := rm["reason"].(string)
				if len(reason) < 60 {
					t.Errorf("%s: %s suppresses %v with a thin reason %q", name, logical(id), rm["id"], reason)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no suppressions found in the template metadata", name)
		}
	}
	// The optional parts add exactly their own suppressions.
	has := func(s *synthed, id string) bool {
		for _, sp := range s.Stack.Suppressions() {
			if sp.ID == id {
				return true
			}
		}
		return false
	}
	if !has(defaultStack(t), "AwsSolutions-APIG6") || has(prodStack(t), "AwsSolutions-APIG6") {
		t.Errorf("APIG6 suppression should exist only without execution logs")
	}
	sns2 := func(s *synthed) (out []string) {
		for _, sp := range s.Stack.Suppressions() {
			if sp.ID == "AwsSolutions-SNS2" {
				out = append(out, sp.Path)
			}
		}
		return out
	}
	if got := sns2(defaultStack(t)); !reflect.DeepEqual(got, []string{"KeyChangesTopic/Resource"}) {
		t.Errorf("SNS2 suppressions without an alarm topic: %v, want the key-changes topic's only", got)
	}
	// prod adds its alarm topic and its notification target's (ops) topic.
	if got := sns2(prodStack(t)); !reflect.DeepEqual(got, []string{"AlarmTopic/Resource", "NotifyOpsTopic/Resource", "KeyChangesTopic/Resource"}) {
		t.Errorf("SNS2 suppressions with an alarm and a notification topic: %v", got)
	}
	if !has(defaultStack(t), "AwsSolutions-IAM4") || has(customStack(t), "AwsSolutions-IAM4") {
		t.Errorf("IAM4 suppression should exist only with the API Gateway account role")
	}
	check(t, "no account setting with apiGatewayAccountRole=false", func() {
		customStack(t).T.ResourceCountIs(jsii.String("AWS::ApiGateway::Account"), jsii.Number(0))
	})
}

func TestBypassInProductionRefused(t *testing.T) {
	p := DefaultProps()
	p.AssetsDir = placeholderAssets(t)
	p.Production, p.Bypass = true, true
	if _, err := p.Normalize(); !errors.Is(err, ErrBypassInProduction) {
		t.Fatalf("bypass in production: %v, want ErrBypassInProduction", err)
	}
	// Not production, or with the override: accepted.
	p.AllowBypassInProduction = true
	if _, err := p.Normalize(); err != nil {
		t.Errorf("with override: %v", err)
	}
	p.AllowBypassInProduction, p.Production = false, false
	if _, err := p.Normalize(); err != nil {
		t.Errorf("bypass outside production: %v", err)
	}
}

const helperEnv = "CERTCTL_INFRA_TEST_RUN_MAIN"

// The real app (as `cdk synth` runs it) exits non-zero, naming the override.
func TestMainRefusesBypassInProduction(t *testing.T) {
	assets := placeholderAssets(t)
	for _, tc := range []struct {
		ctx      map[string]any
		wantExit int
	}{
		{map[string]any{"production": "true", "bypass": "true", "assetsDir": assets, "nag": "false"}, 1},
		{map[string]any{"production": true, "bypass": true, "allowBypassInProduction": true, "assetsDir": assets, "nag": false}, 0},
	} {
		ctx, _ := json.Marshal(tc.ctx)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"=1", "CDK_CONTEXT_JSON="+string(ctx), "CDK_OUTDIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.wantExit {
			t.Errorf("context %s: exit %d, want %d\n%s", ctx, code, tc.wantExit, out)
		}
		if tc.wantExit != 0 && !strings.Contains(string(out), "allowBypassInProduction=true") {
			t.Errorf("refusal does not name the override:\n%s", out)
		}
	}
}

func TestAssetsRequired(t *testing.T) {
	p := DefaultProps()
	p.AssetsDir = t.TempDir()
	_, err := p.Normalize()
	if err == nil || !strings.Contains(err.Error(), "make build") {
		t.Errorf("missing assets: %v", err)
	}
}

// Keeps the template readable in failures: a sanity check on render.
func TestRender(t *testing.T) {
	v := map[string]any{"Fn::Join": []any{"", []any{map[string]any{"Fn::GetAtt": []any{"StateTable9728C7E5", "Arn"}}, "/index/due"}}}
	if got := render(v); got != "${StateTable.Arn}/index/due" {
		t.Errorf("render: %s", got)
	}
	_ = assertions.Match_AnyValue
}
