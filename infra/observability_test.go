package main

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// alarmsOf returns the stack's alarms by name without the stage prefix.
func alarmsOf(s *synthed) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, r := range s.resources("AWS::CloudWatch::Alarm") {
		p := props(r)
		out[strings.TrimPrefix(p["AlarmName"].(string), "certctl-test-")] = p
	}
	return out
}

func TestAlarms(t *testing.T) {
	for _, st := range stages(t) {
		pendingAge := 84 * 3600.0 // half the default approval timeout
		if st.name == "prod" {
			pendingAge = 24 * 3600 // half of 48h
		}
		want := map[string]wantAlarm{
			"dlq-not-empty": {"AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", nil, 300, 1, 1, "notBreaching"},
			"api-iam-5xx": {"AWS/ApiGateway", "5XXError", "Sum",
				map[string]string{"ApiName": "certctl-test-iam", "Stage": "${IamApiDeploymentStage" + testStage + "}"}, 300, 1, 1, "notBreaching"},
			"api-key-5xx": {"AWS/ApiGateway", "5XXError", "Sum",
				map[string]string{"ApiName": "certctl-test-key", "Stage": "${KeyApiDeploymentStage" + testStage + "}"}, 300, 1, 1, "notBreaching"},
			"authorizer-failures": {MetricNamespace, MetricAuthorizerFailures, "Sum",
				map[string]string{"stage": testStage}, 300, 1, 1, "notBreaching"},
			"approval-pending-too-long": {MetricNamespace, MetricOldestPending, "Maximum",
				map[string]string{"stage": testStage}, 600, pendingAge, 1, "ignore"},
			"decisions-awaiting-redelivery": {MetricNamespace, MetricHandoffQueue, "Maximum",
				map[string]string{"stage": testStage}, 600, 1, 2, "ignore"},
			"starts-awaiting-retry": {MetricNamespace, MetricStartQueue, "Maximum",
				map[string]string{"stage": testStage}, 600, 1, 2, "ignore"},
			"deliveries-failing": {MetricNamespace, MetricDeliveryQueue, "Maximum",
				map[string]string{"stage": testStage}, 600, 1, 2, "ignore"},
			"signing-key-changed": {"AWS/SNS", "NumberOfMessagesPublished", "Sum",
				map[string]string{"TopicName": "${KeyChangesTopic.TopicName}"}, 300, 1, 1, "notBreaching"},
			"audit-digests-stopped": {MetricNamespace, MetricDigestsWritten, "Sum",
				map[string]string{"stage": testStage}, 3600, 1, 2, "breaching"},
		}
		for _, fn := range FunctionNames {
			if fn != FnAuthorizer {
				want[fn+"-errors"] = wantAlarm{"AWS/Lambda", "Errors", "Sum",
					map[string]string{"FunctionName": "${" + construct(fn) + "}"}, 300, 1, 1, "notBreaching"}
			}
		}
		if st.name == "prod" {
			want["approval-bypassed"] = wantAlarm{MetricNamespace, MetricApprovalDecisions, "Sum",
				map[string]string{"stage": testStage, "outcome": "bypassed"}, 300, 1, 1, "notBreaching"}
		}
		got := alarmsOf(st.s)
		for name, w := range want {
			a, ok := got[name]
			if !ok {
				t.Errorf("%s: no alarm %s", st.name, name)
				continue
			}
			if a["Namespace"] != w.namespace || a["MetricName"] != w.metric || a["Statistic"] != w.stat ||
				(w.dims != nil && !sameDimensions(normalize(a["Dimensions"]), w.dims)) || a["Period"] != w.period ||
				a["Threshold"] != w.threshold || a["EvaluationPeriods"] != w.periods ||
				a["ComparisonOperator"] != comparison(name) || a["TreatMissingData"] != w.missing {
				t.Errorf("%s %s: %s\n want %+v", st.name, name, render(a), w)
			}
		}
		// The authorizer's documented refusal is a function error: no
		// Errors alarm on it, and its real failures are counted apart.
		if _, ok := got["authorizer-errors"]; ok {
			t.Errorf("%s: an Errors alarm on the authorizer fires on every bad key", st.name)
		}
		// Executions ending failed, aborted or timed out: one alarm over
		// all three (there is no overall timeout: every state is bounded).
		ex, ok := got["executions-failed"]
		if !ok {
			t.Fatalf("%s: no executions-failed alarm", st.name)
		}
		metrics := map[string]string{}
		var expr string
		for _, m := range list(ex["Metrics"]) {
			mm := m.(map[string]any)
			if e, ok := mm["Expression"].(string); ok {
				expr = e
				continue
			}
			stat := mm["MetricStat"].(map[string]any)
			metric := stat["Metric"].(map[string]any)
			if !sameDimensions(normalize(metric["Dimensions"]), map[string]string{"StateMachineArn": "${RenewalStateMachine}"}) || stat["Stat"] != "Sum" {
				t.Errorf("%s: executions metric %s", st.name, render(mm))
			}
			metrics[mm["Id"].(string)] = metric["MetricName"].(string)
		}
		if expr != "FILL(failed, 0) + FILL(aborted, 0) + FILL(timedout, 0)" || !reflect.DeepEqual(metrics, map[string]string{
			"failed": "ExecutionsFailed", "aborted": "ExecutionsAborted", "timedout": "ExecutionsTimedOut"}) ||
			ex["Threshold"] != 1.0 || ex["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" {
			t.Errorf("%s: executions-failed %s", st.name, render(ex))
		}
		if len(got) != len(want)+1 {
			t.Errorf("%s: alarms %v, want %v and executions-failed", st.name, keys(got), keys(want))
		}
		// Every alarm points to its runbook section, and the section exists.
		runbook := runbookAnchors(t)
		for name, a := range got {
			desc, _ := a["AlarmDescription"].(string)
			_, anchor, ok := strings.Cut(desc, " Runbook: "+RunbookPath+"#")
			if !ok || !runbook[anchor] {
				t.Errorf("%s %s: description %q names no section of %s", st.name, name, desc, RunbookPath)
			}
			actions := `["${AlarmTopic}"]`
			if name == "approval-pending-too-long" && st.name == "prod" {
				actions = `["${AlarmTopic}","${NotifyOpsTopic}"]` // and the default notification target's topic
			}
			topic := render(a["AlarmActions"]) == actions && render(a["OKActions"]) == `["${AlarmTopic}"]`
			if topic != (st.name == "prod") {
				t.Errorf("%s %s: actions %s ok %s", st.name, name, render(a["AlarmActions"]), render(a["OKActions"]))
			}
		}
	}

	// The authorizer-failures metric: API Gateway's own error types in the
	// key API's access log, which carries the stage for the dimension.
	for _, st := range stages(t) {
		filters := st.s.resources("AWS::Logs::MetricFilter")
		for _, f := range filters {
			p := props(f)
			pattern, _ := p["FilterPattern"].(string)
			tr := render(p["MetricTransformations"])
			if render(p["LogGroupName"]) != "${KeyApiAccessLogs}" || !strings.Contains(pattern, `$.errorType = "AUTHORIZER_FAILURE"`) ||
				!strings.Contains(pattern, `$.errorType = "AUTHORIZER_CONFIGURATION_ERROR"`) || strings.Contains(pattern, "UNAUTHORIZED") ||
				!strings.Contains(tr, `"MetricName":"`+MetricAuthorizerFailures+`"`) || !strings.Contains(tr, `"Value":"$.stage"`) {
				t.Errorf("%s: authorizer failures filter %s", st.name, render(p))
			}
		}
		if !strings.Contains(accessLogFormat, `"stage":"$context.stage"`) || !strings.Contains(accessLogFormat, `"errorType":"$context.error.responseType"`) {
			t.Errorf("access log format lacks the stage or the error type: %s", accessLogFormat)
		}
	}

	// Thresholds are configurable.
	c := alarmsOf(customStack(t))
	for name, w := range map[string]float64{"approval-pending-too-long": 86400, "decisions-awaiting-redelivery": 3,
		"starts-awaiting-retry": 4, "api-iam-5xx": 10, "api-key-5xx": 10} {
		if c[name]["Threshold"] != w {
			t.Errorf("custom %s: threshold %v, want %v", name, c[name]["Threshold"], w)
		}
	}
	// A reaper every 2 hours reports every 2 hours: the period follows it.
	if c["approval-pending-too-long"]["Period"] != 7200.0 {
		t.Errorf("custom: oldest-pending period %v, want the reaper's 7200", c["approval-pending-too-long"]["Period"])
	}
}

// comparison is an alarm's operator: at or over its threshold, except
// the alarm on digests that stopped, which fires below one.
func comparison(name string) string {
	if name == "audit-digests-stopped" {
		return "LessThanThreshold"
	}
	return "GreaterThanOrEqualToThreshold"
}

// runbookAnchors are the GitHub anchors of the runbook's headings.
func runbookAnchors(t *testing.T) map[string]bool {
	t.Helper()
	root, err := FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, RunbookPath))
	if err != nil {
		t.Fatalf("runbook: %v", err)
	}
	out := map[string]bool{}
	drop := regexp.MustCompile(`[^a-z0-9 _-]`)
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		out[strings.ReplaceAll(drop.ReplaceAllString(h, ""), " ", "-")] = true
	}
	return out
}

// Executions that end without the state machine's own paths (stopped by
// hand, failed or timed out by Step Functions) reach finalize through
// EventBridge, with retries and the dead-letter queue.
func TestExecutionEndedRule(t *testing.T) {
	for _, st := range stages(t) {
		rules := st.s.resources("AWS::Events::Rule")
		for id := range rules {
			if logical(id) != "ExecutionEndedRule" {
				delete(rules, id) // the notification targets' rules (TestNotifyTargets)
			}
		}
		if len(rules) != 1 {
			t.Fatalf("%s: %d rules", st.name, len(rules))
		}
		for id, r := range rules {
			if logical(id) != "ExecutionEndedRule" {
				continue
			}
			p := props(r)
			pattern := normalize(p["EventPattern"]).(map[string]any)
			wantPattern := map[string]any{
				"source":      []any{"aws.states"},
				"detail-type": []any{"Step Functions Execution Status Change"},
				"detail": map[string]any{
					"stateMachineArn": []any{"${RenewalStateMachine}"},
					"status":          []any{"ABORTED", "FAILED", "TIMED_OUT"},
				},
			}
			if !reflect.DeepEqual(pattern, wantPattern) || p["State"] != "ENABLED" || p["Name"] != "certctl-test-execution-ended" {
				t.Errorf("%s: rule %s", st.name, render(p))
			}
			targets := list(p["Targets"])
			if len(targets) != 1 {
				t.Fatalf("%s: targets %s", st.name, render(targets))
			}
			tg := normalize(targets[0]).(map[string]any)
			if tg["Arn"] != "${Finalize.Arn}" || render(tg["DeadLetterConfig"]) != `{"Arn":"${DeadLetterQueue.Arn}"}` ||
				render(tg["RetryPolicy"]) != `{"MaximumEventAgeInSeconds":86400,"MaximumRetryAttempts":8}` {
				t.Errorf("%s: target %s", st.name, render(tg))
			}
		}
		// EventBridge may invoke finalize for this rule only, and send to
		// the dead-letter queue for it only.
		var invoke, send bool
		for _, r := range st.s.resources("AWS::Lambda::Permission") {
			p := props(r)
			if p["Principal"] == "events.amazonaws.com" {
				invoke = render(p["FunctionName"]) == "${Finalize.Arn}" && render(p["SourceArn"]) == "${ExecutionEndedRule.Arn}"
			}
		}
		for _, r := range st.s.resources("AWS::SQS::QueuePolicy") {
			for _, stmt := range list(props(r)["PolicyDocument"].(map[string]any)["Statement"]) {
				m := render(stmt)
				if strings.Contains(m, `"Service":"events.amazonaws.com"`) {
					send = send || strings.Contains(m, `"Action":"sqs:SendMessage"`) && strings.Contains(m, `{"ArnEquals":{"aws:SourceArn":"${ExecutionEndedRule.Arn}"}}`)
				}
			}
		}
		if !invoke || !send {
			t.Errorf("%s: finalize invoke permission %v, dead-letter send permission %v", st.name, invoke, send)
		}
	}
}

// Deleting, disabling or re-policying either signing key is recorded by
// CloudTrail; a rule sends the record to a topic of its own, and an alarm
// watches the topic.
func TestKeyChangesRule(t *testing.T) {
	for _, st := range stages(t) {
		var rule map[string]any
		for id, r := range st.s.resources("AWS::Events::Rule") {
			if logical(id) == "KeyChangesRule" {
				rule = props(r)
			}
		}
		if rule == nil {
			t.Fatalf("%s: no KeyChangesRule", st.name)
		}
		want := map[string]any{
			"source":      []any{"aws.kms"},
			"detail-type": []any{"AWS API Call via CloudTrail"},
			"detail": map[string]any{
				"eventSource": []any{"kms.amazonaws.com"},
				"eventName":   []any{"ScheduleKeyDeletion", "DisableKey", "PutKeyPolicy"},
				"resources":   map[string]any{"ARN": []any{"${CaKey.Arn}", "${DigestKey.Arn}"}},
			},
		}
		if got := normalize(rule["EventPattern"]); !reflect.DeepEqual(got, want) || rule["State"] != "ENABLED" || rule["Name"] != "certctl-test-key-changes" {
			t.Errorf("%s: rule %s", st.name, render(rule))
		}
		targets := list(rule["Targets"])
		if len(targets) != 1 || render(normalize(targets[0]).(map[string]any)["Arn"]) != "${KeyChangesTopic}" {
			t.Errorf("%s: targets %s", st.name, render(targets))
		}
		published := false
		for _, r := range st.s.resources("AWS::SNS::TopicPolicy") {
			doc := render(props(r)["PolicyDocument"])
			if strings.Contains(doc, `"Service":"events.amazonaws.com"`) && strings.Contains(doc, `"Action":"sns:Publish"`) &&
				strings.Contains(doc, `"Resource":"${KeyChangesTopic}"`) {
				published = true
			}
		}
		if !published {
			t.Errorf("%s: EventBridge may not publish to the key-changes topic", st.name)
		}
	}
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
