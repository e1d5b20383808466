package store

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// APIKey is a stored API key. Only the SHA-256 of the secret is kept.
type APIKey struct {
	ID        string     `json:"id"`
	Hash      string     `json:"hash"`
	Prefix    string     `json:"prefix"`
	Principal string     `json:"principal"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

func apiKeyKey(hash string) map[string]types.AttributeValue { return key("APIKEY#"+hash, "APIKEY") }

func principalKey(id string) map[string]types.AttributeValue {
	return key("PRINCIPAL#"+id, "PRINCIPAL")
}

func apiKeyIDKey(id string) map[string]types.AttributeValue { return key("APIKEYID#"+id, "APIKEYID") }

// PutAPIKey stores a new key for p, creating or replacing p's role set, with
// the audit rows, in one transaction. The key is stored twice: under its
// hash (what the authorizer looks up) and under its id (what revocation
// names), each write conditional on being new.
func (st *Store) PutAPIKey(ctx context.Context, k *APIKey, p *domain.Principal, audits ...*domain.AuditEvent) error {
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
	if p != nil {
		pItem, err := marshal(p)
		if err != nil {
			return err
		}
		for name, v := range principalKey(p.ID) {
			pItem[name] = v
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(st.stateTable), Item: pItem}})
	}
	return st.commit(ctx, items, audits...)
}

// GetAPIKey looks a key up by the SHA-256 of its secret.
func (st *Store) GetAPIKey(ctx context.Context, hash string) (*APIKey, error) {
	item, err := st.get(ctx, "APIKEY#"+hash, "APIKEY", "api key")
	if err != nil {
		return nil, err
	}
	var k APIKey
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
func (st *Store) GetAPIKeyByID(ctx context.Context, id string) (*APIKey, error) {
	item, err := st.get(ctx, "APIKEYID#"+id, "APIKEYID", "api key "+id)
	if err != nil {
		return nil, err
	}
	return st.GetAPIKey(ctx, str(item, "hash"))
}

// RevokeAPIKey marks a key revoked; the authorizer refuses it from then on.
func (st *Store) RevokeAPIKey(ctx context.Context, k *APIKey, at time.Time, audit *domain.AuditEvent) error {
	err := st.commit(ctx, []types.TransactWriteItem{{Update: &types.Update{
		TableName:                 aws.String(st.stateTable),
		Key:                       apiKeyKey(k.Hash),
		UpdateExpression:          aws.String("SET revoked_at = :at"),
		ConditionExpression:       aws.String("attribute_exists(pk) AND attribute_not_exists(revoked_at)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":at": s(at.UTC().Format(time.RFC3339Nano))},
	}}}, audit)
	if errors.Is(err, ErrConditionFailed) {
		return domain.Conflictf("api key %s is already revoked", k.ID)
	}
	return err
}

// ListAPIKeys lists keys newest first, optionally of one principal.
func (st *Store) ListAPIKeys(ctx context.Context, principal string, page PageRequest) ([]*APIKey, string, error) {
	in := st.listQuery("APIKEY")
	filter(in, map[string]string{"principal": principal})
	return queryAs(ctx, st, in, page, as[APIKey])
}

// PutPrincipal replaces a principal's role set, with its audit row.
func (st *Store) PutPrincipal(ctx context.Context, p *domain.Principal, audit *domain.AuditEvent) error {
	item, err := marshal(p)
	if err != nil {
		return err
	}
	for name, v := range principalKey(p.ID) {
		item[name] = v
	}
	listKeys(item, "PRINCIPAL", p.UpdatedAt, p.ID)
	return st.commit(ctx, []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(st.stateTable), Item: item}},
	}, audit)
}
