package store

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// CreateProfile inserts a new profile and its audit row.
func (st *Store) CreateProfile(ctx context.Context, p *domain.Profile, audit *domain.AuditEvent) error {
	item, err := profileItem(p)
	if err != nil {
		return err
	}
	err = st.commit(ctx, []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(st.stateTable), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	}, audit)
	if errors.Is(err, ErrConditionFailed) {
		return domain.Conflictf("profile %q already exists", p.ID)
	}
	return err
}

// ReplaceProfile writes p over the stored profile only if the stored version
// is still expectVersion, so concurrent edits cannot silently overwrite each
// other. p.Version must already be expectVersion+1.
func (st *Store) ReplaceProfile(ctx context.Context, p *domain.Profile, expectVersion int64, audit *domain.AuditEvent) error {
	item, err := profileItem(p)
	if err != nil {
		return err
	}
	err = st.commit(ctx, []types.TransactWriteItem{
		{Put: &types.Put{
			TableName:                 aws.String(st.stateTable),
			Item:                      item,
			ConditionExpression:       aws.String("attribute_exists(pk) AND version = :v"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": n(expectVersion)},
		}},
	}, audit)
	if errors.Is(err, ErrConditionFailed) {
		return domain.Conflictf("profile %q changed concurrently (expected version %d); re-read and retry", p.ID, expectVersion)
	}
	return err
}

// RequestProfileEdit stores a profile_edit request and marks the profile as
// having it pending, only if the profile is still at the request's base
// version and has no other pending edit: one pending edit per profile.
func (st *Store) RequestProfileEdit(ctx context.Context, a *domain.Approval, audit *domain.AuditEvent) error {
	apItem, err := approvalItem(a)
	if err != nil {
		return err
	}
	err = st.commit(ctx, []types.TransactWriteItem{
		{Update: &types.Update{
			TableName:           aws.String(st.stateTable),
			Key:                 profileKey(a.ProfileID),
			UpdateExpression:    aws.String("SET pending_edit_approval_id = :aid"),
			ConditionExpression: aws.String("version = :base AND attribute_not_exists(pending_edit_approval_id)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":aid": s(a.ID), ":base": n(a.ProfileEdit.BaseVersion),
			},
		}},
		{Put: &types.Put{TableName: aws.String(st.stateTable), Item: apItem, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	}, audit)
	if errors.Is(err, ErrConditionFailed) {
		cur, getErr := st.GetProfile(ctx, a.ProfileID)
		switch {
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

// DeleteProfile deletes an idle profile still at version.
func (st *Store) DeleteProfile(ctx context.Context, id string, version int64, audit *domain.AuditEvent) error {
	err := st.commit(ctx, []types.TransactWriteItem{
		{Delete: &types.Delete{
			TableName:                 aws.String(st.stateTable),
			Key:                       profileKey(id),
			ConditionExpression:       aws.String("version = :v AND attribute_not_exists(pending_edit_approval_id)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": n(version)},
		}},
	}, audit)
	if errors.Is(err, ErrConditionFailed) {
		return domain.Conflictf("profile %q changed or has a pending edit; re-read and retry", id)
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
func (st *Store) ListProfiles(ctx context.Context, page PageRequest) ([]*domain.Profile, string, error) {
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
