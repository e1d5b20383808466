package apikey

import (
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Key is a stored API key. Only the SHA-256 of the secret is kept.
type Key struct {
	ID        string     `json:"id"`
	Hash      string     `json:"hash"`
	Prefix    string     `json:"prefix"`
	Principal string     `json:"principal"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// PrincipalChange replaces a principal's role set. Prev is the principal
// as read (nil if it did not exist): the write applies only if it is still
// so, and the count of admins follows, never reaching zero.
type PrincipalChange struct {
	Prev, Next *domain.Principal
}
