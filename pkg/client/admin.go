package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

const (
	pathMetrics    = apiPrefix + "/metrics"
	pathAudit      = apiPrefix + "/audit"
	pathAPIKeys    = apiPrefix + "/apikeys"
	pathPrincipals = apiPrefix + "/principals"
)

// Metrics returns the Prometheus text exposition as served.
func (c *Client) Metrics(ctx context.Context) (string, error) {
	_, body, err := c.send(ctx, http.MethodGet, pathMetrics, nil, nil)
	return string(body), err
}

// ListAudit reads one page of the audit trail, newest first.
func (c *Client) ListAudit(ctx context.Context, f AuditFilter, p PageRequest) ([]domain.AuditEvent, string, error) {
	q := filter("actor", f.Actor, "action", f.Action, "resource_id", f.ResourceID,
		"since", rfc3339(f.Since), "until", rfc3339(f.Until))
	return getList[domain.AuditEvent](ctx, c, pathAudit, q, p)
}

// AllAudit reads every audit row matching f. Without an actor, action or
// resource the server covers at most the 90 days before Until.
func (c *Client) AllAudit(ctx context.Context, f AuditFilter) ([]domain.AuditEvent, error) {
	return all(ctx, func(ctx context.Context, p PageRequest) ([]domain.AuditEvent, string, error) {
		return c.ListAudit(ctx, f, p)
	})
}

// CreateAPIKey creates a key (admin; or a key for oneself). The secret is
// in the answer and nowhere else.
func (c *Client) CreateAPIKey(ctx context.Context, in domain.APIKeyRequest) (*domain.NewAPIKey, error) {
	var k domain.NewAPIKey
	if _, err := c.do(ctx, http.MethodPost, pathAPIKeys, nil, in, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// ListAPIKeys reads one page of keys; principal "" means every key the
// caller may see (non-admins see only their own).
func (c *Client) ListAPIKeys(ctx context.Context, principal string, p PageRequest) ([]domain.APIKey, string, error) {
	return getList[domain.APIKey](ctx, c, pathAPIKeys, filter("principal", principal), p)
}

// AllAPIKeys reads every key the caller may see, of principal if set.
func (c *Client) AllAPIKeys(ctx context.Context, principal string) ([]domain.APIKey, error) {
	return all(ctx, func(ctx context.Context, p PageRequest) ([]domain.APIKey, string, error) {
		return c.ListAPIKeys(ctx, principal, p)
	})
}

// RevokeAPIKey revokes a key at once (API Gateway may honour it from its
// authorizer cache for up to 30 seconds more).
func (c *Client) RevokeAPIKey(ctx context.Context, id string) (*domain.APIKey, error) {
	var k domain.APIKey
	if _, err := c.do(ctx, http.MethodDelete, pathAPIKeys+"/"+escape(id), nil, nil, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// SetRoles replaces a principal's roles (admin).
func (c *Client) SetRoles(ctx context.Context, principal string, roles []domain.Role) (*domain.Principal, error) {
	if roles == nil {
		roles = []domain.Role{} // "no roles" is an explicit empty list
	}
	var p domain.Principal
	body := map[string][]domain.Role{"roles": roles}
	if _, err := c.do(ctx, http.MethodPut, pathPrincipals+"/"+escape(principal), nil, body, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// decodeRaw decodes an answer held back until its status was known.
func decodeRaw(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return fmt.Errorf("client: the answer has no body")
	}
	return json.Unmarshal(raw, v)
}
