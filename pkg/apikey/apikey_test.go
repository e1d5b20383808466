package apikey

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// lookup is an in-memory key store for pure unit tests.
type lookup struct {
	keys       map[string]*Key
	principals map[string]*domain.Principal
	err        error
}

func (l lookup) GetAPIKey(_ context.Context, hash string) (*Key, error) {
	if l.err != nil {
		return nil, l.err
	}
	k, ok := l.keys[hash]
	if !ok {
		return nil, domain.NotFoundf("api key")
	}
	return k, nil
}

func (l lookup) GetPrincipal(_ context.Context, id string) (*domain.Principal, error) {
	p, ok := l.principals[id]
	if !ok {
		return nil, domain.NotFoundf("principal %s", id)
	}
	return p, nil
}

func TestGenerateHashPrefix(t *testing.T) {
	a, _ := Generate()
	b, _ := Generate()
	if a == b || !strings.HasPrefix(a, "cck_") || len(a) != 47 {
		t.Fatalf("secrets: %q %q", a, b)
	}
	if len(Hash(a)) != 64 || Hash(a) == Hash(b) || Hash(a) != Hash(string([]byte(a))) {
		t.Fatal("hash")
	}
	if p := Prefix(a); len(p) != 10 || !strings.HasPrefix(a, p) {
		t.Fatalf("prefix %q", p)
	}
}

func TestVerify(t *testing.T) {
	now := time.Now()
	secret, _ := Generate()
	past, future := now.Add(-time.Minute), now.Add(time.Minute)
	fresh := func() lookup {
		return lookup{
			keys:       map[string]*Key{Hash(secret): {ID: "k1", Hash: Hash(secret), Principal: "alice", ExpiresAt: &future}},
			principals: map[string]*domain.Principal{"alice": {ID: "alice", Roles: []domain.Role{domain.RoleApprover}}},
		}
	}
	a, err := Verify(context.Background(), fresh(), secret, now)
	if err != nil || a.ID != "alice" || !a.Has(domain.RoleApprover) {
		t.Fatalf("valid key: %+v %v", a, err)
	}
	cases := map[string]struct {
		secret string
		edit   func(lookup)
		want   error
	}{
		"empty":     {"", nil, ErrMalformed},
		"oversized": {"cck_" + strings.Repeat("x", MaxLen), nil, ErrMalformed},
		"foreign":   {"AKIA" + secret[4:], nil, ErrMalformed},
		"unknown":   {secret[:len(secret)-1] + "Z", nil, ErrUnknown},
		"expired":   {secret, func(l lookup) { l.keys[Hash(secret)].ExpiresAt = &past }, ErrExpired},
		"revoked":   {secret, func(l lookup) { l.keys[Hash(secret)].RevokedAt = &past }, ErrRevoked},
		// A store that returns a record for the wrong hash must not authenticate.
		"mismatch": {secret, func(l lookup) { l.keys[Hash(secret)].Hash = Hash("other") }, ErrUnknown},
	}
	for name, c := range cases {
		l := fresh()
		if c.edit != nil {
			c.edit(l)
		}
		if _, err := Verify(context.Background(), l, c.secret, now); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
	}
	broken := lookup{err: errors.New("throttled")}
	if _, err := Verify(context.Background(), broken, secret, now); err == nil || errors.Is(err, ErrUnknown) {
		t.Fatalf("a store failure must not look like a bad key: %v", err)
	}
}

func TestControllersAfter(t *testing.T) {
	minter := &domain.Principal{ID: "boss", Controllers: []string{"admin"}}
	prev := &domain.Principal{ID: "peer", Controllers: []string{"zed", "admin"}}
	got := controllersAfter(prev, "peer", "boss", minter)
	if want := []string{"admin", "boss", "zed"}; !slices.Equal(got, want) {
		t.Fatalf("controllers %v, want %v (sorted, deduplicated, the minter's own controllers included)", got, want)
	}
	// A principal never controls itself, even through a cycle.
	cyc := controllersAfter(nil, "boss", "sub", &domain.Principal{ID: "sub", Controllers: []string{"boss"}})
	if want := []string{"sub"}; !slices.Equal(cyc, want) {
		t.Fatalf("controllers %v, want %v", cyc, want)
	}
}
