package store

import (
	"context"
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

// Principal is an identity and the roles it holds.
type Principal struct {
	ID        string        `json:"id"`
	Roles     []domain.Role `json:"roles"`
	UpdatedAt time.Time     `json:"updated_at"`
}

func apiKeyKey(hash string) map[string]types.AttributeValue { return key("APIKEY#"+hash, "APIKEY") }

func principalKey(id string) map[string]types.AttributeValue {
	return key("PRINCIPAL#"+id, "PRINCIPAL")
}

// PutAPIKey stores a new key for p, creating or replacing p's role set, with
// the audit rows, in one transaction.
func (st *Store) PutAPIKey(ctx context.Context, k *APIKey, p *Principal, audits ...*domain.AuditEvent) error {
	keyItem, err := marshal(k)
	if err != nil {
		return err
	}
	for name, v := range apiKeyKey(k.Hash) {
		keyItem[name] = v
	}
	listKeys(keyItem, "APIKEY", k.CreatedAt, k.ID)
	items := []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(st.stateTable), Item: keyItem, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
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
	for _, ev := range audits {
		a, err := st.auditPut(ev)
		if err != nil {
			return err
		}
		items = append(items, a)
	}
	return st.transact(ctx, items)
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
func (st *Store) GetPrincipal(ctx context.Context, id string) (*Principal, error) {
	item, err := st.get(ctx, "PRINCIPAL#"+id, "PRINCIPAL", "principal "+id)
	if err != nil {
		return nil, err
	}
	var p Principal
	return &p, unmarshal(item, &p)
}
