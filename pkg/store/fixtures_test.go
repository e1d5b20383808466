package store

import (
	"reflect"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/apikey"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Fixtures shared by the golden and round-trip tests. The full ones set
// every exported field (checked by TestFixturesAreFullyPopulated), so a
// field a conversion forgets shows up as a difference.

// fixtureTime has nanoseconds, so a lossy time encoding shows.
var fixtureTime = time.Date(2026, 3, 1, 12, 30, 45, 123456789, time.UTC)

func at(d time.Duration) time.Time { return fixtureTime.Add(d) }

func atPtr(d time.Duration) *time.Time { t := at(d); return &t }

func fullPool() *domain.ApproverPool {
	return &domain.ApproverPool{Principals: []string{"bob", "iam:123456789012:role/Ops"}, Roles: []domain.Role{domain.RoleApprover, domain.RoleAdmin}}
}

func fullProfile() *domain.Profile {
	return &domain.Profile{
		ID: "p-full", Name: "Full profile", RequiresApproval: true,
		AllowedNames:         []domain.NamePattern{"**.example.com", "www.example.org", "192.0.2.10"},
		AllowedKeyAlgorithms: []string{domain.KeyECDSAP256, domain.KeyRSA2048},
		MaxValiditySeconds:   7776000, RenewBeforeSeconds: 2592000, IssuerID: "default",
		Approvers: fullPool(), RequiredApprovals: 3, ApprovalPolicy: fullPolicy(), Notify: []string{"ops", "sec"},
		Version: 3, PendingEditID: "a-edit", CertificateCount: 2,
		Delivery:  &domain.DeliveryTargets{SSMParameter: "/certctl/test/{certificate_id}/chain", Secret: "certctl/test/web"},
		CreatedBy: "alice", CreatedAt: at(0), UpdatedAt: at(time.Hour),
	}
}

// fullPolicy has a factor with a pool and one without (any approver).
func fullPolicy() domain.ApprovalPolicy {
	return domain.ApprovalPolicy{
		{Name: "security", Approvers: fullPool(), Count: 1},
		{Name: "owners", Count: 2},
	}
}

// fullVotes are two votes; the first sets every field.
func fullVotes() []domain.Vote {
	return []domain.Vote{
		{Actor: "bob", ActorType: domain.ActorUser, At: at(time.Minute), Note: "ok", Eligible: []string{"security", "owners"}, Factor: "security"},
		{Actor: "dana", ActorType: domain.ActorUser, At: at(2 * time.Minute), Eligible: []string{"owners"}},
	}
}

// otherProfile differs from fullProfile in every field ProfileDiff compares
// but requires_approval (so that both are fully populated; the golden
// test's creating edit has a bool in its diff).
func otherProfile() *domain.Profile {
	return &domain.Profile{
		ID: "p-full", Name: "Renamed", RequiresApproval: true,
		AllowedNames:         []domain.NamePattern{"*.example.net"},
		AllowedKeyAlgorithms: []string{domain.KeyEd25519},
		MaxValiditySeconds:   86400, RenewBeforeSeconds: 3600, IssuerID: "other",
		Approvers:         &domain.ApproverPool{Principals: []string{"carol"}, Roles: []domain.Role{domain.RoleApprover}},
		RequiredApprovals: 2, ApprovalPolicy: domain.ApprovalPolicy{{Name: "team", Count: 2}},
		Notify:  []string{"team-a"},
		Version: 4, PendingEditID: "a-other", CertificateCount: 5,
		Delivery:  &domain.DeliveryTargets{SSMParameter: "/certctl/test/other", Secret: "certctl/test/other/{certificate_id}"},
		CreatedBy: "dave", CreatedAt: at(-time.Hour), UpdatedAt: at(2 * time.Hour),
	}
}

func fullSubject() *domain.Subject {
	return &domain.Subject{
		CommonName: "www.example.com", DNSNames: []string{"www.example.com", "example.com"}, IPAddresses: []string{"192.0.2.10"},
		KeyAlgorithm: domain.KeyECDSAP256, PublicKeySHA256: "3f1a", ValiditySeconds: 86400, IssuerID: "default",
		KeyUsage: []string{"digitalSignature"}, ExtKeyUsage: []string{"serverAuth", "clientAuth"},
		ProfileID: "p-full", ProfileVersion: 3, ProfileName: "Full profile",
		KeyChanged: domain.Ptr(true), PreviousPublicKeySHA256: "9c2e",
	}
}

func fullCertificate() *domain.Certificate {
	return &domain.Certificate{
		ID: "c-full", CommonName: "www.example.com", SANs: []string{"www.example.com", "example.com"},
		ProfileID: "p-full", IssuerID: "default", Status: domain.CertRenewalInProgress, CSR: "-----BEGIN CERTIFICATE REQUEST-----",
		KeyAlgorithm: domain.KeyECDSAP256, CurrentJobID: "j-full", PendingMoveID: "ar-move", SerialNumber: "0a1b",
		NotBefore: atPtr(-24 * time.Hour), ExpiresAt: atPtr(48 * time.Hour), RenewAt: atPtr(24 * time.Hour), LastRenewalAt: atPtr(-24 * time.Hour),
		RevokedAt: atPtr(30 * time.Minute), RevocationReason: "keyCompromise", ArchivedAt: atPtr(40 * time.Minute),
		CreatedBy: "alice", CreatedAt: at(-48 * time.Hour), UpdatedAt: at(time.Minute),
	}
}

func fullJob() *domain.Job {
	return &domain.Job{
		ID: "j-full", CertificateID: "c-full", ProfileID: "p-full", Type: domain.JobRenewal, Status: domain.JobAwaitingApproval,
		RequiresApproval: true, ApprovalID: "a-full", RequestedBy: "alice", RequestReason: "ticket SEC-1: rotate", Notify: []string{"ops"}, Subject: fullSubject(),
		ExecutionARN: "arn:aws:states:us-east-1:123456789012:execution:renewal:j-full", Error: "an earlier attempt failed",
		CSR: "-----BEGIN CERTIFICATE REQUEST-----", PrevCertStatus: domain.CertActive,
		Delivery: &domain.DeliveryStatus{Status: domain.DeliveryRetrying, SSMParameter: "/certctl/test/c-full/chain", Secret: "certctl/test/web",
			Attempts: 2, LastError: "put parameter: AccessDeniedException", DeliveredAt: atPtr(3 * time.Minute), UpdatedAt: at(3 * time.Minute)},
		CreatedAt: at(0), UpdatedAt: at(time.Minute), CompletedAt: atPtr(2 * time.Minute),
	}
}

func fullApproval() *domain.Approval {
	return &domain.Approval{
		ID: "a-full", Kind: domain.KindProfileEdit, State: domain.ApprovalPending, JobID: "j-full", CertificateID: "c-full",
		ProfileID: "p-full", RequestedBy: "alice", RequestedType: domain.ActorUser, DecidedBy: "bob", DecidedType: domain.ActorUser,
		Note: "looks fine", Reason: "policy", RequestReason: "ticket SEC-1: rotate", Subject: fullSubject(),
		Move: &domain.CertificateMove{
			From:       domain.ProfileRef{ID: "p-old", Name: "Old", Version: 2, RequiresApproval: true},
			To:         domain.ProfileRef{ID: "p-full", Name: "Full profile", Version: 3, RequiresApproval: true},
			CommonName: "www.example.com", DNSNames: []string{"www.example.com", "example.com"}, IPAddresses: []string{"192.0.2.10"},
			FromPolicy: fullPolicy(),
		},
		ProfileEdit: &domain.ProfileEdit{
			BaseVersion: 3, Create: true, Delete: true, Base: fullProfile(), Proposed: otherProfile(),
			Diff: domain.ProfileDiff(fullProfile(), otherProfile()),
		},
		ApproverPool: fullPool(), ApprovalPolicy: fullPolicy(), Votes: fullVotes(),
		Notify: []string{"ops", "sec"}, RemindersSent: 2, EscalatedAt: atPtr(30 * time.Minute), Gauged: true,
		CreatedAt: at(0), ExpiresAt: at(24 * time.Hour), DecidedAt: atPtr(time.Hour),
		TaskToken: "token-full", PrevCertStatus: domain.CertActive,
	}
}

func fullVersion() *domain.CertificateVersion {
	gv := int64(7)
	return &domain.CertificateVersion{
		CertificateID: "c-full", JobID: "j-full", SerialNumber: "0a1b", NotBefore: at(-time.Minute), NotAfter: at(48 * time.Hour),
		FingerprintSHA256: "ab12", PEMChain: "-----BEGIN CERTIFICATE-----", IssuedAt: at(0), GovernanceVersion: &gv,
		RevokedAt: atPtr(time.Hour), RevocationReason: "superseded", RevokedBy: "bob",
	}
}

func fullIssuer() *domain.Issuer {
	return &domain.Issuer{ID: "default", CAPEM: "-----BEGIN CERTIFICATE-----", KeyID: "arn:aws:kms:us-east-1:123456789012:key/k", CreatedAt: at(0)}
}

func fullAPIKey() *apikey.Key {
	return &apikey.Key{
		ID: "k-full", Hash: "e3b0c442", Prefix: "cck_abcdef", Principal: "apikey:ops", CreatedBy: "alice",
		CreatedAt: at(0), ExpiresAt: atPtr(720 * time.Hour), RevokedAt: atPtr(time.Hour),
	}
}

func fullPrincipal() *domain.Principal {
	return &domain.Principal{ID: "apikey:ops", Roles: []domain.Role{domain.RoleAdmin, domain.RoleOperator}, Controllers: []string{"admin", "bootstrap-ops"}, UpdatedAt: at(0)}
}

// fullAudit's details hold every JSON kind.
func fullAudit() *domain.AuditEvent {
	return &domain.AuditEvent{
		ID: "01JAUDITFULL", Actor: "alice", ActorType: domain.ActorUser, Action: domain.AuditApprovalApproved,
		ResourceType: "approval", ResourceID: "a-full",
		Details:   map[string]any{"str": "x", "num": 3.5, "yes": true, "list": []any{"a", 1.0}, "map": map[string]any{"k": "v"}, "nil": nil},
		Timestamp: at(time.Second),
		Notice: &domain.Notice{ID: "01JAUDITFULL", Type: domain.EventApprovalDecided, Time: at(time.Second),
			Detail: []byte(`{"id":"01JAUDITFULL","message":{"text":"approved"}}`)},
	}
}

// requireAllSet fails for every exported field of v (a struct or a
// pointer to one, followed into nested structs and pointers) that holds
// its zero value. A map must not be empty; its values are free-form
// (a diff's old value may well be nil).
func requireAllSet(t *testing.T, path string, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			t.Errorf("%s is nil", path)
			return
		}
		requireAllSet(t, path, v.Elem())
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			if v.Interface().(time.Time).IsZero() {
				t.Errorf("%s is zero", path)
			}
			return
		}
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				requireAllSet(t, path+"."+f.Name, v.Field(i))
			}
		}
	case reflect.Map:
		if v.Len() == 0 {
			t.Errorf("%s is empty", path)
		}
	default:
		if v.IsZero() || (v.Kind() == reflect.Slice && v.Len() == 0) {
			t.Errorf("%s is zero", path)
		}
	}
}

func TestFixturesAreFullyPopulated(t *testing.T) {
	for name, v := range map[string]any{
		"Profile": fullProfile(), "Certificate": fullCertificate(), "Job": fullJob(), "Approval": fullApproval(),
		"CertificateVersion": fullVersion(), "Issuer": fullIssuer(), "Key": fullAPIKey(), "Principal": fullPrincipal(), "AuditEvent": fullAudit(),
	} {
		requireAllSet(t, name, reflect.ValueOf(v))
	}
}
