package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// newApprover makes a principal holding approver, with a key, and returns
// its name (who, for call and ctl).
func newApprover(t *testing.T, prefix string) string {
	t.Helper()
	name := uniq(prefix)
	r := must(t, http.StatusCreated, "admin", "POST", "/api/v1/apikeys", map[string]any{"principal": name, "roles": []string{"approver"}})
	keys[name] = r.str("secret")
	return name
}

// policyProfile creates an approval-tier profile as alice with the policy
// fields given (required_approvals, approval_policy, approvers).
func policyProfile(t *testing.T, policy map[string]any) string {
	t.Helper()
	id := uniq("quorum")
	body := map[string]any{"id": id, "name": "Quorum " + id, "requires_approval": true, "allowed_names": []string{"**." + zone(id)}}
	for k, v := range policy {
		body[k] = v
	}
	must(t, http.StatusCreated, "alice", "POST", "/api/v1/profiles", body)
	return id
}

func approve(t *testing.T, want int, who, approvalID string) response {
	t.Helper()
	return must(t, want, who, "POST", "/api/v1/approvals/"+approvalID+"/approve", map[string]string{"note": "vote of " + who})
}

// missing is a request's or an answer's missing.approvals (-1 if absent).
func missing(r response) int {
	m, ok := r.Body["missing"].(map[string]any)
	if !ok {
		return -1
	}
	return int(m["approvals"].(float64))
}

// votesOf lists a request view's voters and the factor each counts toward.
func votesOf(r response) (voters, factors []string) {
	for _, v := range r.Body["votes"].([]any) {
		vote := v.(map[string]any)
		voters = append(voters, vote["actor"].(string))
		f, _ := vote["factor"].(string)
		factors = append(factors, f)
	}
	return voters, factors
}

// auditCount counts a resource's audit rows with action.
func auditCount(t *testing.T, resource, action string) int {
	t.Helper()
	return len(must(t, http.StatusOK, "admin", "GET", "/api/v1/audit?resource_id="+resource+"&action="+action, nil).Body["data"].([]any))
}

// With required_approvals 2: one approval leaves the request pending and
// the job waiting; the same actor again is 409; the requester is refused
// with "two-person integrity"; a second, distinct actor approves and the
// certificate is issued once. The CLI shows the votes and what is missing.
func TestQuorumOfTwo(t *testing.T) {
	dana := newApprover(t, "dana")
	profile := policyProfile(t, map[string]any{"required_approvals": 2})
	if p := must(t, http.StatusOK, "carol", "GET", "/api/v1/profiles/"+profile, nil); p.Body["required_approvals"] != float64(2) {
		t.Fatalf("profile: %s", p.Raw)
	}
	created := newCert(t, "alice", profile)
	approvalID, jobID, id := created.str("approval_id"), created.str("job_id"), certID(created)

	r := approve(t, http.StatusOK, "bob", approvalID)
	if r.str("action") != "voted" || r.str("state") != "pending" || r.str("decided_by") != "" || missing(r) != 1 {
		t.Fatalf("first vote: %s", r.Raw)
	}
	time.Sleep(300 * time.Millisecond) // nothing may move on
	if j := must(t, http.StatusOK, "carol", "GET", "/api/v1/jobs/"+jobID, nil); j.str("status") != "AwaitingApproval" {
		t.Fatalf("job after one vote: %s", j.Raw)
	}
	a := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+approvalID, nil)
	if voters, _ := votesOf(a); a.str("state") != "pending" || !slices.Equal(voters, []string{"bob"}) || missing(a) != 1 || a.Body["required_approvals"] != float64(2) {
		t.Fatalf("request after one vote: %s", a.Raw)
	}
	show := ctl(t, 0, "carol", "approvals", "get", approvalID).stdout
	for _, want := range []string{"Votes 1 of 2", "Vote 1 bob at", "counts toward approvers", "Missing 1 approval from approvers (up to 1)"} {
		if !strings.Contains(strings.Join(strings.Fields(show), " "), want) {
			t.Fatalf("certctl approvals get lacks %q:\n%s", want, show)
		}
	}

	if r := approve(t, http.StatusConflict, "bob", approvalID); !strings.Contains(r.str("message"), "already voted") {
		t.Fatalf("bob again: %s", r.Raw)
	}
	must(t, http.StatusConflict, "bob", "POST", "/api/v1/approvals/"+approvalID+"/reject", map[string]string{"note": "changed my mind"})
	if r := approve(t, http.StatusForbidden, "alice", approvalID); !strings.Contains(r.str("message"), "two-person integrity") {
		t.Fatalf("the requester: %s", r.Raw)
	}

	r = approve(t, http.StatusOK, dana, approvalID)
	if r.str("action") != "approved" || r.str("state") != "approved" || r.str("decided_by") != dana {
		t.Fatalf("second vote: %s", r.Raw)
	}
	waitJob(t, jobID, "Completed")
	versions := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+id+"/versions", nil)
	if n := len(versions.Body["data"].([]any)); n != 1 {
		t.Fatalf("%d versions", n)
	}
	approve(t, http.StatusConflict, newApprover(t, "late"), approvalID)
	a = must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+approvalID, nil)
	if voters, _ := votesOf(a); !slices.Equal(voters, []string{"bob", dana}) || a.str("decided_by") != dana || a.Body["missing"] != nil {
		t.Fatalf("approved request: %s", a.Raw)
	}
	if v, d := auditCount(t, approvalID, "approval_vote"), auditCount(t, approvalID, "approval_approved"); v != 2 || d != 1 {
		t.Fatalf("audit: %d votes, %d approvals", v, d)
	}
}

// A two-factor policy needs one vote from each pool; a second vote from a
// satisfied pool does not count (409, saying what is missing); one actor
// in both pools counts once; and which factor a vote counts toward is a
// maximum matching (the second case fails under a first-fit count).
func TestTwoFactorPolicy(t *testing.T) {
	sec, erin := newApprover(t, "sec"), newApprover(t, "erin")
	profile := policyProfile(t, map[string]any{"approval_policy": []map[string]any{
		{"name": "security", "approvers": map[string]any{"principals": []string{sec}}, "count": 1},
		{"name": "owners", "approvers": map[string]any{"roles": []string{"approver"}}, "count": 1},
	}})
	created := newCert(t, "alice", profile)
	approvalID := created.str("approval_id")
	if r := approve(t, http.StatusOK, "bob", approvalID); r.str("action") != "voted" || missing(r) != 1 {
		t.Fatalf("bob: %s", r.Raw)
	}
	if r := approve(t, http.StatusConflict, erin, approvalID); !strings.Contains(r.str("message"), "would not count") || !strings.Contains(r.str("message"), "security") {
		t.Fatalf("a second owner: %s", r.Raw)
	}
	if r := approve(t, http.StatusOK, sec, approvalID); r.str("action") != "approved" {
		t.Fatalf("security: %s", r.Raw)
	}
	waitJob(t, created.str("job_id"), "Completed")
	a := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+approvalID, nil)
	if _, factors := votesOf(a); !slices.Equal(factors, []string{"owners", "security"}) {
		t.Fatalf("factors: %s", a.Raw)
	}

	// sec is in both pools; owners comes first, so a first-fit count puts
	// sec there and then has no factor left for bob.
	profile = policyProfile(t, map[string]any{"approval_policy": []map[string]any{
		{"name": "owners", "approvers": map[string]any{"principals": []string{sec, "bob"}}, "count": 1},
		{"name": "security", "approvers": map[string]any{"principals": []string{sec}}, "count": 1},
	}})
	created = newCert(t, "alice", profile)
	approvalID = created.str("approval_id")
	if r := approve(t, http.StatusOK, sec, approvalID); r.str("action") != "voted" {
		t.Fatalf("one actor in both pools approved alone: %s", r.Raw)
	}
	approve(t, http.StatusConflict, sec, approvalID)
	approve(t, http.StatusForbidden, erin, approvalID) // in neither pool
	if r := approve(t, http.StatusOK, "bob", approvalID); r.str("action") != "approved" {
		t.Fatalf("bob: %s", r.Raw)
	}
	a = must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+approvalID, nil)
	if _, factors := votesOf(a); !slices.Equal(factors, []string{"security", "owners"}) {
		t.Fatalf("factors: %s", a.Raw)
	}
	waitJob(t, created.str("job_id"), "Completed")
}

// Many actors voting at once on a quorum of K over HTTP: exactly one
// answer says approved, exactly K-1 say voted, the rest 409; the request
// holds exactly the K votes that were answered 200; one certificate.
func TestConcurrentVotesOverHTTP(t *testing.T) {
	const n, k = 8, 3
	var voters []string
	for range n {
		voters = append(voters, newApprover(t, "voter"))
	}
	for round := 0; round < 2; round++ {
		created := newCert(t, "alice", policyProfile(t, map[string]any{"required_approvals": k}))
		approvalID := created.str("approval_id")
		var mu sync.Mutex
		answers := map[string][]string{}
		var wg sync.WaitGroup
		for _, who := range voters {
			wg.Go(func() {
				r := call(t, who, "POST", "/api/v1/approvals/"+approvalID+"/approve", map[string]string{"note": "race"})
				key := fmt.Sprint(r.Status)
				if r.Status == http.StatusOK {
					key = r.str("action")
				}
				mu.Lock()
				answers[key] = append(answers[key], who)
				mu.Unlock()
			})
		}
		wg.Wait()
		checkRace(t, approvalID, answers, n, k)
		waitJob(t, created.str("job_id"), "Completed")
		if vs := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+certID(created)+"/versions", nil); len(vs.Body["data"].([]any)) != 1 {
			t.Fatalf("versions: %s", vs.Raw)
		}
	}
}

// checkRace checks what n voters on a quorum of k were told against what
// the request and the audit trail hold.
func checkRace(t *testing.T, approvalID string, answers map[string][]string, n, k int) {
	t.Helper()
	if len(answers["approved"]) != 1 || len(answers["voted"]) != k-1 || len(answers["409"]) != n-k {
		t.Fatalf("answers %v: want 1 approved, %d voted, %d conflicts", answers, k-1, n-k)
	}
	a := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+approvalID, nil)
	stored, _ := votesOf(a)
	told := append(slices.Clone(answers["voted"]), answers["approved"]...)
	slices.Sort(stored)
	slices.Sort(told)
	if a.str("state") != "approved" || !slices.Equal(stored, told) || a.str("decided_by") != answers["approved"][0] {
		t.Fatalf("stored %s by %s with votes %v; told %v", a.str("state"), a.str("decided_by"), stored, answers)
	}
	if v, d := auditCount(t, approvalID, "approval_vote"), auditCount(t, approvalID, "approval_approved"); v != k || d != 1 {
		t.Fatalf("audit: %d votes, %d approvals; want %d and 1", v, d, k)
	}
}

// The emulator serialises invocations of one function, so the HTTP race
// above cannot overlap two api calls; this one runs the real service code
// from many goroutines at once against the tier's DynamoDB (moto on the
// strict tier), so the conditional writes decide, round after round.
func TestConcurrentVotesAtTheStore(t *testing.T) {
	embeddedOnly(t)
	svc := serviceOf()
	for _, tc := range []struct {
		name   string
		policy map[string]any
		n, k   int
	}{
		{"3 of 8", map[string]any{"required_approvals": 3}, 8, 3},
		{"10 of 12", map[string]any{"required_approvals": 10}, 12, 10},
		{"one security and two owners, of 8", map[string]any{"approval_policy": []map[string]any{
			{"name": "security", "approvers": map[string]any{"principals": []string{"bob"}}, "count": 1},
			{"name": "owners", "count": 2},
		}}, 8, 3},
	} {
		for round := 0; round < 3; round++ {
			created := newCert(t, "alice", policyProfile(t, tc.policy))
			approvalID := created.str("approval_id")
			var mu sync.Mutex
			answers := map[string][]string{}
			var wg sync.WaitGroup
			for i := range tc.n {
				actor := domain.Actor{ID: fmt.Sprintf("v%d-%s", i, approvalID), Type: domain.ActorUser, Roles: []domain.Role{domain.RoleApprover}}
				if i == 0 {
					actor.ID = "bob" // the one security approver
				}
				wg.Go(func() {
					d, err := svc.Approve(context.Background(), actor, approvalID, "race")
					key := "409"
					switch {
					case err == nil:
						key = d.Action
					case !errors.Is(err, domain.ErrConflict):
						t.Errorf("%s: %v", actor.ID, err)
						return
					}
					mu.Lock()
					answers[key] = append(answers[key], actor.ID)
					mu.Unlock()
				})
			}
			wg.Wait()
			checkRace(t, approvalID, answers, tc.n, tc.k)
			waitJob(t, created.str("job_id"), "Completed")
		}
	}
}

// can_vote lists the pending requests the caller can still vote on; it is
// validated like every filter.
func TestCanVoteFilter(t *testing.T) {
	dana := newApprover(t, "dana")
	profile := policyProfile(t, map[string]any{"required_approvals": 2})
	created := newCert(t, "alice", profile)
	approvalID := created.str("approval_id")
	listed := func(who string) bool {
		r := must(t, http.StatusOK, who, "GET", "/api/v1/approvals?can_vote=true&profile_id="+profile, nil)
		for _, a := range r.Body["data"].([]any) {
			if a.(map[string]any)["id"] == approvalID {
				return true
			}
		}
		return false
	}
	// The pending list reads an index that may lag a moment behind a write.
	eventually(t, "the request listed for bob", func() bool { return listed("bob") })
	if listed("alice") || listed("carol") {
		t.Fatal("the requester or a viewer may not vote, so the request is not theirs to list")
	}
	approve(t, http.StatusOK, "bob", approvalID)
	eventually(t, "bob's vote to take the request off his list", func() bool { return !listed("bob") })
	if !listed(dana) {
		t.Fatal("dana can still vote")
	}
	for _, q := range []string{"can_vote=false", "can_vote=yes", "can_vote=true&state=approved", "can_vote=true&can_vote=true"} {
		must(t, http.StatusBadRequest, "bob", "GET", "/api/v1/approvals?"+q, nil)
	}
	approve(t, http.StatusOK, dana, approvalID)
}

// Policies are validated strictly; one that its pools can never satisfy
// is refused when the profile is written; a policy change is a gated edit
// decided under the policy as it is, and requests in flight keep theirs.
func TestPolicyValidationAndChanges(t *testing.T) {
	base := func() map[string]any {
		id := uniq("bad")
		return map[string]any{"id": id, "name": id, "requires_approval": true, "allowed_names": []string{"**." + zone(id)}}
	}
	for what, extra := range map[string]map[string]any{
		"two from a pool of one": {"required_approvals": 2, "approvers": map[string]any{"principals": []string{"bob"}}},
		"eleven":                 {"required_approvals": 11},
		"zero":                   {"required_approvals": 0},
		"duplicate factors":      {"approval_policy": []map[string]any{{"name": "a", "count": 1}, {"name": "a", "count": 1}}},
		"a factor without count": {"approval_policy": []map[string]any{{"name": "a"}}},
		"an unknown field":       {"approval_policy": []map[string]any{{"name": "a", "count": 1, "quorum": 2}}},
		"one person, two factors": {"approval_policy": []map[string]any{
			{"name": "a", "approvers": map[string]any{"principals": []string{"bob"}}, "count": 1},
			{"name": "b", "approvers": map[string]any{"principals": []string{"bob"}}, "count": 1}}},
		"a total that differs": {"required_approvals": 3, "approval_policy": []map[string]any{{"name": "a", "count": 1}}},
	} {
		body := base()
		for k, v := range extra {
			body[k] = v
		}
		if r := call(t, "alice", "POST", "/api/v1/profiles", body); r.Status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", what, r.Status, r.Raw)
		}
	}

	profile := newProfile(t, true)
	before := newCert(t, "alice", profile)
	r := must(t, http.StatusAccepted, "alice", "PUT", "/api/v1/profiles/"+profile, map[string]any{"required_approvals": 2})
	edit := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+r.str("approval_id"), nil)
	if edit.Body["required_approvals"] != float64(1) {
		t.Fatalf("the edit is decided under the policy as it is: %s", edit.Raw)
	}
	approve(t, http.StatusOK, "bob", r.str("approval_id"))
	if p := must(t, http.StatusOK, "carol", "GET", "/api/v1/profiles/"+profile, nil); p.Body["required_approvals"] != float64(2) {
		t.Fatalf("applied: %s", p.Raw)
	}
	if d := approve(t, http.StatusOK, "bob", before.str("approval_id")); d.str("action") != "approved" {
		t.Fatalf("the request made before the change keeps its one approval: %s", d.Raw)
	}
	after := newCert(t, "alice", profile)
	if d := approve(t, http.StatusOK, "bob", after.str("approval_id")); d.str("action") != "voted" {
		t.Fatalf("a request made after the change needs two: %s", d.Raw)
	}
	must(t, http.StatusOK, "admin", "POST", "/api/v1/approvals/"+after.str("approval_id")+"/reject", map[string]string{"note": "done"})
	waitJob(t, before.str("job_id"), "Completed")
	waitJob(t, after.str("job_id"), "Cancelled")
}

// An admin and a principal whose key it minted are one person: the
// second of their votes is refused (409), and the quorum needs someone
// else.
func TestOnePersonOneVoteAcrossMintedKeys(t *testing.T) {
	dana := newApprover(t, "dana") // admin minted dana's key: admin can act as dana
	created := newCert(t, "alice", policyProfile(t, map[string]any{"required_approvals": 2}))
	approvalID := created.str("approval_id")
	if r := approve(t, http.StatusOK, "admin", approvalID); r.str("action") != "voted" {
		t.Fatalf("admin: %s", r.Raw)
	}
	if r := approve(t, http.StatusConflict, dana, approvalID); !strings.Contains(r.str("message"), "can act as") {
		t.Fatalf("dana after admin: %s", r.Raw)
	}
	if r := approve(t, http.StatusOK, "bob", approvalID); r.str("action") != "approved" {
		t.Fatalf("bob: %s", r.Raw)
	}
	waitJob(t, created.str("job_id"), "Completed")
}

// A certificate_move is voted on like any request. Out of a profile that
// needs two approvals into one that needs one, both quorums hold: bob's
// vote satisfies the target but not the source, so the certificate stays
// until a second person votes; the votes show which policy each counts
// toward (the source's factors as from:<name>), and every vote is audited.
func TestMoveBetweenQuorums(t *testing.T) {
	dana := newApprover(t, "dana")
	strict := policyProfile(t, map[string]any{"required_approvals": 2})
	created := newCert(t, "alice", strict)
	id := certID(created)
	approve(t, http.StatusOK, "bob", created.str("approval_id"))
	approve(t, http.StatusOK, dana, created.str("approval_id"))
	waitJob(t, created.str("job_id"), "Completed")
	easy := uniq("prof")
	must(t, http.StatusCreated, "alice", "POST", "/api/v1/profiles", map[string]any{
		"id": easy, "name": "Easy " + easy, "requires_approval": true, "allowed_names": []string{"**." + zone(strict)}})

	ar := moveOf(t, http.StatusAccepted, "alice", id, easy).str("approval_id")
	view := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+ar, nil)
	mv, _ := view.Body["move"].(map[string]any)
	if view.Body["required_approvals"] != float64(2) || missing(view) != 2 || mv["from_policy"] == nil {
		t.Fatalf("move request: %s", view.Raw)
	}
	if r := approve(t, http.StatusOK, "bob", ar); r.str("action") != domain.ActionVoted || missing(r) != 1 {
		t.Fatalf("first vote: %s", r.Raw)
	}
	if c := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+id, nil); c.str("profile_id") != strict {
		t.Fatalf("moved on one vote of the source's two: %s", c.Raw)
	}
	approve(t, http.StatusConflict, "bob", ar)
	if r := approve(t, http.StatusOK, dana, ar); r.str("action") != domain.ActionApproved {
		t.Fatalf("completing vote: %s", r.Raw)
	}
	if c := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+id, nil); c.str("profile_id") != easy || c.str("pending_move_approval_id") != "" {
		t.Fatalf("not moved: %s", c.Raw)
	}
	voters, factors := votesOf(must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+ar, nil))
	if !slices.Equal(voters, []string{"bob", dana}) || !slices.Equal(factors, []string{"approvers, from:approvers", "from:approvers"}) {
		t.Fatalf("votes %v, factors %v", voters, factors)
	}
	if n := auditCount(t, ar, "approval_vote"); n != 2 {
		t.Fatalf("%d approval_vote rows, want 2", n)
	}
}
