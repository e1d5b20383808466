package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
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
)

func governanceKey() map[string]types.AttributeValue { return key(governancePK, governancePK) }

func markerKey(p domain.NamePattern) map[string]types.AttributeValue {
	return key(markerPrefix+string(p), "GOV")
}

// ReadGovernance reads the governance version, then which of patterns are
// governed (strongly consistent). Reading the version first makes a check
// of it at write time cover the markers read after it.
func (st *Store) ReadGovernance(ctx context.Context, patterns []domain.NamePattern) (*workflow.Governance, error) {
	g := &workflow.Governance{Governed: map[domain.NamePattern]bool{}}
	item, err := st.get(ctx, governancePK, governancePK, "governance")
	switch {
	case errors.Is(err, domain.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		g.Version = num(item, "version")
	}
	patterns = slices.Compact(slices.Sorted(slices.Values(patterns)))
	for len(patterns) > 0 {
		batch := patterns[:min(len(patterns), 100)]
		patterns = patterns[len(batch):]
		keys := make([]map[string]types.AttributeValue, len(batch))
		for i, p := range batch {
			keys[i] = markerKey(p)
		}
		for len(keys) > 0 {
			out, err := st.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
				st.stateTable: {Keys: keys, ConsistentRead: aws.Bool(true)},
			}})
			if err != nil {
				return nil, transient(fmt.Errorf("store: read governance: %w", err))
			}
			for _, it := range out.Responses[st.stateTable] {
				if num(it, "count") > 0 {
					g.Governed[domain.NamePattern(str(it, "pattern"))] = true
				}
			}
			keys = out.UnprocessedKeys[st.stateTable].Keys
		}
	}
	return g, nil
}

// governanceUnchanged asserts that governance is still at version.
func (st *Store) governanceUnchanged(version int64) types.TransactWriteItem {
	cc := &types.ConditionCheck{TableName: aws.String(st.stateTable), Key: governanceKey()}
	if version == 0 {
		cc.ConditionExpression = aws.String("attribute_not_exists(pk) OR version = :v")
	} else {
		cc.ConditionExpression = aws.String("version = :v")
	}
	cc.ExpressionAttributeValues = map[string]types.AttributeValue{":v": n(version)}
	return types.TransactWriteItem{ConditionCheck: cc}
}

// governanceItems is the transaction items of one governance step: the
// markers it adds and removes, and the version, which moves only from the
// version the step was computed from, so governance steps are sequenced
// and each is recorded with its number.
func (st *Store) governanceItems(c *domain.GovernanceChange) []types.TransactWriteItem {
	if c == nil {
		return nil
	}
	var items []types.TransactWriteItem
	adjust := func(p domain.NamePattern, by int64) {
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName:                 aws.String(st.stateTable),
			Key:                       markerKey(p),
			UpdateExpression:          aws.String("ADD #count :by SET pattern = :p"),
			ExpressionAttributeNames:  map[string]string{"#count": "count"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":by": n(by), ":p": s(string(p))},
		}})
	}
	for _, p := range c.Added {
		adjust(p, 1)
	}
	for _, p := range c.Removed {
		adjust(p, -1)
	}
	version := &types.Update{
		TableName:                 aws.String(st.stateTable),
		Key:                       governanceKey(),
		UpdateExpression:          aws.String("SET version = :next"),
		ConditionExpression:       aws.String("version = :from"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":next": n(c.Version), ":from": n(c.Version - 1)},
	}
	if c.Version == 1 {
		version.ConditionExpression = aws.String("attribute_not_exists(pk)")
		delete(version.ExpressionAttributeValues, ":from")
	}
	return append(items, types.TransactWriteItem{Update: version})
}

// CreateProfile inserts a new profile, the governance step it makes (if
// any) and its audit row. workflow.ErrChanged means the profile exists or
// governance moved on: the caller re-reads.
func (st *Store) CreateProfile(ctx context.Context, p *domain.Profile, gov *domain.GovernanceChange, audit *domain.AuditEvent) error {
	create, err := st.profileCreate(p)
	if err != nil {
		return err
	}
	return st.commit(ctx, append([]types.TransactWriteItem{create}, st.governanceItems(gov)...), audit)
}

func (st *Store) profileCreate(p *domain.Profile) (types.TransactWriteItem, error) {
	item, err := profileItem(p)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(st.stateTable), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)"),
	}}, nil
}

// profileFields is the update expression that writes p's editable fields,
// its version and its update time over a stored profile, keeping what the
// profile's edits do not own (its certificate count, who created it).
// alsoRemove names more attributes to remove: an update expression may
// have one REMOVE section only.
func profileFields(p *domain.Profile, alsoRemove ...string) (string, map[string]string, map[string]types.AttributeValue, error) {
	item, err := marshal(p)
	if err != nil {
		return "", nil, nil, err
	}
	names := map[string]string{}
	values := map[string]types.AttributeValue{}
	set, remove := "", ""
	for i, field := range []string{"name", "requires_approval", "allowed_names", "allowed_key_algorithms",
		"max_validity_seconds", "renew_before_seconds", "issuer_id", "approvers", "version", "updated_at"} {
		name := "#f" + strconv.Itoa(i)
		names[name] = field
		v, ok := item[field]
		if !ok {
			remove += ", " + name
			continue
		}
		values[":f"+strconv.Itoa(i)] = v
		set += ", " + name + " = :f" + strconv.Itoa(i)
	}
	for _, attr := range alsoRemove {
		remove += ", " + attr
	}
	expr := "SET " + set[2:]
	if remove != "" {
		expr += " REMOVE " + remove[2:]
	}
	return expr, names, values, nil
}

// UpdateProfile writes p's fields over the stored profile only if the
// stored version is still expectVersion and no gated edit is pending: a
// direct edit never overtakes (or makes stale) an edit awaiting a decision.
// p.Version must already be expectVersion+1.
func (st *Store) UpdateProfile(ctx context.Context, p *domain.Profile, expectVersion int64, audit *domain.AuditEvent) error {
	expr, names, values, err := profileFields(p)
	if err != nil {
		return err
	}
	values[":base"] = n(expectVersion)
	names["#ver"] = "version"
	err = st.commit(ctx, []types.TransactWriteItem{{Update: &types.Update{
		TableName:                 aws.String(st.stateTable),
		Key:                       profileKey(p.ID),
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String("attribute_exists(pk) AND #ver = :base AND attribute_not_exists(pending_edit_approval_id)"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}}}, audit)
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
	apItem, err := approvalItem(a)
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(st.stateTable), Item: apItem, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	}
	if a.ProfileEdit.Create {
		items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName: aws.String(st.stateTable), Key: profileKey(a.ProfileID), ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}})
	} else {
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName:           aws.String(st.stateTable),
			Key:                 profileKey(a.ProfileID),
			UpdateExpression:    aws.String("SET pending_edit_approval_id = :aid"),
			ConditionExpression: aws.String("version = :base AND attribute_not_exists(pending_edit_approval_id)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":aid": s(a.ID), ":base": n(a.ProfileEdit.BaseVersion),
			},
		}})
	}
	err = st.commit(ctx, items, audit)
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
const profileUnused = "(attribute_not_exists(certificate_count) OR certificate_count = :zero)"

// DeleteProfile deletes a profile still at version, with no pending edit and
// no certificate, and the governance step that drops what it governed.
func (st *Store) DeleteProfile(ctx context.Context, p *domain.Profile, gov *domain.GovernanceChange, audit *domain.AuditEvent) error {
	items := []types.TransactWriteItem{{Delete: &types.Delete{
		TableName:                 aws.String(st.stateTable),
		Key:                       profileKey(p.ID),
		ConditionExpression:       aws.String("version = :v AND attribute_not_exists(pending_edit_approval_id) AND " + profileUnused),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": n(p.Version), ":zero": n(0)},
	}}}
	err := st.commit(ctx, append(items, st.governanceItems(gov)...), audit)
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
	item, err := st.get(ctx, "PROFILE#"+id, "PROFILE", "profile "+id)
	if err != nil {
		return nil, err
	}
	var p domain.Profile
	return &p, unmarshal(item, &p)
}

// ListProfiles lists profiles, newest first.
func (st *Store) ListProfiles(ctx context.Context, page domain.PageRequest) ([]*domain.Profile, string, error) {
	return queryAs(ctx, st, st.listQuery("PROFILE"), page, as[domain.Profile])
}

// profileUnchanged is a transaction item asserting the profile still has the
// version that a decision was based on.
func (st *Store) profileUnchanged(id string, version int64) types.TransactWriteItem {
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName:                 aws.String(st.stateTable),
		Key:                       profileKey(id),
		ConditionExpression:       aws.String("version = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": n(version)},
	}}
}

// profileGainsCertificate counts a new certificate on the profile, only if
// the profile is still at the version its gate was read from. A delete
// that would orphan the certificate then fails its own condition.
func (st *Store) profileGainsCertificate(id string, version int64) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                 aws.String(st.stateTable),
		Key:                       profileKey(id),
		UpdateExpression:          aws.String("ADD certificate_count :one"),
		ConditionExpression:       aws.String("version = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": n(version), ":one": n(1)},
	}}
}
