package main

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdadestinations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
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
		case FnAPI, FnSweep:
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

// Access is what one function's code does, per resource. It is the single
// place permissions are declared; tests check the template against their
// own copy of the contract.
type Access struct {
	StateItem    []string // DynamoDB item actions on the state table
	StateQuery   []string // Query on the state table and these indexes (nil: no Query)
	AuditItem    []string // DynamoDB item actions on the audit table (never Update/Delete)
	AuditQuery   []string // Query on the audit table and these indexes (nil: no Query)
	StartExec    bool     // states:StartExecution on the state machine
	TaskResponse bool     // states:SendTaskSuccess/SendTaskFailure
	CASign       bool     // kms:Sign, kms:GetPublicKey on the CA key
}

var allStateIndexes = []string{IndexList, IndexParent, IndexPending, IndexDue}
var allAuditIndexes = []string{AuditIndexActor, AuditIndexAction, AuditIndexDay}

// FunctionAccess is the least-privilege contract of every function.
var FunctionAccess = map[string]Access{
	FnAPI: {
		StateItem:    []string{"GetItem", "PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem"},
		StateQuery:   allStateIndexes,
		AuditItem:    []string{"PutItem"},
		AuditQuery:   allAuditIndexes,
		StartExec:    true,
		TaskResponse: true,
	},
	FnAuthorizer: {
		StateItem: []string{"GetItem"},
	},
	FnApprovalWait: {
		StateItem:    []string{"GetItem", "UpdateItem"},
		TaskResponse: true,
	},
	FnIssue: {
		StateItem: []string{"GetItem", "PutItem", "UpdateItem", "ConditionCheckItem"},
		AuditItem: []string{"PutItem"},
		CASign:    true,
	},
	FnFinalize: {
		StateItem: []string{"GetItem", "PutItem", "UpdateItem", "ConditionCheckItem"},
		AuditItem: []string{"PutItem"},
	},
	FnSweep: {
		StateItem:  []string{"GetItem", "PutItem", "UpdateItem", "ConditionCheckItem"},
		StateQuery: []string{IndexDue},
		AuditItem:  []string{"PutItem"},
		StartExec:  true,
	},
	FnReaper: {
		StateItem:    []string{"GetItem", "PutItem", "UpdateItem", "ConditionCheckItem"},
		StateQuery:   []string{IndexPending, IndexParent},
		AuditItem:    []string{"PutItem"},
		TaskResponse: true,
	},
}

func dynamo(actions []string) *[]*string {
	out := make([]*string, 0, len(actions))
	for _, a := range actions {
		out = append(out, jsii.String("dynamodb:"+a))
	}
	return &out
}

func indexArns(t awsdynamodb.Table, names []string) *[]*string {
	out := []*string{t.TableArn()}
	for _, n := range names {
		out = append(out, jsii.String(*t.TableArn()+"/index/"+n))
	}
	return &out
}

func statement(sid string, actions *[]*string, resources *[]*string) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String(sid),
		Effect:    awsiam.Effect_ALLOW,
		Actions:   actions,
		Resources: resources,
	})
}

// permissions adds one explicit statement per (resource, action set); no
// grant* helpers, which grant more than the code uses.
func (s *Stack) permissions() {
	names := make([]string, 0, len(FunctionAccess))
	for n := range FunctionAccess {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		a, role := FunctionAccess[name], s.Roles[name]
		add := func(st awsiam.PolicyStatement) { role.AddToPrincipalPolicy(st) }
		if len(a.StateItem) > 0 {
			add(statement("StateTableItems", dynamo(a.StateItem), &[]*string{s.StateTable.TableArn()}))
		}
		if a.StateQuery != nil {
			add(statement("StateTableQuery", dynamo([]string{"Query"}), indexArns(s.StateTable, a.StateQuery)))
		}
		if len(a.AuditItem) > 0 {
			add(statement("AuditTableAppend", dynamo(a.AuditItem), &[]*string{s.AuditTable.TableArn()}))
		}
		if a.AuditQuery != nil {
			add(statement("AuditTableQuery", dynamo([]string{"Query"}), indexArns(s.AuditTable, a.AuditQuery)))
		}
		if a.StartExec {
			add(statement("StartRenewal", jsii.Strings("states:StartExecution"), &[]*string{s.StateMachineARN}))
		}
		if a.TaskResponse {
			// Step Functions authorizes SendTask* against the state machine
			// whose task the token belongs to (as CDK's grantTaskResponse does).
			add(statement("SendApprovalDecision", jsii.Strings("states:SendTaskSuccess", "states:SendTaskFailure"), &[]*string{s.StateMachineARN}))
		}
		if a.CASign {
			add(statement("CaSign", jsii.Strings("kms:Sign", "kms:GetPublicKey"), &[]*string{s.CAKey.KeyArn()}))
		}
	}
	// Key policy: nobody but the issue role signs with the CA key.
	s.CAKey.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("OnlyIssueFunctionSigns"),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("kms:Sign"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{
			"ArnNotEquals": map[string]any{"aws:PrincipalArn": s.Roles[FnIssue].RoleArn()},
		},
	}), jsii.Bool(false))
}

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
	subs := map[string]*string{}
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
}

// schedules: EventBridge Scheduler (L1, so the role gets exactly one invoke
// statement per function), retries, and the dead-letter queue.
func (s *Stack) schedules() {
	for _, sc := range []struct {
		fn   string
		rate time.Duration
	}{{FnSweep, s.Props.SweepRate}, {FnReaper, s.Props.ReaperRate}} {
		id := construct(sc.fn)
		fn := s.Functions[sc.fn]
		role := awsiam.NewRole(s.Stack, jsii.String(id+"SchedulerRole"), &awsiam.RoleProps{
			AssumedBy: awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), &awsiam.ServicePrincipalOpts{
				Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": s.Account()}},
			}),
			Description: jsii.String(fmt.Sprintf("certctl-serverless %s: EventBridge Scheduler invokes %s", s.Props.Stage, sc.fn)),
		})
		role.AddToPrincipalPolicy(statement("InvokeTarget", jsii.Strings("lambda:InvokeFunction"), &[]*string{fn.FunctionArn()}))
		role.AddToPrincipalPolicy(statement("DeadLetter", jsii.Strings("sqs:SendMessage"), &[]*string{s.DLQ.QueueArn()}))
		sched := awsscheduler.NewCfnSchedule(s.Stack, jsii.String(id+"Schedule"), &awsscheduler.CfnScheduleProps{
			Name:               jsii.String(s.name(sc.fn)),
			Description:        jsii.String(fmt.Sprintf("certctl-serverless %s: run %s %s", s.Props.Stage, sc.fn, ScheduleExpression(sc.rate))),
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
				Input: jsii.String(fmt.Sprintf(`{"source":"certctl-scheduler","schedule":%q}`, sc.fn)),
			},
		})
		// The role's policy must exist before the first run.
		sched.Node().AddDependency(role)
	}
}

// API error bodies in the API's own shape (DESIGN §3) for the responses
// API Gateway produces itself, before the api function runs.
// (A function, not a var: package-level jsii calls would start the jsii
// runtime before main can adjust its environment.)
func gatewayResponses() []gatewayResponse {
	return []gatewayResponse{
		{awsapigateway.ResponseType_UNAUTHORIZED(), "401", "Unauthorized"},
		{awsapigateway.ResponseType_ACCESS_DENIED(), "403", "Forbidden"},
		{awsapigateway.ResponseType_MISSING_AUTHENTICATION_TOKEN(), "403", "Forbidden"},
		{awsapigateway.ResponseType_INVALID_SIGNATURE(), "403", "Forbidden"},
		{awsapigateway.ResponseType_EXPIRED_TOKEN(), "403", "Forbidden"},
		{awsapigateway.ResponseType_THROTTLED(), "429", "Too Many Requests"},
		{awsapigateway.ResponseType_AUTHORIZER_FAILURE(), "500", "Internal Server Error"},
		{awsapigateway.ResponseType_AUTHORIZER_CONFIGURATION_ERROR(), "500", "Internal Server Error"},
	}
}

type gatewayResponse struct {
	Type   awsapigateway.ResponseType
	Status string
	Text   string
}

// Access log line: who called (IAM identity or API key principal), never
// the key itself.
const accessLogFormat = `{"requestId":"$context.requestId","extendedRequestId":"$context.extendedRequestId",` +
	`"ip":"$context.identity.sourceIp","userAgent":"$context.identity.userAgent",` +
	`"caller":"$context.identity.caller","user":"$context.identity.user","userArn":"$context.identity.userArn",` +
	`"principalId":"$context.authorizer.principalId","requestTime":"$context.requestTime",` +
	`"httpMethod":"$context.httpMethod","resourcePath":"$context.resourcePath","path":"$context.path",` +
	`"status":"$context.status","protocol":"$context.protocol","responseLength":"$context.responseLength",` +
	`"integrationLatency":"$context.integrationLatency","authorizerError":"$context.authorizer.error",` +
	`"errorType":"$context.error.responseType","errorMessage":"$context.error.message"}`

// apis builds two REST APIs with identical routes, one per way in: a REST
// method has exactly one authorization type.
func (s *Stack) apis() {
	authorizer := awsapigateway.NewRequestAuthorizer(s.Stack, jsii.String("ApiKeyAuthorizer"), &awsapigateway.RequestAuthorizerProps{
		AuthorizerName:  jsii.String(s.name("api-key")),
		Handler:         s.Functions[FnAuthorizer],
		IdentitySources: &[]*string{awsapigateway.IdentitySource_Header(jsii.String("X-Api-Key"))},
		ResultsCacheTtl: awscdk.Duration_Seconds(jsii.Number(AuthorizerCacheTTL.Seconds())),
	})
	// API Gateway writes stage logs (access logs included) only once the
	// region's account settings name a CloudWatch Logs role. The IAM API
	// sets it (AWS::ApiGateway::Account, role and setting retained on
	// delete); both stages wait for it.
	s.IamAPI = s.restAPI("IamApi", "iam", awsapigateway.AuthorizationType_IAM, nil,
		"SigV4-signed requests (AWS_IAM); identity from requestContext.identity", s.Props.APIGatewayAccountRole)
	s.KeyAPI = s.restAPI("KeyApi", "key", awsapigateway.AuthorizationType_CUSTOM, authorizer,
		"API keys in X-Api-Key, validated by the REQUEST authorizer; identity from requestContext.authorizer", false)
	if account := s.IamAPI.Node().TryFindChild(jsii.String("Account")); account != nil {
		s.KeyAPI.DeploymentStage().Node().AddDependency(account)
	}
}

func (s *Stack) restAPI(id, kind string, auth awsapigateway.AuthorizationType, authorizer awsapigateway.IAuthorizer, desc string, accountRole bool) awsapigateway.RestApi {
	logs := s.logGroup(id+"AccessLogs", "/aws/apigateway/"+s.name(kind)+"-access")
	logging := awsapigateway.MethodLoggingLevel_OFF
	if s.Props.APIExecutionLogs {
		logging = awsapigateway.MethodLoggingLevel_ERROR
	}
	api := awsapigateway.NewRestApi(s.Stack, jsii.String(id), &awsapigateway.RestApiProps{
		RestApiName:    jsii.String(s.name(kind)),
		Description:    jsii.String(fmt.Sprintf("certctl-serverless %s: %s", s.Props.Stage, desc)),
		EndpointTypes:  &[]awsapigateway.EndpointType{awsapigateway.EndpointType_REGIONAL},
		CloudWatchRole: jsii.Bool(accountRole),
		DeployOptions: &awsapigateway.StageOptions{
			StageName:            jsii.String(s.Props.Stage),
			AccessLogDestination: awsapigateway.NewLogGroupLogDestination(logs),
			AccessLogFormat:      awsapigateway.AccessLogFormat_Custom(jsii.String(accessLogFormat)),
			TracingEnabled:       jsii.Bool(true),
			ThrottlingRateLimit:  jsii.Number(s.Props.APIThrottleRate),
			ThrottlingBurstLimit: jsii.Number(float64(s.Props.APIThrottleBurst)),
			LoggingLevel:         logging,
			DataTraceEnabled:     jsii.Bool(false), // never log request bodies or headers
			MetricsEnabled:       jsii.Bool(false),
		},
	})
	// RestApi adds an "Endpoint" output per API; the stack's own outputs
	// name the URLs.
	api.Node().TryRemoveChild(jsii.String("Endpoint"))

	integ := awsapigateway.NewLambdaIntegration(s.Functions[FnAPI], &awsapigateway.LambdaIntegrationOptions{
		Proxy:           jsii.Bool(true),
		AllowTestInvoke: jsii.Bool(false),
	})
	health := api.Root().AddResource(jsii.String("health"), nil)
	health.AddMethod(jsii.String("GET"), integ, &awsapigateway.MethodOptions{
		AuthorizationType: awsapigateway.AuthorizationType_NONE,
	})
	proxy := api.Root().AddResource(jsii.String("api"), nil).
		AddResource(jsii.String("v1"), nil).
		AddResource(jsii.String("{proxy+}"), nil)
	opts := &awsapigateway.MethodOptions{AuthorizationType: auth}
	if authorizer != nil {
		opts.Authorizer = authorizer
	}
	proxy.AddMethod(jsii.String("ANY"), integ, opts)

	for i, gr := range gatewayResponses() {
		api.AddGatewayResponse(jsii.String(fmt.Sprintf("GatewayResponse%d", i)), &awsapigateway.GatewayResponseOptions{
			Type:       gr.Type,
			StatusCode: jsii.String(gr.Status),
			Templates: &map[string]*string{
				"application/json": jsii.String(fmt.Sprintf(
					`{"error":%q,"message":$context.error.messageString,"request_id":"$context.requestId"}`, gr.Text)),
			},
		})
	}
	return api
}

// apiBaseURL is the API's base URL including the stage, without a trailing slash.
func (s *Stack) apiBaseURL(api awsapigateway.RestApi) *string {
	return awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("https://"), api.RestApiId(), jsii.String(".execute-api."), s.Region(),
		jsii.String("."), s.UrlSuffix(), jsii.String("/" + s.Props.Stage),
	})
}

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
