package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdadestinations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Index names and key attributes. They are a contract with pkg/store.
const (
	IndexList    = "list"
	IndexParent  = "by_parent"
	IndexPending = "pending"
	IndexDue     = "due"

	AuditIndexActor  = "by_actor"
	AuditIndexAction = "by_action"
	AuditIndexDay    = "by_day"
)

// index is a GSI with string partition and sort keys, projection ALL.
type index struct{ Name, PK, SK string }

// StateIndexes and AuditIndexes are the GSIs of the two tables.
var (
	StateIndexes = []index{
		{IndexList, "list_pk", "list_sk"},
		{IndexParent, "parent_pk", "parent_sk"},
		{IndexPending, "pending_pk", "pending_sk"},
		{IndexDue, "due_pk", "due_sk"},
	}
	AuditIndexes = []index{
		{AuditIndexActor, "actor", "sk"},
		{AuditIndexAction, "action", "sk"},
		{AuditIndexDay, "day", "sk"},
	}
)

// Bypass alarm metric: emitted by the functions in CloudWatch EMF.
const (
	MetricNamespace         = "certctl-serverless"
	MetricApprovalDecisions = "certctl_approval_decisions_total"
)

// Output names (CloudFormation output keys).
const (
	OutIamAPIURL          = "IamApiUrl"
	OutKeyAPIURL          = "KeyApiUrl"
	OutIamAPIID           = "IamApiId"
	OutKeyAPIID           = "KeyApiId"
	OutStage              = "Stage"
	OutStateTable         = "StateTableName"
	OutAuditTable         = "AuditTableName"
	OutStateMachineARN    = "StateMachineArn"
	OutCAIssuerID         = "CaIssuerId"
	OutCAKeyARN           = "CaKeyArn"
	OutDLQURL             = "DeadLetterQueueUrl"
	OutAuthorizerCacheTTL = "AuthorizerCacheTtlSeconds"
	OutAlarmTopicARN      = "AlarmTopicArn"
)

// funcSpec sizes one function. Go binaries are small and fast: 256 MB on
// arm64 is plenty; timeouts follow who waits for the function.
type funcSpec struct {
	Memory  float64
	Timeout time.Duration
	Desc    string
}

var funcSpecs = map[string]funcSpec{
	FnAPI:          {256, 29 * time.Second, "HTTP API behind API Gateway (AWS_PROXY); 29 s is API Gateway's integration limit"},
	FnAuthorizer:   {256, 10 * time.Second, "REQUEST authorizer: validates X-Api-Key against the state table"},
	FnApprovalWait: {256, 30 * time.Second, "Stores the task token on the approval request (waitForTaskToken)"},
	FnIssue:        {256, 60 * time.Second, "Signs the CSR with the KMS-backed CA"},
	FnFinalize:     {256, 30 * time.Second, "Expires, cancels or fails a job (idempotent)"},
	FnSweep:        {256, 5 * time.Minute, "Scheduled: starts renewals that are due"},
	FnReaper:       {256, 5 * time.Minute, "Scheduled: expires stale approval requests"},
}

// Stack is the deployed service. Its fields are exposed for tests.
type Stack struct {
	awscdk.Stack
	Props            Props
	StateTable       awsdynamodb.Table
	AuditTable       awsdynamodb.Table
	CAKey            awskms.Key
	DLQ              awssqs.Queue
	Functions        map[string]awslambda.Function
	Roles            map[string]awsiam.Role
	StateMachine     awsstepfunctions.StateMachine
	StateMachineName string
	StateMachineARN  *string // built with FormatArn, so functions can name it without a cycle
	IamAPI, KeyAPI   awsapigateway.RestApi
	AlarmTopic       awssns.Topic
	Alarms           []awscloudwatch.Alarm
}

// StackName is the CloudFormation stack name of a stage.
func StackName(stage string) string { return "certctl-" + stage }

// NewStack validates props and builds the stack. A validation error (for
// example bypass in production without the override) builds nothing.
func NewStack(scope constructs.Construct, props Props, sp *awscdk.StackProps) (*Stack, error) {
	p, err := props.Normalize()
	if err != nil {
		return nil, err
	}
	if sp == nil {
		sp = &awscdk.StackProps{}
	}
	if sp.StackName == nil {
		sp.StackName = jsii.String(StackName(p.Stage))
	}
	if sp.Description == nil {
		sp.Description = jsii.String(fmt.Sprintf("certctl-serverless (%s): certificate renewal with approvals, KMS-backed CA", p.Stage))
	}
	s := &Stack{
		Stack:     awscdk.NewStack(scope, sp.StackName, sp),
		Props:     p,
		Functions: map[string]awslambda.Function{},
		Roles:     map[string]awsiam.Role{},
	}
	awscdk.Tags_Of(s.Stack).Add(jsii.String("project"), jsii.String("certctl-serverless"), nil)
	awscdk.Tags_Of(s.Stack).Add(jsii.String("stage"), jsii.String(p.Stage), nil)

	s.StateMachineName = s.name("renewal")
	s.StateMachineARN = s.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("states"),
		Resource:     jsii.String("stateMachine"),
		ResourceName: jsii.String(s.StateMachineName),
		ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})

	s.tables()
	s.caKey()
	s.deadLetterQueue()
	s.functions()
	s.permissions()
	s.stateMachine()
	s.schedules()
	s.apis()
	s.alarms()
	s.outputs()
	s.suppressions()
	return s, nil
}

// name is a physical name for the stage: certctl-<stage>-<suffix>.
func (s *Stack) name(suffix string) string { return "certctl-" + s.Props.Stage + "-" + suffix }

func (s *Stack) removal() awscdk.RemovalPolicy {
	if s.Props.Production {
		return awscdk.RemovalPolicy_RETAIN
	}
	return awscdk.RemovalPolicy_DESTROY
}

func (s *Stack) logGroup(id, name string) awslogs.LogGroup {
	return awslogs.NewLogGroup(s.Stack, jsii.String(id), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String(name),
		Retention:     retentionEnum[s.Props.LogRetentionDays],
		RemovalPolicy: s.removal(),
	})
}

func str(k string) *awsdynamodb.Attribute {
	return &awsdynamodb.Attribute{Name: jsii.String(k), Type: awsdynamodb.AttributeType_STRING}
}

// tables: on-demand, PITR, deletion protection, retained on stack deletion.
// Encryption uses the AWS-managed key (aws/dynamodb): every use is logged in
// CloudTrail, access is governed by the per-function IAM statements, and it
// costs no key fee. A customer-managed key would add $1/month per table and
// KMS grants on every role without narrowing who can read.
func (s *Stack) tables() {
	newTable := func(id string, idx []index) awsdynamodb.Table {
		t := awsdynamodb.NewTable(s.Stack, jsii.String(id), &awsdynamodb.TableProps{
			PartitionKey: str("pk"),
			SortKey:      str("sk"),
			BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
			PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
				PointInTimeRecoveryEnabled: jsii.Bool(true),
			},
			DeletionProtection: jsii.Bool(true),
			Encryption:         awsdynamodb.TableEncryption_AWS_MANAGED,
			RemovalPolicy:      awscdk.RemovalPolicy_RETAIN,
		})
		for _, i := range idx {
			t.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
				IndexName:      jsii.String(i.Name),
				PartitionKey:   str(i.PK),
				SortKey:        str(i.SK),
				ProjectionType: awsdynamodb.ProjectionType_ALL,
			})
		}
		return t
	}
	s.StateTable = newTable("StateTable", StateIndexes)
	s.AuditTable = newTable("AuditTable", AuditIndexes)
}

// caKey is the CA's signing key. Only the issue function's role may sign:
// its IAM policy allows kms:Sign, and the key policy denies kms:Sign to every
// other principal, administrators included.
func (s *Stack) caKey() {
	s.CAKey = awskms.NewKey(s.Stack, jsii.String("CaKey"), &awskms.KeyProps{
		Description:       jsii.String(fmt.Sprintf("certctl-serverless %s: CA signing key (issuer %q)", s.Props.Stage, CAIssuerID)),
		KeySpec:           awskms.KeySpec_ECC_NIST_P256,
		KeyUsage:          awskms.KeyUsage_SIGN_VERIFY,
		EnableKeyRotation: jsii.Bool(false), // KMS does not rotate asymmetric keys
		PendingWindow:     awscdk.Duration_Days(jsii.Number(30)),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		Alias:             jsii.String("alias/" + s.name("ca-"+CAIssuerID)),
	})
}

func (s *Stack) deadLetterQueue() {
	s.DLQ = awssqs.NewQueue(s.Stack, jsii.String("DeadLetterQueue"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
}

// FormatDuration renders d the way pkg/config reads it, compactly (168h).
func FormatDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

func (s *Stack) functions() {
	arch := awslambda.Architecture_ARM_64()
	if s.Props.Architecture == "x86_64" {
		arch = awslambda.Architecture_X86_64()
	}
	level := map[string]awslambda.ApplicationLogLevel{
		"DEBUG": awslambda.ApplicationLogLevel_DEBUG,
		"INFO":  awslambda.ApplicationLogLevel_INFO,
		"WARN":  awslambda.ApplicationLogLevel_WARN,
		"ERROR": awslambda.ApplicationLogLevel_ERROR,
	}[s.Props.LogLevel]
	for _, name := range FunctionNames {
		spec := funcSpecs[name]
		id := construct(name)
		env := map[string]*string{
			EnvStateTable:      s.StateTable.TableName(),
			EnvAuditTable:      s.AuditTable.TableName(),
			EnvStage:           jsii.String(s.Props.Stage),
			EnvBypass:          jsii.String(fmt.Sprint(s.Props.Bypass)),
			EnvApprovalTimeout: jsii.String(FormatDuration(s.Props.ApprovalTimeout)),
			EnvLogLevel:        jsii.String(s.Props.LogLevel),
		}
		switch name {
		case FnAPI, FnSweep, FnReaper: // the reaper restarts executions whose start was lost
			env[EnvStateMachineARN] = s.StateMachineARN
		case FnIssue:
			env[EnvCAKeyID] = s.CAKey.KeyArn()
		}
		if name == FnAPI && s.Props.IAMPrincipals != "" {
			env[EnvIAMPrincipals] = jsii.String(s.Props.IAMPrincipals)
		}
		role := awsiam.NewRole(s.Stack, jsii.String(id+"Role"), &awsiam.RoleProps{
			AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
			Description: jsii.String(fmt.Sprintf("certctl-serverless %s: %s function (least privilege)", s.Props.Stage, name)),
		})
		logs := s.logGroup(id+"Logs", "/aws/lambda/"+s.name(name))
		logs.GrantWrite(role)
		var reserved *float64
		if s.Props.ReservedConcurrency {
			switch name {
			case FnSweep, FnReaper:
				reserved = jsii.Number(1) // one run at a time
			case FnIssue:
				reserved = jsii.Number(s.Props.IssueConcurrency) // caps KMS Sign calls
			}
		}
		fn := awslambda.NewFunction(s.Stack, jsii.String(id), &awslambda.FunctionProps{
			FunctionName:                 jsii.String(s.name(name)),
			Description:                  jsii.String(spec.Desc),
			Runtime:                      awslambda.Runtime_PROVIDED_AL2023(),
			Handler:                      jsii.String("bootstrap"),
			Code:                         awslambda.Code_FromAsset(jsii.String(filepath.Join(s.Props.AssetsDir, name)), nil),
			Architecture:                 arch,
			MemorySize:                   jsii.Number(spec.Memory),
			Timeout:                      awscdk.Duration_Seconds(jsii.Number(spec.Timeout.Seconds())),
			Role:                         role,
			LogGroup:                     logs,
			LoggingFormat:                awslambda.LoggingFormat_JSON,
			ApplicationLogLevelV2:        level,
			SystemLogLevelV2:             awslambda.SystemLogLevel_INFO,
			Tracing:                      awslambda.Tracing_ACTIVE,
			Environment:                  &env,
			ReservedConcurrentExecutions: reserved,
		})
		s.Functions[name] = fn
		s.Roles[name] = role
	}
	// Scheduler invokes sweep and reaper asynchronously: failed invocations
	// (after Lambda's own retries) land in the dead-letter queue. A run older
	// than one cadence is dropped: the next scheduled run supersedes it.
	for name, rate := range map[string]time.Duration{FnSweep: s.Props.SweepRate, FnReaper: s.Props.ReaperRate} {
		s.Functions[name].ConfigureAsyncInvoke(&awslambda.EventInvokeConfigOptions{
			OnFailure:     awslambdadestinations.NewSqsDestination(s.DLQ),
			MaxEventAge:   awscdk.Duration_Seconds(jsii.Number(clampSeconds(rate, 60, 6*3600))),
			RetryAttempts: jsii.Number(2),
		})
	}
}

func clampSeconds(d time.Duration, lo, hi float64) float64 {
	v := d.Seconds()
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// construct turns a function name into a construct id: approval-wait → ApprovalWait.
func construct(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "-") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}
