package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const testPEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n"

func TestApprovalsTableAndJSON(t *testing.T) {
	created := time.Now().Add(-2*time.Hour - time.Minute).UTC().Format(time.RFC3339)
	s := newStub(t, map[string]http.HandlerFunc{
		"GET /api/v1/approvals": answer(200, `{"data":[
			{"id":"ar-1","kind":"cert_issuance","state":"pending","profile_id":"prod-web","requested_by":"alice","created_at":"`+created+`","subject":{"common_name":"web.example.com"},
			 "votes":[{"actor":"bob","actor_type":"User","at":"`+created+`","eligible":["approvers"]}],"required_approvals":2},
			{"id":"ar-22","kind":"profile_edit","state":"approved","profile_id":"prod-web","requested_by":"bob","decided_by":"alice","created_at":"`+created+`","profile_edit":{"base_version":1,"diff":{}},
			 "votes":[],"required_approvals":1}
		]}`),
	})
	r := run(t, s, "approvals", "list", "--state", "pending", "--cert", "web", "--requested-by", "alice").want(t, 0)
	if q := s.last(t).Query; q != "certificate_id=web&limit=100&requested_by=alice&state=pending" {
		t.Fatalf("query %q", q)
	}
	// tabwriter pads to the widest cell: check the columns line up.
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("table:\n%s", r.stdout)
	}
	col := strings.Index(lines[0], "REQUESTED BY")
	for i, who := range []string{"alice", "bob"} {
		if !strings.HasPrefix(lines[i+1][col:], who) {
			t.Fatalf("columns are not aligned:\n%s", r.stdout)
		}
	}
	if f := strings.Fields(lines[1]); strings.Join(f, " ") != "ar-1 pending cert_issuance web.example.com alice 2h 1/2 -" {
		t.Fatalf("row %q", lines[1])
	}
	if !strings.Contains(lines[2], "edit profile prod-web") {
		t.Fatalf("profile edit subject: %q", lines[2])
	}

	r = run(t, s, "approvals", "list", "-o", "json").want(t, 0)
	var out struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Data) != 2 || out.Data[1].ID != "ar-22" {
		t.Fatalf("json list: %v\n%s", err, r.stdout)
	}
}

func TestApprovalShowAndDecisions(t *testing.T) {
	s := newStub(t, map[string]http.HandlerFunc{
		"GET /api/v1/approvals/{id}": answer(200, `{"id":"ar-1","kind":"cert_issuance","state":"pending","profile_id":"prod-web","requested_by":"alice",
			"subject":{"common_name":"web.example.com","sans":["www.example.com"],"key_algorithm":"ECDSA_P256","validity_seconds":7776000,"issuer_id":"default"},"pending_age_seconds":60}`),
		"POST /api/v1/approvals/{id}/approve": answer(200, `{"id":"ar-1","decided_by":"bob","action":"approved"}`),
		"POST /api/v1/approvals/{id}/reject":  answer(200, `{"id":"ar-1","decided_by":"bob","action":"rejected"}`),
	})
	r := run(t, s, "approvals", "show", "ar-1").want(t, 0)
	for _, line := range []string{"State          pending", "Requested by   alice", "Common name    web.example.com", "Validity       90d", "Key algorithm  ECDSA_P256"} {
		if !strings.Contains(r.stdout, line+"\n") {
			t.Errorf("show lacks %q:\n%s", line, r.stdout)
		}
	}
	r = run(t, s, "approvals", "approve", "ar-1").want(t, 0)
	if r.stdout != "approved ar-1 (decided by bob)\n" || s.last(t).Body != `{"note":""}` {
		t.Fatalf("approve: %q %q", r.stdout, s.last(t).Body)
	}
	r = run(t, s, "approvals", "reject", "ar-1", "--note", "not this week", "-o", "json").want(t, 0)
	if !strings.Contains(r.stdout, `"action": "rejected"`) || s.last(t).Body != `{"note":"not this week"}` {
		t.Fatalf("reject: %q %q", r.stdout, s.last(t).Body)
	}
}

func TestChainPrintsExactlyThePEM(t *testing.T) {
	s := newStub(t, map[string]http.HandlerFunc{
		"GET /api/v1/certificates/web/versions":   answer(200, map[string]any{"data": []map[string]string{{"pem_chain": testPEM, "serial_number": "01"}}}),
		"GET /api/v1/certificates/fresh/versions": answer(200, `{"data":[]}`),
		"GET /api/v1/issuers/{id}":                answer(200, map[string]string{"id": "default", "status": "active", "ca_certificate_pem": "CA PEM\n"}),
	})
	for _, args := range [][]string{{"certs", "chain", "web"}, {"certs", "chain", "web", "-o", "json"}} {
		r := run(t, s, args...).want(t, 0)
		if r.stdout != testPEM || r.stderr != "" {
			t.Fatalf("%v: stdout %q stderr %q", args, r.stdout, r.stderr)
		}
		if q := s.last(t).Query; q != "limit=1" {
			t.Fatalf("chain asks for the newest version only; query %q", q)
		}
	}
	r := run(t, s, "certs", "chain", "fresh").want(t, 1)
	if r.stdout != "" || !strings.Contains(r.stderr, "no issued version yet") {
		t.Fatalf("no version: %q %q", r.stdout, r.stderr)
	}
	r = run(t, s, "issuers", "get", "--pem").want(t, 0)
	if r.stdout != "CA PEM\n" || s.last(t).Path != "/api/v1/issuers/default" {
		t.Fatalf("issuer pem: %q %s", r.stdout, s.last(t).Path)
	}
}

func TestCertsCreateFromFileAndStdin(t *testing.T) {
	s := newStub(t, map[string]http.HandlerFunc{
		"POST /api/v1/certificates":            answer(201, `{"certificate":{"id":"web"},"job_id":"job-1","approval_id":"ar-1","status":"AwaitingApproval"}`),
		"POST /api/v1/certificates/{id}/renew": answer(202, `{"job_id":"job-2","status":"Pending"}`),
	})
	csr := filepath.Join(t.TempDir(), "web.csr")
	if err := os.WriteFile(csr, []byte("CSR PEM\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, s, "certs", "create", "--id", "web", "--cn", "web.example.com", "--san", "www.example.com", "--san", "a.example.com,b.example.com", "--profile", "prod-web", "--csr", csr).want(t, 0)
	var body map[string]any
	_ = json.Unmarshal([]byte(s.last(t).Body), &body)
	if body["id"] != "web" || body["common_name"] != "web.example.com" || body["profile_id"] != "prod-web" || body["csr"] != "CSR PEM\n" ||
		fmt.Sprint(body["sans"]) != "[www.example.com a.example.com b.example.com]" {
		t.Fatalf("body %s", s.last(t).Body)
	}
	for _, line := range []string{"Certificate  web", "Job          job-1", "Status       AwaitingApproval", "Approval     ar-1"} {
		if !strings.Contains(r.stdout, line+"\n") {
			t.Fatalf("create output lacks %q:\n%s", line, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "approvals approve ar-1") {
		t.Fatalf("no next-step hint: %q", r.stderr)
	}

	env := map[string]string{EnvEndpoint: s.URL, EnvAPIKey: "k1"}
	runWith(t, env, "NEW CSR\n", "certs", "renew", "web", "--csr", "-").want(t, 0)
	if b := s.last(t).Body; b != `{"csr":"NEW CSR\n"}` {
		t.Fatalf("renew body %s", b)
	}
	run(t, s, "certs", "renew", "web").want(t, 0)
	if b := s.last(t).Body; b != "" {
		t.Fatalf("renew with the stored CSR sends no body, sent %s", b)
	}
	r = run(t, s, "certs", "create", "--cn", "x", "--profile", "p", "--csr", filepath.Join(t.TempDir(), "missing")).want(t, 1)
	if !strings.Contains(r.stderr, "no such file") {
		t.Fatalf("missing CSR file: %s", r.stderr)
	}
}

func TestProfilesUpdateKeepsUnsetFieldsAndReportsPending(t *testing.T) {
	s := newStub(t, map[string]http.HandlerFunc{
		"GET /api/v1/profiles/{id}": answer(200, `{"id":"prod-web","name":"Production web","requires_approval":true,
			"allowed_key_algorithms":["ECDSA_P256"],"max_validity_seconds":7776000,"renew_before_seconds":2592000,"issuer_id":"default","approvers":{"principals":["carol"]},"version":3}`),
		"PUT /api/v1/profiles/{id}":    answer(202, `{"status":"pending_approval","approval_id":"ar-7"}`),
		"DELETE /api/v1/profiles/{id}": answer(204, ""),
		"POST /api/v1/profiles":        answer(201, `{"id":"p","name":"P","requires_approval":true,"version":1}`),
	})
	r := run(t, s, "profiles", "update", "prod-web", "--max-validity", "30d", "--renew-before", "240h", "--approver-role", "approver").want(t, 0)
	if r.stdout != "pending approval ar-7\n" {
		t.Fatalf("stdout %q", r.stdout)
	}
	// The server keeps what the request leaves out: only the flags given are sent.
	want := `{"max_validity_seconds":2592000,"renew_before_seconds":864000,"approvers":{"roles":["approver"]}}`
	if b := s.last(t).Body; b != want {
		t.Fatalf("PUT body\n got  %s\n want %s", b, want)
	}
	run(t, s, "profiles", "update", "prod-web", "--name", "Web").want(t, 0)
	if b := s.last(t).Body; b != `{"name":"Web"}` {
		t.Fatalf("an update without approver flags must leave the pool out: %s", b)
	}
	run(t, s, "profiles", "update", "prod-web", "--approver", "").want(t, 0)
	if b := s.last(t).Body; b != `{"approvers":{}}` {
		t.Fatalf("clearing the pool: %s", b)
	}
	r = run(t, s, "profiles", "delete", "prod-web").want(t, 0)
	if r.stdout != "deleted profile prod-web\n" {
		t.Fatalf("delete: %q", r.stdout)
	}
	run(t, s, "profiles", "create", "--id", "p", "--name", "P", "--allowed-name", "**.example.com", "--requires-approval", "--key-algorithms", "ECDSA_P256,ED25519", "--approver", "bob").want(t, 0)
	want = `{"id":"p","name":"P","requires_approval":true,"allowed_names":["**.example.com"],"allowed_key_algorithms":["ECDSA_P256","ED25519"],"approvers":{"principals":["bob"]}}`
	if b := s.last(t).Body; b != want {
		t.Fatalf("POST body\n got  %s\n want %s", b, want)
	}
	// The approval rule: a number of approvals, or factors.
	run(t, s, "profiles", "update", "prod-web", "--required-approvals", "2").want(t, 0)
	if b := s.last(t).Body; b != `{"required_approvals":2}` {
		t.Fatalf("required approvals: %s", b)
	}
	run(t, s, "profiles", "update", "prod-web", "--factor", "security=1,dana,arn:aws:iam::123456789012:role/Sec", "--factor", "owners=2,role:approver", "--factor", "any=1").want(t, 0)
	want = `{"approval_policy":[{"name":"security","approvers":{"principals":["dana","arn:aws:iam::123456789012:role/Sec"]},"count":1},` +
		`{"name":"owners","approvers":{"roles":["approver"]},"count":2},{"name":"any","count":1}]}`
	if b := s.last(t).Body; b != want {
		t.Fatalf("factors\n got  %s\n want %s", b, want)
	}
	run(t, s, "profiles", "update", "prod-web", "--factor", "").want(t, 0)
	if b := s.last(t).Body; b != `{"approval_policy":[]}` {
		t.Fatalf("clearing the policy: %s", b)
	}
	r = run(t, s, "profiles", "update", "prod-web", "--factor", "security").want(t, 2)
	if !strings.Contains(r.stderr, "NAME=COUNT") {
		t.Fatalf("a factor without a count: %q", r.stderr)
	}
}

// A vote that leaves the request pending says what is still missing (and
// --wait does not wait for a job it did not release); show lists the
// votes, which factor each counts toward, and what is missing; --can-vote
// asks the server for the requests the caller can vote on.
func TestVotes(t *testing.T) {
	s := newStub(t, map[string]http.HandlerFunc{
		"GET /api/v1/approvals/{id}": answer(200, `{"id":"ar-2","kind":"cert_issuance","state":"pending","profile_id":"pay","requested_by":"alice","job_id":"job-2",
			"approval_policy":[{"name":"security","approvers":{"principals":["dana"]},"count":1},{"name":"owners","approvers":{"roles":["approver"]},"count":1}],
			"votes":[{"actor":"bob","actor_type":"User","at":"2031-03-04T05:06:07Z","note":"ticket 9","eligible":["owners"],"factor":"owners"}],
			"required_approvals":2,"missing":{"approvals":1,"factors":[{"name":"security","approvers":{"principals":["dana"]},"votes":1}]},"pending_age_seconds":60}`),
		"POST /api/v1/approvals/{id}/approve": answer(200, `{"id":"ar-2","action":"voted","state":"pending","missing":{"approvals":1,"factors":[{"name":"security","votes":1}]}}`),
		"GET /api/v1/approvals":               answer(200, `{"data":[]}`),
	})
	r := run(t, s, "approvals", "get", "ar-2").want(t, 0)
	var shown []string
	for _, l := range strings.Split(r.stdout, "\n") {
		shown = append(shown, strings.Join(strings.Fields(l), " "))
	}
	for _, line := range []string{
		"Approval policy security: 1 of dana; owners: 1 of role:approver",
		"Votes 1 of 2",
		"Vote 1 bob at 2031-03-04T05:06:07Z, counts toward owners: ticket 9",
		"Missing 1 approval from security (up to 1)",
		"Can vote for security dana",
	} {
		if !slices.Contains(shown, line) {
			t.Errorf("show lacks %q:\n%s", line, r.stdout)
		}
	}
	r = run(t, s, "approvals", "approve", "ar-2", "--wait").want(t, 0)
	if r.stdout != "voted on ar-2 (still missing: 1 approval from security (up to 1))\n" || !strings.Contains(r.stderr, "job-2 still waits") {
		t.Fatalf("vote: %q %q", r.stdout, r.stderr)
	}
	run(t, s, "approvals", "list", "--can-vote").want(t, 0)
	if q := s.last(t).Query; q != "can_vote=true&limit=100" {
		t.Fatalf("query %q", q)
	}
}

func TestJobsWait(t *testing.T) {
	var polls, flaky atomic.Int32
	statuses := []string{"AwaitingApproval", "Running", "Completed"}
	s := newStub(t, map[string]http.HandlerFunc{
		"GET /api/v1/jobs/ok": func(w http.ResponseWriter, r *http.Request) {
			i := min(int(polls.Add(1))-1, len(statuses)-1)
			answer(200, map[string]string{"id": "ok", "status": statuses[i]})(w, r)
		},
		"GET /api/v1/jobs/flaky": func(w http.ResponseWriter, r *http.Request) {
			if flaky.Add(1) == 1 {
				answer(502, `{"message":"Internal server error"}`)(w, r)
				return
			}
			answer(200, `{"id":"flaky","status":"Completed"}`)(w, r)
		},
		"GET /api/v1/jobs/gone":  answer(404, `{"error":"Not Found","message":"not found: job gone"}`),
		"GET /api/v1/jobs/no":    answer(200, `{"id":"no","status":"Cancelled","error":"approval rejected: not now"}`),
		"GET /api/v1/jobs/stuck": answer(200, `{"id":"stuck","status":"AwaitingApproval"}`),
	})
	r := run(t, s, "jobs", "get", "ok", "--wait").want(t, 0)
	if !strings.Contains(r.stdout, "\nStatus ") || !strings.Contains(r.stdout, " Completed\n") || r.stderr != "ok  AwaitingApproval\nok  Running\nok  Completed\n" {
		t.Fatalf("wait: %q %q", r.stdout, r.stderr)
	}
	r = run(t, s, "jobs", "get", "no", "--wait").want(t, 1)
	if !strings.Contains(r.stderr, "job no ended Cancelled: approval rejected: not now") {
		t.Fatalf("cancelled: %q", r.stderr)
	}
	r = run(t, s, "jobs", "get", "stuck", "--wait", "--timeout", "300ms").want(t, 1)
	if !strings.Contains(r.stderr, "gave up after 300ms: job stuck is still AwaitingApproval") {
		t.Fatalf("timeout: %q", r.stderr)
	}
	// A gateway hiccup is polled through; a refusal is not.
	r = run(t, s, "jobs", "get", "flaky", "--wait").want(t, 0)
	if !strings.Contains(r.stderr, "retrying: 502 Bad Gateway") {
		t.Fatalf("flaky: %q", r.stderr)
	}
	if r = run(t, s, "jobs", "get", "gone", "--wait").want(t, 1); !strings.Contains(r.stderr, "404 Not Found") {
		t.Fatalf("gone: %q", r.stderr)
	}
	// Without --wait a Cancelled job is just shown.
	run(t, s, "jobs", "get", "no").want(t, 0)
}

// pagedCerts serves n certificates, two per page at most.
func pagedCerts(n int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		from, _ := strconv.Atoi(r.URL.Query().Get("page_token"))
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		to := min(from+min(limit, 2), n)
		out := map[string]any{"data": []map[string]string{}}
		for i := from; i < to; i++ {
			out["data"] = append(out["data"].([]map[string]string), map[string]string{"id": fmt.Sprintf("c%d", i), "status": "Active"})
		}
		if to < n {
			out["next_page_token"] = strconv.Itoa(to)
		}
		answer(200, out)(w, r)
	}
}

func TestListsFollowPagesUpToTheLimit(t *testing.T) {
	s := newStub(t, map[string]http.HandlerFunc{"GET /api/v1/certificates": pagedCerts(5)})
	r := run(t, s, "certs", "list", "--limit", "3", "--status", "Active").want(t, 0)
	if got := strings.Count(r.stdout, "\n"); got != 4 || !strings.Contains(r.stderr, "--page-token 3") {
		t.Fatalf("limit 3: %d lines\n%s%s", got, r.stdout, r.stderr)
	}
	r = run(t, s, "certs", "list", "--page-token", "3").want(t, 0)
	if !strings.Contains(r.stdout, "c4") || strings.Contains(r.stdout, "c2") || r.stderr != "" {
		t.Fatalf("resume: %s%s", r.stdout, r.stderr)
	}
	r = run(t, s, "certs", "list", "--limit", "0", "-o", "json").want(t, 0)
	if strings.Count(r.stdout, `"id"`) != 5 || strings.Contains(r.stdout, "next_page_token") {
		t.Fatalf("all: %s", r.stdout)
	}
	for _, q := range s.requests() {
		if v, _ := url.ParseQuery(q.Query); v.Get("status") != "Active" && strings.Contains(q.Query, "status") {
			t.Fatalf("query %q", q.Query)
		}
	}
}

func TestKeysAuditMetricsRoles(t *testing.T) {
	s := newStub(t, map[string]http.HandlerFunc{
		"POST /api/v1/apikeys":        answer(201, `{"id":"key-1","prefix":"cck_abcdef","principal":"dave","secret":"cck_secret","roles":["operator"]}`),
		"DELETE /api/v1/apikeys/{id}": answer(200, `{"id":"key-1","prefix":"cck_abcdef","principal":"dave","revoked_at":"2026-01-01T00:00:00Z"}`),
		"GET /api/v1/audit":           answer(200, `{"data":[{"actor":"bob","action":"approval_approved","resource_type":"approval","resource_id":"ar-1","ts":"2026-01-01T00:00:00Z"}]}`),
		"GET /api/v1/metrics":         answer(200, "certctl_approval_decisions_total{outcome=\"approved\",profile_id=\"p\"} 1\n"),
		"PUT /api/v1/principals/{id}": answer(200, `{"id":"dave","roles":["viewer","approver"]}`),
	})
	r := run(t, s, "keys", "create", "--principal", "dave", "--role", "operator", "--expires-in", "30d").want(t, 0)
	if r.stdout != "cck_secret\n" || !strings.Contains(r.stderr, "shown only this once") {
		t.Fatalf("keys create: %q %q", r.stdout, r.stderr)
	}
	var body struct {
		Principal string    `json:"principal"`
		Roles     []string  `json:"roles"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	_ = json.Unmarshal([]byte(s.last(t).Body), &body)
	if body.Principal != "dave" || len(body.Roles) != 1 || time.Until(body.ExpiresAt) < 29*24*time.Hour {
		t.Fatalf("keys create body %s", s.last(t).Body)
	}
	if r = run(t, s, "keys", "revoke", "key-1").want(t, 0); r.stdout != "revoked key-1 (cck_abcdef…, dave)\n" {
		t.Fatalf("revoke: %q", r.stdout)
	}
	r = run(t, s, "audit", "--actor", "bob", "--since", "24h", "--until", "2026-01-02T00:00:00Z", "--limit", "10").want(t, 0)
	q, _ := url.ParseQuery(s.last(t).Query)
	since, err := time.Parse(time.RFC3339, q.Get("since"))
	if err != nil || time.Since(since) < 23*time.Hour || q.Get("until") != "2026-01-02T00:00:00Z" || q.Get("actor") != "bob" || q.Get("limit") != "10" {
		t.Fatalf("audit query %q", s.last(t).Query)
	}
	if !strings.Contains(r.stdout, "approval_approved") || !strings.HasPrefix(r.stdout, "TIME") {
		t.Fatalf("audit table:\n%s", r.stdout)
	}
	if r = run(t, s, "metrics").want(t, 0); !strings.HasPrefix(r.stdout, "certctl_approval_decisions_total{") {
		t.Fatalf("metrics: %q", r.stdout)
	}
	r = run(t, s, "principals", "set-roles", "dave", "--role", "viewer", "--role", "approver").want(t, 0)
	if s.last(t).Body != `{"roles":["viewer","approver"]}` || r.stdout != "dave now holds: viewer, approver\n" {
		t.Fatalf("set-roles: %s %q", s.last(t).Body, r.stdout)
	}
}

func TestBootstrapKeyRefusesBadArguments(t *testing.T) {
	for name, args := range map[string][]string{
		"no tables":    {"bootstrap-key", "--principal", "admin", "--roles", "admin"},
		"no principal": {"bootstrap-key", "--state-table", "s", "--audit-table", "a", "--roles", "admin"},
		"unknown role": {"bootstrap-key", "--state-table", "s", "--audit-table", "a", "--principal", "p", "--roles", "admin,root"},
		"no roles":     {"bootstrap-key", "--state-table", "s", "--audit-table", "a", "--principal", "p"},
		"global flag":  {"bootstrap-key", "-o", "json", "--state-table", "s", "--audit-table", "a", "--principal", "p", "--roles", "admin"},
	} {
		r := runWith(t, nil, "", args...)
		if r.code != 2 || r.stdout != "" {
			t.Errorf("%s: exit %d, stdout %q (only a key may go there)", name, r.code, r.stdout)
		}
	}
	// The table names default to the stack's variables, read through env.
	env := map[string]string{"CERTCTL_STATE_TABLE": "s", "CERTCTL_AUDIT_TABLE": "a"}
	if r := runWith(t, env, "", "bootstrap-key", "--principal", "p", "--roles", "admin,root"); !strings.Contains(r.stderr, "--roles") {
		t.Fatalf("tables from env: %q", r.stderr)
	}
}

// A hostile common name or note reaches the terminal as visible escapes,
// never as control sequences that redraw what the approver reads.
func TestControlCharactersAreShownEscaped(t *testing.T) {
	s := newStub(t, map[string]http.HandlerFunc{
		"GET /api/v1/approvals/{id}": answer(200, map[string]any{
			"id": "ar-1", "state": "pending", "kind": "cert_issuance", "requested_by": "alice\u202e",
			"subject": map[string]any{"common_name": "evil.example.com\x1b[1A\x1b[2Kgood.example.com", "dns_names": []string{"a\x07.example.com"}},
		}),
	})
	r := run(t, s, "approvals", "show", "ar-1").want(t, 0)
	for _, bad := range []string{"\x1b", "\x07", "\u202e"} {
		if strings.Contains(r.stdout, bad) {
			t.Fatalf("output carries %q raw:\n%q", bad, r.stdout)
		}
	}
	for _, want := range []string{`evil.example.com\x1b[1A\x1b[2Kgood.example.com`, `a\x07.example.com`, `alice\u202e`} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}
