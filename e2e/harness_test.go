// Package e2e drives the HTTP API end to end. By default it starts the whole
// system inside the embedded emulator; with CERTCTL_E2E_ENDPOINT and
// CERTCTL_E2E_CREDENTIALS it runs against LocalStack or a real deployment.
package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/certctl-serverless/certctl-serverless/e2e/contract"
	"github.com/certctl-serverless/certctl-serverless/e2e/eventcheck"
	"github.com/certctl-serverless/certctl-serverless/e2e/invariants"
	"github.com/certctl-serverless/certctl-serverless/pkg/app"
	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/devstack"
	"github.com/certctl-serverless/certctl-serverless/pkg/stepfn"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

var (
	baseURL string
	keys    map[string]string
	stack   *devstack.Stack // nil when running against a remote endpoint
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// Every exchange with the API, through call, the CLI or a raw client,
	// is validated against the OpenAPI document.
	checker, err := contract.Install()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	code := runSuite(m)
	if contract.Failed(os.Stderr, "e2e", checker) {
		code = max(code, 1)
	}
	return code
}

func runSuite(m *testing.M) int {
	if ep := os.Getenv("CERTCTL_E2E_ENDPOINT"); ep != "" {
		baseURL = strings.TrimRight(ep, "/")
		b, err := os.ReadFile(os.Getenv("CERTCTL_E2E_CREDENTIALS"))
		if err == nil {
			err = json.Unmarshal(b, &keys)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e: CERTCTL_E2E_CREDENTIALS must name a JSON file of API keys:", err)
			return 1
		}
		return m.Run()
	}
	startIAMRecording(os.Getenv(iamRecordEnv))
	s, k, err := startStack(func(c *config.Config) {
		c.ApprovalTimeout = time.Hour
		c.IAMPrincipals = iamRules
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer s.Close()
	stack, baseURL, keys = s, s.URL, k
	code := m.Run()
	// Whatever the tests did, the tables must still satisfy the invariants.
	if violations, err := checkInvariants(); err != nil || len(violations) > 0 {
		fmt.Fprintln(os.Stderr, "e2e: invariants after the suite:", err)
		for _, v := range violations {
			fmt.Fprintln(os.Stderr, "  violation:", v)
		}
		code = max(code, 1)
	}
	if err := iamRecording.finish(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		code = max(code, 1)
	}
	return code
}

// checkInvariants reads the main stack's tables and checks the invariants
// that hold at any moment (requests may still be pending), the outbox
// against the events the bus delivered among them.
func checkInvariants() ([]invariants.Violation, error) {
	return checkStack(stack)
}

// checkStack checks one embedded stack's tables and its delivered events
// (each valid against its schema).
func checkStack(s *devstack.Stack) ([]invariants.Violation, error) {
	ctx := context.Background()
	if err := s.DeliverExecutionEvents(ctx); err != nil {
		return nil, err
	}
	if err := s.SettleEvents(ctx, 500*time.Millisecond); err != nil {
		return nil, err
	}
	snap, err := invariants.Take(ctx, invariants.Source{
		AWS: s.AWSConfig, StateTable: s.Config.StateTable, AuditTable: s.Config.AuditTable,
		StateMachineARN: s.Config.StateMachineARN, DigestKeyID: s.Config.DigestKeyID,
	})
	if err != nil {
		return nil, err
	}
	events := s.Events()
	delivered := make([]invariants.Delivered, 0, len(events))
	checked := make([]eventcheck.Event, 0, len(events))
	for _, e := range events {
		delivered = append(delivered, invariants.Delivered{ID: e.EventID(), DetailType: e.DetailType})
		checked = append(checked, eventcheck.Event{DetailType: e.DetailType, Source: e.Source, Detail: e.Detail})
	}
	out := invariants.Check(snap, invariants.Scope{}, invariants.Options{Delivered: delivered, Lint: true})
	v, err := eventcheck.Load()
	if err != nil {
		return nil, err
	}
	for _, p := range v.Audit(checked) {
		out = append(out, invariants.Violation{Rule: "event-schema", Detail: p})
	}
	return out, nil
}

// iamRules link alice's SSO session to her key principal and give IAM roles
// and two Identity Center permission sets their roles, as a deployment's
// CERTCTL_IAM_PRINCIPALS would.
const iamRules = `[
  {"arn": "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123/alice@example.com", "principal": "alice"},
  {"role": "certctl-operator", "account": "123456789012", "roles": ["operator", "approver"]},
  {"role": "ReadOnly*", "roles": ["viewer"]},
  {"role": "AWSReservedSSO_CertOps_*", "roles": ["operator"]},
  {"role": "AWSReservedSSO_CertApprovers_*", "roles": ["approver"]}
]`

// startStack starts an embedded stack with the default configuration as
// changed by edit (and its options by tune), and seeds the demo keys. The
// emulator's state is process-global and every stack's names are unique,
// so stacks with different settings can run side by side.
func startStack(edit func(*config.Config), tune ...func(*devstack.Options)) (*devstack.Stack, map[string]string, error) {
	ctx := context.Background()
	cfg, err := config.Parse(func(string) string { return "" })
	if err != nil {
		return nil, nil, err
	}
	cfg.LogLevel = "ERROR" // the functions' logs would drown the test output
	edit(&cfg)
	opts := devstack.Options{
		Config:  cfg,
		Logger:  slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Handler: withAwaitHold,
	}
	for _, f := range tune {
		f(&opts)
	}
	iamRecording.instrument(&opts)
	s, err := devstack.Start(ctx, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("start stack: %w", err)
	}
	if err := iamRecording.register(ctx, s); err != nil {
		s.Close()
		return nil, nil, err
	}
	k, err := s.SeedDemoKeys(ctx)
	if err != nil {
		s.Close()
		return nil, nil, fmt.Errorf("seed keys: %w", err)
	}
	return s, k, nil
}

// awaitHold, while write-locked by a test, holds every approval-wait
// invocation before it stores its task token: the window in which a
// decision can arrive first.
var awaitHold sync.RWMutex

// withAwaitHold builds the real handlers, wrapping approval-wait with awaitHold.
func withAwaitHold(ctx context.Context, name string, cfg config.Config, awsCfg aws.Config) (any, error) {
	h, err := app.Handler(ctx, name, cfg, awsCfg)
	if err != nil || name != app.FnApprovalWait {
		return h, err
	}
	inner := h.(func(context.Context, workflow.AwaitInput) (struct{}, error))
	return func(ctx context.Context, in workflow.AwaitInput) (struct{}, error) {
		awaitHold.RLock()
		defer awaitHold.RUnlock()
		return inner(ctx, in)
	}, nil
}

// response is a decoded API response.
type response struct {
	Status int
	Body   map[string]any
	Raw    []byte
}

func (r response) str(key string) string {
	v, _ := r.Body[key].(string)
	return v
}

// target is one running API and its demo keys.
type target struct {
	url  string
	keys map[string]string
}

// call sends a request as who ("" for no key) to the main stack.
func call(t *testing.T, who, method, path string, body any) response {
	t.Helper()
	return target{baseURL, keys}.call(t, who, method, path, body)
}

// must calls the main stack and fails the test unless the status is want.
func must(t *testing.T, want int, who, method, path string, body any) response {
	t.Helper()
	return target{baseURL, keys}.must(t, want, who, method, path, body)
}

func (tg target) call(t *testing.T, who, method, path string, body any) response {
	t.Helper()
	if who != "" && os.Getenv("CERTCTL_E2E_TARGET") == "localstack" {
		t.Skip("LocalStack's free edition does not run the REQUEST authorizer, so no API key is honoured there")
	}
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, tg.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if who != "" {
		req.Header.Set("X-Api-Key", tg.keys[who])
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{Status: resp.StatusCode, Raw: raw}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

func (tg target) must(t *testing.T, want int, who, method, path string, body any) response {
	t.Helper()
	r := tg.call(t, who, method, path, body)
	if r.Status != want {
		t.Fatalf("%s %s as %q: status %d, want %d: %s", method, path, who, r.Status, want, r.Raw)
	}
	return r
}

// eventually polls f until it returns true or the deadline passes.
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if f() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func uniq(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%x", prefix, b)
}

// newCSR returns a PEM CSR for cn and dns names with a fresh P-256 key.
func newCSR(t *testing.T, cn string, dns ...string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: cn},
		DNSNames: dns,
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// zone is the DNS zone a test profile may issue in: its own, so that what
// one approval-tier profile governs never touches another test's names.
func zone(profile string) string { return profile + ".example.com" }

// newProfile creates a profile as alice, allowed to issue any name under
// zone(id), and returns its id. A profile that needs no approval is itself
// a gated request, which bob approves.
func newProfile(t *testing.T, requiresApproval bool) string {
	t.Helper()
	return createProfile(t, target{baseURL, keys}, requiresApproval)
}

func createProfile(t *testing.T, tg target, requiresApproval bool) string {
	t.Helper()
	id := uniq("prof")
	body := map[string]any{
		"id": id, "name": "Profile " + id, "requires_approval": requiresApproval, "allowed_names": []string{"**." + zone(id)},
	}
	if requiresApproval {
		tg.must(t, http.StatusCreated, "alice", "POST", "/api/v1/profiles", body)
		return id
	}
	r := tg.must(t, http.StatusAccepted, "alice", "POST", "/api/v1/profiles", body)
	tg.must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+r.str("approval_id")+"/approve", map[string]string{"note": "test profile"})
	tg.must(t, http.StatusOK, "carol", "GET", "/api/v1/profiles/"+id, nil)
	return id
}

// newCert creates a certificate as who under profile and returns the response.
func newCert(t *testing.T, who, profile string) response {
	t.Helper()
	id := uniq("mc")
	cn := id + "." + zone(profile)
	return must(t, http.StatusCreated, who, "POST", "/api/v1/certificates", map[string]any{
		"id": id, "common_name": cn, "sans": []string{cn, "www." + cn}, "profile_id": profile,
		"csr": newCSR(t, cn, cn, "www."+cn),
	})
}

func certID(r response) string {
	c, _ := r.Body["certificate"].(map[string]any)
	id, _ := c["id"].(string)
	return id
}

// waitJob polls a job until its status is one of want.
func waitJob(t *testing.T, jobID string, want ...string) response {
	t.Helper()
	var last response
	eventually(t, "job "+jobID+" to reach "+strings.Join(want, "|"), func() bool {
		last = must(t, http.StatusOK, "carol", "GET", "/api/v1/jobs/"+jobID, nil)
		for _, w := range want {
			if last.str("status") == w {
				return true
			}
		}
		return false
	})
	return last
}

// storeOf reads the embedded stack's tables directly.
func storeOf() *store.Store {
	return store.New(dynamodb.NewFromConfig(stack.AWSConfig), stack.Config.StateTable, stack.Config.AuditTable)
}

// serviceOf is the workflow service over the embedded stack, for tests that
// need to call it from many goroutines at once or with a shifted clock.
func serviceOf() *workflow.Service {
	svc := workflow.New(storeOf(), stepfn.New(sfn.NewFromConfig(stack.AWSConfig), stack.Config.StateMachineARN))
	svc.ApprovalTimeout, svc.Log = stack.Config.ApprovalTimeout, slog.New(slog.NewJSONHandler(io.Discard, nil))
	return svc
}
