package main

import (
	"encoding/json"
	"errors"
	"fmt"
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

// Configurations under test.
func defaultStack(t *testing.T) *synthed { return synth(t, "default", nil) }

// prodStack: production with bypass explicitly allowed, alarm e-mail and
// execution logs, so the optional parts are synthesized and nagged too.
func prodStack(t *testing.T) *synthed {
	return synth(t, "prod", func(p *Props) {
		p.Production = true
		p.Bypass = true
		p.AllowBypassInProduction = true
		p.AlarmEmail = "ops@example.com"
		p.APIExecutionLogs = true
		p.ApprovalTimeout = 48 * time.Hour
	})
}

// customStack: the knobs LocalStack and small accounts use.
func customStack(t *testing.T) *synthed {
	return synth(t, "custom", func(p *Props) {
		p.Architecture = "amd64"
		p.SweepRate = 30 * time.Minute
		p.ReaperRate = 2 * time.Hour
		p.ReservedConcurrency = false
		p.LogLevel = "debug"
		p.IAMPrincipals = `[{"role":"CertOps","roles":["operator"]}]`
		p.APIGatewayAccountRole = false
	})
}

func TestResourceCounts(t *testing.T) {
	s := defaultStack(t)
	for typ, n := range map[string]float64{
		"AWS::Lambda::Function":            7,
		"AWS::DynamoDB::Table":             2,
		"AWS::StepFunctions::StateMachine": 1,
		"AWS::Scheduler::Schedule":         2,
		"AWS::ApiGateway::RestApi":         2,
		"AWS::ApiGateway::Stage":           2,
		"AWS::ApiGateway::Authorizer":      1,
		"AWS::ApiGateway::Method":          4,
		"AWS::KMS::Key":                    1,
		"AWS::SQS::Queue":                  1,
		"AWS::CloudWatch::Alarm":           10, // 7 functions + failed + timed out + DLQ
		"AWS::SNS::Topic":                  0,
		"AWS::Lambda::EventInvokeConfig":   2,
	} {
		check(t, typ, func() { s.T.ResourceCountIs(jsii.String(typ), jsii.Number(n)) })
	}
	p := prodStack(t)
	check(t, "prod alarms", func() { p.T.ResourceCountIs(jsii.String("AWS::CloudWatch::Alarm"), jsii.Number(11)) })
	check(t, "prod topic", func() { p.T.ResourceCountIs(jsii.String("AWS::SNS::Topic"), jsii.Number(1)) })
	check(t, "prod subscription", func() {
		p.T.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), &map[string]any{
			"Protocol": "email", "Endpoint": "ops@example.com",
		})
	})
}

func TestFunctions(t *testing.T) {
	s := defaultStack(t)
	fns := s.resources("AWS::Lambda::Function")
	byName := map[string]map[string]any{}
	for _, r := range fns {
		byName[props(r)["FunctionName"].(string)] = props(r)
	}
	smArn := "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:certctl-test-renewal"
	for _, fn := range FunctionNames {
		p, ok := byName["certctl-test-"+fn]
		if !ok {
			t.Errorf("no function certctl-test-%s (have %v)", fn, keys(byName))
			continue
		}
		if p["Runtime"] != "provided.al2023" || p["Handler"] != "bootstrap" {
			t.Errorf("%s: runtime %v handler %v", fn, p["Runtime"], p["Handler"])
		}
		if got := render(p["Architectures"]); got != `["arm64"]` {
			t.Errorf("%s: architectures %s, want arm64 by default", fn, got)
		}
		if got := render(p["TracingConfig"]); got != `{"Mode":"Active"}` {
			t.Errorf("%s: tracing %s", fn, got)
		}
		lc := p["LoggingConfig"].(map[string]any)
		if lc["LogFormat"] != "JSON" || render(lc["LogGroup"]) != "${"+construct(fn)+"Logs}" {
			t.Errorf("%s: logging %s", fn, render(lc))
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
		switch fn {
		case FnAPI, FnSweep, FnReaper:
			want[EnvStateMachineARN] = smArn
		case FnIssue:
			want[EnvCAKeyID] = "${CaKey.Arn}"
		}
		if !reflect.DeepEqual(env, want) {
			t.Errorf("%s: environment\n got  %v\n want %v", fn, env, want)
		}
		wantReserved := map[string]any{FnSweep: 1.0, FnReaper: 1.0, FnIssue: float64(DefaultIssueConcurrency)}[fn]
		if p["ReservedConcurrentExecutions"] != wantReserved {
			t.Errorf("%s: reserved concurrency %v, want %v", fn, p["ReservedConcurrentExecutions"], wantReserved)
		}
	}

	// Async invocations (Scheduler → sweep/reaper) fail into the DLQ.
	cfgs := s.resources("AWS::Lambda::EventInvokeConfig")
	seen := map[string]bool{}
	for _, r := range cfgs {
		p := props(r)
		seen[render(p["FunctionName"])] = true
		if got := render(p["DestinationConfig"]); got != `{"OnFailure":{"Destination":"${DeadLetterQueue.Arn}"}}` {
			t.Errorf("async destination %s", got)
		}
	}
	if !seen["${Sweep}"] || !seen["${Reaper}"] {
		t.Errorf("async invoke configs for %v, want sweep and reaper", seen)
	}

	// Knobs: architecture, log level, no reserved concurrency.
	c := customStack(t)
	for _, r := range c.resources("AWS::Lambda::Function") {
		p := props(r)
		if got := render(p["Architectures"]); got != `["x86_64"]` {
			t.Errorf("custom: architectures %s", got)
		}
		if _, ok := p["ReservedConcurrentExecutions"]; ok {
			t.Errorf("custom: %v has reserved concurrency with reservedConcurrency=false", p["FunctionName"])
		}
		if got := p["Environment"].(map[string]any)["Variables"].(map[string]any)[EnvLogLevel]; got != "DEBUG" {
			t.Errorf("custom: log level %v", got)
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
	// Production with the override: bypass on, timeout passed through.
	for _, r := range prodStack(t).resources("AWS::Lambda::Function") {
		v := props(r)["Environment"].(map[string]any)["Variables"].(map[string]any)
		if v[EnvBypass] != "true" || v[EnvApprovalTimeout] != "48h" {
			t.Errorf("prod: bypass %v timeout %v", v[EnvBypass], v[EnvApprovalTimeout])
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
	s := defaultStack(t)
	want := map[string][]string{
		"StateTable": {"list list_pk list_sk", "by_parent parent_pk parent_sk", "pending pending_pk pending_sk", "due due_pk due_sk"},
		"AuditTable": {"by_actor actor sk", "by_action action sk", "by_day day sk"},
	}
	for id, r := range s.resources("AWS::DynamoDB::Table") {
		name := logical(id)
		p := props(r)
		if r["DeletionPolicy"] != "Retain" || r["UpdateReplacePolicy"] != "Retain" {
			t.Errorf("%s: deletion policy %v/%v, want Retain", name, r["DeletionPolicy"], r["UpdateReplacePolicy"])
		}
		if got := render(p["KeySchema"]); got != `[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}]` {
			t.Errorf("%s: key schema %s", name, got)
		}
		if p["BillingMode"] != "PAY_PER_REQUEST" || p["DeletionProtectionEnabled"] != true {
			t.Errorf("%s: billing %v deletion protection %v", name, p["BillingMode"], p["DeletionProtectionEnabled"])
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
			ks := list(gm["KeySchema"])
			line := gm["IndexName"].(string)
			for _, k := range ks {
				line += " " + k.(map[string]any)["AttributeName"].(string)
			}
			if render(gm["Projection"]) != `{"ProjectionType":"ALL"}` {
				t.Errorf("%s/%s: projection %s", name, gm["IndexName"], render(gm["Projection"]))
			}
			got = append(got, line)
		}
		if !reflect.DeepEqual(got, want[name]) {
			t.Errorf("%s: GSIs\n got  %v\n want %v", name, got, want[name])
		}
		for _, a := range list(p["AttributeDefinitions"]) {
			if a.(map[string]any)["AttributeType"] != "S" {
				t.Errorf("%s: attribute %v not a string", name, a)
			}
		}
	}
}

// aslPlaceholders finds ${Name} placeholders in the ASL file.
var aslPlaceholder = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

func TestStateMachineDefinition(t *testing.T) {
	s := defaultStack(t)
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
	if sm["StateMachineType"] != "STANDARD" || sm["StateMachineName"] != "certctl-test-renewal" {
		t.Errorf("type %v name %v", sm["StateMachineType"], sm["StateMachineName"])
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

	// Substitutions: exactly the ASL's placeholders, each the right function.
	subs := map[string]string{}
	for k, v := range sm["DefinitionSubstitutions"].(map[string]any) {
		subs[k] = render(v)
	}
	wantSubs := map[string]string{
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
	// function ARNs: compare as parsed JSON.
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
	deployed := substitute(string(asset), func(name string) string {
		return "arn:aws:lambda:eu-west-1:123456789012:function:" + strings.Trim(subs[name], "${}")
	})
	expected := substitute(string(asl), func(name string) string {
		return "arn:aws:lambda:eu-west-1:123456789012:function:" + strings.Trim(wantSubs[name], "${}")
	})
	if !reflect.DeepEqual(deployed, expected) {
		t.Errorf("deployed definition differs from the ASL file after substitution")
	}
	// Every Lambda task names one of the three functions.
	for name, st := range deployed.(map[string]any)["States"].(map[string]any) {
		stm := st.(map[string]any)
		if stm["Type"] != "Task" {
			continue
		}
		fn, _ := stm["Parameters"].(map[string]any)["FunctionName"].(string)
		if !strings.HasPrefix(fn, "arn:aws:lambda:eu-west-1:123456789012:function:") {
			t.Errorf("state %s calls %q", name, fn)
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
		s                 *synthed
		sweep, reaper     string
		sweepAge, reapAge float64
	}{
		{defaultStack(t), "rate(1 hour)", "rate(10 minutes)", 3600, 600},
		{customStack(t), "rate(30 minutes)", "rate(2 hours)", 1800, 7200},
	} {
		got := map[string]string{}
		for _, r := range tc.s.resources("AWS::Scheduler::Schedule") {
			p := props(r)
			target := p["Target"].(map[string]any)
			fn := strings.Trim(render(target["Arn"]), "${}")
			got[fn] = p["ScheduleExpression"].(string)
			if render(target["DeadLetterConfig"]) != `{"Arn":"${DeadLetterQueue.Arn}"}` {
				t.Errorf("%s: dead letter %s", fn, render(target["DeadLetterConfig"]))
			}
			if render(target["RoleArn"]) != "${"+strings.TrimSuffix(fn, ".Arn")+"SchedulerRole.Arn}" {
				t.Errorf("%s: role %s", fn, render(target["RoleArn"]))
			}
			age := map[string]float64{"Sweep.Arn": tc.sweepAge, "Reaper.Arn": tc.reapAge}[fn]
			rp := target["RetryPolicy"].(map[string]any)
			if rp["MaximumEventAgeInSeconds"] != age || rp["MaximumRetryAttempts"] != 3.0 {
				t.Errorf("%s: retry policy %s", fn, render(rp))
			}
			if p["State"] != "ENABLED" || render(p["FlexibleTimeWindow"]) != `{"Mode":"OFF"}` {
				t.Errorf("%s: state %v window %s", fn, p["State"], render(p["FlexibleTimeWindow"]))
			}
		}
		want := map[string]string{"Sweep.Arn": tc.sweep, "Reaper.Arn": tc.reaper}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("schedules %v, want %v", got, want)
		}
	}
}

func TestAlarms(t *testing.T) {
	alarms := func(s *synthed) map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, r := range s.resources("AWS::CloudWatch::Alarm") {
			p := props(r)
			out[strings.TrimPrefix(p["AlarmName"].(string), "certctl-test-")] = p
		}
		return out
	}
	d := alarms(defaultStack(t))
	for _, fn := range FunctionNames {
		a, ok := d[fn+"-errors"]
		if !ok || a["MetricName"] != "Errors" || a["Namespace"] != "AWS/Lambda" {
			t.Errorf("%s errors alarm: %v", fn, a)
		}
	}
	for name, metric := range map[string]string{
		"executions-failed":    "ExecutionsFailed",
		"executions-timed-out": "ExecutionsTimedOut",
		"dlq-not-empty":        "ApproximateNumberOfMessagesVisible",
	} {
		if a, ok := d[name]; !ok || a["MetricName"] != metric || a["Threshold"] != 1.0 ||
			a["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" {
			t.Errorf("%s alarm: %v", name, a)
		}
	}
	if _, ok := d["approval-bypassed"]; ok {
		t.Errorf("bypass alarm in a non-production stage")
	}
	if _, ok := d["executions-failed"]["AlarmActions"]; ok {
		t.Errorf("alarm actions without a topic")
	}

	p := alarms(prodStack(t))
	b, ok := p["approval-bypassed"]
	if !ok {
		t.Fatalf("no bypass alarm in production")
	}
	if b["Namespace"] != MetricNamespace || b["MetricName"] != "certctl_approval_decisions_total" ||
		!sameDimensions(b["Dimensions"], map[string]string{"outcome": "bypassed", "stage": testStage}) || b["Statistic"] != "Sum" ||
		b["Period"] != 300.0 || b["Threshold"] != 1.0 || b["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" {
		t.Errorf("bypass alarm: %s", render(b))
	}
	for name, a := range p {
		if render(a["AlarmActions"]) != `["${AlarmTopic}"]` {
			t.Errorf("prod %s: actions %s", name, render(a["AlarmActions"]))
		}
	}
}

func TestOutputs(t *testing.T) {
	s := defaultStack(t)
	outs := s.Template["Outputs"].(map[string]any)
	want := []string{OutAuditTable, OutAuthorizerCacheTTL, OutCAIssuerID, OutCAKeyARN, OutDLQURL, OutIamAPIID,
		OutIamAPIURL, OutKeyAPIID, OutKeyAPIURL, OutStage, OutStateMachineARN, OutStateTable}
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
	if has(defaultStack(t), "AwsSolutions-SNS2") || !has(prodStack(t), "AwsSolutions-SNS2") {
		t.Errorf("SNS2 suppression should exist only with the alarm topic")
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

// sameDimensions compares an alarm's Dimensions list with want, in any order.
func sameDimensions(v any, want map[string]string) bool {
	list, ok := v.([]any)
	if !ok || len(list) != len(want) {
		return false
	}
	for _, d := range list {
		m, ok := d.(map[string]any)
		if !ok || want[fmt.Sprint(m["Name"])] != fmt.Sprint(m["Value"]) {
			return false
		}
	}
	return true
}
