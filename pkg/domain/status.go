package domain

// CertStatus is a managed certificate's lifecycle status.
type CertStatus string

// Certificate statuses.
const (
	CertPending           CertStatus = "Pending"
	CertActive            CertStatus = "Active"
	CertExpiring          CertStatus = "Expiring"
	CertExpired           CertStatus = "Expired"
	CertRenewalInProgress CertStatus = "RenewalInProgress"
	CertFailed            CertStatus = "Failed"
	CertRevoked           CertStatus = "Revoked"
	CertArchived          CertStatus = "Archived"
)

// Retired reports a status after which nothing is issued for the
// certificate again: Revoked or Archived.
func (s CertStatus) Retired() bool { return s == CertRevoked || s == CertArchived }

// JobStatus is a renewal or issuance job's status.
type JobStatus string

// Job statuses.
const (
	JobAwaitingApproval JobStatus = "AwaitingApproval"
	JobPending          JobStatus = "Pending"
	JobRunning          JobStatus = "Running"
	JobCompleted        JobStatus = "Completed"
	JobFailed           JobStatus = "Failed"
	JobCancelled        JobStatus = "Cancelled"
)

// ParseJobStatus validates a job status filter.
func ParseJobStatus(s string) (JobStatus, bool) {
	switch st := JobStatus(s); st {
	case JobAwaitingApproval, JobPending, JobRunning, JobCompleted, JobFailed, JobCancelled:
		return st, true
	}
	return "", false
}

// Terminal reports whether no further transition can happen to the job.
func (s JobStatus) Terminal() bool {
	return s == JobCompleted || s == JobFailed || s == JobCancelled
}

// JobType says whether a job issues a certificate for the first time or renews it.
type JobType string

// Job types.
const (
	JobIssuance JobType = "Issuance"
	JobRenewal  JobType = "Renewal"
)

// ApprovalState is an approval request's state.
type ApprovalState string

// Approval states. Every state but pending is terminal.
const (
	ApprovalPending  ApprovalState = "pending"
	ApprovalApproved ApprovalState = "approved"
	ApprovalRejected ApprovalState = "rejected"
	ApprovalExpired  ApprovalState = "expired"
	ApprovalBypassed ApprovalState = "bypassed"
)

// ParseApprovalState validates an approval state filter.
func ParseApprovalState(s string) (ApprovalState, bool) {
	switch st := ApprovalState(s); st {
	case ApprovalPending, ApprovalApproved, ApprovalRejected, ApprovalExpired, ApprovalBypassed:
		return st, true
	}
	return "", false
}

// AllowsIssuance reports whether a request in this state authorises issuance.
func (s ApprovalState) AllowsIssuance() bool {
	return s == ApprovalApproved || s == ApprovalBypassed
}

// ApprovalKind says what an approval request gates.
type ApprovalKind string

// Approval kinds.
const (
	KindCertIssuance    ApprovalKind = "cert_issuance"
	KindProfileEdit     ApprovalKind = "profile_edit"
	KindCertificateMove ApprovalKind = "certificate_move"
)

// ApprovalKinds lists every kind, for filters and messages.
var ApprovalKinds = []ApprovalKind{KindCertIssuance, KindProfileEdit, KindCertificateMove}

// ParseApprovalKind validates an approval kind filter.
func ParseApprovalKind(s string) (ApprovalKind, bool) {
	switch k := ApprovalKind(s); k {
	case KindCertIssuance, KindProfileEdit, KindCertificateMove:
		return k, true
	}
	return "", false
}

// ParseCertStatus validates a certificate status filter.
func ParseCertStatus(s string) (CertStatus, bool) {
	switch st := CertStatus(s); st {
	case CertPending, CertActive, CertExpiring, CertExpired, CertRenewalInProgress, CertFailed, CertRevoked, CertArchived:
		return st, true
	}
	return "", false
}
