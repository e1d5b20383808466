package domain

import (
	"encoding/json"
	"time"
)

// The facts published on the stack's EventBridge bus: one event per
// committed transition people need to hear about. The detail-type names the
// fact; the detail is an EventDetail whose JSON Schema is under events/.
// These strings are a contract with consumers and the stack's rules.
const (
	// EventSource is the source of every event.
	EventSource = "certctl-serverless"

	EventApprovalRequested = "Approval Requested"
	EventApprovalDecided   = "Approval Decided" // approved, rejected or bypassed
	// EventApprovalVoteRecorded is a vote that leaves a quorum pending:
	// who voted, the votes so far and what is still missing. The vote
	// that completes a policy publishes Approval Decided instead.
	EventApprovalVoteRecorded = "Approval Vote Recorded"
	EventApprovalExpired      = "Approval Expired"
	EventApprovalReminder     = "Approval Reminder"
	EventApprovalEscalated    = "Approval Escalated"
	EventCertificateIssued    = "Certificate Issued"
	EventRenewalFailed        = "Renewal Failed"
	EventCertificateExpiring  = "Certificate Expiring"
)

// EventTypes lists every detail-type.
var EventTypes = []string{
	EventApprovalRequested, EventApprovalDecided, EventApprovalVoteRecorded, EventApprovalExpired, EventApprovalReminder,
	EventApprovalEscalated, EventCertificateIssued, EventRenewalFailed, EventCertificateExpiring,
}

// Audit actions of the transitions that exist only to tell people.
const (
	AuditApprovalReminder  = "approval_reminder_sent"
	AuditApprovalEscalated = "approval_escalated"
	AuditCertExpiring      = "certificate.expiring"
)

// Notice is one event to publish. It travels with the audit row of the
// transition that makes it true (AuditEvent.Notice): the store writes it
// to the outbox in that transition's own transaction, so it exists if and
// only if the transition committed. Its ID is the audit row's id, the
// stable id consumers deduplicate on (detail.id).
type Notice struct {
	ID     string
	Type   string // detail-type
	Time   time.Time
	Detail json.RawMessage
}

// EventDetail is the detail of every event. Exactly one of Approval and
// Certificate is set, by type; Message is the text people read, already
// formatted, and it is also the webhook body ({"text": …}).
type EventDetail struct {
	ID     string    `json:"id"`
	Time   time.Time `json:"time"`
	Stage  string    `json:"stage"`
	Action string    `json:"action"` // the audit action of the transition
	Actor  string    `json:"actor"`
	Notify []string  `json:"notify"` // the notification targets it is for
	// Route has one true field per target in Notify: what the stack's
	// rules match (an object's fields match the same way everywhere;
	// array membership does not in every emulator).
	Route       map[string]bool   `json:"route"`
	Approval    *EventApproval    `json:"approval,omitempty"`
	Certificate *EventCertificate `json:"certificate,omitempty"`
	Message     EventMessage      `json:"message"`
	Links       map[string]string `json:"links,omitempty"`
}

// EventMessage is the human message: the body a Slack- or Teams-compatible
// webhook takes as it is.
type EventMessage struct {
	Text string `json:"text"`
}

// EventMove is what a certificate_move request does: the certificate's
// profile from and to, and the names it carries.
type EventMove struct {
	FromProfileID string   `json:"from_profile_id"`
	ToProfileID   string   `json:"to_profile_id"`
	CommonName    string   `json:"common_name"`
	Names         []string `json:"names"`
}

// EventApproval is what an approval event says about the request.
type EventApproval struct {
	ID            string   `json:"id"`
	Kind          string   `json:"kind"`
	State         string   `json:"state"`
	ProfileID     string   `json:"profile_id"`
	CertificateID string   `json:"certificate_id,omitempty"`
	JobID         string   `json:"job_id,omitempty"`
	RequestedBy   string   `json:"requested_by"`
	Reason        string   `json:"reason,omitempty"` // the requester's reason, when the request has one
	Subject       *Subject `json:"subject,omitempty"`
	// ProfileChange summarises a profile edit: create, update or delete,
	// and the fields it changes.
	ProfileChange *EventProfileChange `json:"profile_change,omitempty"`
	// Move says what a certificate_move request does.
	Move           *EventMove `json:"move,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	ExpiresAt      time.Time  `json:"expires_at"`
	PendingSeconds int64      `json:"pending_seconds"`
	DecidedBy      string     `json:"decided_by,omitempty"`
	Note           string     `json:"note,omitempty"`
	DecisionReason string     `json:"decision_reason,omitempty"`
	Reminder       int        `json:"reminder,omitempty"` // which reminder this is (1, 2, …)
	// RequiredApprovals is how many votes the request's policy needs;
	// Votes are the approvals so far, oldest first, each with the factor
	// it counts toward (after a vote, it is the last); Missing is what a
	// request that was not approved still needs (pending, rejected,
	// expired).
	RequiredApprovals int      `json:"required_approvals"`
	Votes             []Vote   `json:"votes"`
	Missing           *Missing `json:"missing,omitempty"`
	// Decide is how to decide a pending request: the CLI commands.
	Decide []string `json:"decide,omitempty"`
}

// EventProfileChange summarises a profile_edit request.
type EventProfileChange struct {
	Operation string   `json:"operation"` // create, update or delete
	Fields    []string `json:"fields"`
}

// EventCertificate is what a certificate event says.
type EventCertificate struct {
	ID                string     `json:"id"`
	CommonName        string     `json:"common_name"`
	Names             []string   `json:"names"`
	ProfileID         string     `json:"profile_id"`
	JobID             string     `json:"job_id,omitempty"`
	ApprovalID        string     `json:"approval_id,omitempty"`
	SerialNumber      string     `json:"serial_number,omitempty"`
	NotBefore         *time.Time `json:"not_before,omitempty"`
	NotAfter          *time.Time `json:"not_after,omitempty"`
	FingerprintSHA256 string     `json:"fingerprint_sha256,omitempty"`
	PEMChain          string     `json:"pem_chain,omitempty"`
	Error             string     `json:"error,omitempty"`
	// RenewalJobID, on an expiring certificate, is the renewal in flight.
	RenewalJobID string `json:"renewal_job_id,omitempty"`
}

// PendingGauge is one profile's pending approval requests: how many, and
// when the oldest was made (nil when none is pending).
type PendingGauge struct {
	ProfileID string
	Count     int64
	Oldest    *time.Time
}
