package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/eventbus"
)

// The stack's event bus, as the CDK app builds it: the bus, and per
// notification target a rule (eventbus.RulePattern) with an API
// destination target sending eventbus.WebhookInputPath, so a webhook gets
// exactly the JSON the deployed stack sends. One more rule, local only,
// sends every event whole to the stack's own event log (Stack.Events and
// the harness log).

// Event is one event as the bus delivered it.
type Event struct {
	ID         string          `json:"id"` // EventBridge's id
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Detail     json.RawMessage `json:"detail"`
	Received   time.Time       `json:"-"`
}

// EventID is the detail's stable id (the audit row's): what consumers
// deduplicate on.
func (e Event) EventID() string {
	var d struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(e.Detail, &d)
	return d.ID
}

type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// Events returns every event the bus delivered so far, in arrival order.
func (s *Stack) Events() []Event {
	s.eventLog.mu.Lock()
	defer s.eventLog.mu.Unlock()
	return append([]Event(nil), s.eventLog.events...)
}

// serveEvents receives the whole events of the log rule.
func (s *Stack) serveEvents(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var e Event
	if err := json.Unmarshal(body, &e); err != nil {
		s.logger.Warn("event log: not an event", "error", err, "body", string(body))
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	e.Received = time.Now()
	s.eventLog.add(e)
	var d struct {
		Message domain.EventMessage `json:"message"`
		Notify  []string            `json:"notify"`
	}
	_ = json.Unmarshal(e.Detail, &d)
	s.logger.Info("event", "detail_type", e.DetailType, "event_id", e.EventID(), "notify", d.Notify, "message", d.Message.Text)
	w.WriteHeader(http.StatusNoContent)
}

// createEventBus makes the bus, the log rule and one rule per webhook.
func (s *Stack) createEventBus(ctx context.Context, webhooks map[string]string) error {
	eb := eventbridge.NewFromConfig(s.AWSConfig)
	bus := s.Prefix + "-events"
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(bus)}); err != nil {
		return fmt.Errorf("devstack: create event bus: %w", err)
	}
	s.Config.EventBus = bus
	// destination is a connection and an API destination, as the CDK app
	// makes per webhook target.
	destination := func(name, endpoint string) (string, error) {
		conn, err := eb.CreateConnection(ctx, &eventbridge.CreateConnectionInput{
			Name:              aws.String(s.Prefix + "-" + name),
			AuthorizationType: ebtypes.ConnectionAuthorizationTypeApiKey,
			AuthParameters: &ebtypes.CreateConnectionAuthRequestParameters{ApiKeyAuthParameters: &ebtypes.CreateConnectionApiKeyAuthRequestParameters{
				ApiKeyName: aws.String("X-Certctl-Notify"), ApiKeyValue: aws.String("local"),
			}},
		})
		if err != nil {
			return "", fmt.Errorf("devstack: connection %s: %w", name, err)
		}
		dest, err := eb.CreateApiDestination(ctx, &eventbridge.CreateApiDestinationInput{
			Name: aws.String(s.Prefix + "-" + name), ConnectionArn: conn.ConnectionArn,
			InvocationEndpoint: aws.String(endpoint), HttpMethod: ebtypes.ApiDestinationHttpMethodPost,
		})
		if err != nil {
			return "", fmt.Errorf("devstack: API destination %s: %w", name, err)
		}
		return aws.ToString(dest.ApiDestinationArn), nil
	}
	rule := func(name, pattern string, target ebtypes.Target) error {
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{
			Name: aws.String(s.Prefix + "-" + name), EventBusName: aws.String(bus), EventPattern: aws.String(pattern),
			State: ebtypes.RuleStateEnabled,
		}); err != nil {
			return fmt.Errorf("devstack: rule %s: %w", name, err)
		}
		out, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(s.Prefix + "-" + name), EventBusName: aws.String(bus),
			Targets: []ebtypes.Target{target}})
		if err == nil && out.FailedEntryCount > 0 {
			err = fmt.Errorf("%d targets failed", out.FailedEntryCount)
		}
		if err != nil {
			return fmt.Errorf("devstack: targets of rule %s: %w", name, err)
		}
		return nil
	}
	logArn, err := destination("event-log", s.functions.url+"/events")
	if err != nil {
		return err
	}
	if err := rule("event-log", fmt.Sprintf(`{"source":[%q]}`, domain.EventSource),
		ebtypes.Target{Id: aws.String("event-log"), Arn: aws.String(logArn)}); err != nil {
		return err
	}
	names := make([]string, 0, len(webhooks))
	for n := range webhooks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		arn, err := destination("notify-"+n, webhooks[n])
		if err != nil {
			return err
		}
		if err := rule("notify-"+n, eventbus.RulePattern(n), ebtypes.Target{
			Id: aws.String("webhook"), Arn: aws.String(arn), InputPath: aws.String(eventbus.WebhookInputPath),
		}); err != nil {
			return err
		}
	}
	return nil
}

// SettleEvents waits until no event has arrived for quiet (at most 15 s):
// delivery is asynchronous, and a check of the event log right after a
// transition could miss one on its way.
func (s *Stack) SettleEvents(ctx context.Context, quiet time.Duration) error {
	deadline := time.Now().Add(15 * time.Second)
	last, since := len(s.Events()), time.Now()
	for time.Since(since) < quiet {
		if time.Now().After(deadline) {
			return fmt.Errorf("devstack: events still arriving after 15s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if n := len(s.Events()); n != last {
			last, since = n, time.Now()
		}
	}
	return nil
}
