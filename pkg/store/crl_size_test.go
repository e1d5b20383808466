package store_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/ca"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// The largest CRL the cap allows fits the item it is stored in: 7,500
// entries with the longest serials (20 bytes), a reason each, signed by the
// CA, stay under MaxCRLBytes, and the item holding them is written (on the
// strict tier moto enforces DynamoDB's 400 KB item limit).
func TestTheLargestCRLFitsItsItem(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	caDER, err := ca.NewCACertificate(key, domain.DefaultIssuerID, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	auth, err := ca.NewAuthority(caDER, key)
	if err != nil {
		t.Fatal(err)
	}
	revoked := make([]ca.Revoked, workflow.MaxCRLEntries)
	for i := range revoked {
		// 20 bytes, the high bit set in the first one's second nibble only:
		// as long as a positive serial gets.
		revoked[i] = ca.Revoked{SerialHex: fmt.Sprintf("7f%038x", i+1), RevokedAt: now, Reason: "keyCompromise"}
	}
	der, err := auth.CRL(ca.CRLRequest{Number: 1 << 40, ThisUpdate: now, NextUpdate: now.Add(workflow.DefaultCRLValidity), Revoked: revoked})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("a CRL of %d entries is %d bytes (%.1f per entry); the cap is %d", len(revoked), len(der), float64(len(der))/float64(len(revoked)), workflow.MaxCRLBytes)
	if len(der) > workflow.MaxCRLBytes {
		t.Fatalf("%d entries make %d bytes, over %d", len(revoked), len(der), workflow.MaxCRLBytes)
	}
	st, _, _, _ := newStore(t)
	err = st.PublishCRL(t.Context(), workflow.CRLPublication{IssuerID: "default", Number: 1, DER: der, ThisUpdate: now, NextUpdate: now.Add(time.Hour),
		Entries: len(revoked), BuiltRevision: 1, Audit: ev(domain.AuditCRLPublished, "default")})
	if err != nil {
		t.Fatalf("storing the largest CRL: %v", err)
	}
	got, err := st.GetCRL(t.Context(), "default")
	if err != nil || len(got.DER) != len(der) {
		t.Fatalf("read back: %d bytes, %v", len(got.DER), err)
	}
}
