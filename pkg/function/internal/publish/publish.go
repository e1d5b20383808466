// Package publish wires a function to publish the events of the
// transitions it commits. Only the functions that commit such transitions
// import it, so the others do not link the EventBridge client.
package publish

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/eventbus"
	"github.com/certctl-serverless/certctl-serverless/pkg/lambdafn"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// Wire wires svc to publish the events of the transitions it
// commits, on the stack's bus, and to clear them from st's outbox. Every
// function that commits an audited transition needs it.
func Wire(env lambdafn.Env, svc *workflow.Service, st *store.Store) error {
	if err := env.Config.Require(config.EnvEventBus); err != nil {
		return fmt.Errorf("%s: %w", env.Name, err)
	}
	svc.Events = eventbus.New(eventbridge.NewFromConfig(env.AWS), env.Config.EventBus)
	svc.Outbox = st
	return nil
}
