package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// request is one call the stub API saw.
type request struct {
	Method, Path, Query, Body, Key string
}

// stubAPI serves canned answers by route pattern ("GET /api/v1/jobs/{id}")
// and records every request.
type stubAPI struct {
	URL  string
	mu   sync.Mutex
	seen []request
}

func (s *stubAPI) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.seen...)
}

func (s *stubAPI) last(t *testing.T) request {
	t.Helper()
	all := s.requests()
	if len(all) == 0 {
		t.Fatal("no request reached the API")
	}
	return all[len(all)-1]
}

// answer writes a JSON (or, for strings, raw) body with status.
func answer(status int, body any) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if s, ok := body.(string); ok {
			_, _ = io.WriteString(w, s)
			return
		}
		_ = json.NewEncoder(w).Encode(body)
	}
}

func newStub(t *testing.T, routes map[string]http.HandlerFunc) *stubAPI {
	t.Helper()
	s := &stubAPI{}
	mux := http.NewServeMux()
	for pattern, h := range routes {
		mux.HandleFunc(pattern, h)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.seen = append(s.seen, request{r.Method, r.URL.Path, r.URL.RawQuery, string(b), r.Header.Get("X-Api-Key")})
		s.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// result is one certctl run.
type result struct {
	code           int
	stdout, stderr string
}

// run runs certctl in-process against endpoint with key "k1" in its
// environment (when endpoint is set) and stdin.
func runWith(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

func run(t *testing.T, s *stubAPI, args ...string) result {
	t.Helper()
	env := map[string]string{}
	if s != nil {
		env = map[string]string{EnvEndpoint: s.URL, EnvAPIKey: "k1"}
	}
	return runWith(t, env, "", args...)
}

func (r result) want(t *testing.T, code int) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	return r
}

// A usage error is one line saying what is wrong and one naming the help
// to read, never the whole usage; nothing is sent.
func TestUsageErrorsExit2WithAHintAndUsage(t *testing.T) {
	s := newStub(t, nil)
	for _, tc := range []struct {
		args       []string
		hint, help string
	}{
		{nil, "missing command (one of approvals,", "certctl --help"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`, "certctl --help"},
		{[]string{"approvals"}, "approvals: missing subcommand (one of approve, list, reject, show)", "certctl approvals --help"},
		{[]string{"approvals", "frob"}, `approvals: unknown subcommand "frob"`, "certctl approvals --help"},
		{[]string{"approvals", "aprove", "ar-1"}, `did you mean 'approve'?`, "certctl approvals --help"},
		{[]string{"certs", "lst"}, `or 'list'?`, "certctl certs --help"},
		{[]string{"approvals", "list", "--bogus"}, "unknown flag: --bogus", "certctl approvals list --help"},
		{[]string{"approvals", "list", "--stat", "pending"}, "unknown flag: --stat; did you mean --state?", "certctl approvals list --help"},
		{[]string{"approvals", "approve"}, "approvals approve: missing argument ID", "certctl approvals approve --help"},
		{[]string{"approvals", "approve", "a", "b"}, `unexpected argument "b"`, "certctl approvals approve --help"},
		{[]string{"approvals", "reject", "ar-1"}, "approvals reject: --note is required", "certctl approvals reject --help"},
		{[]string{"certs", "create", "--cn", "x", "--csr", "f"}, "--profile is required", "certctl certs create --help"},
		{[]string{"certs", "create", "--cn", "x", "--profile", "p"}, "--csr is required (or --new-key)", "certctl certs create --help"},
		{[]string{"certs", "create", "--cn", "x", "--profile", "p", "--csr", "f", "--new-key"}, "give --csr or --new-key, not both", "certctl certs create --help"},
		{[]string{"certs", "create", "--cn", "x", "--profile", "p", "--new-key", "--key-type", "DSA"}, `--key-type "DSA"`, "certctl certs create --help"},
		{[]string{"profiles", "create", "--name", "x"}, "--id is required", "certctl profiles create --help"},
		{[]string{"certs", "list", "-o", "xml"}, `-o "xml": want table, json, yaml or jsonpath=TEMPLATE`, "certctl certs list --help"},
		{[]string{"certs", "list", "-o", "jsonpath={data}"}, "a path starts with .", "certctl certs list --help"},
		{[]string{"certs", "list", "--limit", "-1"}, "--limit must be 0 or more", "certctl certs list --help"},
		{[]string{"jobs", "get", "j", "--timeout", "0s"}, "--timeout must be positive", "certctl jobs get --help"},
		{[]string{"profiles", "create", "--id", "p", "--name", "P", "--max-validity", "soon"}, "want a positive duration", "certctl profiles create --help"},
		{[]string{"audit", "--since", "yesterday"}, "--since:", "certctl audit --help"},
		{[]string{"principals", "set-roles", "dave"}, "--role is required", "certctl principals set-roles --help"},
		{[]string{"bootstrap-key", "--principal", "p", "--roles", "admin"}, "--state-table and --audit-table are required", "certctl bootstrap-key --help"},
	} {
		r := run(t, s, tc.args...).want(t, 2)
		lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
		if !strings.HasPrefix(r.stderr, "certctl: ") || !strings.Contains(lines[0], tc.hint) {
			t.Errorf("%v: first line of stderr %q, want it to contain %q", tc.args, lines[0], tc.hint)
		}
		if len(lines) != 2 || lines[1] != "Run '"+tc.help+"' for usage." {
			t.Errorf("%v: want one line and the help hint %q, got:\n%s", tc.args, tc.help, r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("%v: printed %q on stdout", tc.args, r.stdout)
		}
	}
	if n := len(s.requests()); n != 0 {
		t.Fatalf("usage errors sent %d requests", n)
	}
}

func TestConfigurationErrors(t *testing.T) {
	r := runWith(t, nil, "", "certs", "list").want(t, 2)
	if !strings.Contains(r.stderr, "no endpoint: set --endpoint or CERTCTL_ENDPOINT") {
		t.Fatalf("stderr: %s", r.stderr)
	}
	r = runWith(t, map[string]string{EnvEndpoint: "http://127.0.0.1:1"}, "", "certs", "list").want(t, 2)
	if !strings.Contains(r.stderr, "no credentials: set --api-key-file or CERTCTL_API_KEY, or use --sigv4") {
		t.Fatalf("stderr: %s", r.stderr)
	}
	r = runWith(t, map[string]string{EnvEndpoint: "127.0.0.1:8080", EnvAPIKey: "k"}, "", "certs", "list").want(t, 2)
	if !strings.Contains(r.stderr, "is not an http(s) URL") {
		t.Fatalf("stderr: %s", r.stderr)
	}
	// Nothing listens on port 1: a network error is exit 1, not usage.
	r = runWith(t, map[string]string{EnvEndpoint: "http://127.0.0.1:1", EnvAPIKey: "k"}, "", "certs", "list").want(t, 1)
	if !strings.Contains(r.stderr, "connection refused") {
		t.Fatalf("stderr: %s", r.stderr)
	}
}

func TestHelpExits0OnStdout(t *testing.T) {
	for args, want := range map[string]string{
		"help":                     "--api-key-file FILE",
		"-h":                       "Available Commands:",
		"--help":                   "completion",
		"approvals -h":             "certctl approvals [command]",
		"help approvals":           "certctl approvals [command]",
		"approvals approve -h":     "certctl approvals approve ID [flags]",
		"approvals approve --help": "--note TEXT",
		"config -h":                "set-context",
		"completion -h":            "bash",
		"version -h":               "--client",
		"help certs chain":         "certctl certs chain web > chain.pem",
		"certificates create -h":   "--csr FILE",
		"audit --help":             "--since TIME",
		"bootstrap-key -h":         "usage: certctl bootstrap-key --state-table NAME",
		"profiles update --help":   "changes nothing yet",
		"keys create -h":           "--expires-in DURATION",
		"jobs get -h":              "--timeout DURATION",
		"approval show -h":         "field-by-field diff",
		"principals set-roles -h":  "--role ROLE",
	} {
		r := runWith(t, nil, "", strings.Fields(args)...).want(t, 0)
		if !strings.Contains(r.stdout, want) || r.stderr != "" {
			t.Errorf("%s: stdout lacks %q (stderr %q):\n%s", args, want, r.stderr, r.stdout)
		}
	}
}

func TestGlobalFlagsFromEnvironmentAndCommandLine(t *testing.T) {
	s := newStub(t, map[string]http.HandlerFunc{"GET /api/v1/certificates/{id}": answer(200, `{"id":"web"}`)})
	run(t, s, "certs", "get", "web").want(t, 0)
	if k := s.last(t).Key; k != "k1" {
		t.Fatalf("key from the environment: %q", k)
	}
	// Flags win over the environment, before or after the command and its argument.
	run(t, s, "--api-key", "k2", "certs", "get", "web").want(t, 0)
	if k := s.last(t).Key; k != "k2" {
		t.Fatalf("key from a flag before the command: %q", k)
	}
	run(t, s, "certs", "get", "web", "--api-key", "k3", "-o", "json").want(t, 0)
	if k := s.last(t).Key; k != "k3" {
		t.Fatalf("key from a flag after the argument: %q", k)
	}
	r := runWith(t, nil, "", "--endpoint", s.URL+"/api/v1/", "--api-key", "k4", "cert", "show", "web").want(t, 0)
	if got := s.last(t); got.Path != "/api/v1/certificates/web" || got.Key != "k4" || !strings.Contains(r.stdout, "web") {
		t.Fatalf("endpoint with /api/v1 and aliases: %+v %s", got, r.stdout)
	}
}

func TestAPIErrorsExit1(t *testing.T) {
	s := newStub(t, map[string]http.HandlerFunc{
		"POST /api/v1/approvals/{id}/approve": answer(403, map[string]string{
			"error": "Forbidden", "message": "forbidden: two-person integrity: the requester cannot decide their own request", "request_id": "r-1",
		}),
	})
	r := run(t, s, "approvals", "approve", "ar-1", "--note", "mine").want(t, 1)
	want := "certctl: 403 Forbidden: forbidden: two-person integrity: the requester cannot decide their own request (request r-1)\n"
	if r.stderr != want || r.stdout != "" {
		t.Fatalf("stderr %q, stdout %q", r.stderr, r.stdout)
	}
	if b := s.last(t).Body; b != `{"note":"mine"}` {
		t.Fatalf("body %s", b)
	}
}
