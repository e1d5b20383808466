// Package emf writes CloudWatch Embedded Metric Format records: one JSON
// line on stdout per observation, which CloudWatch Logs turns into metrics
// with no API call and no agent.
package emf

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Namespace is the CloudWatch namespace of every certctl metric.
const Namespace = "certctl-serverless"

// Metric names (the contract names, shared with /metrics).
const (
	DecisionsTotal = "certctl_approval_decisions_total"
	// ProfileEditDecisionsTotal counts decisions on gated profile changes,
	// kept apart from certificate decisions as on /metrics.
	ProfileEditDecisionsTotal = "certctl_profile_edit_decisions_total"
	// MoveDecisionsTotal counts decisions on gated certificate moves,
	// likewise apart.
	MoveDecisionsTotal = "certctl_certificate_move_decisions_total"
	PendingAge         = "certctl_approval_pending_age_seconds"
	// The reaper's view of the queues each run: the age of the oldest
	// pending request, decisions not yet delivered to their execution,
	// and jobs whose execution start is not confirmed.
	OldestPending = "certctl_oldest_pending_approval_seconds"
	HandoffQueue  = "certctl_handoff_queue_length"
	StartQueue    = "certctl_start_queue_length"
	// PendingApprovals is the number of pending requests, for the stage
	// and per profile (with OldestPending per profile beside it).
	PendingApprovals = "certctl_approvals_pending"
	// DigestsWritten counts signed audit digests: an alarm fires when
	// they stop.
	DigestsWritten = "certctl_audit_digests_written"
	// Deliveries of issued versions to their profile's targets: each
	// attempt by outcome, and (after each reaper run) how many wait past
	// the grace period because their attempts keep failing.
	Deliveries    = "certctl_deliveries_total"
	DeliveryQueue = "certctl_delivery_queue_length"
)

// Emitter writes EMF records to w.
type Emitter struct {
	mu    sync.Mutex
	w     io.Writer
	stage string
	now   func() time.Time
}

// New returns an Emitter writing to w. Every metric carries the stage as a
// dimension, so a development stack in the same account and region never
// trips a production stack's alarms.
func New(w io.Writer, stage string) *Emitter { return &Emitter{w: w, stage: stage, now: time.Now} }

type directive struct {
	Namespace  string     `json:"Namespace"`
	Dimensions [][]string `json:"Dimensions"`
	Metrics    []metric   `json:"Metrics"`
}

type metric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// Decision records one approval decision: the counter by outcome (and by
// outcome and profile) and, for certificate requests, the pending age at
// the moment of decision. Profile edits count in their own series.
func (e *Emitter) Decision(kind domain.ApprovalKind, outcome, profileID string, age time.Duration) {
	age = max(age, 0) // clock skew between writers must not yield a negative age
	metrics := []metric{{Name: DecisionsTotal, Unit: "Count"}, {Name: PendingAge, Unit: "Seconds"}}
	rec := map[string]any{"stage": e.stage, "outcome": outcome, "profile_id": profileID}
	if other := map[domain.ApprovalKind]string{domain.KindProfileEdit: ProfileEditDecisionsTotal, domain.KindCertificateMove: MoveDecisionsTotal}[kind]; other != "" {
		metrics = []metric{{Name: other, Unit: "Count"}}
		rec[other] = 1
	} else {
		rec[DecisionsTotal] = 1
		rec[PendingAge] = age.Seconds()
	}
	rec["_aws"] = map[string]any{
		"Timestamp": e.now().UnixMilli(),
		"CloudWatchMetrics": []directive{{
			Namespace:  Namespace,
			Dimensions: [][]string{{"stage", "outcome"}, {"stage", "outcome", "profile_id"}},
			Metrics:    metrics,
		}},
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.w.Write(append(line, '\n'))
}

// Queues records the reaper's view of the queues (see the metric names).
func (e *Emitter) Queues(oldestPending time.Duration, handoffs, starts int) {
	rec := map[string]any{
		"_aws": map[string]any{
			"Timestamp": e.now().UnixMilli(),
			"CloudWatchMetrics": []directive{{
				Namespace:  Namespace,
				Dimensions: [][]string{{"stage"}},
				Metrics: []metric{{Name: OldestPending, Unit: "Seconds"}, {Name: HandoffQueue, Unit: "Count"},
					{Name: StartQueue, Unit: "Count"}},
			}},
		},
		"stage":       e.stage,
		OldestPending: max(oldestPending, 0).Seconds(),
		HandoffQueue:  handoffs,
		StartQueue:    starts,
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.w.Write(append(line, '\n'))
}

// Pending records the pending-approval gauges after a reaper run: one
// record for the stage (how many in all) and one per profile with requests
// pending (how many, and the age of the oldest), dimensions stage and
// profile_id. Profiles with none pending are left out: a metric series
// costs while it is written.
func (e *Emitter) Pending(gauges []domain.PendingGauge, at time.Time) {
	var total int64
	for _, g := range gauges {
		total += max(g.Count, 0)
	}
	e.write(map[string]any{
		"_aws": map[string]any{
			"Timestamp": e.now().UnixMilli(),
			"CloudWatchMetrics": []directive{{Namespace: Namespace, Dimensions: [][]string{{"stage"}},
				Metrics: []metric{{Name: PendingApprovals, Unit: "Count"}}}},
		},
		"stage":          e.stage,
		PendingApprovals: total,
	})
	for _, g := range gauges {
		if g.Count <= 0 {
			continue
		}
		rec := map[string]any{
			"_aws": map[string]any{
				"Timestamp": e.now().UnixMilli(),
				"CloudWatchMetrics": []directive{{Namespace: Namespace, Dimensions: [][]string{{"stage", "profile_id"}},
					Metrics: []metric{{Name: PendingApprovals, Unit: "Count"}, {Name: OldestPending, Unit: "Seconds"}}}},
			},
			"stage": e.stage, "profile_id": g.ProfileID, PendingApprovals: g.Count, OldestPending: 0.0,
		}
		if g.Oldest != nil {
			rec[OldestPending] = max(at.Sub(*g.Oldest), 0).Seconds()
		}
		e.write(rec)
	}
}

// Digest records one signed audit digest.
func (e *Emitter) Digest() {
	e.write(map[string]any{
		"_aws": map[string]any{
			"Timestamp": e.now().UnixMilli(),
			"CloudWatchMetrics": []directive{{
				Namespace: Namespace, Dimensions: [][]string{{"stage"}},
				Metrics: []metric{{Name: DigestsWritten, Unit: "Count"}},
			}},
		},
		"stage": e.stage, DigestsWritten: 1,
	})
}

// Delivery records one delivery attempt's outcome (delivered, failed).
func (e *Emitter) Delivery(outcome string) {
	e.write(map[string]any{
		"_aws": map[string]any{
			"Timestamp": e.now().UnixMilli(),
			"CloudWatchMetrics": []directive{{
				Namespace: Namespace, Dimensions: [][]string{{"stage", "outcome"}},
				Metrics: []metric{{Name: Deliveries, Unit: "Count"}},
			}},
		},
		"stage": e.stage, "outcome": outcome, Deliveries: 1,
	})
}

// DeliveryQueue records how many deliveries wait past the grace period.
func (e *Emitter) DeliveryQueue(waiting int) {
	e.write(map[string]any{
		"_aws": map[string]any{
			"Timestamp": e.now().UnixMilli(),
			"CloudWatchMetrics": []directive{{
				Namespace: Namespace, Dimensions: [][]string{{"stage"}},
				Metrics: []metric{{Name: DeliveryQueue, Unit: "Count"}},
			}},
		},
		"stage": e.stage, DeliveryQueue: waiting,
	})
}

func (e *Emitter) write(rec map[string]any) {
	line, err := json.Marshal(rec)
	if err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.w.Write(append(line, '\n'))
}
