package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// Name governance. A name pattern declared by an approval-tier profile is
// governed: no profile that needs no approval may issue a name it covers.
// Each governed pattern has a marker item counting the approval-tier
// profiles that declare it, and one governance item carries a version that
// every change to the markers increments in the same transaction. A write
// that relies on a name being ungoverned checks that version, so a
// concurrent governance change makes it fail rather than slip through.
const (
	governancePK = "GOVERNANCE"
	markerPrefix = "GOV#"
	zonePrefix   = "GOVZONE#"
)

// maxZoneChildPages bounds the work of one wildcard check: a zone with
// more governed names than this reads (100 each) refuses wildcards under it
// rather than read on.
const maxZoneChildPages = 5

// ReadGovernance reads the governance version, then which of patterns are
// governed (strongly consistent). Reading the version first makes a check
// of it at write time cover the markers read after it.
func (st *Store) ReadGovernance(ctx context.Context, patterns []domain.NamePattern, wildcardZones []string) (*workflow.Governance, error) {
	g := &workflow.Governance{Governed: map[domain.NamePattern]bool{}, Children: map[string]domain.NamePattern{}}
	item, err := st.get(ctx, governanceKey(), "governance")
	switch {
	case errors.Is(err, domain.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		if g.Version, err = decode(item, (*governanceItem).version); err != nil {
			return nil, err
		}
	}
	patterns = slices.Compact(slices.Sorted(slices.Values(patterns)))
	for len(patterns) > 0 {
		batch := patterns[:min(len(patterns), 100)]
		patterns = patterns[len(batch):]
		keys := make([]map[string]types.AttributeValue, len(batch))
		for i, p := range batch {
			keys[i] = markerKey(p).av()
		}
		for len(keys) > 0 {
			out, err := st.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
				st.stateTable: {Keys: keys, ConsistentRead: aws.Bool(true)},
			}})
			if err != nil {
				return nil, transient(fmt.Errorf("store: read governance: %w", err))
			}
			for _, it := range out.Responses[st.stateTable] {
				var m markerItem
				if err := unmarshalItem(it, &m); err != nil {
					return nil, err
				}
				if p, governed := m.governed(); governed {
					g.Governed[p] = true
				}
			}
			keys = out.UnprocessedKeys[st.stateTable].Keys
		}
	}
	for _, zone := range slices.Compact(slices.Sorted(slices.Values(wildcardZones))) {
		child, err := st.governedChild(ctx, zone)
		if err != nil {
			return nil, err
		}
		if child != "" {
			g.Children[zone] = child
		}
	}
	return g, nil
}

// governedChild returns one governed exact name directly under zone, or "":
// their markers share the zone's partition (markerKey). Names no longer
// governed keep their marker with a count of 0, which the filter skips.
func (st *Store) governedChild(ctx context.Context, zone string) (domain.NamePattern, error) {
	in, err := query{
		table:  st.stateTable,
		key:    keyOf(attrPK).Equal(valueOf(s(zonePrefix + zone))),
		filter: []expression.ConditionBuilder{nameOf(attrCount).GreaterThan(valueOf(n(0)))},
	}.input()
	if err != nil {
		return "", err
	}
	in.ConsistentRead = aws.Bool(true)
	in.Limit = aws.Int32(100)
	for range maxZoneChildPages {
		out, err := st.db.Query(ctx, in)
		if err != nil {
			return "", transient(fmt.Errorf("store: read governance under %s: %w", zone, err))
		}
		if len(out.Items) > 0 {
			var m markerItem
			if err := unmarshalItem(out.Items[0], &m); err != nil {
				return "", err
			}
			return domain.NamePattern(m.Pattern), nil
		}
		if len(out.LastEvaluatedKey) == 0 {
			return "", nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	return "", domain.Conflictf("more names under %s were ever governed than one check reads; a wildcard for it needs an approval-tier profile", zone)
}

// governanceUnchanged asserts that governance is still at version.
func (st *Store) governanceUnchanged(version int64) (types.TransactWriteItem, error) {
	at := equals(attrVersion, n(version))
	if version == 0 {
		return st.txCheck(governanceKey(), or(nameOf(attrPK).AttributeNotExists(), at))
	}
	return st.txCheck(governanceKey(), at)
}

// governanceItems is the transaction items of one governance step: the
// markers it adds and removes, and the version, which moves only from the
// version the step was computed from, so governance steps are sequenced
// and each is recorded with its number.
func (st *Store) governanceItems(c *domain.GovernanceChange) ([]types.TransactWriteItem, error) {
	if c == nil {
		return nil, nil
	}
	var t txn
	adjust := func(p domain.NamePattern, by int64) {
		t.add(st.txUpdate(markerKey(p), expression.Add(nameOf(attrCount), valueOf(n(by))).Set(nameOf(attrPattern), valueOf(s(string(p))))))
	}
	for _, p := range c.Added {
		adjust(p, 1)
	}
	for _, p := range c.Removed {
		adjust(p, -1)
	}
	from := equals(attrVersion, n(c.Version-1))
	if c.Version == 1 {
		from = isNew()
	}
	t.add(st.txUpdate(governanceKey(), expression.Set(nameOf(attrVersion), valueOf(n(c.Version))), from))
	return t.items, t.err
}

// CreateProfile inserts a new profile, the governance step it makes (if
// any) and its audit row. workflow.ErrChanged means the profile exists or
// governance moved on: the caller re-reads.
func (st *Store) CreateProfile(ctx context.Context, p *domain.Profile, gov *domain.GovernanceChange, audit *domain.AuditEvent) error {
	var t txn
	t.add(st.profileCreate(p))
	t.addAll(st.governanceItems(gov))
	return st.commitTxn(ctx, &t, audit)
}

func (st *Store) profileCreate(p *domain.Profile) (types.TransactWriteItem, error) {
	item, err := marshalItem(profileItemOf(p))
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return st.putNew(item)
}

// editableFields are the profile attributes an edit owns: the rest (its
// certificate count, who created it and when) stay as stored.
var editableFields = []string{attrName, attrRequiresApproval, attrAllowedNames, attrAllowedKeyAlgorithms,
	attrMaxValiditySeconds, attrRenewBeforeSeconds, attrIssuerID, attrApprovers, attrDelivery, attrRequiredApprovals, attrApprovalPolicy,
	attrNotify, attrVersion, attrUpdatedAt}

// profileFields is the update that writes p's editable fields over a
// stored profile: a field p stores is SET, one it omits (no approver
// pool) is removed. alsoRemove names more attributes to remove.
func profileFields(p *domain.Profile, alsoRemove ...string) (expression.UpdateBuilder, error) {
	item, err := marshalItem(profileRecordOf(p))
	if err != nil {
		return expression.UpdateBuilder{}, err
	}
	var upd expression.UpdateBuilder
	for _, attr := range editableFields {
		if v, ok := item[attr]; ok {
			upd = upd.Set(nameOf(attr), valueOf(v))
		} else {
			upd = upd.Remove(nameOf(attr))
		}
	}
	for _, attr := range alsoRemove {
		upd = upd.Remove(nameOf(attr))
	}
	return upd, nil
}

// UpdateProfile writes p's fields over the stored profile only if the
// stored version is still expectVersion and no gated edit is pending: a
// direct edit never overtakes (or makes stale) an edit awaiting a decision.
// p.Version must already be expectVersion+1.
func (st *Store) UpdateProfile(ctx context.Context, p *domain.Profile, expectVersion int64, audit *domain.AuditEvent) error {
	upd, err := profileFields(p)
	if err != nil {
		return err
	}
	var t txn
	t.add(st.txUpdate(profileKey(p.ID), upd,
		exists(), equals(attrVersion, n(expectVersion)), nameOf(attrPendingEditID).AttributeNotExists()))
	err = st.commitTxn(ctx, &t, audit)
	if errors.Is(err, workflow.ErrChanged) {
		cur, getErr := st.GetProfile(ctx, p.ID)
		switch {
		case getErr != nil:
			return getErr
		case cur.PendingEditID != "":
			return domain.Conflictf("profile %q has a pending edit (approval %s); it must be decided first", p.ID, cur.PendingEditID)
		}
		return domain.Conflictf("profile %q changed concurrently (expected version %d); re-read and retry", p.ID, expectVersion)
	}
	return err
}

// RequestProfileEdit stores a profile_edit request and marks the profile as
// having it pending, only if the profile is still at the request's base
// version and has no other pending edit: one pending edit per profile. A
// request to create a profile marks nothing: the profile does not exist.
func (st *Store) RequestProfileEdit(ctx context.Context, a *domain.Approval, audit *domain.AuditEvent) error {
	rec, err := approvalItemOf(a)
	if err != nil {
		return err
	}
	apItem, err := marshalItem(rec)
	if err != nil {
		return err
	}
	var t txn
	t.add(st.putNew(apItem))
	t.add(st.pendingCount(a.ProfileID, 1))
	if a.ProfileEdit.Create {
		t.add(st.txCheck(profileKey(a.ProfileID), isNew()))
	} else {
		t.add(st.txUpdate(profileKey(a.ProfileID), expression.Set(nameOf(attrPendingEditID), valueOf(s(a.ID))),
			equals(attrVersion, n(a.ProfileEdit.BaseVersion)), nameOf(attrPendingEditID).AttributeNotExists()))
	}
	err = st.commitTxn(ctx, &t, audit)
	if errors.Is(err, workflow.ErrChanged) {
		cur, getErr := st.GetProfile(ctx, a.ProfileID)
		switch {
		case a.ProfileEdit.Create && getErr == nil:
			return domain.Conflictf("profile %q already exists", a.ProfileID)
		case getErr != nil:
			return getErr
		case cur.PendingEditID != "":
			return domain.Conflictf("profile %q already has a pending edit: approval %s", cur.ID, cur.PendingEditID)
		default:
			return domain.Conflictf("profile %q changed concurrently (now version %d); re-read and retry", cur.ID, cur.Version)
		}
	}
	return err
}

// profileUnused is the condition that no certificate uses the profile.
func profileUnused() expression.ConditionBuilder {
	return or(nameOf(attrCertificateCount).AttributeNotExists(), equals(attrCertificateCount, n(0)))
}

// DeleteProfile deletes a profile still at version, with no pending edit and
// no certificate, and the governance step that drops what it governed.
func (st *Store) DeleteProfile(ctx context.Context, p *domain.Profile, gov *domain.GovernanceChange, audit *domain.AuditEvent) error {
	var t txn
	t.add(st.txDelete(profileKey(p.ID), equals(attrVersion, n(p.Version)), nameOf(attrPendingEditID).AttributeNotExists(), profileUnused()))
	t.addAll(st.governanceItems(gov))
	err := st.commitTxn(ctx, &t, audit)
	if errors.Is(err, workflow.ErrChanged) {
		cur, getErr := st.GetProfile(ctx, p.ID)
		if getErr == nil && cur.CertificateCount > 0 {
			return domain.Conflictf("profile %q is used by %d certificates; move or archive them first", p.ID, cur.CertificateCount)
		}
		return domain.Conflictf("profile %q changed or has a pending edit; re-read and retry", p.ID)
	}
	return err
}

// GetProfile reads one profile.
func (st *Store) GetProfile(ctx context.Context, id string) (*domain.Profile, error) {
	item, err := st.get(ctx, profileKey(id), "profile "+id)
	if err != nil {
		return nil, err
	}
	return decode(item, (*profileItem).toDomain)
}

// ListProfiles lists profiles, newest first.
func (st *Store) ListProfiles(ctx context.Context, page domain.PageRequest) ([]*domain.Profile, string, error) {
	return queryAs(ctx, st, st.listQuery(tagProfile), page, decoder((*profileItem).toDomain))
}

// profileUnchanged is a transaction item asserting the profile still has the
// version that a decision was based on.
func (st *Store) profileUnchanged(id string, version int64) (types.TransactWriteItem, error) {
	return st.txCheck(profileKey(id), equals(attrVersion, n(version)))
}

// profileGainsCertificate counts a new certificate on the profile, only if
// the profile is still at the version its gate was read from. A delete
// that would orphan the certificate then fails its own condition.
func (st *Store) profileGainsCertificate(id string, version int64) (types.TransactWriteItem, error) {
	return st.txUpdate(profileKey(id), expression.Add(nameOf(attrCertificateCount), valueOf(n(1))), equals(attrVersion, n(version)))
}
