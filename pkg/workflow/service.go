// Package workflow is the approval-gated issuance workflow: it creates jobs
// and approval requests, records decisions and hands them to the waiting
// Step Functions execution, and closes jobs on timeout or failure. It holds
// the rules; pkg/store does the conditional writes that enforce them.
package workflow

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Executions starts renewal executions and resumes waiting ones.
type Executions interface {
	Start(ctx context.Context, in ExecutionInput) error
	SendDecision(ctx context.Context, token, outcome string) error
	ExecutionARN(jobID string) string
	// Status is the status of the job's execution (ExecutionRunning,
	// …, or ExecutionMissing).
	Status(ctx context.Context, jobID string) (string, error)
}

// Observer is told about each recorded decision, and about the queues at
// each reaper run (CloudWatch EMF in Lambda).
type Observer interface {
	// Decision is one decision on a request of kind: certificate requests
	// and profile edits are separate series.
	Decision(kind domain.ApprovalKind, outcome, profileID string, age time.Duration)
	Queues(oldestPending time.Duration, handoffs, starts int)
	// Pending is the pending-approval gauges per profile, after each
	// reaper run.
	Pending(gauges []domain.PendingGauge, at time.Time)
}

// IAMApprovers checks an IAM identity named in an approver pool against the
// IAM mapping (pkg/identity implements it from CERTCTL_IAM_PRINCIPALS).
type IAMApprovers interface {
	// ApproverID returns the canonical pool entry for an IAM ARN or a
	// canonical IAM id, or an Invalid error saying why no IAM caller could
	// ever decide as it (not canonical, or no rule grants it approver).
	ApproverID(ctx context.Context, entry string) (string, error)
}

// Service runs the workflow.
type Service struct {
	// The ports each use case writes through (see store.go). A function
	// wires the ones its use cases need; New wires them all to one store.
	Profiles  ProfilePort
	Requests  RequestPort
	Decisions DecisionPort
	Issuance  IssuancePort
	Closing   ClosingPort
	Queues    QueuePort
	Digests   DigestPort
	// Revocations revokes versions; CRLs makes and publishes the CRL
	// (only the issue function, which holds the CA key, wires it).
	Revocations RevocationPort
	CRLs        CRLPort
	Retirement  RetirementPort
	Moves       MovePort
	// Deliveries and Publisher publish issued versions to their
	// profile's delivery targets (the issue function and the reaper).
	Deliveries DeliveryPort
	Publisher  Publisher
	// CRLTrigger asks for an issuer's CRL to be made again at once, after
	// a revocation (optional: the scheduled refresh catches up).
	CRLTrigger CRLTrigger

	Exec     Executions
	Observer Observer // optional
	// Events publishes the events of committed transitions and Outbox
	// clears them once published; without them the events wait in the
	// outbox (tests).
	Events Events
	Outbox OutboxPort
	Notify NotifySettings
	// IAMApprovers vets IAM entries of approver pools; without it a pool
	// may name key principals and roles only.
	IAMApprovers    IAMApprovers
	Bypass          bool
	ApprovalTimeout time.Duration
	// HandoffGrace is how long the reaper leaves a queued decision or
	// execution start to the request that queued it (default one minute).
	HandoffGrace time.Duration
	// CRL settings; zero values take the defaults (crl.go).
	CRLMaxEntries   int64
	CRLValidity     time.Duration
	CRLRefreshAfter time.Duration
	// DeleteBatch lowers how many records one deletion transaction
	// removes (tests; 0 is the default, 90).
	DeleteBatch int
	// Stage names the stack: delivery targets live under it.
	Stage string
	// PublicURL is the API's public base URL (with its stage); when set,
	// issued certificates name the CRL and the CA certificate under it.
	PublicURL string
	Now       func() time.Time
	Log       *slog.Logger
}

// New returns a Service whose ports are all st.
func New(st Store, exec Executions) *Service {
	return &Service{Profiles: st, Requests: st, Decisions: st, Issuance: st, Closing: st, Queues: st, Revocations: st, CRLs: st, Retirement: st, Moves: st, Deliveries: st, Digests: st, Outbox: st, Exec: exec}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) observe(kind domain.ApprovalKind, outcome, profileID string, age time.Duration) {
	if s.Observer != nil {
		s.Observer.Decision(kind, outcome, profileID, age)
	}
}

// observeDecision reports a recorded decision and the request's pending age.
func (s *Service) observeDecision(d Decision) {
	s.observe(d.Approval.Kind, string(d.State), d.Approval.ProfileID, d.At.Sub(d.Approval.CreatedAt))
}

func (s *Service) handoffGrace() time.Duration {
	if s.HandoffGrace > 0 {
		return s.HandoffGrace
	}
	return time.Minute
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// newID returns prefix + a lower-case ULID: unique, and sortable by creation.
func newID(prefix string) string {
	return prefix + strings.ToLower(ulid.Make().String())
}

// RenewalRetryBackoff is how long the sweep waits before renewing a
// certificate again after its renewal was rejected, expired or failed.
const RenewalRetryBackoff = 24 * time.Hour

// maxRetries bounds optimistic-concurrency loops (re-read, re-check, retry).
const maxRetries = 4
