package workflow

import (
	"errors"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// The transitions the workflow asks its store to write, each atomically
// with its audit rows, and what it reads back. The store's conditions
// enforce the invariants; a condition that fails is ErrChanged.

// NewJob is everything written atomically when an issuance or renewal starts.
type NewJob struct {
	Cert           *domain.Certificate // the new certificate (issuance) or the current one (renewal)
	Job            *domain.Job
	Approval       *domain.Approval // nil when the profile does not require approval
	ProfileVersion int64            // the profile version the gate decision was based on
	Audits         []*domain.AuditEvent
	// Bypassed counts the approval as a bypass decision in the metrics.
	Bypassed bool
	// Governance, set for a job that needs no approval, is the governance
	// version its names were found ungoverned at; the write checks it.
	Governance *int64
	// StartInput is the execution input; the job stays in the start queue
	// until ClearStart confirms the execution exists.
	StartInput string
	// ExpectRenewAt, when set, makes a renewal conditional on the
	// certificate's renewal time still being this one: the sweep reads an
	// eventually consistent index, and this refuses a copy that predates a
	// renewal that just completed.
	ExpectRenewAt *time.Time
}

// Decision is one terminal transition of a pending approval request, with
// everything that must change with it.
type Decision struct {
	Approval  *domain.Approval // as read; its task token (or its absence) is part of the condition
	State     domain.ApprovalState
	DecidedBy string
	ActorType domain.ActorType
	Note      string
	Reason    string
	At        time.Time
	// Job transition: AwaitingApproval → JobStatus (Pending to issue, Cancelled otherwise).
	JobStatus domain.JobStatus
	JobError  string
	// RestoreCert puts the certificate back to the request's PrevCertStatus
	// and clears the in-flight job, only if its status is still CertSeen;
	// a certificate revoked or archived meanwhile keeps that status.
	RestoreCert bool
	CertSeen    domain.CertStatus
	// RetryAt is when the sweep may next renew the certificate, so a
	// rejected or expired renewal is not re-requested every sweep.
	RetryAt time.Time
	Audit   *domain.AuditEvent
	// Profile is what a profile_edit decision does to the profile.
	Profile *ProfileChange
	// Move is what a certificate_move decision does.
	Move *MoveChange
	// MoreAudits are appended after Audit (e.g. profile.edit_applied).
	MoreAudits []*domain.AuditEvent
	// PinVotes makes the decision apply only while the request's votes
	// are still the ones read (Approval.Votes): a person's decision is
	// classified against the votes it saw.
	PinVotes bool
	// Votes, when set, are the request's votes after the decision: the
	// vote that completes the policy appended to those read; VoteAudit is
	// that vote's approval_vote row, written before the decision's.
	Votes     []domain.Vote
	VoteAudit *domain.AuditEvent
}

// Ballot is a vote that leaves its request pending: it is added to the
// request's votes, with its audit row, only if the request is still
// pending with exactly the votes read (Approval.Votes) and the voter is
// not the requester.
type Ballot struct {
	Approval *domain.Approval // as read
	Vote     domain.Vote
	Audit    *domain.AuditEvent
}

// Move moves a certificate from one profile to another: the certificate
// only if it is still in From, idle and at the status read, and (for an
// approved request) still waiting for that request; From's count down,
// To's up only if To is still at the version the names were checked
// against; governance unchanged when To needs no approval.
type Move struct {
	Cert       *domain.Certificate // as read
	From, To   *domain.Profile     // as read
	ApprovalID string              // the request it applies; "" for a move that needs none
	Governance *int64
	// RenewAt is the certificate's renewal time under To (nil when it
	// was never issued).
	RenewAt *time.Time
	At      time.Time
}

// MoveChange ends a pending move: approved, it applies Apply; otherwise it
// only releases the certificate (one pending move per certificate).
type MoveChange struct {
	CertID     string
	ApprovalID string
	Apply      *Move
}

// ProfileChange ends a pending profile edit: it creates, applies or
// deletes (when approved), or just releases the one-pending-edit lock.
// Applying and deleting require the profile to still be at BaseVersion;
// creating, that it does not exist. Governance follows: an approval-tier
// profile's names are governed while it exists.
type ProfileChange struct {
	ID          string
	ApprovalID  string
	BaseVersion int64
	Base        *domain.Profile // as the edit found it; nil for a create
	Apply       *domain.Profile // the result of a create or an update
	Create      bool
	Delete      bool
	// Governance is the governance step an approved change makes.
	Governance *domain.GovernanceChange
}

// Completion is everything written atomically when a job's certificate is issued.
type Completion struct {
	Job      *domain.Job
	Version  *domain.CertificateVersion
	RenewAt  time.Time
	CSR      string
	KeyAlg   string
	Audit    *domain.AuditEvent
	Approval string // the approval id that authorised a gated job, re-checked here
	// ProfileVersion is the profile version issuance was checked against;
	// a policy change meanwhile fails the completion.
	ProfileVersion int64
	// Governance, for a job that needs no approval, is the governance
	// version its names were found ungoverned at.
	Governance *int64
	// Delivery, when the profile names delivery targets, queues the new
	// version for publication in the same transaction.
	Delivery *Delivery
}

// Failure ends a job as Failed (or Cancelled) with everything that goes with it.
type Failure struct {
	Job        *domain.Job
	Status     domain.JobStatus // Failed or Cancelled
	Error      string
	CertStatus domain.CertStatus // status to restore on the certificate
	// CertSeen is the certificate's status as read: the restore is
	// conditioned on it, and a Revoked or Archived certificate keeps it.
	CertSeen domain.CertStatus
	// ExpireApproval, when set, is a still-pending request that can no longer
	// be decided because its execution is ending. It is counted as an
	// expired decision; Audits must include its approval_expired row.
	ExpireApproval *domain.Approval
	At             time.Time
	RetryAt        time.Time // see Decision.RetryAt
	Audits         []*domain.AuditEvent
}

// Reminder is a reminder (Number > 0: the Number-th) and/or the escalation
// of a request still pending, written only while it is pending and each
// only once: reminders_sent must be below Number, escalated_at unset.
type Reminder struct {
	Approval *domain.Approval
	Number   int
	Escalate bool
	At       time.Time
	Audits   []*domain.AuditEvent
}

// Revocation revokes some versions of one certificate atomically: each
// version (only if not revoked yet), its entry for the issuer's CRL (new),
// the CRL's revision (the stale marker: a CRL made before this commit does
// not list it) and entry count (refused past MaxEntries), the certificate
// when its current version goes, and the audit row.
type Revocation struct {
	Cert *domain.Certificate // as read: its status is the condition
	// Status is the certificate's status after the revocation; equal to
	// Cert.Status when it does not change (an older version, or already
	// Revoked or Archived).
	Status     domain.CertStatus
	SetCert    bool // record revoked_at and the reason on the certificate
	Entries    []domain.RevocationEntry
	MaxEntries int64
	At         time.Time
	Audit      *domain.AuditEvent
}

// CRLPublication is one CRL made for an issuer. It is stored only if the
// stored CRL number is still PrevNumber, so numbers only ever grow.
type CRLPublication struct {
	IssuerID      string
	PrevNumber    int64
	Number        int64
	DER           []byte
	ThisUpdate    time.Time
	NextUpdate    time.Time
	Entries       int
	BuiltRevision int64
	Audit         *domain.AuditEvent
}

// RecordKey names one record of a certificate a deletion removes.
type RecordKey struct {
	Kind string // the adapter's: a version, delivery, job, request or move request
	ID   string // the job id for a version
}

// Delivery is one issued version queued for publication to its profile's
// delivery targets (resolved for the certificate at issuance).
type Delivery struct {
	JobID         string
	CertificateID string
	SerialNumber  string
	Targets       domain.DeliveryTargets
	Attempts      int64
	LastError     string
	CreatedAt     time.Time
}

// PendingStart is a job whose execution was not confirmed started.
type PendingStart struct {
	JobID string
	Input string
}

// Governance is what governs the names a write relies on: the version it
// was read at and the governed patterns among those asked about.
type Governance struct {
	Version  int64
	Governed map[domain.NamePattern]bool
	// Children maps each wildcard zone asked about (z for *.z) to one
	// governed exact name directly under it, when there is one: *.z
	// covers it, so a wildcard certificate must not bypass its gate.
	Children map[string]domain.NamePattern
}

// ErrChanged means a conditional write found the state other than read:
// someone else changed it first. The caller re-reads and decides again;
// it is never a failure to report as such.
var ErrChanged = errors.New("changed concurrently")

// IsChanged reports whether err is ErrChanged.
func IsChanged(err error) bool { return errors.Is(err, ErrChanged) }

// ExecutionInput is a renewal execution's input (see
// statemachines/renewal.asl.json): the job, its approval request, and how
// long the AwaitApproval state waits for a decision.
type ExecutionInput struct {
	JobID            string `json:"job_id"`
	ApprovalID       string `json:"approval_id"`
	CertificateID    string `json:"certificate_id"`
	RequiresApproval bool   `json:"requires_approval"`
	TimeoutSeconds   int64  `json:"timeout_seconds"`
}

// ErrTokenUnknown means the execution engine does not know a task token at
// all (not merely that its task has closed).
var ErrTokenUnknown = errors.New("task token unknown")

// Execution statuses the workflow acts on: a running one, and a job with
// no execution at all. Others (ABORTED, FAILED, TIMED_OUT, SUCCEEDED) are
// ended.
const (
	ExecutionRunning = "RUNNING"
	ExecutionMissing = "MISSING"
)
