package store

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/apikey"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

func apiKeyKey(hash string) map[string]types.AttributeValue { return key("APIKEY#"+hash, "APIKEY") }

func principalKey(id string) map[string]types.AttributeValue {
	return key("PRINCIPAL#"+id, "PRINCIPAL")
}

func apiKeyIDKey(id string) map[string]types.AttributeValue { return key("APIKEYID#"+id, "APIKEYID") }

func isAdmin(p *domain.Principal) bool {
	return p != nil && slices.Contains(p.Roles, domain.RoleAdmin)
}

func adminsKey() map[string]types.AttributeValue { return key("ADMINS", "ADMINS") }

// principalWrite is the transaction items of a role change.
func (st *Store) principalWrite(c *apikey.PrincipalChange) ([]types.TransactWriteItem, error) {
	item, err := marshal(c.Next)
	if err != nil {
		return nil, err
	}
	for name, v := range principalKey(c.Next.ID) {
		item[name] = v
	}
	listKeys(item, "PRINCIPAL", c.Next.UpdatedAt, c.Next.ID)
	put := &types.Put{TableName: aws.String(st.stateTable), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}
	if c.Prev != nil {
		put.ConditionExpression = aws.String("updated_at = :prev")
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":prev": s(c.Prev.UpdatedAt.UTC().Format(time.RFC3339Nano))}
	}
	items := []types.TransactWriteItem{{Put: put}}
	switch was, is := isAdmin(c.Prev), isAdmin(c.Next); {
	case was && !is:
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName: aws.String(st.stateTable), Key: adminsKey(),
			UpdateExpression:          aws.String("ADD #count :minus"),
			ConditionExpression:       aws.String("#count > :one"),
			ExpressionAttributeNames:  map[string]string{"#count": "count"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":minus": n(-1), ":one": n(1)},
		}})
	case !was && is:
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName: aws.String(st.stateTable), Key: adminsKey(),
			UpdateExpression:          aws.String("ADD #count :one"),
			ExpressionAttributeNames:  map[string]string{"#count": "count"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1)},
		}})
	}
	return items, nil
}

// principalRefused says why a role change did not apply.
func (st *Store) principalRefused(ctx context.Context, c *apikey.PrincipalChange) error {
	cur, err := st.GetPrincipal(ctx, c.Next.ID)
	switch {
	case err != nil && !errors.Is(err, domain.ErrNotFound):
		return err
	case err == nil && c.Prev != nil && cur.UpdatedAt.Equal(c.Prev.UpdatedAt) && isAdmin(c.Prev) && !isAdmin(c.Next):
		// Unchanged, so the admin count refused: this is the last admin.
		return domain.Conflictf("%s is the last admin: grant admin to another principal first", c.Next.ID)
	}
	return domain.Conflictf("the roles of %s changed concurrently; re-read and retry", c.Next.ID)
}

// PutAPIKey stores a new key, and when roles is set, the principal's new
// role set, with the audit rows, in one transaction. The key is stored
// twice: under its hash (what the authorizer looks up) and under its id
// (what revocation names), each write conditional on being new.
func (st *Store) PutAPIKey(ctx context.Context, k *apikey.Key, roles *apikey.PrincipalChange, audits ...*domain.AuditEvent) error {
	keyItem, err := marshal(k)
	if err != nil {
		return err
	}
	for name, v := range apiKeyKey(k.Hash) {
		keyItem[name] = v
	}
	listKeys(keyItem, "APIKEY", k.CreatedAt, k.ID)
	idItem := apiKeyIDKey(k.ID)
	idItem["hash"] = s(k.Hash)
	items := []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(st.stateTable), Item: keyItem, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		{Put: &types.Put{TableName: aws.String(st.stateTable), Item: idItem, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	}
	if roles != nil {
		pw, err := st.principalWrite(roles)
		if err != nil {
			return err
		}
		items = append(items, pw...)
	}
	err = st.commit(ctx, items, audits...)
	if errors.Is(err, workflow.ErrChanged) && roles != nil {
		return st.principalRefused(ctx, roles)
	}
	return err
}

// GetAPIKey looks a key up by the SHA-256 of its secret.
func (st *Store) GetAPIKey(ctx context.Context, hash string) (*apikey.Key, error) {
	item, err := st.get(ctx, "APIKEY#"+hash, "APIKEY", "api key")
	if err != nil {
		return nil, err
	}
	var k apikey.Key
	return &k, unmarshal(item, &k)
}

// GetPrincipal reads a principal's roles.
func (st *Store) GetPrincipal(ctx context.Context, id string) (*domain.Principal, error) {
	item, err := st.get(ctx, "PRINCIPAL#"+id, "PRINCIPAL", "principal "+id)
	if err != nil {
		return nil, err
	}
	var p domain.Principal
	return &p, unmarshal(item, &p)
}

// GetAPIKeyByID reads a key by its id.
func (st *Store) GetAPIKeyByID(ctx context.Context, id string) (*apikey.Key, error) {
	item, err := st.get(ctx, "APIKEYID#"+id, "APIKEYID", "api key "+id)
	if err != nil {
		return nil, err
	}
	return st.GetAPIKey(ctx, str(item, "hash"))
}

// RevokeAPIKey marks a key revoked; the authorizer refuses it from then on.
func (st *Store) RevokeAPIKey(ctx context.Context, k *apikey.Key, at time.Time, audit *domain.AuditEvent) error {
	err := st.commit(ctx, []types.TransactWriteItem{{Update: &types.Update{
		TableName:                 aws.String(st.stateTable),
		Key:                       apiKeyKey(k.Hash),
		UpdateExpression:          aws.String("SET revoked_at = :at"),
		ConditionExpression:       aws.String("attribute_exists(pk) AND attribute_not_exists(revoked_at)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":at": s(at.UTC().Format(time.RFC3339Nano))},
	}}}, audit)
	if errors.Is(err, workflow.ErrChanged) {
		return domain.Conflictf("api key %s is already revoked", k.ID)
	}
	return err
}

// ListAPIKeys lists keys newest first, optionally of one principal.
func (st *Store) ListAPIKeys(ctx context.Context, principal string, page domain.PageRequest) ([]*apikey.Key, string, error) {
	in := st.listQuery("APIKEY")
	filter(in, map[string]string{"principal": principal})
	return queryAs(ctx, st, in, page, as[apikey.Key])
}

// PutPrincipal replaces a principal's role set, with its audit row.
func (st *Store) PutPrincipal(ctx context.Context, c *apikey.PrincipalChange, audit *domain.AuditEvent) error {
	items, err := st.principalWrite(c)
	if err != nil {
		return err
	}
	err = st.commit(ctx, items, audit)
	if errors.Is(err, workflow.ErrChanged) {
		return st.principalRefused(ctx, c)
	}
	return err
}
