// Package apikey creates, hashes and verifies API keys, and its Manager
// holds the rules for managing keys and principals' roles (no one grants a
// role they lack; system names are reserved). Secrets are shown once; only
// their SHA-256 is stored.
package apikey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// secretPrefix marks certctl keys so secret scanners can recognise them.
const secretPrefix = "cck_"

// MaxLen bounds what the authorizer will hash; real keys are 47 characters.
const MaxLen = 128

// Generate returns a new random secret (256 bits of entropy).
func Generate() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("apikey: random: %w", err)
	}
	return secretPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// Hash is the lookup key of a secret: lower-case hex SHA-256.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Prefix is the part of a secret safe to show for recognition.
func Prefix(secret string) string {
	if len(secret) < len(secretPrefix)+6 {
		return secretPrefix
	}
	return secret[:len(secretPrefix)+6]
}

// Errors returned by Verify. All of them mean 401 to the caller.
var (
	ErrMalformed = errors.New("apikey: malformed key")
	ErrUnknown   = errors.New("apikey: unknown key")
	ErrRevoked   = errors.New("apikey: revoked key")
	ErrExpired   = errors.New("apikey: expired key")
)

// Lookup is what Verify needs from the store.
type Lookup interface {
	GetAPIKey(ctx context.Context, hash string) (*Key, error)
	GetPrincipal(ctx context.Context, id string) (*domain.Principal, error)
}

// Verify resolves a presented secret to its principal and roles.
func Verify(ctx context.Context, db Lookup, secret string, now time.Time) (domain.Actor, error) {
	if secret == "" || len(secret) > MaxLen || !strings.HasPrefix(secret, secretPrefix) {
		return domain.Actor{}, ErrMalformed
	}
	hash := Hash(secret)
	k, err := db.GetAPIKey(ctx, hash)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.Actor{}, ErrUnknown
	}
	if err != nil {
		return domain.Actor{}, fmt.Errorf("apikey: lookup: %w", err)
	}
	// The lookup is by hash already; comparing in constant time as well keeps
	// a misbehaving store or index from turning into a timing oracle.
	if subtle.ConstantTimeCompare([]byte(k.Hash), []byte(hash)) != 1 {
		return domain.Actor{}, ErrUnknown
	}
	if k.RevokedAt != nil {
		return domain.Actor{}, ErrRevoked
	}
	if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		return domain.Actor{}, ErrExpired
	}
	p, err := db.GetPrincipal(ctx, k.Principal)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.Actor{ID: k.Principal, Type: domain.ActorUser}, nil
	}
	if err != nil {
		return domain.Actor{}, fmt.Errorf("apikey: principal: %w", err)
	}
	return domain.Actor{ID: p.ID, Type: domain.ActorUser, Roles: p.Roles}, nil
}

// Bootstrap creates a key for principal with exactly roles, writing the
// hashed key straight to the state table. It is for whoever holds AWS
// credentials for the stack (first admin, local demo): there is no API path
// to it and no default key.
func Bootstrap(ctx context.Context, st Store, principal string, roles []domain.Role) (string, error) {
	if err := ValidatePrincipal(principal); err != nil {
		return "", err
	}
	if len(roles) == 0 {
		return "", domain.Invalidf("at least one role is required")
	}
	prev, err := st.GetPrincipal(ctx, principal)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		prev = nil
	case err != nil:
		return "", fmt.Errorf("apikey: bootstrap %s: %w", principal, err)
	}
	secret, err := Generate()
	if err != nil {
		return "", err
	}
	now := time.Now().UTC()
	k := &Key{
		ID:        "key-" + strings.ToLower(ulid.Make().String()),
		Hash:      Hash(secret),
		Prefix:    Prefix(secret),
		Principal: principal,
		CreatedBy: domain.BootstrapActor,
		CreatedAt: now,
	}
	p := &domain.Principal{ID: principal, Roles: roles, UpdatedAt: now}
	if prev != nil {
		p.Controllers = prev.Controllers // bootstrap is no one: it adds no controller
	}
	audit := &domain.AuditEvent{
		Actor:        domain.BootstrapActor,
		ActorType:    domain.ActorSystem,
		Action:       domain.AuditAPIKeyCreated,
		ResourceType: "apikey",
		ResourceID:   k.ID,
		Details:      map[string]any{"principal": principal, "roles": domain.JoinRoles(roles), "prefix": k.Prefix},
		Timestamp:    now,
	}
	if err := st.PutAPIKey(ctx, k, &PrincipalChange{Prev: prev, Next: p}, audit); err != nil {
		return "", fmt.Errorf("apikey: bootstrap %s: %w", principal, err)
	}
	return secret, nil
}
