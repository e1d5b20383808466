package contract

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The checker catches each kind of mismatch, so a suite that reports none
// has been checked.
func TestCheckerFindsMismatches(t *testing.T) {
	c, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	get := func(path, key string) *http.Request {
		r := httptest.NewRequest("GET", path, nil)
		if key != "" {
			r.Header.Set("X-Api-Key", key)
		}
		return r
	}
	post := func(path, body string) (*http.Request, []byte) {
		r := httptest.NewRequest("POST", path, strings.NewReader(body))
		r.Header.Set("X-Api-Key", "k")
		r.Header.Set("Content-Type", "application/json")
		return r, []byte(body)
	}
	errBody := []byte(`{"error":"Not Found","message":"not found: job j","request_id":"r"}`)
	job := []byte(`{"id":"j","certificate_id":"c","profile_id":"p","type":"Issuance","status":"Completed","requires_approval":false,"requested_by":"alice","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}`)
	bad, badBody := post("/api/v1/approvals/ar-1/approve", `{"note":"x","extra":1}`)
	good, goodBody := post("/api/v1/approvals/ar-1/approve", `{"note":"x"}`)

	for _, tc := range []struct {
		name   string
		req    *http.Request
		body   []byte
		status int
		answer []byte
		want   string // "" for a match
	}{
		{"a job", get("/api/v1/jobs/j", "k"), nil, 200, job, ""},
		{"a documented refusal", get("/api/v1/jobs/j", "k"), nil, 404, errBody, ""},
		{"an undocumented status", get("/api/v1/jobs/j", "k"), nil, 418, errBody, "does not match"},
		{"a field the schema lacks", get("/api/v1/jobs/j", "k"), nil, 200, []byte(strings.Replace(string(job), `"id":"j"`, `"id":"j","surprise":true`, 1)), "does not match"},
		{"a missing required field", get("/api/v1/jobs/j", "k"), nil, 200, []byte(strings.Replace(string(job), `"status":"Completed",`, "", 1)), "does not match"},
		{"an unknown status value", get("/api/v1/jobs/j", "k"), nil, 200, []byte(strings.Replace(string(job), "Completed", "Done", 1)), "does not match"},
		{"an error body of another shape", get("/api/v1/jobs/j", "k"), nil, 404, []byte(`{"message":"nope"}`), "does not match"},
		{"no key, refused", get("/api/v1/jobs/j", ""), nil, 401, []byte(`{"error":"Unauthorized","message":"Unauthorized","request_id":"r"}`), ""},
		{"no key, accepted", get("/api/v1/jobs/j", ""), nil, 200, job, "refuses the request"},
		{"a body the document refuses, refused", bad, badBody, 400, []byte(`{"error":"Bad Request","message":"unknown field","request_id":"r"}`), ""},
		{"a body the document refuses, accepted", bad, badBody, 200, []byte(`{"id":"ar-1","decided_by":"bob","action":"approved","state":"approved"}`), "refuses the request"},
		{"a decision", good, goodBody, 200, []byte(`{"id":"ar-1","decided_by":"bob","action":"approved","state":"approved"}`), ""},
		{"a vote", good, goodBody, 200, []byte(`{"id":"ar-1","action":"voted","state":"pending","missing":{"approvals":1,"factors":[{"name":"approvers","votes":1}]}}`), ""},
		{"a vote without its state", good, goodBody, 200, []byte(`{"id":"ar-1","action":"voted"}`), "does not match"},
		{"an unknown path, refused", get("/api/v2/x", "k"), nil, 401, []byte(`{"error":"Unauthorized","message":"Missing Authentication Token","request_id":"r"}`), ""},
		{"an unknown path, answered", get("/api/v2/x", "k"), nil, 200, []byte(`{}`), "no such operation"},
		{"health", get("/health", ""), nil, 200, []byte(`{"status":"ok","version":"dev"}`), ""},
	} {
		got := c.Check(tc.req, tc.body, tc.status, jsonHeader, tc.answer)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
