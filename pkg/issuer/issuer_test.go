package issuer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/ca"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/kmssigner"
)

// Pure unit-test doubles: a KMS key in memory and an issuer table in a map.

type ctxKey struct{}

type fakeKMS struct {
	key  *ecdsa.PrivateKey
	mu   sync.Mutex
	seen []any // the ctxKey value of every Sign call's context
}

func (f *fakeKMS) GetPublicKey(context.Context, *kms.GetPublicKeyInput, ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error) {
	der, err := x509.MarshalPKIXPublicKey(&f.key.PublicKey)
	return &kms.GetPublicKeyOutput{PublicKey: der, KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify}, err
}

func (f *fakeKMS) Sign(ctx context.Context, in *kms.SignInput, _ ...func(*kms.Options)) (*kms.SignOutput, error) {
	f.mu.Lock()
	f.seen = append(f.seen, ctx.Value(ctxKey{}))
	f.mu.Unlock()
	sig, err := ecdsa.SignASN1(rand.Reader, f.key, in.Message)
	return &kms.SignOutput{Signature: sig}, err
}

type fakeStore struct {
	mu      sync.Mutex
	issuers map[string]*domain.Issuer
	puts    int
}

func (s *fakeStore) GetIssuer(_ context.Context, id string) (*domain.Issuer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if is, ok := s.issuers[id]; ok {
		return is, nil
	}
	return nil, domain.NotFoundf("issuer %s", id)
}

func (s *fakeStore) PutIssuerIfAbsent(_ context.Context, is *domain.Issuer, _ *domain.AuditEvent) (*domain.Issuer, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.puts++
	if cur, ok := s.issuers[is.ID]; ok {
		return cur, false, nil
	}
	s.issuers[is.ID] = is
	return is, true, nil
}

func setup(t *testing.T) (*fakeKMS, *fakeStore, *kmssigner.Signer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := &fakeKMS{key: key}
	signer, err := kmssigner.New(context.Background(), k, "key-1")
	if err != nil {
		t.Fatal(err)
	}
	return k, &fakeStore{issuers: map[string]*domain.Issuer{}}, signer
}

func TestAuthorityIsCreatedOnceAndReused(t *testing.T) {
	_, st, signer := setup(t)
	first, err := NewProvider(st, signer, "key-1").Authority(context.Background(), "default")
	if err != nil {
		t.Fatal(err)
	}
	// A second cold start finds the stored CA instead of making another.
	second, err := NewProvider(st, signer, "key-1").Authority(context.Background(), "default")
	if err != nil {
		t.Fatal(err)
	}
	if st.puts != 1 || first.Cert.SerialNumber.Cmp(second.Cert.SerialNumber) != 0 {
		t.Fatalf("CA created %d times; serials %v and %v", st.puts, first.Cert.SerialNumber, second.Cert.SerialNumber)
	}
	if _, err := NewProvider(st, signer, "key-1").Authority(context.Background(), "other"); !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("unknown issuer: %v", err)
	}
}

// Leaf signing must carry the invocation's context (deadline, cancellation),
// not the cold start's.
func TestSigningUsesTheRequestContext(t *testing.T) {
	k, st, signer := setup(t)
	p := NewProvider(st, signer, "key-1")
	if _, err := p.Authority(context.Background(), "default"); err != nil {
		t.Fatal(err)
	}
	k.seen = nil
	ctx := context.WithValue(context.Background(), ctxKey{}, "request-42")
	a, err := p.Authority(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "a.example.com"}}, leafKey)
	csr, _ := x509.ParseCertificateRequest(der)
	if _, err := a.Issue(ca.LeafRequest{CSR: csr, CommonName: "a.example.com", DNSNames: []string{"a.example.com"}, Validity: time.Hour, KeyUsage: []string{ca.UsageDigitalSignature}, ExtKeyUsage: []string{ca.ExtUsageServerAuth}, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if len(k.seen) != 1 || k.seen[0] != "request-42" {
		t.Fatalf("KMS Sign saw contexts %v, want the request's", k.seen)
	}
}
