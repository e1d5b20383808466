//go:build ref_events

package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// The EventBridge client, as every function that commits a transition
// people hear about publishes its event.
func init() {
	clients = append(clients, func(cfg aws.Config) func(context.Context) error {
		eb := eventbridge.NewFromConfig(cfg)
		return func(ctx context.Context) error {
			_, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
				Source: aws.String("bare"), DetailType: aws.String("bare"), Detail: aws.String("{}"),
			}}})
			return err
		}
	})
}
