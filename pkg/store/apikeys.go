package store

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/apikey"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

func isAdmin(p *domain.Principal) bool {
	return p != nil && slices.Contains(p.Roles, domain.RoleAdmin)
}

// principalWrite is the transaction items of a role change.
func (st *Store) principalWrite(c *apikey.PrincipalChange) ([]types.TransactWriteItem, error) {
	item, err := marshalItem(principalItemOf(c.Next))
	if err != nil {
		return nil, err
	}
	var t txn
	if c.Prev != nil {
		t.add(txPut(st.stateTable, item, equals(attrUpdatedAt, s(stamp(c.Prev.UpdatedAt)))))
	} else {
		t.add(st.putNew(item))
	}
	switch was, is := isAdmin(c.Prev), isAdmin(c.Next); {
	case was && !is:
		t.add(st.txUpdate(adminsKey(), expression.Add(nameOf(attrCount), valueOf(n(-1))), nameOf(attrCount).GreaterThan(valueOf(n(1)))))
	case !was && is:
		t.add(st.txUpdate(adminsKey(), expression.Add(nameOf(attrCount), valueOf(n(1)))))
	}
	return t.items, t.err
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
	keyItem, err := marshalItem(apiKeyItemOf(k))
	if err != nil {
		return err
	}
	idItem, err := marshalItem(apiKeyIDItemOf(k))
	if err != nil {
		return err
	}
	var t txn
	t.add(st.putNew(keyItem))
	t.add(st.putNew(idItem))
	if roles != nil {
		t.addAll(st.principalWrite(roles))
	}
	err = st.commitTxn(ctx, &t, audits...)
	if errors.Is(err, workflow.ErrChanged) && roles != nil {
		return st.principalRefused(ctx, roles)
	}
	return err
}

// GetAPIKey looks a key up by the SHA-256 of its secret.
func (st *Store) GetAPIKey(ctx context.Context, hash string) (*apikey.Key, error) {
	item, err := st.get(ctx, apiKeyKey(hash), "api key")
	if err != nil {
		return nil, err
	}
	return decode(item, (*apiKeyItem).toDomain)
}

// GetPrincipal reads a principal's roles.
func (st *Store) GetPrincipal(ctx context.Context, id string) (*domain.Principal, error) {
	item, err := st.get(ctx, principalKey(id), "principal "+id)
	if err != nil {
		return nil, err
	}
	return decode(item, (*principalItem).toDomain)
}

// GetAPIKeyByID reads a key by its id.
func (st *Store) GetAPIKeyByID(ctx context.Context, id string) (*apikey.Key, error) {
	item, err := st.get(ctx, apiKeyIDKey(id), "api key "+id)
	if err != nil {
		return nil, err
	}
	hash, err := decode(item, (*apiKeyIDItem).hash)
	if err != nil {
		return nil, err
	}
	return st.GetAPIKey(ctx, hash)
}

// RevokeAPIKey marks a key revoked; the authorizer refuses it from then on.
func (st *Store) RevokeAPIKey(ctx context.Context, k *apikey.Key, at time.Time, audit *domain.AuditEvent) error {
	var t txn
	t.add(st.txUpdate(apiKeyKey(k.Hash), expression.Set(nameOf(attrRevokedAt), valueOf(s(stamp(at)))),
		exists(), nameOf(attrRevokedAt).AttributeNotExists()))
	err := st.commitTxn(ctx, &t, audit)
	if errors.Is(err, workflow.ErrChanged) {
		return domain.Conflictf("api key %s is already revoked", k.ID)
	}
	return err
}

// ListAPIKeys lists keys newest first, optionally of one principal.
func (st *Store) ListAPIKeys(ctx context.Context, principal string, page domain.PageRequest) ([]*apikey.Key, string, error) {
	q := st.listQuery(tagAPIKey)
	q.filter = eqFilters(map[string]string{attrPrincipal: principal})
	return queryAs(ctx, st, q, page, decoder((*apiKeyItem).toDomain))
}

// PutPrincipal replaces a principal's role set, with its audit row.
func (st *Store) PutPrincipal(ctx context.Context, c *apikey.PrincipalChange, audit *domain.AuditEvent) error {
	var t txn
	t.addAll(st.principalWrite(c))
	err := st.commitTxn(ctx, &t, audit)
	if errors.Is(err, workflow.ErrChanged) {
		return st.principalRefused(ctx, c)
	}
	return err
}
