package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
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
	add := func(id, name, desc string, metric awscloudwatch.IMetric) {
		a := awscloudwatch.NewAlarm(s.Stack, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmName:          jsii.String(s.name(name)),
			AlarmDescription:   jsii.String(desc),
			Metric:             metric,
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		if s.AlarmTopic != nil {
			a.AddAlarmAction(awscloudwatchactions.NewSnsAction(s.AlarmTopic))
		}
		s.Alarms = append(s.Alarms, a)
	}
	sum := &awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")}
	for _, name := range FunctionNames {
		add(construct(name)+"ErrorsAlarm", name+"-errors",
			fmt.Sprintf("The %s function returned errors (crashes or unhandled errors, not API 4xx).", name),
			s.Functions[name].MetricErrors(sum))
	}
	add("ExecutionsFailedAlarm", "executions-failed", "A renewal execution failed (its job is Failed; see the job's error).",
		s.StateMachine.MetricFailed(sum))
	add("ExecutionsTimedOutAlarm", "executions-timed-out", "A renewal execution timed out.",
		s.StateMachine.MetricTimedOut(sum))
	add("DeadLetterQueueAlarm", "dlq-not-empty", "A scheduled sweep/reaper run failed after retries; inspect the dead-letter queue.",
		s.DLQ.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Maximum")}))
	if s.Props.Production {
		add("BypassedDecisionAlarm", "approval-bypassed",
			"An approval was bypassed (decided_by=system-bypass) in a production stage.",
			awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace:  jsii.String(MetricNamespace),
				MetricName: jsii.String(MetricApprovalDecisions),
				// The functions emit the stage as a dimension, so only this
				// stage's decisions count.
				DimensionsMap: &map[string]*string{"stage": jsii.String(s.Props.Stage), "outcome": jsii.String("bypassed")},
				Statistic:     jsii.String("Sum"),
				Period:        five,
			}))
	}
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
	out(OutDLQURL, s.DLQ.QueueUrl(), "Dead-letter queue of scheduled runs")
	out(OutAuthorizerCacheTTL, jsii.String(fmt.Sprint(int(AuthorizerCacheTTL.Seconds()))),
		"API Gateway caches an API key's authorizer result this long: a revoked key may work for up to this many seconds")
	if s.AlarmTopic != nil {
		out(OutAlarmTopicARN, s.AlarmTopic.TopicArn(), "SNS topic the alarms notify")
	}
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
