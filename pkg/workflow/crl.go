package workflow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/ca"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// CRL defaults.
const (
	// DefaultCRLValidity is a CRL's nextUpdate − thisUpdate: how long a
	// relying party may use it. Well past the refresh period, so a
	// schedule that stops for a few days leaves no one without a CRL.
	DefaultCRLValidity = 7 * 24 * time.Hour
	// DefaultCRLRefreshAfter is how old a CRL may grow before the
	// scheduled refresh makes a new one even without a revocation.
	DefaultCRLRefreshAfter = 24 * time.Hour
	// MaxCRLEntries caps the serials an issuer's CRL lists. The CRL is
	// kept in one DynamoDB item (at most 400 KB, 409,600 bytes); an entry
	// is at most 53 bytes of DER (a 20-byte serial, its UTCTime and a
	// reasonCode extension), so 7,500 entries take at most 397,500
	// bytes, leaving over 12 KB for the CRL's own fields (issuer name,
	// times, extensions, signature: under 400 bytes) and the item's other
	// attributes. A revocation past the cap is refused with 409.
	MaxCRLEntries = 7500
	// MaxCRLBytes is the largest DER a CRL item may store.
	MaxCRLBytes = 400_000
)

// pruneChunk bounds the expired entries one transaction removes.
const pruneChunk = 90

func (s *Service) crlMaxEntries() int64 {
	if s.CRLMaxEntries > 0 {
		return s.CRLMaxEntries
	}
	return MaxCRLEntries
}

func (s *Service) crlValidity() time.Duration {
	if s.CRLValidity > 0 {
		return s.CRLValidity
	}
	return DefaultCRLValidity
}

func (s *Service) crlRefreshAfter() time.Duration {
	if s.CRLRefreshAfter > 0 {
		return s.CRLRefreshAfter
	}
	return DefaultCRLRefreshAfter
}

// CRLRequest is the issue function's "refresh_crl" action: make the
// issuer's CRL again if a revocation is not on it yet, if it is older than
// the refresh period or if none exists (Force makes it anyway).
type CRLRequest struct {
	IssuerID string `json:"issuer_id"`
	Force    bool   `json:"force,omitempty"`
}

// CRLResult says what a refresh did.
type CRLResult struct {
	IssuerID string `json:"issuer_id"`
	// Published is false when the current CRL was fresh enough.
	Published  bool      `json:"published"`
	Number     int64     `json:"number"`
	Entries    int       `json:"entries"`
	Pruned     int       `json:"pruned"`
	ThisUpdate time.Time `json:"this_update"`
	NextUpdate time.Time `json:"next_update"`
}

// RefreshCRL makes and publishes the issuer's CRL when it is stale (a
// revocation committed after it was made), old, or missing. It lists every
// entry read strongly consistent after the CRL state, so every revocation
// committed before the state was read is on the CRL it publishes; entries
// of expired certificates leave it (and are deleted). The CRL number only
// grows: a publication is written only if the stored number is still the
// one it followed, and a concurrent refresh that won makes this one read
// again (and usually find nothing left to do).
func (s *Service) RefreshCRL(ctx context.Context, auth Authorities, in CRLRequest) (*CRLResult, error) {
	if in.IssuerID == "" {
		in.IssuerID = domain.DefaultIssuerID
	}
	if in.IssuerID != domain.DefaultIssuerID {
		return nil, domain.Invalidf("issuer %q does not exist (only %q is configured)", in.IssuerID, domain.DefaultIssuerID)
	}
	res := &CRLResult{IssuerID: in.IssuerID}
	for attempt := 0; attempt < maxRetries; attempt++ {
		cur, err := s.CRLs.GetCRL(ctx, in.IssuerID)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			cur = &domain.CRL{IssuerID: in.IssuerID}
		case err != nil:
			return nil, retryable(err)
		}
		now := s.now()
		if !in.Force && !cur.Stale() && now.Before(cur.ThisUpdate.Add(s.crlRefreshAfter())) {
			res.Number, res.Entries, res.ThisUpdate, res.NextUpdate = cur.Number, cur.Entries, cur.ThisUpdate, cur.NextUpdate
			return res, nil
		}
		live, pruned, err := s.liveEntries(ctx, in.IssuerID, now)
		res.Pruned += pruned
		if err != nil {
			return nil, retryable(err)
		}
		authority, err := auth.Authority(ctx, in.IssuerID)
		if err != nil {
			return nil, retryable(fmt.Errorf("crl: %w", err))
		}
		pub, err := s.signCRL(authority, cur, live, now)
		if err != nil {
			return nil, err
		}
		err = s.CRLs.PublishCRL(ctx, pub)
		if IsChanged(err) {
			continue // another refresh published first: read again
		}
		if err != nil {
			return nil, retryable(err)
		}
		s.log().InfoContext(ctx, "CRL published", "issuer_id", in.IssuerID, "number", pub.Number, "entries", pub.Entries)
		res.Published, res.Number, res.Entries, res.ThisUpdate, res.NextUpdate = true, pub.Number, pub.Entries, pub.ThisUpdate, pub.NextUpdate
		return res, nil
	}
	return nil, &RetryableError{Err: fmt.Errorf("crl: issuer %s: still changing after %d attempts", in.IssuerID, maxRetries)}
}

// liveEntries reads every revocation entry of the issuer and deletes those
// whose certificate has expired (a CRL need not list them); it returns the
// rest.
func (s *Service) liveEntries(ctx context.Context, issuerID string, now time.Time) ([]*domain.RevocationEntry, int, error) {
	var live []*domain.RevocationEntry
	var expired []string
	token := ""
	for {
		page, next, err := s.CRLs.ListRevocationEntries(ctx, issuerID, domain.PageRequest{Limit: 500, Token: token})
		if err != nil {
			return nil, 0, err
		}
		for _, e := range page {
			if e.NotAfter.After(now) {
				live = append(live, e)
			} else {
				expired = append(expired, e.SerialNumber)
			}
		}
		if next == "" {
			break
		}
		token = next
	}
	pruned := 0
	for len(expired) > 0 {
		chunk := expired[:min(len(expired), pruneChunk)]
		expired = expired[len(chunk):]
		audit := &domain.AuditEvent{
			Actor: domain.SystemWorkflow, ActorType: domain.ActorSystem, Action: domain.AuditCRLPruned,
			ResourceType: "issuer", ResourceID: issuerID, Timestamp: now,
			Details: map[string]any{"serials": chunk, "why": "the certificates expired; a CRL need not list them"},
		}
		err := s.CRLs.PruneRevocationEntries(ctx, issuerID, chunk, audit)
		if IsChanged(err) {
			continue // pruned concurrently: they are gone either way
		}
		if err != nil {
			return nil, pruned, err
		}
		pruned += len(chunk)
	}
	return live, pruned, nil
}

// signCRL signs the CRL that follows cur, listing live.
func (s *Service) signCRL(authority *ca.Authority, cur *domain.CRL, live []*domain.RevocationEntry, now time.Time) (CRLPublication, error) {
	revoked := make([]ca.Revoked, len(live))
	for i, e := range live {
		revoked[i] = ca.Revoked{SerialHex: e.SerialNumber, RevokedAt: e.RevokedAt, Reason: e.Reason}
	}
	number := cur.Number + 1
	next := now.Add(s.crlValidity())
	der, err := authority.CRL(ca.CRLRequest{Number: number, ThisUpdate: now, NextUpdate: next, Revoked: revoked})
	if err != nil {
		return CRLPublication{}, retryable(fmt.Errorf("crl: sign: %w", err))
	}
	if len(der) > MaxCRLBytes {
		// The entry cap makes this unreachable; say so clearly if not.
		return CRLPublication{}, fmt.Errorf("crl: issuer %s: the CRL is %d bytes, more than the %d a CRL item may hold", cur.IssuerID, len(der), MaxCRLBytes)
	}
	return CRLPublication{
		IssuerID: cur.IssuerID, PrevNumber: cur.Number, Number: number, DER: der, ThisUpdate: now, NextUpdate: next,
		Entries: len(live), BuiltRevision: cur.Revision,
		Audit: &domain.AuditEvent{
			Actor: domain.SystemWorkflow, ActorType: domain.ActorSystem, Action: domain.AuditCRLPublished,
			ResourceType: "issuer", ResourceID: cur.IssuerID, Timestamp: now,
			Details: map[string]any{
				"number": number, "entries": len(live), "this_update": now, "next_update": next,
				"revision": cur.Revision, "bytes": len(der),
			},
		},
	}, nil
}
