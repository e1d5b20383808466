// Package eventbus publishes the workflow's events on an EventBridge bus
// (workflow.Events): one PutEvents per ten events, each entry's result
// read on its own.
package eventbus

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// API is the subset of the EventBridge API the publisher uses.
type API interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Client publishes on one bus.
type Client struct {
	api API
	bus string
}

// New returns a publisher on bus (its name or ARN).
func New(api API, bus string) *Client { return &Client{api: api, bus: bus} }

// maxEntries is PutEvents' limit per request.
const maxEntries = 10

// Publish puts each notice on the bus and returns the ids of those the bus
// accepted. PutEvents answers per entry: an entry it refused (throttled,
// an internal failure) is reported in the error and left to the caller's
// retry; the others are published. A request that fails whole publishes
// none of its entries.
func (c *Client) Publish(ctx context.Context, notices []domain.Notice) ([]string, error) {
	var published []string
	var errs []error
	for start := 0; start < len(notices); start += maxEntries {
		batch := notices[start:min(start+maxEntries, len(notices))]
		entries := make([]types.PutEventsRequestEntry, len(batch))
		for i, n := range batch {
			entries[i] = types.PutEventsRequestEntry{
				EventBusName: aws.String(c.bus),
				Source:       aws.String(domain.EventSource),
				DetailType:   aws.String(n.Type),
				Detail:       aws.String(string(n.Detail)),
				Time:         aws.Time(n.Time),
			}
		}
		out, err := c.api.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			errs = append(errs, fmt.Errorf("eventbus: put %d events: %w", len(batch), err))
			continue
		}
		if len(out.Entries) != len(batch) {
			errs = append(errs, fmt.Errorf("eventbus: put %d events: %d results", len(batch), len(out.Entries)))
			continue
		}
		for i, r := range out.Entries {
			if r.ErrorCode != nil || r.EventId == nil {
				errs = append(errs, fmt.Errorf("eventbus: event %s (%s): %s: %s", batch[i].ID, batch[i].Type,
					aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage)))
				continue
			}
			published = append(published, batch[i].ID)
		}
	}
	return published, errors.Join(errs...)
}

// How the stack routes events to notification targets. The CDK app builds
// the same rules and targets (a test keeps the constants in step), and the
// local stack builds them in the emulator, so a webhook gets the same
// JSON in both.
const (
	// WebhookInputPath is what a webhook target is sent: the detail's
	// message, {"text": "…"}, which Slack and Teams incoming webhooks take
	// as it is.
	WebhookInputPath = "$.detail.message"
	// EmailTextPath is the text an e-mail (SNS) target is sent.
	EmailTextPath = "$.detail.message.text"
	// RouteField is the detail field the rules match: route.<target> is
	// true for every target the event is for.
	RouteField = "route"
)

// RulePattern is the event pattern of the rule that sends target its
// events.
func RulePattern(target string) string {
	return fmt.Sprintf(`{"source":[%q],"detail":{%q:{%q:[true]}}}`, domain.EventSource, RouteField, target)
}
