// Package chaos runs random scenarios against the whole system while a
// seeded injector makes AWS calls fail the ways AWS does, kills functions
// between calls and duplicates invocations, then checks the invariants
// (package e2e/invariants) on what the tables say.
//
//	go test ./e2e/chaos                       a short fixed-seed run (make test)
//	CHAOS_SECONDS=600 go test ./e2e/chaos     random schedules for ten minutes (make chaos)
package chaos

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
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/certctl-serverless/certctl-serverless/e2e/invariants"
	"github.com/certctl-serverless/certctl-serverless/pkg/app"
	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/devstack"
	"github.com/certctl-serverless/certctl-serverless/pkg/devstack/faults"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
)

// approvalTimeout is short, so requests nobody decides expire within a
// scenario, through the reaper or the state machine's own timeout.
const approvalTimeout = 5 * time.Second

// system is one chaos stack: the real handlers, wrapped by the injector.
type system struct {
	stack *devstack.Stack
	keys  map[string]string
	inj   *faults.Injector
	store *store.Store // on the clean config: reads without faults
}

func startSystem(ctx context.Context, seed uint64, rate float64) (*system, error) {
	inj := faults.New(seed, rate)
	cfg, err := config.Parse(func(string) string { return "" })
	if err != nil {
		return nil, err
	}
	cfg.LogLevel = "ERROR"
	cfg.ApprovalTimeout = approvalTimeout
	cfg.HandoffGrace = time.Second
	// Reminders and an escalation before the timeout, so they race
	// decisions and expiry under faults too.
	cfg.RemindAfter, cfg.EscalateAfter = 2*time.Second, 3*time.Second
	stack, err := devstack.Start(ctx, devstack.Options{
		Config:         cfg,
		Logger:         slog.New(slog.NewJSONHandler(io.Discard, nil)),
		AWSAPIOptions:  []func(*middleware.Stack) error{inj.APIOption},
		ReaperInterval: time.Second,
		Handler: func(ctx context.Context, name string, cfg config.Config, awsCfg aws.Config) (any, error) {
			h, err := app.Handler(ctx, name, cfg, awsCfg)
			if err != nil {
				return nil, err
			}
			// Step Functions and Lambda deliver task invocations at least once.
			task := name == app.FnApprovalWait || name == app.FnIssue || name == app.FnFinalize
			return inj.Wrap(h, task), nil
		},
	})
	if err != nil {
		return nil, err
	}
	keys, err := stack.SeedDemoKeys(ctx)
	if err != nil {
		stack.Close()
		return nil, err
	}
	sys := &system{stack: stack, keys: keys, inj: inj,
		store: store.New(dynamodb.NewFromConfig(stack.AWSConfig), stack.Config.StateTable, stack.Config.AuditTable)}
	// More approvers, for quorums (made before any fault is enabled).
	for _, name := range quorumVoters {
		r := sys.call(ctx, "admin", "POST", "/api/v1/apikeys", map[string]any{"principal": name, "roles": []string{"approver"}})
		if r.Status != http.StatusCreated {
			stack.Close()
			return nil, fmt.Errorf("key for %s: %d %s", name, r.Status, r.Raw)
		}
		sys.keys[name] = r.str("secret")
	}
	return sys, nil
}

// quorumVoters approve, besides bob and admin, in quorum scenarios.
var quorumVoters = []string{"quinn", "riley", "sam"}

func (s *system) source() invariants.Source {
	return invariants.Source{AWS: s.stack.AWSConfig, StateTable: s.stack.Config.StateTable,
		AuditTable: s.stack.Config.AuditTable, StateMachineARN: s.stack.Config.StateMachineARN, DigestKeyID: s.stack.Config.DigestKeyID}
}

// reply is one API answer.
type reply struct {
	Status int
	Body   map[string]any
	Raw    string
}

func (r reply) str(key string) string { v, _ := r.Body[key].(string); return v }

// call sends one API request as who. A transport error is status 0.
func (s *system) call(ctx context.Context, who, method, path string, body any) reply {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.stack.URL+path, rd)
	if err != nil {
		return reply{Raw: err.Error()}
	}
	req.Header.Set("X-Api-Key", s.keys[who])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{Raw: err.Error()}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{Status: resp.StatusCode, Raw: string(raw)}
	_ = json.Unmarshal(raw, &r.Body)
	return r
}

// transient reports answers a caller retries: the function died or an AWS
// dependency failed (5xx), or the request raced another (409 "retry").
func transient(r reply) bool {
	return r.Status == 0 || r.Status >= 500
}

func newCSR(cn string, dns ...string) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}, DNSNames: dns}, key)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func randomID(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%x", prefix, b)
}

func trim(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
