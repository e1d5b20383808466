package store

import (
	"fmt"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// The stored form of the value objects items hold (pools, policies,
// votes, subjects, profile snapshots, moves, edits).

type approverPoolRecord struct {
	Principals []string `dynamodbav:"principals,omitempty"`
	Roles      []string `dynamodbav:"roles,omitempty"`
}

func approverPoolRecordOf(p *domain.ApproverPool) *approverPoolRecord {
	if p == nil {
		return nil
	}
	return &approverPoolRecord{Principals: p.Principals, Roles: convert[string](p.Roles)}
}

func (r *approverPoolRecord) toDomain() *domain.ApproverPool {
	if r == nil {
		return nil
	}
	return &domain.ApproverPool{Principals: r.Principals, Roles: convert[domain.Role](r.Roles)}
}

type deliveryTargetsRecord struct {
	SSMParameter string `dynamodbav:"ssm_parameter,omitempty"`
	Secret       string `dynamodbav:"secret,omitempty"`
}

func deliveryTargetsRecordOf(t *domain.DeliveryTargets) *deliveryTargetsRecord {
	if t == nil {
		return nil
	}
	return &deliveryTargetsRecord{SSMParameter: t.SSMParameter, Secret: t.Secret}
}

func (r *deliveryTargetsRecord) toDomain() *domain.DeliveryTargets {
	if r == nil {
		return nil
	}
	return &domain.DeliveryTargets{SSMParameter: r.SSMParameter, Secret: r.Secret}
}

// deliveryStatusRecord is a job's delivery: where its version goes and
// how that went.
type deliveryStatusRecord struct {
	Status       string     `dynamodbav:"status"`
	SSMParameter string     `dynamodbav:"ssm_parameter,omitempty"`
	Secret       string     `dynamodbav:"secret,omitempty"`
	Attempts     int64      `dynamodbav:"attempts"`
	LastError    string     `dynamodbav:"last_error,omitempty"`
	DeliveredAt  *time.Time `dynamodbav:"delivered_at,omitempty"`
	UpdatedAt    time.Time  `dynamodbav:"updated_at"`
}

func deliveryStatusRecordOf(d *domain.DeliveryStatus) *deliveryStatusRecord {
	if d == nil {
		return nil
	}
	return &deliveryStatusRecord{Status: d.Status, SSMParameter: d.SSMParameter, Secret: d.Secret, Attempts: d.Attempts,
		LastError: d.LastError, DeliveredAt: d.DeliveredAt, UpdatedAt: d.UpdatedAt}
}

func (r *deliveryStatusRecord) toDomain() *domain.DeliveryStatus {
	if r == nil {
		return nil
	}
	return &domain.DeliveryStatus{Status: r.Status, SSMParameter: r.SSMParameter, Secret: r.Secret, Attempts: r.Attempts,
		LastError: r.LastError, DeliveredAt: r.DeliveredAt, UpdatedAt: r.UpdatedAt}
}

// factorRecord is one factor of an approval policy.
type factorRecord struct {
	Name      string              `dynamodbav:"name"`
	Approvers *approverPoolRecord `dynamodbav:"approvers,omitempty"`
	Count     int                 `dynamodbav:"count"`
}

func policyRecordOf(p domain.ApprovalPolicy) []factorRecord {
	if len(p) == 0 {
		return nil
	}
	out := make([]factorRecord, len(p))
	for i, f := range p {
		out[i] = factorRecord{Name: f.Name, Approvers: approverPoolRecordOf(f.Approvers), Count: f.Count}
	}
	return out
}

func policyOf(rs []factorRecord) domain.ApprovalPolicy {
	if len(rs) == 0 {
		return nil
	}
	out := make(domain.ApprovalPolicy, len(rs))
	for i, r := range rs {
		out[i] = domain.ApprovalFactor{Name: r.Name, Approvers: r.Approvers.toDomain(), Count: r.Count}
	}
	return out
}

// voteRecord is one vote on a request. Which factor it counts toward is
// not stored: it follows from the votes and the policy.
type voteRecord struct {
	Actor     string    `dynamodbav:"actor"`
	ActorType string    `dynamodbav:"actor_type"`
	At        time.Time `dynamodbav:"at"`
	Note      string    `dynamodbav:"note,omitempty"`
	Eligible  []string  `dynamodbav:"eligible"`
}

func votesRecordOf(vs []domain.Vote) []voteRecord {
	if len(vs) == 0 {
		return nil
	}
	out := make([]voteRecord, len(vs))
	for i, v := range vs {
		out[i] = voteRecord{Actor: v.Actor, ActorType: string(v.ActorType), At: v.At, Note: v.Note, Eligible: v.Eligible}
		if out[i].Eligible == nil {
			out[i].Eligible = []string{}
		}
	}
	return out
}

func votesOf(rs []voteRecord) []domain.Vote {
	if len(rs) == 0 {
		return nil
	}
	out := make([]domain.Vote, len(rs))
	for i, r := range rs {
		out[i] = domain.Vote{Actor: r.Actor, ActorType: domain.ActorType(r.ActorType), At: r.At, Note: r.Note, Eligible: r.Eligible}
	}
	return out
}

type subjectRecord struct {
	CommonName      string   `dynamodbav:"common_name"`
	DNSNames        []string `dynamodbav:"dns_names"`
	IPAddresses     []string `dynamodbav:"ip_addresses"`
	KeyAlgorithm    string   `dynamodbav:"key_algorithm"`
	PublicKeySHA256 string   `dynamodbav:"public_key_sha256"`
	ValiditySeconds int64    `dynamodbav:"validity_seconds"`
	IssuerID        string   `dynamodbav:"issuer_id"`
	KeyUsage        []string `dynamodbav:"key_usage"`
	ExtKeyUsage     []string `dynamodbav:"ext_key_usage"`
	ProfileID       string   `dynamodbav:"profile_id"`
	ProfileVersion  int64    `dynamodbav:"profile_version"`
	ProfileName     string   `dynamodbav:"profile_name,omitempty"`
	KeyChanged      *bool    `dynamodbav:"key_changed,omitempty"`
	PreviousKey     string   `dynamodbav:"previous_public_key_sha256,omitempty"`
}

func subjectRecordOf(x *domain.Subject) *subjectRecord {
	if x == nil {
		return nil
	}
	return &subjectRecord{
		CommonName: x.CommonName, DNSNames: x.DNSNames, IPAddresses: x.IPAddresses, KeyAlgorithm: x.KeyAlgorithm,
		PublicKeySHA256: x.PublicKeySHA256, ValiditySeconds: x.ValiditySeconds, IssuerID: x.IssuerID,
		KeyUsage: x.KeyUsage, ExtKeyUsage: x.ExtKeyUsage, ProfileID: x.ProfileID, ProfileVersion: x.ProfileVersion,
		ProfileName: x.ProfileName, KeyChanged: x.KeyChanged, PreviousKey: x.PreviousPublicKeySHA256,
	}
}

func (r *subjectRecord) toDomain() *domain.Subject {
	if r == nil {
		return nil
	}
	return &domain.Subject{
		CommonName: r.CommonName, DNSNames: r.DNSNames, IPAddresses: r.IPAddresses, KeyAlgorithm: r.KeyAlgorithm,
		PublicKeySHA256: r.PublicKeySHA256, ValiditySeconds: r.ValiditySeconds, IssuerID: r.IssuerID,
		KeyUsage: r.KeyUsage, ExtKeyUsage: r.ExtKeyUsage, ProfileID: r.ProfileID, ProfileVersion: r.ProfileVersion,
		ProfileName: r.ProfileName, KeyChanged: r.KeyChanged, PreviousPublicKeySHA256: r.PreviousKey,
	}
}

// profileRecord is a profile's attributes: the profile item's own, and
// the base and proposal of a profile edit.
type profileRecord struct {
	ID                   string                 `dynamodbav:"id"`
	Name                 string                 `dynamodbav:"name"`
	RequiresApproval     bool                   `dynamodbav:"requires_approval"`
	AllowedNames         []string               `dynamodbav:"allowed_names"`
	AllowedKeyAlgorithms []string               `dynamodbav:"allowed_key_algorithms"`
	MaxValiditySeconds   int64                  `dynamodbav:"max_validity_seconds"`
	RenewBeforeSeconds   int64                  `dynamodbav:"renew_before_seconds"`
	IssuerID             string                 `dynamodbav:"issuer_id"`
	Approvers            *approverPoolRecord    `dynamodbav:"approvers,omitempty"`
	Delivery             *deliveryTargetsRecord `dynamodbav:"delivery,omitempty"`
	RequiredApprovals    int                    `dynamodbav:"required_approvals,omitempty"`
	ApprovalPolicy       []factorRecord         `dynamodbav:"approval_policy,omitempty"`
	Notify               []string               `dynamodbav:"notify,omitempty"`
	Version              int64                  `dynamodbav:"version"`
	PendingEditID        string                 `dynamodbav:"pending_edit_approval_id,omitempty"`
	CertificateCount     int64                  `dynamodbav:"certificate_count"`
	CreatedBy            string                 `dynamodbav:"created_by"`
	CreatedAt            time.Time              `dynamodbav:"created_at"`
	UpdatedAt            time.Time              `dynamodbav:"updated_at"`
}

func profileRecordOf(p *domain.Profile) *profileRecord {
	if p == nil {
		return nil
	}
	return &profileRecord{
		ID: p.ID, Name: p.Name, RequiresApproval: p.RequiresApproval, AllowedNames: convert[string](p.AllowedNames),
		AllowedKeyAlgorithms: p.AllowedKeyAlgorithms, MaxValiditySeconds: p.MaxValiditySeconds,
		RenewBeforeSeconds: p.RenewBeforeSeconds, IssuerID: p.IssuerID, Approvers: approverPoolRecordOf(p.Approvers),
		Delivery: deliveryTargetsRecordOf(p.Delivery), RequiredApprovals: p.RequiredApprovals, ApprovalPolicy: policyRecordOf(p.ApprovalPolicy),
		Notify: p.Notify, Version: p.Version, PendingEditID: p.PendingEditID, CertificateCount: p.CertificateCount,
		CreatedBy: p.CreatedBy, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
}

func (r *profileRecord) toDomain() *domain.Profile {
	if r == nil {
		return nil
	}
	p := &domain.Profile{
		ID: r.ID, Name: r.Name, RequiresApproval: r.RequiresApproval, AllowedNames: convert[domain.NamePattern](r.AllowedNames),
		AllowedKeyAlgorithms: r.AllowedKeyAlgorithms, MaxValiditySeconds: r.MaxValiditySeconds,
		RenewBeforeSeconds: r.RenewBeforeSeconds, IssuerID: r.IssuerID, Approvers: r.Approvers.toDomain(),
		Delivery: r.Delivery.toDomain(), RequiredApprovals: r.RequiredApprovals, ApprovalPolicy: policyOf(r.ApprovalPolicy),
		Notify: r.Notify, Version: r.Version, PendingEditID: r.PendingEditID, CertificateCount: r.CertificateCount,
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
	if p.RequiredApprovals == 0 {
		p.RequiredApprovals = 1 // stored before required_approvals existed: one approval
	}
	return p
}

// changeRecord is one field of a profile edit's diff. The values are
// free-form; read back they are what DynamoDB values decode to (string,
// bool, float64, []any, map[string]any, nil).
type changeRecord struct {
	Old any `dynamodbav:"old"`
	New any `dynamodbav:"new"`
}

// storedDiffValue is a diff value in a form that marshals by the store's
// names: domain value objects become their records. It keeps typed nils
// typed (a nil list is stored as an empty list, a nil pool as NULL).
func storedDiffValue(v any) (any, error) {
	switch x := v.(type) {
	case nil, string, bool, int64, float64, []string, []any, map[string]any:
		return v, nil
	case []domain.NamePattern:
		return convert[string](x), nil
	case []domain.Role:
		return convert[string](x), nil
	case *domain.ApproverPool:
		return approverPoolRecordOf(x), nil
	case *domain.DeliveryTargets:
		return deliveryTargetsRecordOf(x), nil
	case domain.ApprovalPolicy:
		return policyRecordOf(x), nil
	}
	return nil, fmt.Errorf("store: a profile diff value of type %T has no stored form", v)
}

// profileRefRecord is a profile as a request saw it.
type profileRefRecord struct {
	ID               string `dynamodbav:"id"`
	Name             string `dynamodbav:"name"`
	Version          int64  `dynamodbav:"version"`
	RequiresApproval bool   `dynamodbav:"requires_approval"`
}

type moveRecord struct {
	From        profileRefRecord `dynamodbav:"from"`
	To          profileRefRecord `dynamodbav:"to"`
	CommonName  string           `dynamodbav:"common_name"`
	DNSNames    []string         `dynamodbav:"dns_names"`
	IPAddresses []string         `dynamodbav:"ip_addresses"`
	FromPolicy  []factorRecord   `dynamodbav:"from_policy,omitempty"`
}

func moveRecordOf(m *domain.CertificateMove) *moveRecord {
	if m == nil {
		return nil
	}
	ref := func(r domain.ProfileRef) profileRefRecord {
		return profileRefRecord{ID: r.ID, Name: r.Name, Version: r.Version, RequiresApproval: r.RequiresApproval}
	}
	return &moveRecord{From: ref(m.From), To: ref(m.To), CommonName: m.CommonName, DNSNames: m.DNSNames, IPAddresses: m.IPAddresses,
		FromPolicy: policyRecordOf(m.FromPolicy)}
}

func (r *moveRecord) toDomain() *domain.CertificateMove {
	if r == nil {
		return nil
	}
	ref := func(p profileRefRecord) domain.ProfileRef {
		return domain.ProfileRef{ID: p.ID, Name: p.Name, Version: p.Version, RequiresApproval: p.RequiresApproval}
	}
	return &domain.CertificateMove{From: ref(r.From), To: ref(r.To), CommonName: r.CommonName, DNSNames: r.DNSNames, IPAddresses: r.IPAddresses,
		FromPolicy: policyOf(r.FromPolicy)}
}

type profileEditRecord struct {
	BaseVersion int64                   `dynamodbav:"base_version"`
	Create      bool                    `dynamodbav:"create,omitempty"`
	Delete      bool                    `dynamodbav:"delete,omitempty"`
	Base        *profileRecord          `dynamodbav:"base,omitempty"`
	Proposed    *profileRecord          `dynamodbav:"proposed,omitempty"`
	Diff        map[string]changeRecord `dynamodbav:"diff"`
}

func profileEditRecordOf(e *domain.ProfileEdit) (*profileEditRecord, error) {
	if e == nil {
		return nil, nil
	}
	r := &profileEditRecord{
		BaseVersion: e.BaseVersion, Create: e.Create, Delete: e.Delete,
		Base: profileRecordOf(e.Base), Proposed: profileRecordOf(e.Proposed),
	}
	if e.Diff != nil {
		r.Diff = make(map[string]changeRecord, len(e.Diff))
		for field, c := range e.Diff {
			old, err := storedDiffValue(c.Old)
			if err != nil {
				return nil, fmt.Errorf("%w (diff of %s)", err, field)
			}
			new, err := storedDiffValue(c.New)
			if err != nil {
				return nil, fmt.Errorf("%w (diff of %s)", err, field)
			}
			r.Diff[field] = changeRecord{Old: old, New: new}
		}
	}
	return r, nil
}

func (r *profileEditRecord) toDomain() *domain.ProfileEdit {
	if r == nil {
		return nil
	}
	e := &domain.ProfileEdit{
		BaseVersion: r.BaseVersion, Create: r.Create, Delete: r.Delete,
		Base: r.Base.toDomain(), Proposed: r.Proposed.toDomain(),
	}
	if r.Diff != nil {
		e.Diff = make(map[string]domain.Change, len(r.Diff))
		for field, c := range r.Diff {
			e.Diff[field] = domain.Change{Old: c.Old, New: c.New}
		}
	}
	return e
}
