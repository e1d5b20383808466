package main

import (
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/jsii-runtime-go"
)

// ASLPartition is the ASL's placeholder for the partition of its service
// integrations (arn:${Partition}:states:::lambda:invoke): AWS::Partition.
const ASLPartition = "Partition"

// ASL substitutions: placeholder → function.
var aslSubstitutions = map[string]string{
	"ApprovalWaitFunctionArn": FnApprovalWait,
	"IssueFunctionArn":        FnIssue,
	"FinalizeFunctionArn":     FnFinalize,
}

// stateMachine loads the one ASL definition. Logs: level ALL (every
// execution event) but without execution data, so task tokens, CSRs and
// payloads never reach CloudWatch Logs.
func (s *Stack) stateMachine() {
	logs := s.logGroup("StateMachineLogs", "/aws/vendedlogs/states/"+s.StateMachineName)
	subs := map[string]*string{ASLPartition: s.Partition()}
	var invoke []*string
	keys := make([]string, 0, len(aslSubstitutions))
	for k := range aslSubstitutions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		arn := s.Functions[aslSubstitutions[k]].FunctionArn()
		subs[k] = arn
		invoke = append(invoke, arn)
	}
	s.StateMachine = awsstepfunctions.NewStateMachine(s.Stack, jsii.String("RenewalStateMachine"), &awsstepfunctions.StateMachineProps{
		StateMachineName:        jsii.String(s.StateMachineName),
		StateMachineType:        awsstepfunctions.StateMachineType_STANDARD,
		DefinitionBody:          awsstepfunctions.DefinitionBody_FromFile(jsii.String(filepath.Join(s.Props.RepoRoot, ASLFile)), nil),
		DefinitionSubstitutions: &subs,
		Logs: &awsstepfunctions.LogOptions{
			Destination:          logs,
			Level:                awsstepfunctions.LogLevel_ALL,
			IncludeExecutionData: jsii.Bool(false),
		},
		TracingEnabled: jsii.Bool(true),
	})
	s.StateMachine.AddToRolePolicy(statement("InvokeWorkflowFunctions", jsii.Strings("lambda:InvokeFunction"), &invoke))
	// The functions name the state machine by a formatted ARN; make them
	// go live after it exists.
	s.Functions[FnAPI].Node().AddDependency(s.StateMachine)
	s.Functions[FnSweep].Node().AddDependency(s.StateMachine)
	s.Functions[FnReaper].Node().AddDependency(s.StateMachine)
	s.executionEnded()
}

// Execution statuses that leave the job to finalize: the state machine's
// own paths close every job, but an execution stopped by hand, failed by
// Step Functions itself or timed out ends without them.
var executionEndedStatuses = []string{"ABORTED", "FAILED", "TIMED_OUT"}

// executionEnded routes those status changes of this state machine's
// executions (EventBridge, default bus) to finalize, which fails a job the
// execution left in flight (idempotent: a job already ended is left alone).
// Delivery is retried; what cannot be delivered, and what finalize still
// fails on after Lambda's retries, lands in the dead-letter queue.
func (s *Stack) executionEnded() {
	statuses := make([]any, 0, len(executionEndedStatuses))
	for _, st := range executionEndedStatuses {
		statuses = append(statuses, st)
	}
	s.ExecutionEnded = awsevents.NewRule(s.Stack, jsii.String("ExecutionEndedRule"), &awsevents.RuleProps{
		RuleName:    jsii.String(s.name("execution-ended")),
		Description: jsii.String(fmt.Sprintf("certctl-serverless %s: renewal executions that ended ABORTED, FAILED or TIMED_OUT go to finalize", s.Props.Stage)),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.states"),
			DetailType: jsii.Strings(executionStatusChange),
			Detail: &map[string]any{
				"stateMachineArn": []any{s.StateMachine.StateMachineArn()},
				"status":          statuses,
			},
		},
	})
	s.ExecutionEnded.AddTarget(awseventstargets.NewLambdaFunction(s.Functions[FnFinalize], &awseventstargets.LambdaFunctionProps{
		DeadLetterQueue: s.DLQ,
		RetryAttempts:   jsii.Number(8),
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(24)),
	}))
}

// executionStatusChange is the detail-type of Step Functions' execution
// events (pkg/app.ExecutionStatusChange; a test keeps them in step).
const executionStatusChange = "Step Functions Execution Status Change"

// scheduleSpec is one schedule: the function it invokes, how often, with
// what input, and its name (the function's, unless the function has
// another schedule).
type scheduleSpec struct {
	id, fn, name string
	rate         time.Duration
	input        string
}

// Schedules lists the stack's schedules. The CRL refresh invokes the issue
// function, which holds the CA key, with the action that makes an
// issuer's CRL again when a revocation is not on it yet (its asynchronous
// trigger was lost) or it is a day old.
func (s *Stack) Schedules() []scheduleSpec {
	in := func(name string) string { return fmt.Sprintf(`{"source":"certctl-scheduler","schedule":%q}`, name) }
	return []scheduleSpec{
		{id: construct(FnSweep), fn: FnSweep, name: FnSweep, rate: s.Props.SweepRate, input: in(FnSweep)},
		{id: construct(FnReaper), fn: FnReaper, name: FnReaper, rate: s.Props.ReaperRate, input: in(FnReaper)},
		{id: construct(FnDigest), fn: FnDigest, name: FnDigest, rate: s.Props.DigestRate, input: in(FnDigest)},
		{id: "Crl", fn: FnIssue, name: "crl", rate: s.Props.CRLRate,
			input: fmt.Sprintf(`{"action":"refresh_crl","issuer_id":%q,"source":"certctl-scheduler"}`, CAIssuerID)},
	}
}

// schedules: EventBridge Scheduler (L1, so the role gets exactly one invoke
// statement per function), retries, and the dead-letter queue.
func (s *Stack) schedules() {
	for _, sc := range s.Schedules() {
		id := sc.id
		fn := s.Functions[sc.fn]
		role := awsiam.NewRole(s.Stack, jsii.String(id+"SchedulerRole"), &awsiam.RoleProps{
			AssumedBy: awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), &awsiam.ServicePrincipalOpts{
				Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": s.Account()}},
			}),
			Description: jsii.String(fmt.Sprintf("certctl-serverless %s: EventBridge Scheduler invokes %s (%s)", s.Props.Stage, sc.fn, sc.name)),
		})
		role.AddToPrincipalPolicy(statement("InvokeTarget", jsii.Strings("lambda:InvokeFunction"), &[]*string{fn.FunctionArn()}))
		role.AddToPrincipalPolicy(statement("DeadLetter", jsii.Strings("sqs:SendMessage"), &[]*string{s.DLQ.QueueArn()}))
		sched := awsscheduler.NewCfnSchedule(s.Stack, jsii.String(id+"Schedule"), &awsscheduler.CfnScheduleProps{
			Name:               jsii.String(s.name(sc.name)),
			Description:        jsii.String(fmt.Sprintf("certctl-serverless %s: run %s %s", s.Props.Stage, sc.name, ScheduleExpression(sc.rate))),
			ScheduleExpression: jsii.String(ScheduleExpression(sc.rate)),
			FlexibleTimeWindow: &awsscheduler.CfnSchedule_FlexibleTimeWindowProperty{Mode: jsii.String("OFF")},
			State:              jsii.String("ENABLED"),
			Target: &awsscheduler.CfnSchedule_TargetProperty{
				Arn:              fn.FunctionArn(),
				RoleArn:          role.RoleArn(),
				DeadLetterConfig: &awsscheduler.CfnSchedule_DeadLetterConfigProperty{Arn: s.DLQ.QueueArn()},
				RetryPolicy: &awsscheduler.CfnSchedule_RetryPolicyProperty{
					MaximumEventAgeInSeconds: jsii.Number(clampSeconds(sc.rate, 60, 86400)),
					MaximumRetryAttempts:     jsii.Number(3),
				},
				Input: jsii.String(sc.input),
			},
		})
		// The role's policy must exist before the first run.
		sched.Node().AddDependency(role)
	}
}
