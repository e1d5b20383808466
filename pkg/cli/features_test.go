package cli

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Contexts: set-context writes the file (no key, only the key file's
// path), use-context switches, and commands connect with the context when
// no flag or variable says otherwise.
func TestConfigContexts(t *testing.T) {
	s := newStub(t, map[string]http.HandlerFunc{"GET /api/v1/certificates/{id}": answer(200, `{"id":"web"}`)})
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "alice.key")
	if err := os.WriteFile(keyFile, []byte("k-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"XDG_CONFIG_HOME": dir, "HOME": dir}
	runWith(t, env, "", "config", "set-context", "local", "--endpoint", s.URL, "--api-key-file", keyFile).want(t, 0)
	runWith(t, env, "", "config", "set-context", "prod", "--endpoint", "https://abc.execute-api.eu-west-1.amazonaws.com/prod", "--auth", "sigv4").want(t, 0)
	raw, err := os.ReadFile(filepath.Join(dir, "certctl", "config.json"))
	if err != nil || strings.Contains(string(raw), "k-from-file") {
		t.Fatalf("config file (must hold no key): %v\n%s", err, raw)
	}
	if r := runWith(t, env, "", "config", "current-context").want(t, 0); r.stdout != "local\n" {
		t.Fatalf("the first context becomes current: %q", r.stdout)
	}
	runWith(t, env, "", "certs", "get", "web").want(t, 0)
	if k := s.last(t).Key; k != "k-from-file" {
		t.Fatalf("key from the context's file: %q", k)
	}
	// The environment wins over the context.
	env[EnvAPIKey] = "k-env"
	runWith(t, env, "", "certs", "get", "web").want(t, 0)
	if k := s.last(t).Key; k != "k-env" {
		t.Fatalf("key from the environment: %q", k)
	}
	r := runWith(t, env, "", "config", "get-contexts").want(t, 0)
	if !strings.Contains(r.stdout, "*        local") || !strings.Contains(r.stdout, "sigv4") {
		t.Fatalf("get-contexts:\n%s", r.stdout)
	}
	runWith(t, env, "", "config", "use-context", "prod").want(t, 0)
	if r := runWith(t, env, "", "config", "current-context").want(t, 0); r.stdout != "prod\n" {
		t.Fatalf("use-context: %q", r.stdout)
	}
	runWith(t, env, "", "config", "use-context", "nope").want(t, 1)
	r = runWith(t, env, "", "--context", "nope", "certs", "get", "web").want(t, 2)
	if !strings.Contains(r.stderr, `no context "nope"`) {
		t.Fatalf("unknown --context: %s", r.stderr)
	}
	// --api-key still works, with a deprecation warning.
	r = run(t, s, "--api-key", "k2", "certs", "get", "web").want(t, 0)
	if !strings.Contains(r.stderr, "deprecated") || s.last(t).Key != "k2" {
		t.Fatalf("--api-key: %q %q", r.stderr, s.last(t).Key)
	}
}

// --new-key writes a 0600 key (never over a file), sends only a CSR for
// the names, and a private key passed as --csr is refused unsent.
func TestNewKeyAndPrivateKeyRefusal(t *testing.T) {
	s := newStub(t, map[string]http.HandlerFunc{
		"POST /api/v1/certificates":            answer(201, `{"certificate":{"id":"web"},"job_id":"job-1","status":"Pending"}`),
		"GET /api/v1/certificates/{id}":        answer(200, `{"id":"web","common_name":"web.example.com","sans":["www.example.com","10.0.0.1"]}`),
		"POST /api/v1/certificates/{id}/renew": answer(202, `{"job_id":"job-2","status":"Pending"}`),
	})
	dir := t.TempDir()
	keyOut := filepath.Join(dir, "web.key")
	run(t, s, "certs", "create", "--id", "web", "--cn", "web.example.com", "--san", "www.example.com", "--profile", "p", "--new-key", "--key-out", keyOut).want(t, 0)
	st, err := os.Stat(keyOut)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", err, st)
	}
	var body struct {
		CSR string `json:"csr"`
	}
	_ = json.Unmarshal([]byte(s.last(t).Body), &body)
	block, _ := pem.Decode([]byte(body.CSR))
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || csr.Subject.CommonName != "web.example.com" || strings.Join(csr.DNSNames, ",") != "web.example.com,www.example.com" ||
		csr.PublicKeyAlgorithm != x509.ECDSA || strings.Contains(s.last(t).Body, "PRIVATE") {
		t.Fatalf("CSR %v %+v", err, csr)
	}
	sent := len(s.requests())
	r := run(t, s, "certs", "create", "--cn", "web.example.com", "--profile", "p", "--new-key", "--key-out", keyOut).want(t, 1)
	if !strings.Contains(r.stderr, "refusing to overwrite") || len(s.requests()) != sent {
		t.Fatalf("overwrite: %s", r.stderr)
	}
	// Renew with a new RSA key for the certificate's own names.
	renewKey := filepath.Join(dir, "web-2.key")
	run(t, s, "certs", "renew", "web", "--new-key", "--key-type", "RSA_2048", "--key-out", renewKey).want(t, 0)
	_ = json.Unmarshal([]byte(s.last(t).Body), &body)
	block, _ = pem.Decode([]byte(body.CSR))
	if csr, err = x509.ParseCertificateRequest(block.Bytes); err != nil || csr.PublicKeyAlgorithm != x509.RSA || len(csr.IPAddresses) != 1 {
		t.Fatalf("renew CSR %v %+v", err, csr)
	}
	// The key file passed as a CSR, from a file or stdin: refused, nothing sent.
	sent = len(s.requests())
	r = run(t, s, "certs", "create", "--cn", "web.example.com", "--profile", "p", "--csr", keyOut).want(t, 1)
	if !strings.Contains(r.stderr, "holds a private key") {
		t.Fatalf("key as CSR: %s", r.stderr)
	}
	key, _ := os.ReadFile(keyOut)
	env := map[string]string{EnvEndpoint: s.URL, EnvAPIKey: "k1"}
	runWith(t, env, string(key), "certs", "renew", "web", "--csr", "-").want(t, 1)
	if len(s.requests()) != sent {
		t.Fatal("a private key was sent")
	}
}

func TestOutputYAMLAndJSONPath(t *testing.T) {
	s := newStub(t, map[string]http.HandlerFunc{"GET /api/v1/certificates": pagedCerts(3)})
	r := run(t, s, "certs", "list", "-o", "jsonpath={.data[*].id}").want(t, 0)
	if r.stdout != "c0 c1 c2\n" {
		t.Fatalf("jsonpath: %q", r.stdout)
	}
	r = run(t, s, "certs", "list", "-o", "jsonpath=first={.data[0].id} last={.data[-1].status}").want(t, 0)
	if r.stdout != "first=c0 last=Active\n" {
		t.Fatalf("jsonpath template: %q", r.stdout)
	}
	r = run(t, s, "certs", "list", "-o", "yaml").want(t, 0)
	for _, want := range []string{"data:\n  - common_name: \"\"\n", "\n    id: c0\n", "\n    sans: null\n", "\n    created_at: \"0001-01-01T00:00:00Z\"\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("yaml lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestYAMLQuotesWhatWouldReadOtherwise(t *testing.T) {
	tree, _ := toTree(map[string]any{"a": "yes", "b": "12", "c": "x: y", "d": "", "e": []any{}, "f": map[string]any{}, "g": nil, "h": "plain text"})
	got := toYAML(tree)
	want := "a: \"yes\"\nb: \"12\"\nc: \"x: y\"\nd: \"\"\ne: []\nf: {}\ng: null\nh: plain text\n"
	if got != want {
		t.Fatalf("yaml:\n%s\nwant:\n%s", got, want)
	}
}

func TestWaitOnCreateAndApprove(t *testing.T) {
	s := newStub(t, map[string]http.HandlerFunc{
		"POST /api/v1/certificates":           answer(201, `{"certificate":{"id":"web"},"job_id":"job-1","approval_id":"ar-1","status":"AwaitingApproval"}`),
		"GET /api/v1/jobs/job-1":              answer(200, `{"id":"job-1","status":"Completed"}`),
		"GET /api/v1/approvals/{id}":          answer(200, `{"id":"ar-1","job_id":"job-1","state":"pending","expires_at":"2099-01-01T00:00:00Z"}`),
		"POST /api/v1/approvals/{id}/approve": answer(200, `{"id":"ar-1","decided_by":"bob","action":"approved"}`),
	})
	csr := filepath.Join(t.TempDir(), "web.csr")
	_ = os.WriteFile(csr, []byte("CSR PEM\n"), 0o600)
	r := run(t, s, "certs", "create", "--cn", "web.example.com", "--profile", "p", "--csr", csr, "--wait").want(t, 0)
	if !strings.Contains(r.stdout, "Completed") || !strings.Contains(r.stderr, "job-1  Completed") {
		t.Fatalf("create --wait: %q %q", r.stdout, r.stderr)
	}
	r = run(t, s, "approvals", "approve", "ar-1", "--wait", "-o", "json").want(t, 0)
	if !strings.Contains(r.stdout, `"status": "Completed"`) || !strings.Contains(r.stderr, "following job job-1") {
		t.Fatalf("approve --wait: %q %q", r.stdout, r.stderr)
	}
}

func TestFriendlyErrors(t *testing.T) {
	r := runWith(t, map[string]string{EnvEndpoint: "http://127.0.0.1:1", EnvAPIKey: "k"}, "", "certs", "list").want(t, 1)
	if !strings.Contains(r.stderr, "connection refused") || !strings.Contains(r.stderr, "did not answer: check the endpoint") {
		t.Fatalf("unreachable: %s", r.stderr)
	}
	s := newStub(t, map[string]http.HandlerFunc{"GET /api/v1/certificates": answer(401, `{"error":"Unauthorized","message":"Unauthorized","request_id":"r"}`)})
	r = run(t, s, "certs", "list").want(t, 1)
	if !strings.Contains(r.stderr, "did not accept the credentials") {
		t.Fatalf("401: %s", r.stderr)
	}
	if msg := friendly(&runner{env: func(string) string { return "" }}, errString("sigv4: AWS credentials: failed to refresh cached credentials, no valid providers in chain")); !strings.Contains(msg, "aws sso login") {
		t.Fatalf("AWS credentials: %s", msg)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		r := runWith(t, nil, "", "completion", shell).want(t, 0)
		if !strings.Contains(r.stdout, "certctl") {
			t.Fatalf("%s completion: %q", shell, r.stdout[:min(200, len(r.stdout))])
		}
	}
	s := newStub(t, map[string]http.HandlerFunc{
		"GET /api/v1/approvals": answer(200, `{"data":[{"id":"ar-1","state":"pending"},{"id":"ar-2","state":"pending"}]}`),
	})
	r := run(t, s, "__complete", "approvals", "approve", "ar-")
	if !strings.Contains(r.stdout, "ar-1\n") || !strings.Contains(r.stdout, "ar-2\n") || !strings.Contains(s.last(t).Query, "state=pending") {
		t.Fatalf("ids: %q %q", r.stdout, s.last(t).Query)
	}
	r = run(t, s, "__complete", "jobs", "list", "--status", "C")
	if !strings.Contains(r.stdout, "Completed\n") || !strings.Contains(r.stdout, "Cancelled\n") || strings.Contains(r.stdout, "Running") {
		t.Fatalf("enum: %q", r.stdout)
	}
}

func TestVersion(t *testing.T) {
	s := newStub(t, map[string]http.HandlerFunc{"GET /api/v1/health": answer(200, `{"status":"ok","version":"v1.2.3"}`)})
	r := run(t, s, "version").want(t, 0)
	if !strings.HasPrefix(r.stdout, "certctl dev") || !strings.Contains(r.stdout, "server  v1.2.3") {
		t.Fatalf("version: %q", r.stdout)
	}
	r = runWith(t, nil, "", "version", "--client", "-o", "json").want(t, 0)
	if !strings.Contains(r.stdout, `"version": "dev`) {
		t.Fatalf("version json: %q", r.stdout)
	}
}

func TestTrimLine(t *testing.T) {
	if got := trimLine("abcdefghij\n", 5); got != "abcd…\n" {
		t.Fatalf("%q", got)
	}
	if got := trimLine("abc\n", 5); got != "abc\n" {
		t.Fatalf("%q", got)
	}
}

// Diagnostics go to stderr, results to stdout: with the deprecated
// --api-key in use, -o json output still parses (certctl … -o json | jq).
func TestDeprecationWarningLeavesStdoutParseable(t *testing.T) {
	s := newStub(t, map[string]http.HandlerFunc{"GET /api/v1/certificates/{id}": answer(200, `{"id":"web","common_name":"web.example.com"}`)})
	r := run(t, s, "--api-key", "k2", "certs", "get", "web", "-o", "json").want(t, 0)
	var v map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v["id"] != "web" {
		t.Fatalf("stdout is not the JSON result: %v\n%q", err, r.stdout)
	}
	if !strings.Contains(r.stderr, "--api-key") || !strings.Contains(r.stderr, "deprecated") {
		t.Fatalf("the deprecation warning belongs on stderr: %q", r.stderr)
	}
	if strings.Count(r.stderr, "deprecated") != 1 {
		t.Fatalf("one warning, not several: %q", r.stderr)
	}
}
