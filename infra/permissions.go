package main

import (
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
)

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
