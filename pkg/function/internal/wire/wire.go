// Package wire holds the few lines every function's constructor repeats:
// the state store and the workflow settings. Each constructor adds only
// the clients and ports its own use cases need (package publish adds the
// event bus).
package wire

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/certctl-serverless/certctl-serverless/pkg/emf"
	"github.com/certctl-serverless/certctl-serverless/pkg/lambdafn"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// Store is the DynamoDB adapter over the stack's two tables.
func Store(env lambdafn.Env) *store.Store {
	return store.New(dynamodb.NewFromConfig(env.AWS), env.Config.StateTable, env.Config.AuditTable)
}

// Service is a workflow service with the stack's settings and no ports:
// the caller wires the ones it uses.
func Service(env lambdafn.Env) *workflow.Service {
	c := env.Config
	return &workflow.Service{
		Observer:        emf.New(env.Metrics, c.Stage),
		Bypass:          c.Bypass,
		ApprovalTimeout: c.ApprovalTimeout,
		HandoffGrace:    c.HandoffGrace,
		Stage:           c.Stage,
		Log:             env.Log,
		Notify: workflow.NotifySettings{
			Stage: c.Stage, ConsoleURL: c.ConsoleURL,
			Targets: c.NotifyTargets, Default: c.NotifyDefault, Escalation: c.NotifyEscalation,
			RemindAfter: c.RemindAfter, EscalateAfter: c.EscalateAfter, ExpiryWarning: c.ExpiryWarning,
		},
	}
}
