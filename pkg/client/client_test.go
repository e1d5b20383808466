package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// exchange is what the stub server saw and what it answered.
type exchange struct {
	method, path, query, body string
	header                    http.Header
}

// stub answers every request with status and body and records the request.
func stub(t *testing.T, status int, body string) (*Client, *exchange) {
	t.Helper()
	seen := &exchange{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		*seen = exchange{r.Method, r.URL.Path, r.URL.RawQuery, string(b), r.Header.Clone()}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return New(srv.URL+"/prod/", APIKey("cck_test"), nil), seen
}

func sameJSON(t *testing.T, got, want string) {
	t.Helper()
	if got == "" && want == "" {
		return
	}
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("body %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("body %s, want %s", got, want)
	}
}

func TestRoutesMethodsQueriesAndBodies(t *testing.T) {
	ctx := context.Background()
	until := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	expires := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	pg := PageRequest{Limit: 10, Token: "tok/1"}
	for _, tc := range []struct {
		name, method, path, query, body string
		status                          int
		call                            func(c *Client) error
	}{
		{"create profile", "POST", "/profiles", "", `{"id":"p","name":"P","requires_approval":true,"allowed_names":["**.example.com"],"max_validity_seconds":7776000,"approvers":{"principals":["bob"]}}`, 201,
			func(c *Client) error {
				_, _, err := c.CreateProfile(ctx, domain.ProfileInput{ID: "p", Name: domain.Ptr("P"), RequiresApproval: domain.Ptr(true),
					AllowedNames: &[]domain.NamePattern{"**.example.com"}, MaxValiditySeconds: domain.Ptr(int64(7776000)), Approvers: &domain.ApproverPool{Principals: []string{"bob"}}})
				return err
			}},
		{"get profile", "GET", "/profiles/p", "", "", 200, func(c *Client) error { _, err := c.GetProfile(ctx, "p"); return err }},
		{"list profiles", "GET", "/profiles", "limit=10&page_token=tok%2F1", "", 200, func(c *Client) error { _, _, err := c.ListProfiles(ctx, pg); return err }},
		{"update profile", "PUT", "/profiles/p", "", `{"name":"Q"}`, 200,
			func(c *Client) error {
				_, _, err := c.UpdateProfile(ctx, "p", domain.ProfileInput{Name: domain.Ptr("Q")})
				return err
			}},
		{"delete profile", "DELETE", "/profiles/p", "", "", 204, func(c *Client) error { _, err := c.DeleteProfile(ctx, "p"); return err }},
		{"create certificate", "POST", "/certificates", "", `{"common_name":"a.example","sans":["b.example"],"profile_id":"p","csr":"PEM"}`, 201,
			func(c *Client) error {
				_, err := c.CreateCertificate(ctx, domain.CertificateInput{CommonName: "a.example", SANs: []string{"b.example"}, ProfileID: "p", CSR: "PEM"})
				return err
			}},
		{"list certificates", "GET", "/certificates", "profile_id=p&status=Active", "", 200,
			func(c *Client) error {
				_, _, err := c.ListCertificates(ctx, CertificateFilter{Status: "Active", ProfileID: "p"}, PageRequest{})
				return err
			}},
		{"get certificate", "GET", "/certificates/web", "", "", 200, func(c *Client) error { _, err := c.GetCertificate(ctx, "web"); return err }},
		{"versions", "GET", "/certificates/web/versions", "limit=1", "", 200,
			func(c *Client) error { _, _, err := c.ListVersions(ctx, "web", PageRequest{Limit: 1}); return err }},
		{"renew with csr", "POST", "/certificates/web/renew", "", `{"csr":"PEM"}`, 202, func(c *Client) error { _, err := c.Renew(ctx, "web", domain.RenewInput{CSR: "PEM"}); return err }},
		{"renew without csr", "POST", "/certificates/web/renew", "", "", 202, func(c *Client) error { _, err := c.Renew(ctx, "web", domain.RenewInput{}); return err }},
		{"list jobs", "GET", "/jobs", "certificate_id=web&status=Completed", "", 200,
			func(c *Client) error {
				_, _, err := c.ListJobs(ctx, JobFilter{CertificateID: "web", Status: "Completed"}, PageRequest{})
				return err
			}},
		{"get job", "GET", "/jobs/job-1", "", "", 200, func(c *Client) error { _, err := c.GetJob(ctx, "job-1"); return err }},
		{"list approvals", "GET", "/approvals", "certificate_id=web&kind=cert_issuance&profile_id=p&requested_by=alice&state=pending", "", 200,
			func(c *Client) error {
				_, _, err := c.ListApprovals(ctx, ApprovalFilter{State: "pending", Kind: "cert_issuance", ProfileID: "p", CertificateID: "web", RequestedBy: "alice"}, PageRequest{})
				return err
			}},
		{"get approval", "GET", "/approvals/ar-1", "", "", 200, func(c *Client) error { _, err := c.GetApproval(ctx, "ar-1"); return err }},
		{"approve", "POST", "/approvals/ar-1/approve", "", `{"note":"ok"}`, 200, func(c *Client) error { _, err := c.Approve(ctx, "ar-1", "ok"); return err }},
		{"reject", "POST", "/approvals/ar-1/reject", "", `{"note":"no"}`, 200, func(c *Client) error { _, err := c.Reject(ctx, "ar-1", "no"); return err }},
		{"list issuers", "GET", "/issuers", "limit=500", "", 200, func(c *Client) error { _, err := c.ListIssuers(ctx); return err }},
		{"get issuer", "GET", "/issuers/default", "", "", 200, func(c *Client) error { _, err := c.GetIssuer(ctx, "default"); return err }},
		{"audit", "GET", "/audit", "action=approval_approved&actor=bob&resource_id=ar-1&until=2026-05-01T12%3A00%3A00Z", "", 200,
			func(c *Client) error {
				_, _, err := c.ListAudit(ctx, AuditFilter{Actor: "bob", Action: "approval_approved", ResourceID: "ar-1", Until: until}, PageRequest{})
				return err
			}},
		{"create key", "POST", "/apikeys", "", `{"principal":"dave","roles":["operator"],"expires_at":"2026-06-01T00:00:00Z"}`, 201,
			func(c *Client) error {
				_, err := c.CreateAPIKey(ctx, domain.APIKeyRequest{Principal: "dave", Roles: []domain.Role{domain.RoleOperator}, ExpiresAt: &expires})
				return err
			}},
		{"list keys", "GET", "/apikeys", "principal=dave", "", 200, func(c *Client) error { _, _, err := c.ListAPIKeys(ctx, "dave", PageRequest{}); return err }},
		{"revoke key", "DELETE", "/apikeys/key-1", "", "", 200, func(c *Client) error { _, err := c.RevokeAPIKey(ctx, "key-1"); return err }},
		{"set roles", "PUT", "/principals/dave", "", `{"roles":["viewer","approver"]}`, 200,
			func(c *Client) error {
				_, err := c.SetRoles(ctx, "dave", []domain.Role{domain.RoleViewer, domain.RoleApprover})
				return err
			}},
		{"clear roles", "PUT", "/principals/dave", "", `{"roles":[]}`, 200, func(c *Client) error { _, err := c.SetRoles(ctx, "dave", nil); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answer := `{"data":[]}`
			if tc.status == 204 {
				answer = ""
			} else if !strings.HasPrefix(tc.name, "list") && tc.name != "versions" && tc.name != "audit" {
				answer = `{}`
			}
			c, seen := stub(t, tc.status, answer)
			if err := tc.call(c); err != nil {
				t.Fatal(err)
			}
			if seen.method != tc.method || seen.path != "/prod/api/v1"+tc.path || seen.query != tc.query {
				t.Fatalf("sent %s %s?%s, want %s /prod/api/v1%s?%s", seen.method, seen.path, seen.query, tc.method, tc.path, tc.query)
			}
			sameJSON(t, seen.body, tc.body)
			if seen.header.Get("X-Api-Key") != "cck_test" {
				t.Fatalf("X-Api-Key %q", seen.header.Get("X-Api-Key"))
			}
			if tc.body != "" && seen.header.Get("Content-Type") != "application/json" {
				t.Fatalf("Content-Type %q", seen.header.Get("Content-Type"))
			}
		})
	}
}

func TestDecodesAnswers(t *testing.T) {
	ctx := context.Background()
	c, _ := stub(t, 202, `{"status":"pending_approval","approval_id":"ar-9"}`)
	p, pending, err := c.UpdateProfile(ctx, "p", domain.ProfileInput{Name: domain.Ptr("x")})
	if err != nil || p != nil || pending == nil || pending.ApprovalID != "ar-9" {
		t.Fatalf("gated update: %v %+v %v", p, pending, err)
	}
	c, _ = stub(t, 200, `{"id":"p","name":"x","version":2}`)
	p, pending, err = c.UpdateProfile(ctx, "p", domain.ProfileInput{Name: domain.Ptr("x")})
	if err != nil || pending != nil || p.Version != 2 {
		t.Fatalf("applied update: %+v %+v %v", p, pending, err)
	}
	c, _ = stub(t, 200, `{"id":"ar-1","kind":"cert_issuance","state":"pending","subject":{"common_name":"web.example.com"},"pending_age_seconds":42}`)
	a, err := c.GetApproval(ctx, "ar-1")
	if err != nil || a.Subject.CommonName != "web.example.com" || a.PendingAgeSeconds != 42 || a.State != domain.ApprovalPending {
		t.Fatalf("approval: %+v %v", a, err)
	}
	c, seen := stub(t, 200, "# TYPE x counter\nx 1\n")
	m, err := c.Metrics(ctx)
	if err != nil || m != "# TYPE x counter\nx 1\n" || seen.path != "/prod/api/v1/metrics" {
		t.Fatalf("metrics: %q %v", m, err)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	c, _ := stub(t, 409, `{"error":"Conflict","message":"conflict: approval ar-1 is already approved","request_id":"1234"}`)
	_, err := c.Approve(ctx, "ar-1", "")
	if err == nil || err.Error() != "409 Conflict: conflict: approval ar-1 is already approved (request 1234)" {
		t.Fatalf("contract error: %v", err)
	}
	if StatusOf(err) != 409 || StatusOf(fmt.Errorf("wrapped: %w", err)) != 409 || StatusOf(io.EOF) != 0 {
		t.Fatal("StatusOf")
	}

	// API Gateway's own refusals carry only a message and a header id.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Amzn-Requestid", "gw-1")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"message":"User is not authorized to access this resource"}`)
	}))
	defer srv.Close()
	_, err = New(srv.URL, APIKey("k"), nil).GetJob(ctx, "j")
	if err == nil || err.Error() != "403 Forbidden: User is not authorized to access this resource (request gw-1)" {
		t.Fatalf("gateway error: %v", err)
	}

	c, _ = stub(t, 502, "<html>bad gateway</html>")
	if _, err = c.GetJob(ctx, "j"); err == nil || err.Error() != "502 Bad Gateway: <html>bad gateway</html>" {
		t.Fatalf("non-JSON error: %v", err)
	}

	c, _ = stub(t, 200, "not json")
	if _, err = c.GetJob(ctx, "j"); err == nil || StatusOf(err) != 0 {
		t.Fatalf("undecodable 200: %v", err)
	}
	if _, err = New("http://127.0.0.1:1", APIKey("k"), nil).GetJob(ctx, "j"); err == nil {
		t.Fatal("no server: no error")
	}
}

// pager serves n profiles, at most pageMax per page, honouring limit.
func pager(t *testing.T, n, pageMax int) (*Client, *[]string) {
	t.Helper()
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		from, _ := strconv.Atoi(r.URL.Query().Get("page_token"))
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		to := min(from+min(limit, pageMax), n)
		var out list[domain.Profile]
		for i := from; i < to; i++ {
			out.Data = append(out.Data, domain.Profile{ID: fmt.Sprintf("p%d", i)})
		}
		if to < n {
			out.NextPageToken = strconv.Itoa(to)
		}
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	return New(srv.URL, APIKey("k"), nil), &queries
}

func TestPagination(t *testing.T) {
	ctx := context.Background()
	c, queries := pager(t, 7, 3)
	all, err := c.AllProfiles(ctx)
	if err != nil || len(all) != 7 || all[6].ID != "p6" {
		t.Fatalf("all: %d %v", len(all), err)
	}
	if want := []string{"limit=500", "limit=500&page_token=3", "limit=500&page_token=6"}; !reflect.DeepEqual(*queries, want) {
		t.Fatalf("queries %v, want %v", *queries, want)
	}

	// At most 5, two per page: the token left resumes right after p4.
	c, queries = pager(t, 7, 3)
	got, next, err := Collect(ctx, PageRequest{Limit: 2}, 5, c.ListProfiles)
	if err != nil || len(got) != 5 || got[4].ID != "p4" || next != "5" {
		t.Fatalf("collect: %d %q %v", len(got), next, err)
	}
	if want := []string{"limit=2", "limit=2&page_token=2", "limit=1&page_token=4"}; !reflect.DeepEqual(*queries, want) {
		t.Fatalf("queries %v, want %v", *queries, want)
	}

	// A server that hands back the same token must not loop forever.
	stuck := func(context.Context, PageRequest) ([]int, string, error) { return []int{1}, "same", nil }
	if _, _, err := Collect(ctx, PageRequest{Token: "same"}, 0, stuck); err == nil {
		t.Fatal("repeated token accepted")
	}
}

func TestNew(t *testing.T) {
	c := New("https://abc.execute-api.eu-west-1.amazonaws.com/prod/api/v1/", nil, nil)
	if c.base != "https://abc.execute-api.eu-west-1.amazonaws.com/prod" {
		t.Fatalf("base %q", c.base)
	}
	if c.hc.Timeout != 30*time.Second {
		t.Fatalf("default timeout %v", c.hc.Timeout)
	}
	mine := &http.Client{Timeout: time.Second}
	if New("http://x", nil, mine).hc != mine {
		t.Fatal("the given http.Client is not used")
	}
	if err := APIKey("").authorize(context.Background(), httptest.NewRequest("GET", "/", nil), nil); err == nil {
		t.Fatal("empty key accepted")
	}
}

// An id that would name another resource once the server decodes the path
// is refused before anything is sent.
func TestIDsThatAreNotIDsAreNotSent(t *testing.T) {
	c, seen := stub(t, 200, `{}`)
	for _, id := range []string{"ar-1/../ar-2", "..", "a/b", `a\b`, "a?b", "a#b"} {
		if _, err := c.Approve(context.Background(), id, ""); err == nil || !strings.Contains(err.Error(), "not a valid id") {
			t.Errorf("%q: %v", id, err)
		}
	}
	if seen.method != "" {
		t.Fatalf("a request was sent: %+v", seen)
	}
}
