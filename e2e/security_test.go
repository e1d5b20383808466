package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/certctl-serverless/certctl-serverless/pkg/api"
	"github.com/certctl-serverless/certctl-serverless/pkg/app"
)

// iamCall sends a request through the real api function as an AWS_IAM
// caller, starting from the sample event in events/ (the path API Gateway
// takes after verifying SigV4; the local front serves only the key API).
func iamCall(t *testing.T, userARN, method, path string, body any) response {
	t.Helper()
	embeddedOnly(t)
	raw, err := os.ReadFile("../events/apigw-proxy-iam-get-health.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	ev.HTTPMethod, ev.Path, ev.Resource = method, path, "/api/v1/{proxy+}"
	ev.PathParameters = map[string]string{"proxy": strings.TrimPrefix(path, "/api/v1/")}
	ev.RequestContext.HTTPMethod, ev.RequestContext.ResourcePath = method, "/api/v1/{proxy+}"
	ev.RequestContext.Identity.UserArn = userARN
	if body != nil {
		b, _ := json.Marshal(body)
		ev.Body = string(b)
		ev.Headers = map[string]string{"Content-Type": "application/json"}
		ev.MultiValueHeaders = map[string][]string{"Content-Type": {"application/json"}}
	}
	out, err := stack.Invoke(context.Background(), app.FnAPI, ev)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	r := response{Status: resp.StatusCode, Raw: []byte(resp.Body)}
	_ = json.Unmarshal(r.Raw, &r.Body)
	return r
}

const aliceSSO = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123/alice@example.com"

func TestSelfApprovalThroughASecondKeyIsRefused(t *testing.T) {
	second := must(t, http.StatusCreated, "admin", "POST", "/api/v1/apikeys", map[string]any{"principal": "alice"})
	if !strings.HasPrefix(second.str("secret"), "cck_") || second.str("principal") != "alice" {
		t.Fatalf("second key: %s", second.Raw)
	}
	keys["alice2"] = second.str("secret")
	created := newCert(t, "alice", newProfile(t, true))
	r := must(t, http.StatusForbidden, "alice2", "POST", "/api/v1/approvals/"+created.str("approval_id")+"/approve", nil)
	if !strings.Contains(r.str("message"), "two-person integrity") {
		t.Fatalf("second key: %s", r.Raw)
	}
}

func TestSelfApprovalThroughALinkedIAMIdentityIsRefused(t *testing.T) {
	created := newCert(t, "alice", newProfile(t, true))
	approvalID := created.str("approval_id")
	// alice's SSO session, spelled in another case, is still alice.
	variant := strings.NewReplacer("AWSReservedSSO_Admin_0123", "awsreservedsso_admin_0123", "alice@example.com", "Alice@Example.com").Replace(aliceSSO)
	for _, arn := range []string{aliceSSO, variant} {
		r := iamCall(t, arn, "POST", "/api/v1/approvals/"+approvalID+"/approve", map[string]string{"note": "me again"})
		if r.Status != http.StatusForbidden || !strings.Contains(r.str("message"), "two-person integrity") {
			t.Fatalf("linked IAM identity %s: %d %s", arn, r.Status, r.Raw)
		}
	}
	// A role mapped to approver may approve: its sessions are one actor,
	// the role, since the caller chooses the session name.
	r := iamCall(t, "arn:aws:sts::123456789012:assumed-role/certctl-operator/bob-session", "POST", "/api/v1/approvals/"+approvalID+"/approve", nil)
	if r.Status != http.StatusOK || r.str("decided_by") != "iam:aws:123456789012:role/certctl-operator" {
		t.Fatalf("IAM approver: %d %s", r.Status, r.Raw)
	}
}

// One person who may assume a role cannot create with one session name and
// approve with another: both sessions are the role, one actor.
func TestRoleSessionsCannotSplitOnePerson(t *testing.T) {
	profile := newProfile(t, true)
	cn := uniq("split") + "." + zone(profile)
	created := iamCall(t, "arn:aws:sts::123456789012:assumed-role/certctl-operator/a", "POST", "/api/v1/certificates", map[string]any{
		"common_name": cn, "profile_id": profile, "csr": newCSR(t, cn, cn),
	})
	if created.Status != http.StatusCreated {
		t.Fatalf("create as session a: %d %s", created.Status, created.Raw)
	}
	r := iamCall(t, "arn:aws:sts::123456789012:assumed-role/certctl-operator/b", "POST", "/api/v1/approvals/"+created.str("approval_id")+"/approve", nil)
	if r.Status != http.StatusForbidden || !strings.Contains(r.str("message"), "two-person integrity") {
		t.Fatalf("approve as session b of the same role: %d %s", r.Status, r.Raw)
	}
}

// One person holding two permission sets (or any two roles whose sessions
// are people) is one actor: erin the operator cannot approve as erin the
// approver, and alice, linked to her key principal through another
// permission set, cannot approve her own key's request either. Someone
// else in the approvers' permission set can.
func TestTwoRolesOfOnePersonAreOneActor(t *testing.T) {
	const (
		erinOps       = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_CertOps_1111/erin@example.com"
		erinApprovers = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_CertApprovers_2222/erin@example.com"
		frank         = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_CertApprovers_2222/frank@example.com"
	)
	if r := iamCall(t, erinOps, "GET", "/api/v1/whoami", nil); r.Status != http.StatusOK || r.str("principal") != "iam:aws:person/erin@example.com" {
		t.Fatalf("whoami: %d %s", r.Status, r.Raw)
	}
	profile := newProfile(t, true)
	cn := uniq("roles") + "." + zone(profile)
	created := iamCall(t, erinOps, "POST", "/api/v1/certificates", map[string]any{
		"common_name": cn, "profile_id": profile, "csr": newCSR(t, cn, cn),
	})
	if created.Status != http.StatusCreated {
		t.Fatalf("create as erin the operator: %d %s", created.Status, created.Raw)
	}
	approve := "/api/v1/approvals/" + created.str("approval_id") + "/approve"
	r := iamCall(t, erinApprovers, "POST", approve, nil)
	if r.Status != http.StatusForbidden || !strings.Contains(r.str("message"), "two-person integrity") {
		t.Fatalf("erin approving as erin the approver: %d %s", r.Status, r.Raw)
	}
	// alice's key asks; alice through the approvers' permission set is alice.
	mine := newCert(t, "alice", newProfile(t, true))
	r = iamCall(t, strings.Replace(erinApprovers, "erin@", "alice@", 1), "POST", "/api/v1/approvals/"+mine.str("approval_id")+"/approve", nil)
	if r.Status != http.StatusForbidden || !strings.Contains(r.str("message"), "two-person integrity") {
		t.Fatalf("alice approving her key's request through another permission set: %d %s", r.Status, r.Raw)
	}
	r = iamCall(t, frank, "POST", approve, nil)
	if r.Status != http.StatusOK || r.str("decided_by") != "iam:aws:person/frank@example.com" {
		t.Fatalf("frank approves: %d %s", r.Status, r.Raw)
	}
}

func TestIAMRoleSessionCaseVariantsAreOneActor(t *testing.T) {
	profile := newProfile(t, true)
	cn := uniq("iam") + "." + zone(profile)
	created := iamCall(t, "arn:aws:sts::123456789012:assumed-role/certctl-operator/dave", "POST", "/api/v1/certificates", map[string]any{
		"common_name": cn, "profile_id": profile, "csr": newCSR(t, cn, cn),
	})
	if created.Status != http.StatusCreated {
		t.Fatalf("IAM create: %d %s", created.Status, created.Raw)
	}
	for _, arn := range []string{
		"arn:aws:sts::123456789012:assumed-role/CERTCTL-OPERATOR/Dave",
		"arn:aws:sts::123456789012:assumed-role/certctl-operator/DAVE",
	} {
		r := iamCall(t, arn, "POST", "/api/v1/approvals/"+created.str("approval_id")+"/approve", nil)
		if r.Status != http.StatusForbidden || !strings.Contains(r.str("message"), "two-person integrity") {
			t.Fatalf("%s approving dave's request: %d %s", arn, r.Status, r.Raw)
		}
	}
}

func TestUnknownIAMPrincipalsGetNoAccess(t *testing.T) {
	r := iamCall(t, "arn:aws:sts::123456789012:assumed-role/SomethingElse/eve", "GET", "/api/v1/approvals", nil)
	if r.Status != http.StatusForbidden {
		t.Fatalf("unmapped IAM principal: %d %s", r.Status, r.Raw)
	}
	r = iamCall(t, "arn:aws:sts::123456789012:assumed-role/ReadOnlyAuditors/frank", "GET", "/api/v1/approvals", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("ReadOnly* viewer: %d %s", r.Status, r.Raw)
	}
	r = iamCall(t, "arn:aws:sts::123456789012:assumed-role/ReadOnlyAuditors/frank", "POST", "/api/v1/profiles", map[string]any{"name": "x"})
	if r.Status != http.StatusForbidden {
		t.Fatalf("viewer mutation via IAM: %d %s", r.Status, r.Raw)
	}
	if r := iamCall(t, "", "GET", "/api/v1/approvals", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("no identity: %d %s", r.Status, r.Raw)
	}
}

func TestRevokedAndExpiredKeysAreRefused(t *testing.T) {
	k := must(t, http.StatusCreated, "admin", "POST", "/api/v1/apikeys", map[string]any{"principal": "revokee", "roles": []string{"viewer"}})
	keys["revokee"] = k.str("secret")
	must(t, http.StatusOK, "revokee", "GET", "/api/v1/profiles", nil)
	listed := must(t, http.StatusOK, "admin", "GET", "/api/v1/apikeys?principal=revokee", nil)
	if strings.Contains(string(listed.Raw), k.str("secret")) || strings.Contains(string(listed.Raw), "hash") {
		t.Fatalf("key listing leaks the secret or its hash: %s", listed.Raw)
	}
	must(t, http.StatusNotFound, "carol", "DELETE", "/api/v1/apikeys/"+k.str("id"), nil) // not carol's key
	must(t, http.StatusOK, "admin", "DELETE", "/api/v1/apikeys/"+k.str("id"), nil)
	must(t, http.StatusConflict, "admin", "DELETE", "/api/v1/apikeys/"+k.str("id"), nil)
	must(t, http.StatusUnauthorized, "revokee", "GET", "/api/v1/profiles", nil)

	// Long enough for the first call to get through on a loaded machine
	// (the strict tier's moto serves one request at a time, for every
	// package of the run); then wait for the expiry itself.
	expiry := time.Now().Add(4 * time.Second)
	exp := must(t, http.StatusCreated, "admin", "POST", "/api/v1/apikeys", map[string]any{
		"principal": "expiring", "roles": []string{"viewer"}, "expires_at": expiry.UTC().Format(time.RFC3339Nano),
	})
	keys["expiring"] = exp.str("secret")
	must(t, http.StatusOK, "expiring", "GET", "/api/v1/profiles", nil)
	time.Sleep(time.Until(expiry) + 100*time.Millisecond)
	must(t, http.StatusUnauthorized, "expiring", "GET", "/api/v1/profiles", nil)

	rows := must(t, http.StatusOK, "admin", "GET", "/api/v1/audit?resource_id="+k.str("id"), nil).Body["data"].([]any)
	if len(rows) != 2 || rows[0].(map[string]any)["action"] != "apikey.revoked" || rows[1].(map[string]any)["action"] != "apikey.created" {
		t.Fatalf("key audit trail: %v", rows)
	}
}

func TestMalformedKeysAreRefused(t *testing.T) {
	for name, key := range map[string]string{
		"empty":     " ",
		"no prefix": strings.Repeat("a", 47),
		"oversized": "cck_" + strings.Repeat("A", 64<<10),
		"truncated": keys["carol"][:20],
	} {
		keys["bad"] = key
		if r := call(t, "bad", "GET", "/api/v1/profiles", nil); r.Status != http.StatusUnauthorized {
			t.Errorf("%s key: %d %s", name, r.Status, r.Raw)
		}
	}
}

func TestOnlyAdminsGrantRoles(t *testing.T) {
	must(t, http.StatusForbidden, "alice", "POST", "/api/v1/apikeys", map[string]any{"principal": "alice", "roles": []string{"admin"}})
	must(t, http.StatusForbidden, "alice", "PUT", "/api/v1/principals/alice", map[string]any{"roles": []string{"admin"}})
	zed := uniq("zed")
	must(t, http.StatusBadRequest, "admin", "PUT", "/api/v1/principals/"+zed, map[string]any{"roles": []string{"root"}})
	p := must(t, http.StatusOK, "admin", "PUT", "/api/v1/principals/"+zed, map[string]any{"roles": []string{"auditor"}})
	if roles := p.Body["roles"].([]any); len(roles) != 1 || roles[0] != "auditor" {
		t.Fatalf("grant: %s", p.Raw)
	}
	rows := must(t, http.StatusOK, "admin", "GET", "/api/v1/audit?resource_id="+zed+"&action=principal.roles_granted", nil).Body["data"].([]any)
	if len(rows) != 1 || rows[0].(map[string]any)["actor"] != "admin" {
		t.Fatalf("grant audit: %v", rows)
	}
}

// TestEveryRouteEnforcesTheREADMETable reads the route table from the README
// and checks it matches the API's routes and that each is enforced: callers
// without one of the listed roles get 403, callers with one get past auth.
func TestEveryRouteEnforcesTheREADMETable(t *testing.T) {
	table := readmeRoutes(t)
	for _, r := range api.Routes() {
		key := r.Method + " " + r.Path
		roles, ok := table[key]
		if !ok {
			t.Fatalf("route %s is missing from the README's route table", key)
		}
		want := "none"
		if !r.Open {
			var names []string
			for _, role := range r.Roles {
				names = append(names, string(role))
			}
			if len(names) == 0 || names[len(names)-1] != "admin" {
				names = append(names, "admin")
			}
			want = strings.Join(names, ", ")
		}
		if roles != want {
			t.Fatalf("README lists %s for %s; the API enforces %s", roles, key, want)
		}
		delete(table, key)
	}
	if len(table) != 0 {
		t.Fatalf("README lists routes the API does not have: %v", table)
	}

	// One key per role.
	for _, role := range []string{"viewer", "operator", "approver", "auditor"} {
		k := must(t, http.StatusCreated, "admin", "POST", "/api/v1/apikeys", map[string]any{"principal": "only-" + role, "roles": []string{role}})
		keys["only-"+role] = k.str("secret")
	}
	for _, r := range api.Routes() {
		path := strings.NewReplacer("{id}", "does-not-exist").Replace(r.Path)
		for _, role := range []string{"viewer", "operator", "approver", "auditor", "admin"} {
			who := "only-" + role
			if role == "admin" {
				who = "admin"
			}
			allowed := r.Open || role == "admin"
			for _, want := range r.Roles {
				allowed = allowed || string(want) == role
			}
			got := call(t, who, r.Method, path, map[string]any{}).Status
			if allowed && (got == http.StatusForbidden || got == http.StatusUnauthorized) {
				t.Errorf("%s %s as %s: %d, want it allowed past auth", r.Method, path, role, got)
			}
			if !allowed && got != http.StatusForbidden {
				t.Errorf("%s %s as %s: %d, want 403", r.Method, path, role, got)
			}
		}
		if !r.Open {
			if got := call(t, "", r.Method, path, nil).Status; got != http.StatusUnauthorized {
				t.Errorf("%s %s without a key: %d, want 401", r.Method, path, got)
			}
		}
	}
}

// readmeRoutes parses the rows between the README's route-table markers:
// | `METHOD` | `path` | roles |
func readmeRoutes(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.Contains(line, "<!-- routes:begin -->"):
			in = true
		case strings.Contains(line, "<!-- routes:end -->"):
			in = false
		case in && strings.HasPrefix(line, "| `"):
			cells := strings.Split(line, "|")
			method := strings.Trim(strings.TrimSpace(cells[1]), "`")
			path := strings.Trim(strings.TrimSpace(cells[2]), "`")
			out[method+" "+path] = strings.TrimSpace(cells[3])
		}
	}
	if len(out) == 0 {
		t.Fatal("no route table between <!-- routes:begin --> and <!-- routes:end --> in README.md")
	}
	return out
}

func TestApproverPoolLimitsWhoMayApprove(t *testing.T) {
	dana := must(t, http.StatusCreated, "admin", "POST", "/api/v1/apikeys", map[string]any{"principal": "dana", "roles": []string{"approver"}})
	keys["dana"] = dana.str("secret")
	profile := uniq("pool")
	must(t, http.StatusCreated, "alice", "POST", "/api/v1/profiles", map[string]any{
		"id": profile, "name": "pooled", "requires_approval": true, "allowed_names": []string{"**." + zone(profile)},
		"approvers": map[string]any{"principals": []string{"bob", "arn:aws:iam::123456789012:role/platform/certctl-operator"}},
	})
	p := profileOf(t, profile)
	pool := p.Body["approvers"].(map[string]any)["principals"].([]any)
	if pool[1] != "iam:aws:123456789012:role/certctl-operator" {
		t.Fatalf("pool ARNs must be stored canonical: %v", pool)
	}
	created := newCert(t, "alice", profile)
	approvalID := created.str("approval_id")
	r := must(t, http.StatusForbidden, "dana", "POST", "/api/v1/approvals/"+approvalID+"/approve", nil)
	if !strings.Contains(r.str("message"), "approver pool") {
		t.Fatalf("outside the pool: %s", r.Raw)
	}
	must(t, http.StatusForbidden, "admin", "POST", "/api/v1/approvals/"+approvalID+"/approve", nil)
	// A session of the pooled role (sts form) is in the pool the role's iam ARN names.
	if stack != nil {
		r := iamCall(t, "arn:aws:sts::123456789012:assumed-role/certctl-operator/erin", "POST", "/api/v1/approvals/"+approvalID+"/reject", map[string]string{"note": "pool works"})
		if r.Status != http.StatusOK {
			t.Fatalf("pooled role session: %d %s", r.Status, r.Raw)
		}
		return
	}
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+approvalID+"/approve", nil)
}

// Every route of the table refuses a query parameter it does not take
// (README, API): through the whole stack, as an admin, who may call them all.
func TestEveryRouteRefusesUnknownQueryParameters(t *testing.T) {
	for _, rt := range api.Routes() {
		path := strings.ReplaceAll(rt.Path, "{id}", "x") + "?bogus=1"
		r := must(t, http.StatusBadRequest, "admin", rt.Method, path, map[string]any{})
		if !strings.Contains(r.str("message"), `unknown query parameter "bogus"`) {
			t.Errorf("%s %s: %s", rt.Method, path, r.Raw)
		}
	}
}
