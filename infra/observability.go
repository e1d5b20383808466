package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/jsii-runtime-go"
)

func (s *Stack) alarms() {
	if s.Props.AlarmTopic {
		s.AlarmTopic = awssns.NewTopic(s.Stack, jsii.String("AlarmTopic"), &awssns.TopicProps{
			DisplayName: jsii.String(s.name("alarms")),
			EnforceSSL:  jsii.Bool(true),
		})
		s.AlarmTopic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("CloudWatchAlarmsPublish"),
			Effect:     awsiam.Effect_ALLOW,
			Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
			Actions:    jsii.Strings("sns:Publish"),
			Resources:  &[]*string{s.AlarmTopic.TopicArn()},
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": s.Account()}},
		}))
		if s.Props.AlarmEmail != "" {
			s.AlarmTopic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(s.Props.AlarmEmail), nil))
		}
	}
	five := awscdk.Duration_Minutes(jsii.Number(5))
	sum := &awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")}
	for _, name := range FunctionNames {
		if name == FnAuthorizer {
			// Its documented refusal ("Unauthorized", the 401 for a bad key)
			// is a function error: Errors counts every bad key. Real
			// failures are counted from the key API's access log below.
			continue
		}
		s.alarm(alarmSpec{id: construct(name) + "ErrorsAlarm", name: name + "-errors", runbook: "function-errors",
			desc:   fmt.Sprintf("The %s function failed (a crash, a timeout or an unhandled error; API 4xx answers are not errors).", name),
			metric: s.Functions[name].MetricErrors(sum)})
	}
	s.alarm(alarmSpec{id: "AuthorizerFailuresAlarm", name: "authorizer-failures", runbook: "authorizer-failures",
		desc: "The API-key authorizer failed (API Gateway answered AUTHORIZER_FAILURE or AUTHORIZER_CONFIGURATION_ERROR, a 500): " +
			"callers with valid keys are refused. Refused keys (401) do not count.",
		metric: s.authorizerFailures()})
	// Every state of the renewal state machine is bounded (each Lambda task
	// by its function's timeout and its retries, the approval wait by
	// TimeoutSecondsPath, which the machine catches), so an execution ends
	// on its own and has no overall timeout: ExecutionsTimedOut stays 0.
	// What can go wrong is an execution ending FAILED, ABORTED (stopped by
	// hand) or, should a timeout ever be added, TIMED_OUT; one alarm counts
	// all three.
	ended := map[string]awscloudwatch.IMetric{
		"failed":   s.StateMachine.MetricFailed(sum),
		"aborted":  s.StateMachine.MetricAborted(sum),
		"timedout": s.StateMachine.MetricTimedOut(sum),
	}
	s.alarm(alarmSpec{id: "ExecutionsFailedAlarm", name: "executions-failed", runbook: "executions-failed",
		desc: "A renewal execution ended FAILED, ABORTED or TIMED_OUT. Its job is Failed (by the state machine's own " +
			"failure path, or by finalize from the execution's status-change event); see the job's error.",
		metric: awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression:   jsii.String("FILL(failed, 0) + FILL(aborted, 0) + FILL(timedout, 0)"),
			UsingMetrics: &ended,
			Label:        jsii.String("executions ended failed, aborted or timed out"),
			Period:       five,
		})})
	s.alarm(alarmSpec{id: "DeadLetterQueueAlarm", name: "dlq-not-empty", runbook: "dlq-not-empty",
		desc: "A message is in the dead-letter queue: a scheduled sweep/reaper run failed after retries, or an execution's " +
			"end could not be delivered to finalize (its job may still be in flight).",
		metric: s.DLQ.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Maximum")})})
	for _, api := range []struct {
		id, kind string
		api      awsapigateway.RestApi
	}{{"IamApi", "iam", s.IamAPI}, {"KeyApi", "key", s.KeyAPI}} {
		s.alarm(alarmSpec{id: api.id + "ServerErrorsAlarm", name: "api-" + api.kind + "-5xx", runbook: "api-5xx",
			threshold: float64(s.Props.AlarmAPI5xx),
			desc: fmt.Sprintf("The %s API answered %d or more 5XX in five minutes (the api function failed or timed out, "+
				"DynamoDB or Step Functions stayed unavailable, or the authorizer failed).", s.name(api.kind), s.Props.AlarmAPI5xx),
			metric: api.api.DeploymentStage().MetricServerError(sum)})
	}
	// The reaper reports these after every run (EMF, dimension stage).
	reaper := clampSeconds(s.Props.ReaperRate, 300, 43200)
	queue := func(metric string) awscloudwatch.IMetric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:     jsii.String(MetricNamespace),
			MetricName:    jsii.String(metric),
			DimensionsMap: &map[string]*string{"stage": jsii.String(s.Props.Stage)},
			Statistic:     jsii.String("Maximum"),
			Period:        awscdk.Duration_Seconds(jsii.Number(reaper)),
		})
	}
	pending := s.alarm(alarmSpec{id: "OldestPendingApprovalAlarm", name: "approval-pending-too-long", runbook: "approval-pending-too-long",
		threshold: s.Props.AlarmPendingApprovalAge.Seconds(), missing: awscloudwatch.TreatMissingData_IGNORE,
		desc: fmt.Sprintf("An approval request has been pending for more than %s (it expires at %s): nobody in its approver "+
			"pool is deciding.", FormatDuration(s.Props.AlarmPendingApprovalAge), FormatDuration(s.Props.ApprovalTimeout)),
		metric: queue(MetricOldestPending)})
	// The people told about requests (the default targets' topics) hear of
	// this one too: it is about a request they were told of.
	for _, topic := range s.pendingAlarmTopics() {
		s.allowAlarms(topic)
		pending.AddAlarmAction(awscloudwatchactions.NewSnsAction(topic))
	}
	s.alarm(alarmSpec{id: "HandoffQueueAlarm", name: "decisions-awaiting-redelivery", runbook: "decisions-awaiting-redelivery",
		threshold: float64(s.Props.AlarmHandoffQueue), periods: 2, missing: awscloudwatch.TreatMissingData_IGNORE,
		desc: fmt.Sprintf("%d or more recorded decisions could not be handed to their executions for two reaper runs "+
			"(SendTaskSuccess keeps failing): the jobs wait.", s.Props.AlarmHandoffQueue),
		metric: queue(MetricHandoffQueue)})
	s.alarm(alarmSpec{id: "StartQueueAlarm", name: "starts-awaiting-retry", runbook: "starts-awaiting-retry",
		threshold: float64(s.Props.AlarmStartQueue), periods: 2, missing: awscloudwatch.TreatMissingData_IGNORE,
		desc: fmt.Sprintf("%d or more jobs have had no execution started for two reaper runs (StartExecution keeps failing).",
			s.Props.AlarmStartQueue),
		metric: queue(MetricStartQueue)})
	s.alarm(alarmSpec{id: "DeliveryQueueAlarm", name: "deliveries-failing", runbook: "deliveries-failing",
		threshold: 1, periods: 2, missing: awscloudwatch.TreatMissingData_IGNORE,
		desc: "An issued certificate could not be published to its profile's delivery target (SSM parameter or Secrets " +
			"Manager secret) for two reaper runs: the job's delivery shows the last error; the reaper keeps retrying.",
		metric: queue(MetricDeliveryQueue)})
	s.keyChanges()
	s.digestsStopped()
	if s.Props.Production {
		s.alarm(alarmSpec{id: "BypassedDecisionAlarm", name: "approval-bypassed", runbook: "approval-bypassed",
			desc: "An approval was bypassed (decided_by=system-bypass) in a production stage.",
			metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace:  jsii.String(MetricNamespace),
				MetricName: jsii.String(MetricApprovalDecisions),
				// The functions emit the stage as a dimension, so only this
				// stage's decisions count.
				DimensionsMap: &map[string]*string{"stage": jsii.String(s.Props.Stage), "outcome": jsii.String("bypassed")},
				Statistic:     jsii.String("Sum"),
				Period:        five,
			})})
	}
}

// RunbookPath is where every alarm's description points.
const RunbookPath = "docs/runbook.md"

// alarmSpec is one alarm: threshold (default 1) reached or passed (or,
// with below, not reached) over periods (default 1) consecutive periods.
// Missing data is not breaching, except for the metrics the reaper reports
// once a run: a period without a run keeps the alarm's state (IGNORE)
// instead of flapping it to OK; and where the metric's absence is the
// failure (no digest written), it breaches.
type alarmSpec struct {
	id, name, desc, runbook string
	metric                  awscloudwatch.IMetric
	threshold               float64
	periods                 float64
	missing                 awscloudwatch.TreatMissingData
	below                   bool
}

func (s *Stack) alarm(a alarmSpec) awscloudwatch.Alarm {
	if a.threshold == 0 {
		a.threshold = 1
	}
	if a.periods == 0 {
		a.periods = 1
	}
	if a.missing == "" {
		a.missing = awscloudwatch.TreatMissingData_NOT_BREACHING
	}
	op := awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD
	if a.below {
		op = awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD
	}
	alarm := awscloudwatch.NewAlarm(s.Stack, jsii.String(a.id), &awscloudwatch.AlarmProps{
		AlarmName:          jsii.String(s.name(a.name)),
		AlarmDescription:   jsii.String(a.desc + " Runbook: " + RunbookPath + "#" + a.runbook),
		Metric:             a.metric,
		Threshold:          jsii.Number(a.threshold),
		EvaluationPeriods:  jsii.Number(a.periods),
		ComparisonOperator: op,
		TreatMissingData:   a.missing,
	})
	if s.AlarmTopic != nil {
		alarm.AddAlarmAction(awscloudwatchactions.NewSnsAction(s.AlarmTopic))
		alarm.AddOkAction(awscloudwatchactions.NewSnsAction(s.AlarmTopic))
	}
	s.Alarms = append(s.Alarms, alarm)
	return alarm
}

// authorizerFailures counts, from the key API's access log, the requests
// API Gateway answered AUTHORIZER_FAILURE or AUTHORIZER_CONFIGURATION_ERROR:
// the authorizer crashed, timed out, was throttled or returned something
// other than a policy or its documented "Unauthorized".
// The filter publishes with the stage as a dimension (the access log's
// "stage" field), so the alarm's metric names it too.
func (s *Stack) authorizerFailures() awscloudwatch.IMetric {
	awslogs.NewMetricFilter(s.Stack, jsii.String("AuthorizerFailures"), &awslogs.MetricFilterProps{
		LogGroup: s.KeyAPIAccessLogs,
		FilterPattern: awslogs.FilterPattern_Any(
			awslogs.FilterPattern_StringValue(jsii.String("$.errorType"), jsii.String("="), jsii.String("AUTHORIZER_FAILURE")),
			awslogs.FilterPattern_StringValue(jsii.String("$.errorType"), jsii.String("="), jsii.String("AUTHORIZER_CONFIGURATION_ERROR")),
		),
		MetricNamespace: jsii.String(MetricNamespace),
		MetricName:      jsii.String(MetricAuthorizerFailures),
		MetricValue:     jsii.String("1"),
		Dimensions:      &map[string]*string{"stage": jsii.String("$.stage")},
		Unit:            awscloudwatch.Unit_COUNT,
	})
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace:     jsii.String(MetricNamespace),
		MetricName:    jsii.String(MetricAuthorizerFailures),
		DimensionsMap: &map[string]*string{"stage": jsii.String(s.Props.Stage)},
		Statistic:     jsii.String("Sum"),
		Period:        awscdk.Duration_Minutes(jsii.Number(5)),
	})
}

func (s *Stack) outputs() {
	out := func(key string, value *string, desc string) {
		awscdk.NewCfnOutput(s.Stack, jsii.String(key), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(desc)})
	}
	out(OutIamAPIURL, s.apiBaseURL(s.IamAPI), "Base URL (incl. stage) of the AWS_IAM API: sign requests with SigV4 (service execute-api)")
	out(OutKeyAPIURL, s.apiBaseURL(s.KeyAPI), "Base URL (incl. stage) of the API-key API: send X-Api-Key")
	out(OutIamAPIID, s.IamAPI.RestApiId(), "REST API id of the AWS_IAM API")
	out(OutKeyAPIID, s.KeyAPI.RestApiId(), "REST API id of the API-key API")
	out(OutStage, jsii.String(s.Props.Stage), "Stage name (also the API Gateway stage)")
	out(OutStateTable, s.StateTable.TableName(), "DynamoDB state table")
	out(OutAuditTable, s.AuditTable.TableName(), "DynamoDB audit table (append-only for the functions)")
	out(OutStateMachineARN, s.StateMachine.StateMachineArn(), "Renewal state machine")
	out(OutCAIssuerID, jsii.String(CAIssuerID), "Issuer id of the KMS-backed CA")
	out(OutCAKeyARN, s.CAKey.KeyArn(), "KMS key of the CA (not secret; only the issue function may sign)")
	out(OutDigestKeyARN, s.DigestKey.KeyArn(), "KMS key that signs audit digests (only the digest function may sign; "+
		"aws kms get-public-key gives its public half to verify digests with)")
	out(OutDigestFunction, s.Functions[FnDigest].FunctionName(), "Function that signs an audit digest (scheduled; certctl audit digest --function <it> for one now)")
	out(OutDLQURL, s.DLQ.QueueUrl(), "Dead-letter queue of scheduled runs")
	out(OutAuthorizerCacheTTL, jsii.String(fmt.Sprint(int(AuthorizerCacheTTL.Seconds()))),
		"API Gateway caches an API key's authorizer result this long: a revoked key may work for up to this many seconds")
	if s.AlarmTopic != nil {
		out(OutAlarmTopicARN, s.AlarmTopic.TopicArn(), "SNS topic the alarms notify")
	}
	out(OutEventBusName, s.EventBus.EventBusName(), "EventBridge bus of the approval and certificate events (source "+EventSource+")")
	out(OutEventBusARN, s.EventBus.EventBusArn(), "ARN of the event bus")
}

var retentionEnum = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}
