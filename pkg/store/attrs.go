package store

// Stored attribute names, as expressions name them. Each is also the
// dynamodbav tag of an item type's field (records.go); a test keeps the
// two in step. They, the key formats and the index names are a contract
// with the tables already deployed and with the indexes the CDK app and
// pkg/devstack define: renaming one is a data migration, not a refactor.
const (
	// Keys of the table and of its indexes.
	attrPK        = "pk"
	attrSK        = "sk"
	attrListPK    = "list_pk"
	attrListSK    = "list_sk"
	attrParentPK  = "parent_pk"
	attrParentSK  = "parent_sk"
	attrPendingPK = "pending_pk"
	attrPendingSK = "pending_sk"
	attrDuePK     = "due_pk"
	attrDueSK     = "due_sk"

	// Approvals.
	attrState         = "state"
	attrKind          = "kind"
	attrRequestedBy   = "requested_by"
	attrDecidedBy     = "decided_by"
	attrDecidedByType = "decided_by_type"
	attrDecidedAt     = "decided_at"
	attrNote          = "note"
	attrReason        = "reason"
	attrTaskToken     = "task_token"
	attrVotes         = "votes"
	attrReminders     = "reminders_sent"
	attrEscalatedAt   = "escalated_at"

	// Jobs and certificates.
	attrStatus        = "status"
	attrError         = "error"
	attrCompletedAt   = "completed_at"
	attrCertificateID = "certificate_id"
	attrCurrentJobID  = "current_job_id"
	attrSerialNumber  = "serial_number"
	attrNotBefore     = "not_before"
	attrExpiresAt     = "expires_at"
	attrRenewAt       = "renew_at"
	attrLastRenewalAt = "last_renewal_at"
	attrCSR           = "csr"
	attrKeyAlgorithm  = "key_algorithm"

	// Revocation (versions, certificates, CRL entries) and archiving.
	attrRevocationReason = "revocation_reason"
	attrRevokedBy        = "revoked_by"
	attrArchivedAt       = "archived_at"
	attrPendingMoveID    = "pending_move_approval_id"
	attrMoveRequests     = "move_requests"

	// The delivery queue.
	attrAttempts  = "attempts"
	attrLastError = "last_error"

	// An issuer's CRL.
	attrNumber        = "number"
	attrDER           = "der"
	attrThisUpdate    = "this_update"
	attrNextUpdate    = "next_update"
	attrEntries       = "entries"
	attrRevision      = "revision"
	attrBuiltRevision = "built_revision"
	attrEntryCount    = "entry_count"

	// Profiles: the fields an edit writes, and what it does not own.
	attrName                 = "name"
	attrRequiresApproval     = "requires_approval"
	attrAllowedNames         = "allowed_names"
	attrAllowedKeyAlgorithms = "allowed_key_algorithms"
	attrMaxValiditySeconds   = "max_validity_seconds"
	attrRenewBeforeSeconds   = "renew_before_seconds"
	attrIssuerID             = "issuer_id"
	attrApprovers            = "approvers"
	attrDelivery             = "delivery"
	attrNotify               = "notify"
	attrRequiredApprovals    = "required_approvals"
	attrApprovalPolicy       = "approval_policy"
	attrVersion              = "version"
	attrPendingEditID        = "pending_edit_approval_id"
	attrCertificateCount     = "certificate_count"

	// Shared by several kinds.
	attrProfileID = "profile_id"
	attrUpdatedAt = "updated_at"

	// API keys and principals.
	attrRevokedAt   = "revoked_at"
	attrPrincipal   = "principal"
	attrControllers = "controllers"

	// Counters: governance markers, the admin count, decision metrics.
	attrCount      = "count"
	attrPattern    = "pattern"
	attrOutcome    = "outcome"
	attrSumSeconds = "sum_seconds"

	// Audit rows (the audit table's index keys among them).
	attrActor  = "actor"
	attrAction = "action"
	attrDay    = "day"

	// The audit chain: a row's link (the by_chain index's keys among
	// them), and the shard heads' sequence number. pkg/auditchain names
	// the same attributes.
	attrChain    = "chain"
	attrChainSeq = "chain_seq"
	attrHeadSeq  = "seq"
	attrCreated  = "created_at"
)
