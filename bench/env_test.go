package bench

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
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/devstack"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/stepfn"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
)

// env is one local stack shared by the benchmarks that need it. It is
// started on first use, so `go test ./...` (which runs no benchmarks) never
// starts it.
type env struct {
	stack *devstack.Stack
	calls *Counter // counts the function handlers' AWS calls
	keys  map[string]string
	http  *http.Client
	// Uncounted clients (stack.AWSConfig carries no counting middleware),
	// used to wait for background work without disturbing the counts.
	store *store.Store
	sfn   *sfn.Client
	exec  *stepfn.Client
	logs  *os.File // the functions' stdout
}

var (
	envOnce   sync.Once
	sharedEnv *env
	envErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	removeLambdaBuilds()
	if sharedEnv != nil {
		if err := sharedEnv.stack.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: close stack:", err)
		}
		// The function logs are worth keeping only when something failed.
		if code == 0 {
			_ = sharedEnv.logs.Close()
			_ = os.Remove(sharedEnv.logs.Name())
		} else {
			fmt.Fprintln(os.Stderr, "bench: function logs are in", sharedEnv.logs.Name())
		}
	}
	os.Exit(code)
}

// getEnv returns the shared stack, starting it on first use.
func getEnv(b *testing.B) *env {
	b.Helper()
	envOnce.Do(func() { sharedEnv, envErr = startEnv(context.Background()) })
	if envErr != nil {
		b.Fatalf("start local stack: %v", envErr)
	}
	return sharedEnv
}

func startEnv(ctx context.Context) (*env, error) {
	cfg, err := config.Parse(func(string) string { return "" })
	if err != nil {
		return nil, err
	}
	cfg.ApprovalTimeout = time.Hour
	calls := NewCounter()

	// The functions write their logs and EMF metrics to the os.Stdout they
	// find when their handlers are built (at Start). Send those to a file so
	// the tables the benchmarks print stay readable.
	logs, err := os.CreateTemp("", "certctl-bench-functions-*.log")
	if err != nil {
		return nil, err
	}
	stdout := os.Stdout
	os.Stdout = logs
	s, err := devstack.Start(ctx, devstack.Options{
		Config:        cfg,
		AWSAPIOptions: []func(*middleware.Stack) error{calls.APIOption},
		Logger:        slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	os.Stdout = stdout
	if err != nil {
		_ = logs.Close()
		return nil, err
	}
	fmt.Printf("local stack %s; function logs and metrics go to %s\n", s.Prefix, logs.Name())
	calls.Label(s.Functions)
	e := &env{
		stack: s,
		calls: calls,
		keys:  map[string]string{},
		http:  &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}},
		store: store.New(dynamodb.NewFromConfig(s.AWSConfig), s.Config.StateTable, s.Config.AuditTable),
		sfn:   sfn.NewFromConfig(s.AWSConfig),
		exec:  stepfn.New(nil, s.Config.StateMachineARN),
		logs:  logs,
	}
	if e.keys, err = s.SeedDemoKeys(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return e, nil
}

// reply is a decoded API response.
type reply struct {
	Status int
	Body   map[string]any
	Raw    []byte
}

func (r reply) str(key string) string {
	v, _ := r.Body[key].(string)
	return v
}

// do sends one API request as who and returns the response, whatever its status.
func (e *env) do(who, method, path string, body any) (reply, error) {
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.stack.URL+path, rd)
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("X-Api-Key", e.keys[who])
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.http.Do(req)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	out := reply{Status: resp.StatusCode, Raw: raw}
	_ = json.Unmarshal(raw, &out.Body)
	return out, nil
}

// must sends a request and fails the benchmark unless the status is want.
func (e *env) must(b *testing.B, want int, who, method, path string, body any) reply {
	b.Helper()
	r, err := e.do(who, method, path, body)
	if err != nil {
		b.Fatal(err)
	}
	if r.Status != want {
		b.Fatalf("%s %s as %s: status %d, want %d: %s", method, path, who, r.Status, want, r.Raw)
	}
	return r
}

// newProfile creates a profile as alice and returns its id. A profile that
// needs no approval is itself a gated request, which bob approves.
func (e *env) newProfile(b *testing.B, requiresApproval bool) string {
	b.Helper()
	id := uniq("prof")
	body := map[string]any{
		"id": id, "name": "bench " + id, "requires_approval": requiresApproval, "allowed_names": []string{"**.bench.example.com"},
	}
	if requiresApproval {
		e.must(b, http.StatusCreated, "alice", http.MethodPost, "/api/v1/profiles", body)
		return id
	}
	r := e.must(b, http.StatusAccepted, "alice", http.MethodPost, "/api/v1/profiles", body)
	e.must(b, http.StatusOK, "bob", http.MethodPost, "/api/v1/approvals/"+r.str("approval_id")+"/approve", map[string]string{"note": "bench profile"})
	return id
}

// newQuorumProfile creates an approval-tier profile whose requests need n
// approvals.
func (e *env) newQuorumProfile(b *testing.B, n int) string {
	b.Helper()
	id := uniq("quorum")
	e.must(b, http.StatusCreated, "alice", http.MethodPost, "/api/v1/profiles", map[string]any{
		"id": id, "name": "bench " + id, "requires_approval": true, "allowed_names": []string{"**.bench.example.com"}, "required_approvals": n,
	})
	return id
}

// certificateBody is a POST /api/v1/certificates body with a fresh CSR.
func certificateBody(b *testing.B, profile string) map[string]any {
	b.Helper()
	id := uniq("mc")
	cn := id + ".bench.example.com"
	return map[string]any{"id": id, "common_name": cn, "sans": []string{cn}, "profile_id": profile, "csr": newCSR(b, cn)}
}

// started is a create or renew response.
type started struct {
	CertificateID string
	JobID         string
	ApprovalID    string
}

func startedFrom(r reply) started {
	s := started{JobID: r.str("job_id"), ApprovalID: r.str("approval_id")}
	if c, ok := r.Body["certificate"].(map[string]any); ok {
		s.CertificateID, _ = c["id"].(string)
	}
	return s
}

// waitFor polls f (which must use uncounted clients) until it is true.
func waitFor(what string, f func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		ok, err := f(ctx)
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// waitToken waits until the execution's approval-wait function has stored
// its task token on the request, so the wait state is fully set up.
func (e *env) waitToken(approvalID string) error {
	return waitFor("the task token of "+approvalID, func(ctx context.Context) (bool, error) {
		a, err := e.store.GetApproval(ctx, approvalID)
		if err != nil {
			return false, err
		}
		return a.TaskToken != "", nil
	})
}

// waitJob waits until the job has status want.
func (e *env) waitJob(jobID string, want domain.JobStatus) error {
	return waitFor("job "+jobID+" to be "+string(want), func(ctx context.Context) (bool, error) {
		j, err := e.store.GetJob(ctx, jobID)
		if err != nil {
			return false, err
		}
		if j.Status.Terminal() && j.Status != want {
			return false, fmt.Errorf("job %s ended %s (%s), want %s", jobID, j.Status, j.Error, want)
		}
		return j.Status == want, nil
	})
}

// waitCRL waits until the issuer's CRL was made again since its last
// revocation.
func (e *env) waitCRL(issuerID string) error {
	return waitFor("the CRL of "+issuerID, func(ctx context.Context) (bool, error) {
		c, err := e.store.GetCRL(ctx, issuerID)
		if errors.Is(err, domain.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return !c.Stale(), nil
	})
}

// waitExecution waits until the job's execution has ended and returns its status.
func (e *env) waitExecution(executionARN string) (sfntypes.ExecutionStatus, error) {
	var status sfntypes.ExecutionStatus
	err := waitFor("execution "+executionARN+" to end", func(ctx context.Context) (bool, error) {
		out, err := e.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(executionARN)})
		var missing *sfntypes.ExecutionDoesNotExist
		if errors.As(err, &missing) {
			return false, nil // not started yet
		}
		if err != nil {
			return false, err
		}
		status = out.Status
		return status != sfntypes.ExecutionStatusRunning, nil
	})
	return status, err
}

func uniq(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%x", prefix, b)
}

// newCSR returns a PEM CSR for cn with a fresh P-256 key.
func newCSR(b *testing.B, cn string) string {
	b.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
	}, key)
	if err != nil {
		b.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}
