package authorizer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/certctl-serverless/certctl-serverless/pkg/apikey"
	"github.com/certctl-serverless/certctl-serverless/pkg/authorizer"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

const sampleFile = "../../events/apigw-authorizer-request.json"

// wantResource is the sample's method ARN widened to every method and path
// of its stage.
const wantResource = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/*/*"

// fakeLookup is an in-memory apikey.Lookup.
type fakeLookup struct {
	mu         sync.Mutex
	keys       map[string]*apikey.Key // by hash
	principals map[string]*domain.Principal
	keyErr     error // returned by GetAPIKey when set
	princErr   error // returned by GetPrincipal when set
	lookups    int
}

func (f *fakeLookup) GetAPIKey(_ context.Context, hash string) (*apikey.Key, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups++
	if f.keyErr != nil {
		return nil, f.keyErr
	}
	k, ok := f.keys[hash]
	if !ok {
		return nil, domain.NotFoundf("api key")
	}
	return k, nil
}

func (f *fakeLookup) GetPrincipal(_ context.Context, id string) (*domain.Principal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.princErr != nil {
		return nil, f.princErr
	}
	p, ok := f.principals[id]
	if !ok {
		return nil, domain.NotFoundf("principal %s", id)
	}
	return p, nil
}

// add stores a fresh key for principal and returns its secret.
func (f *fakeLookup) add(t *testing.T, principal string, edit func(*apikey.Key)) string {
	t.Helper()
	secret, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	k := &apikey.Key{ID: "key-" + principal, Hash: apikey.Hash(secret), Prefix: apikey.Prefix(secret), Principal: principal, CreatedAt: time.Now()}
	if edit != nil {
		edit(k)
	}
	f.keys[k.Hash] = k
	return secret
}

func newFake() *fakeLookup {
	return &fakeLookup{
		keys: map[string]*apikey.Key{},
		principals: map[string]*domain.Principal{
			"bob": {ID: "bob", Roles: []domain.Role{domain.RoleOperator, domain.RoleApprover}},
		},
	}
}

// sample is the authorizer sample with the X-Api-Key header (both maps)
// replaced by key, or renamed to header when header is not "".
func sample(t *testing.T, key, header string) events.APIGatewayCustomAuthorizerRequestTypeRequest {
	t.Helper()
	raw, err := os.ReadFile(sampleFile)
	if err != nil {
		t.Fatal(err)
	}
	var req events.APIGatewayCustomAuthorizerRequestTypeRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	if req.Type != "REQUEST" || req.Headers[authorizer.HeaderName] == "" {
		t.Fatalf("sample is not a REQUEST authorizer event with %s: %+v", authorizer.HeaderName, req)
	}
	if header == "" {
		header = authorizer.HeaderName
	}
	delete(req.Headers, authorizer.HeaderName)
	delete(req.MultiValueHeaders, authorizer.HeaderName)
	req.Headers[header] = key
	req.MultiValueHeaders[header] = []string{key}
	return req
}

// capture is a logger writing into a buffer, to check what is logged.
func capture() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewJSONHandler(&buf, nil)), &buf
}

func checkAllow(t *testing.T, resp events.APIGatewayCustomAuthorizerResponse, principal, roles string) {
	t.Helper()
	if resp.PrincipalID != principal {
		t.Errorf("principalId %q, want %q", resp.PrincipalID, principal)
	}
	want := events.APIGatewayCustomAuthorizerPolicy{
		Version: "2012-10-17",
		Statement: []events.IAMPolicyStatement{{
			Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{wantResource},
		}},
	}
	if !reflect.DeepEqual(resp.PolicyDocument, want) {
		t.Errorf("policy %+v, want %+v", resp.PolicyDocument, want)
	}
	wantCtx := map[string]any{"principal": principal, "roles": roles, "actor_type": "User"}
	if !reflect.DeepEqual(resp.Context, wantCtx) {
		t.Errorf("context %v, want %v", resp.Context, wantCtx)
	}
}

func TestValidKeyAllowsTheWholeStage(t *testing.T) {
	f := newFake()
	key := f.add(t, "bob", nil)
	log, _ := capture()
	h := authorizer.Handler(f, log)

	for name, header := range map[string]string{
		"canonical": "X-Api-Key",
		"lowercase": "x-api-key",
		"uppercase": "X-API-KEY",
	} {
		t.Run(name, func(t *testing.T) {
			resp, err := h(context.Background(), sample(t, key, header))
			if err != nil {
				t.Fatal(err)
			}
			checkAllow(t, resp, "bob", "operator,approver")
		})
	}

	t.Run("surrounding whitespace", func(t *testing.T) {
		resp, err := h(context.Background(), sample(t, " "+key+"\t", ""))
		if err != nil {
			t.Fatal(err)
		}
		checkAllow(t, resp, "bob", "operator,approver")
	})

	t.Run("principal without a role record", func(t *testing.T) {
		orphan := f.add(t, "dave", nil)
		resp, err := h(context.Background(), sample(t, orphan, ""))
		if err != nil {
			t.Fatal(err)
		}
		checkAllow(t, resp, "dave", "")
	})

	t.Run("through the Lambda adapter", func(t *testing.T) {
		payload, err := json.Marshal(sample(t, key, ""))
		if err != nil {
			t.Fatal(err)
		}
		out, err := lambda.NewHandler(h).Invoke(context.Background(), payload)
		if err != nil {
			t.Fatal(err)
		}
		// The wire shape API Gateway reads.
		var wire struct {
			PrincipalID    string `json:"principalId"`
			PolicyDocument struct {
				Version   string
				Statement []struct {
					Action   []string
					Effect   string
					Resource []string
				}
			} `json:"policyDocument"`
			Context map[string]any `json:"context"`
		}
		if err := json.Unmarshal(out, &wire); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		if wire.PrincipalID != "bob" || wire.PolicyDocument.Version != "2012-10-17" || len(wire.PolicyDocument.Statement) != 1 ||
			wire.PolicyDocument.Statement[0].Effect != "Allow" || wire.PolicyDocument.Statement[0].Resource[0] != wantResource ||
			wire.Context["principal"] != "bob" || wire.Context["roles"] != "operator,approver" {
			t.Errorf("authorizer response on the wire: %s", out)
		}
	})
}

func TestRefusedKeysAreExactlyUnauthorized(t *testing.T) {
	f := newFake()
	past := time.Now().Add(-time.Minute)
	future := time.Now().Add(time.Hour)
	revoked := f.add(t, "bob", func(k *apikey.Key) { k.RevokedAt = &past })
	expired := f.add(t, "bob", func(k *apikey.Key) { k.ExpiresAt = &past })
	notYetExpired := f.add(t, "bob", func(k *apikey.Key) { k.ExpiresAt = &future })
	unknown, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	// An oversized key is refused before any lookup, even if its hash were stored.
	oversized := "cck_" + strings.Repeat("A", apikey.MaxLen)
	f.keys[apikey.Hash(oversized)] = &apikey.Key{Hash: apikey.Hash(oversized), Principal: "bob"}

	log, logs := capture()
	h := authorizer.Handler(f, log)

	for name, key := range map[string]string{
		"unknown":          unknown,
		"sample's own key": "cck_EXAMPLEbobEXAMPLEbobEXAMPLEbobEXAMPLEbobEXA",
		"revoked":          revoked,
		"expired":          expired,
		"oversized":        oversized,
		"empty":            "",
		"blank":            "   ",
		"no prefix":        strings.TrimPrefix(unknown, "cck_"),
		"bearer":           "Bearer " + unknown,
	} {
		t.Run(name, func(t *testing.T) {
			before := f.lookups
			resp, err := h(context.Background(), sample(t, key, ""))
			if err == nil || err.Error() != "Unauthorized" {
				t.Fatalf("error %v, want exactly Unauthorized", err)
			}
			if !errors.Is(err, authorizer.ErrUnauthorized) {
				t.Errorf("error is not authorizer.ErrUnauthorized: %#v", err)
			}
			if !reflect.DeepEqual(resp, events.APIGatewayCustomAuthorizerResponse{}) {
				t.Errorf("a refusal carries a response: %+v", resp)
			}
			if name == "oversized" && f.lookups != before {
				t.Errorf("an oversized key was looked up")
			}
			// The refusal goes through the Lambda adapter unchanged, so API
			// Gateway sees the errorMessage it maps to 401.
			payload, _ := json.Marshal(sample(t, key, ""))
			if _, err := lambda.NewHandler(h).Invoke(context.Background(), payload); err == nil || err.Error() != "Unauthorized" {
				t.Errorf("through the Lambda adapter: error %v, want exactly Unauthorized", err)
			}
		})
	}

	t.Run("missing header", func(t *testing.T) {
		req := sample(t, "", "")
		delete(req.Headers, authorizer.HeaderName)
		delete(req.MultiValueHeaders, authorizer.HeaderName)
		if _, err := h(context.Background(), req); err == nil || err.Error() != "Unauthorized" {
			t.Fatalf("error %v, want exactly Unauthorized", err)
		}
	})

	t.Run("an expiry in the future is still valid", func(t *testing.T) {
		resp, err := h(context.Background(), sample(t, notYetExpired, ""))
		if err != nil {
			t.Fatal(err)
		}
		checkAllow(t, resp, "bob", "operator,approver")
	})

	// Refusals are logged with the key's recognisable prefix, never the secret.
	for _, secret := range []string{revoked, expired, unknown} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log contains a whole secret: %s", logs.String())
		}
	}
	if !strings.Contains(logs.String(), apikey.Prefix(revoked)) {
		t.Errorf("the log does not name the refused key's prefix: %s", logs.String())
	}
}

func TestStoreErrorIsNotUnauthorized(t *testing.T) {
	boom := errors.New("ProvisionedThroughputExceededException: slow down")
	for name, set := range map[string]func(*fakeLookup){
		"key lookup":       func(f *fakeLookup) { f.keyErr = boom },
		"principal lookup": func(f *fakeLookup) { f.princErr = boom },
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake()
			key := f.add(t, "bob", nil)
			set(f)
			log, _ := capture()
			_, err := authorizer.Handler(f, log)(context.Background(), sample(t, key, ""))
			if err == nil {
				t.Fatal("a store failure allowed the request")
			}
			if err.Error() == "Unauthorized" || errors.Is(err, authorizer.ErrUnauthorized) {
				t.Fatalf("a store failure must not look like a bad key (401): %v", err)
			}
			if !errors.Is(err, boom) {
				t.Errorf("error %v does not wrap the store's", err)
			}
		})
	}
}
