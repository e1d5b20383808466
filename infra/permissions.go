package main

import (
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
)

// Access is what one function's code does, per resource. It is the single
// place permissions are declared; tests check the template against their
// own copy of the contract, and the IAM conformance test checks every call
// the functions make in the e2e runs against the roles built from it.
type Access struct {
	StateItem       []string // DynamoDB item actions on the state table
	StateQuery      []string // Query targets on the state table: BaseTable or index names (nil: no Query)
	AuditItem       []string // DynamoDB item actions on the audit table (never Update/Delete)
	AuditQuery      []string // Query targets on the audit table: BaseTable or index names (nil: no Query)
	StartExec       bool     // states:StartExecution on the state machine
	SendTaskSuccess bool     // states:SendTaskSuccess: hands a decision to the waiting execution
	DescribeExec    bool     // states:DescribeExecution on the state machine's executions (job repair)
	CASign          bool     // kms:Sign, kms:GetPublicKey on the CA key
	PutEvents       bool     // events:PutEvents on the stack's bus: the events of the transitions it commits
	AuditScan       bool     // dynamodb:Scan of the audit table: items outside the chain (verification)
	DigestSign      bool     // kms:Sign, kms:GetPublicKey on the digest key
	DigestPublicKey bool     // kms:GetPublicKey on the digest key (GET /audit/public-key)
	InvokeCRL       bool     // lambda:InvokeFunction on the issue function: a CRL made again after a revocation
	Deliver         bool     // ssm:PutParameter, secretsmanager:PutSecretValue and CreateSecret under the stage's prefixes
}

// BaseTable, among Query targets, is a query of the table's own key.
const BaseTable = "(table)"

// Every function that commits a transaction appends audit rows in it and,
// when the outcome is unknown (the answer was lost), reads its first audit
// row back with GetItem to learn whether it was applied (pkg/store commit).
// Each row is linked into its shard's hash chain in the same transaction:
// the shard's head is read first (GetItem, or one Query of the heads'
// partition when the rows go to several shards) and moved by a
// conditional Put. So every committing function has PutItem, GetItem and
// a Query of the audit table's own key, and never UpdateItem or DeleteItem:
// the heads, like the rows and the digests, are only ever Put.
// No function calls states:SendTaskFailure: outcomes travel as data in
// SendTaskSuccess, failures as errors of the Lambda tasks.

// FunctionAccess is the least-privilege contract of every function.
var FunctionAccess = map[string]Access{
	FnAPI: {
		// BatchGetItem: the governance markers of a request's names (ReadGovernance).
		StateItem: []string{"GetItem", "BatchGetItem", "PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem"},
		// Versions are read by the certificate's own key; due is the sweep's.
		StateQuery: []string{BaseTable, IndexList, IndexParent, IndexPending},
		AuditItem:  []string{"PutItem", "GetItem"},
		// The trail's listings, and its chain for verification: rows in
		// order (by_chain) and the items outside it (Scan).
		AuditQuery:      []string{BaseTable, AuditIndexActor, AuditIndexAction, AuditIndexDay, AuditIndexChain},
		AuditScan:       true,
		StartExec:       true,
		SendTaskSuccess: true,
		DescribeExec:    true, // POST /jobs/{id}/repair reads whether the job's execution has ended
		PutEvents:       true,
		// GET /audit/public-key reads the digest key's public half; the
		// api never signs with it nor invokes the digest function.
		DigestPublicKey: true,
		InvokeCRL:       true, // after a revocation, asks the issue function (which holds the CA key) for a new CRL
	},
	FnAuthorizer: {
		StateItem: []string{"GetItem"},
	},
	FnApprovalWait: {
		// Stores the token with UpdateItem; no transaction, so no audit read.
		StateItem:       []string{"GetItem", "UpdateItem"},
		SendTaskSuccess: true,
	},
	FnIssue: {
		// PutItem: the version and the outbox entry of its event;
		// DeleteItem: the outbox entry once the event is published, and
		// CRL entries of expired certificates; Query: an
		// issuer's CRL entries, by its partition, strongly consistent, and
		// the governed names under a wildcard's zone (ReadGovernance).
		StateItem:  []string{"GetItem", "BatchGetItem", "PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem"},
		StateQuery: []string{BaseTable},
		AuditItem:  []string{"PutItem", "GetItem"},
		AuditQuery: []string{BaseTable},
		CASign:     true,
		Deliver:    true, // right after an issuance, the version goes to its profile's targets
		PutEvents:  true,
	},
	FnFinalize: {
		// Expiry and failure update existing items; PutItem and DeleteItem
		// write and clear the outbox entries of their events.
		StateItem:  []string{"GetItem", "PutItem", "UpdateItem", "DeleteItem"},
		AuditItem:  []string{"PutItem", "GetItem"},
		AuditQuery: []string{BaseTable},
		PutEvents:  true,
	},
	FnSweep: {
		StateItem: []string{"GetItem", "BatchGetItem", "PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem"},
		// Due certificates; the governed names under a wildcard's zone;
		// certificates to warn about (the pending index's EXPIRY queue).
		StateQuery: []string{IndexDue, BaseTable, IndexPending},
		AuditItem:  []string{"PutItem", "GetItem"},
		AuditQuery: []string{BaseTable},
		StartExec:  true,
		PutEvents:  true,
	},
	FnReaper: {
		// Expiry, reminders, redelivery and restarts update existing
		// items; the outbox entries of their events are Put and deleted,
		// and so is the queue item of a delivery it retried and ended
		// (EndDelivery). The pending index holds the queues (PENDING,
		// HANDOFF, START, OUTBOX, DELIVERY); list and by_parent give the
		// pending gauges.
		StateItem:       []string{"GetItem", "PutItem", "UpdateItem", "DeleteItem"},
		StateQuery:      []string{IndexPending, IndexList, IndexParent},
		AuditItem:       []string{"PutItem", "GetItem"},
		AuditQuery:      []string{BaseTable},
		StartExec:       true, // restarts executions whose start was never confirmed
		SendTaskSuccess: true,
		PutEvents:       true,
		Deliver:         true, // retries the deliveries that failed
	},
	FnDigest: {
		// Reads the heads and the latest digest (Queries of the audit
		// table's own key) and Puts the new digest; signs with the digest
		// key, which nothing else may.
		AuditItem:  []string{"PutItem"},
		AuditQuery: []string{BaseTable},
		DigestSign: true,
	},
}

func dynamo(actions []string) *[]*string {
	out := make([]*string, 0, len(actions))
	for _, a := range actions {
		out = append(out, jsii.String("dynamodb:"+a))
	}
	return &out
}

// queryArns are the ARNs of Query targets: the table, or its indexes.
func queryArns(t awsdynamodb.ITable, targets []string) *[]*string {
	out := make([]*string, 0, len(targets))
	for _, n := range targets {
		if n == BaseTable {
			out = append(out, t.TableArn())
		} else {
			out = append(out, jsii.String(*t.TableArn()+"/index/"+n))
		}
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
			add(statement("StateTableQuery", dynamo([]string{"Query"}), queryArns(s.StateTable, a.StateQuery)))
		}
		if len(a.AuditItem) > 0 {
			add(statement("AuditTableItems", dynamo(a.AuditItem), &[]*string{s.AuditTable.TableArn()}))
		}
		if a.AuditQuery != nil {
			add(statement("AuditTableQuery", dynamo([]string{"Query"}), queryArns(s.AuditTable, a.AuditQuery)))
		}
		if a.StartExec {
			add(statement("StartRenewal", jsii.Strings("states:StartExecution"), &[]*string{s.StateMachineARN}))
		}
		if a.SendTaskSuccess {
			// Step Functions authorizes SendTask* against the state machine
			// whose task the token belongs to.
			add(statement("SendApprovalDecision", jsii.Strings("states:SendTaskSuccess"), &[]*string{s.StateMachineARN}))
		}
		if a.DescribeExec {
			add(statement("DescribeRenewal", jsii.Strings("states:DescribeExecution"), &[]*string{s.executionsARN()}))
		}
		if a.CASign {
			add(statement("CaSign", jsii.Strings("kms:Sign", "kms:GetPublicKey"), &[]*string{s.CAKey.KeyArn()}))
		}
		if a.PutEvents {
			add(statement("PublishEvents", jsii.Strings("events:PutEvents"), &[]*string{s.EventBus.EventBusArn()}))
		}
		if a.AuditScan {
			add(statement("AuditTableScan", dynamo([]string{"Scan"}), &[]*string{s.AuditTable.TableArn()}))
		}
		if a.DigestSign {
			add(statement("DigestSign", jsii.Strings("kms:Sign", "kms:GetPublicKey"), &[]*string{s.DigestKey.KeyArn()}))
		}
		if a.DigestPublicKey {
			add(statement("DigestPublicKey", jsii.Strings("kms:GetPublicKey"), &[]*string{s.DigestKey.KeyArn()}))
		}
		if a.Deliver {
			add(statement("DeliverToParameters", jsii.Strings("ssm:PutParameter"), &[]*string{s.deliveryParameters()}))
			add(statement("DeliverToSecrets", jsii.Strings("secretsmanager:PutSecretValue", "secretsmanager:CreateSecret"), &[]*string{s.deliverySecrets()}))
		}
		if a.InvokeCRL {
			add(statement("RefreshCrl", jsii.Strings("lambda:InvokeFunction"), &[]*string{s.Functions[FnIssue].FunctionArn()}))
		}
	}
	s.digestKeyPolicy()
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

// deliveryParameters names the SSM parameters the stage may write:
// /certctl/<stage>/… (the names profiles may give, checked by the API).
func (s *Stack) deliveryParameters() *string {
	return s.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("ssm"), Resource: jsii.String("parameter"),
		ResourceName: jsii.String("certctl/" + s.Props.Stage + "/*"), ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME,
	})
}

// deliverySecrets names the Secrets Manager secrets the stage may write:
// certctl/<stage>/… (a secret's ARN ends with six random characters,
// which the wildcard covers).
func (s *Stack) deliverySecrets() *string {
	return s.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("secretsmanager"), Resource: jsii.String("secret"),
		ResourceName: jsii.String("certctl/" + s.Props.Stage + "/*"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
}

// executionsARN names every execution of the renewal state machine:
// arn:<partition>:states:<region>:<account>:execution:<state machine>:*.
func (s *Stack) executionsARN() *string {
	return s.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("states"),
		Resource:     jsii.String("execution"),
		ResourceName: jsii.String(s.StateMachineName + ":*"),
		ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
}
