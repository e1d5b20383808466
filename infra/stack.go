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
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
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
	AuditIndexChain  = "by_chain" // a shard's rows of the hash chain, in order
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
		{AuditIndexChain, "chain", "chain_seq"},
	}
)

// Metrics the alarms read. The functions emit all but the last in
// CloudWatch EMF (pkg/emf; a test keeps the names in step); the last comes
// from a metric filter on the key API's access log.
const (
	MetricNamespace          = "certctl-serverless"
	MetricApprovalDecisions  = "certctl_approval_decisions_total"
	MetricOldestPending      = "certctl_oldest_pending_approval_seconds"
	MetricHandoffQueue       = "certctl_handoff_queue_length"
	MetricStartQueue         = "certctl_start_queue_length"
	MetricDeliveryQueue      = "certctl_delivery_queue_length"
	MetricAuthorizerFailures = "certctl_authorizer_failures"
	MetricDigestsWritten     = "certctl_audit_digests_written"
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
	OutEventBusName       = "EventBusName"
	OutEventBusARN        = "EventBusArn"
	OutDigestKeyARN       = "DigestKeyArn"
	OutDigestFunction     = "DigestFunctionName"
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
	FnIssue:        {256, 60 * time.Second, "Signs the CSR, and each issuer's CRL, with the KMS-backed CA"},
	FnFinalize:     {256, 30 * time.Second, "Expires, cancels or fails a job (idempotent)"},
	FnSweep:        {256, 5 * time.Minute, "Scheduled: starts renewals that are due"},
	FnDigest:       {256, 30 * time.Second, "Scheduled and on demand: signs a digest of the audit chain heads with the digest key"},
	FnReaper:       {256, 5 * time.Minute, "Scheduled: expires stale approval requests, retries deliveries"},
}

// Stack is the deployed service. Its fields are exposed for tests.
type Stack struct {
	awscdk.Stack
	Props            Props
	StateTable       awsdynamodb.ITable // created, or existing (stateTableName)
	AuditTable       awsdynamodb.ITable // created, or existing (auditTableName)
	CAKey            awskms.Key
	DigestKey        awskms.Key     // signs audit digests; only the digest function may Sign
	KeyChanges       awsevents.Rule // CloudTrail: deletion scheduled, disabled or policy replaced, on either key
	DLQ              awssqs.Queue
	Functions        map[string]awslambda.Function
	Roles            map[string]awsiam.Role
	StateMachine     awsstepfunctions.StateMachine
	StateMachineName string
	StateMachineARN  *string // built with FormatArn, so functions can name it without a cycle
	IamAPI, KeyAPI   awsapigateway.RestApi
	KeyAPIAccessLogs awslogs.LogGroup
	ExecutionEnded   awsevents.Rule // routes failed, aborted and timed-out executions to finalize
	EventBus         awsevents.EventBus
	NotifyTopics     map[string]awssns.Topic // SNS targets by name
	NotifyRules      map[string]awsevents.Rule
	AlarmTopic       awssns.Topic
	Alarms           []awscloudwatch.Alarm

	// instance tells this deployment of the stack from an earlier one of
	// the same stage: the first group of the stack id's GUID. Names that
	// outlive a destroyed stack (retained log groups) or stay taken for a
	// while after it (a state machine with waiting executions) carry it,
	// so `cdk destroy` then `cdk deploy` never meets "already exists".
	instance *string
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

	s.instance = awscdk.Fn_Select(jsii.Number(0), awscdk.Fn_Split(jsii.String("-"),
		awscdk.Fn_Select(jsii.Number(2), awscdk.Fn_Split(jsii.String("/"), s.StackId(), nil)), nil))
	s.StateMachineName = s.name("renewal-" + *s.instance)
	s.StateMachineARN = s.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("states"),
		Resource:     jsii.String("stateMachine"),
		ResourceName: jsii.String(s.StateMachineName),
		ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})

	s.tables()
	s.caKey()
	s.digestKey()
	s.deadLetterQueue()
	s.notifications()
	s.functions()
	s.permissions()
	s.stateMachine()
	s.schedules()
	s.apis()
	s.consoleLinks()
	s.publicURL()
	s.callerRoles()
	s.alarms()
	s.outputs()
	s.suppressions()
	return s, nil
}

// publicURL tells the issue function the URL certificates name the CRL
// and the CA certificate under: publicUrl, or the key API's URL built from
// its id and the stage name (the URL of its deployment stage would make
// the function depend on the API's methods, which depend on the api
// function, which may invoke the issue function: a cycle).
func (s *Stack) publicURL() {
	url := jsii.String(s.Props.PublicURL)
	if s.Props.PublicURL == "" {
		url = s.apiBaseURL(s.KeyAPI)
	}
	s.Functions[FnIssue].AddEnvironment(jsii.String(EnvPublicURL), url, nil)
}

// name is a physical name for the stage: certctl-<stage>-<suffix>.
func (s *Stack) name(suffix string) string { return "certctl-" + s.Props.Stage + "-" + suffix }

// removal is what `cdk destroy` does with the stage's data: a production
// stage keeps its tables, CA key and logs; any other stage deletes them.
func (s *Stack) removal() awscdk.RemovalPolicy {
	if s.Props.Production {
		return awscdk.RemovalPolicy_RETAIN
	}
	return awscdk.RemovalPolicy_DESTROY
}

// logGroup names its group <name>-<instance>: a production stage retains
// its log groups, and the next deployment of the stage must not collide
// with them.
func (s *Stack) logGroup(id, name string) awslogs.LogGroup {
	return awslogs.NewLogGroup(s.Stack, jsii.String(id), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String(name + "-" + *s.instance),
		Retention:     retentionEnum[s.Props.LogRetentionDays],
		RemovalPolicy: s.removal(),
	})
}

func str(k string) *awsdynamodb.Attribute {
	return &awsdynamodb.Attribute{Name: jsii.String(k), Type: awsdynamodb.AttributeType_STRING}
}

// tables: on-demand, PITR. A production stage protects them from deletion
// and retains them when the stack is deleted; any other stage deletes them
// with the stack (table names are generated, so a redeploy never collides
// with retained tables).
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
			DeletionProtection: jsii.Bool(s.Props.Production),
			Encryption:         awsdynamodb.TableEncryption_AWS_MANAGED,
			RemovalPolicy:      s.removal(),
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
	// Existing tables (a point-in-time restore of the stage's own tables):
	// the stack uses them as they are and does not manage them.
	if s.Props.StateTableName != "" {
		s.StateTable = awsdynamodb.Table_FromTableName(s.Stack, jsii.String("StateTable"), jsii.String(s.Props.StateTableName))
		s.AuditTable = awsdynamodb.Table_FromTableName(s.Stack, jsii.String("AuditTable"), jsii.String(s.Props.AuditTableName))
		return
	}
	s.StateTable = newTable("StateTable", StateIndexes)
	s.AuditTable = newTable("AuditTable", AuditIndexes)
}

// caKey is the CA's signing key. Only the issue function's role may sign:
// its IAM policy allows kms:Sign, and the key policy denies kms:Sign to every
// other principal, administrators included. A production stage retains it
// when the stack is deleted (30-day window if someone schedules deletion);
// any other stage schedules its deletion, 7 days out (KMS's minimum). The
// alias goes with the stack either way, so a redeploy can take it again.
func (s *Stack) caKey() {
	window := 7.0
	if s.Props.Production {
		window = 30
	}
	s.CAKey = awskms.NewKey(s.Stack, jsii.String("CaKey"), &awskms.KeyProps{
		Description:       jsii.String(fmt.Sprintf("certctl-serverless %s: CA signing key (issuer %q)", s.Props.Stage, CAIssuerID)),
		KeySpec:           awskms.KeySpec_ECC_NIST_P256,
		KeyUsage:          awskms.KeyUsage_SIGN_VERIFY,
		EnableKeyRotation: jsii.Bool(false), // KMS does not rotate asymmetric keys
		PendingWindow:     awscdk.Duration_Days(jsii.Number(window)),
		RemovalPolicy:     s.removal(),
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
	// Lambda's own filter stays at INFO (DEBUG when asked): it would drop
	// every line without a "level" field as INFO, the EMF metric lines
	// included, and with them the alarms on those metrics. The functions
	// filter their own log lines by CERTCTL_LOG_LEVEL instead.
	level := awslambda.ApplicationLogLevel_INFO
	if s.Props.LogLevel == "DEBUG" {
		level = awslambda.ApplicationLogLevel_DEBUG
	}
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
		if name == FnDigest || name == FnAPI { // the api serves the key's public half
			env[EnvDigestKeyID] = s.DigestKey.KeyArn()
		}
		if name == FnAPI {
			// The issue function's physical name: a plain string, so the
			// api function does not depend on it.
			env[EnvCRLFunction] = jsii.String(s.name(FnIssue))
		}
		if name == FnAPI && s.Props.IAMPrincipals != "" {
			env[EnvIAMPrincipals] = jsii.String(s.Props.IAMPrincipals)
		}
		if publishers[name] {
			for k, v := range s.notifyEnv() {
				env[k] = v
			}
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
	// Scheduler invokes sweep, reaper and digest asynchronously: failed invocations
	// (after Lambda's own retries) land in the dead-letter queue. A run older
	// than one cadence is dropped: the next scheduled run supersedes it.
	// EventBridge invokes finalize asynchronously with execution status
	// changes: one that still fails after Lambda's retries lands there too,
	// so no job stays in flight unnoticed (the queue is alarmed).
	for name, age := range map[string]time.Duration{FnSweep: s.Props.SweepRate, FnReaper: s.Props.ReaperRate, FnDigest: s.Props.DigestRate, FnFinalize: 6 * time.Hour} {
		s.Functions[name].ConfigureAsyncInvoke(&awslambda.EventInvokeConfigOptions{
			OnFailure:     awslambdadestinations.NewSqsDestination(s.DLQ),
			MaxEventAge:   awscdk.Duration_Seconds(jsii.Number(clampSeconds(age, 60, 6*3600))),
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
