package e2e

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func profileOf(t *testing.T, id string) response {
	t.Helper()
	return must(t, http.StatusOK, "carol", "GET", "/api/v1/profiles/"+id, nil)
}

func TestLooseningAGatedProfileNeedsASecondPerson(t *testing.T) {
	profile := newProfile(t, true)
	r := must(t, http.StatusAccepted, "alice", "PUT", "/api/v1/profiles/"+profile, map[string]any{"name": "loose", "requires_approval": false})
	approvalID := r.str("approval_id")
	if r.str("status") != "pending_approval" || approvalID == "" {
		t.Fatalf("gated edit: %s", r.Raw)
	}
	if p := profileOf(t, profile); p.Body["requires_approval"] != true || p.str("pending_edit_approval_id") != approvalID {
		t.Fatalf("the edit applied before approval: %s", p.Raw)
	}
	detail := must(t, http.StatusOK, "bob", "GET", "/api/v1/approvals/"+approvalID, nil)
	edit, _ := detail.Body["profile_edit"].(map[string]any)
	diff, _ := edit["diff"].(map[string]any)
	ra, _ := diff["requires_approval"].(map[string]any)
	if detail.str("kind") != "profile_edit" || ra["old"] != true || ra["new"] != false || diff["name"] == nil || edit["base_version"] != float64(1) {
		t.Fatalf("detail must show a field-by-field diff: %s", detail.Raw)
	}
	if _, unchanged := diff["max_validity_seconds"]; unchanged {
		t.Fatalf("diff lists an unchanged field: %v", diff)
	}
	r = must(t, http.StatusForbidden, "alice", "POST", "/api/v1/approvals/"+approvalID+"/approve", nil)
	if !strings.Contains(r.str("message"), "two-person integrity") {
		t.Fatalf("self-approval: %s", r.Raw)
	}
	must(t, http.StatusForbidden, "carol", "POST", "/api/v1/approvals/"+approvalID+"/approve", nil)
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+approvalID+"/approve", map[string]string{"note": "CHG-7"})
	must(t, http.StatusConflict, "bob", "POST", "/api/v1/approvals/"+approvalID+"/approve", nil)
	p := profileOf(t, profile)
	if p.Body["requires_approval"] != false || p.str("name") != "loose" || p.Body["version"] != float64(2) || p.str("pending_edit_approval_id") != "" {
		t.Fatalf("approved edit not applied: %s", p.Raw)
	}
	rows := must(t, http.StatusOK, "admin", "GET", "/api/v1/audit?resource_id="+profile+"&action=profile.edit_applied", nil).Body["data"].([]any)
	if len(rows) != 1 {
		t.Fatalf("edit_applied rows: %v", rows)
	}
	row := rows[0].(map[string]any)
	if row["actor"] != "bob" || row["details"].(map[string]any)["requested_by"] != "alice" {
		t.Fatalf("edit_applied row: %v", row)
	}
	reqRows := must(t, http.StatusOK, "admin", "GET", "/api/v1/audit?resource_id="+approvalID, nil).Body["data"].([]any)
	if len(reqRows) != 3 || reqRows[2].(map[string]any)["action"] != "approval_profile_edit_requested" ||
		reqRows[1].(map[string]any)["action"] != "approval_vote" || reqRows[0].(map[string]any)["action"] != "approval_approved" {
		t.Fatalf("request trail: %v", reqRows)
	}
}

func TestRejectedEditChangesNothing(t *testing.T) {
	profile := newProfile(t, true)
	r := must(t, http.StatusAccepted, "alice", "PUT", "/api/v1/profiles/"+profile, map[string]any{"name": "x", "requires_approval": true, "max_validity_seconds": 398 * 86400})
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+r.str("approval_id")+"/reject", map[string]string{"note": "too long"})
	p := profileOf(t, profile)
	if p.Body["version"] != float64(1) || p.Body["max_validity_seconds"] != float64(90*86400) || p.str("pending_edit_approval_id") != "" {
		t.Fatalf("rejected edit changed the profile: %s", p.Raw)
	}
	// The lock is released: a new edit can be proposed.
	must(t, http.StatusAccepted, "alice", "PUT", "/api/v1/profiles/"+profile, map[string]any{"name": "y", "requires_approval": true})
}

// While an edit that would gate a profile waits for its decision, an edit
// that needs no approval cannot slip in: it would make the pending edit
// stale, and so keep the profile from ever becoming approval-tier.
func TestNoDirectEditWhileAnEditIsPending(t *testing.T) {
	profile := newProfile(t, false)
	r := must(t, http.StatusAccepted, "alice", "PUT", "/api/v1/profiles/"+profile, map[string]any{"name": "gate it", "requires_approval": true})
	approvalID := r.str("approval_id")
	r = must(t, http.StatusConflict, "bob", "PUT", "/api/v1/profiles/"+profile, map[string]any{"name": "renamed"})
	if !strings.Contains(r.str("message"), approvalID) {
		t.Fatalf("the refusal must name the pending edit: %s", r.Raw)
	}
	must(t, http.StatusConflict, "bob", "DELETE", "/api/v1/profiles/"+profile, nil)
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+approvalID+"/approve", nil)
	if p := profileOf(t, profile); p.Body["requires_approval"] != true || p.str("name") != "gate it" {
		t.Fatalf("gating edit not applied: %s", p.Raw)
	}
}

// An edit whose profile moved on (only a writer outside the API can do that
// now) is not applied: the approval ends it rejected, with the reason.
func TestStaleEditIsNotApplied(t *testing.T) {
	profile := newProfile(t, false)
	r := must(t, http.StatusAccepted, "alice", "PUT", "/api/v1/profiles/"+profile, map[string]any{"name": "gate it", "requires_approval": true})
	approvalID := r.str("approval_id")
	bumpProfileVersion(t, profile)
	r = must(t, http.StatusConflict, "bob", "POST", "/api/v1/approvals/"+approvalID+"/approve", nil)
	if !strings.Contains(r.str("message"), "stale edit") {
		t.Fatalf("stale approve: %s", r.Raw)
	}
	a := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+approvalID, nil)
	if a.str("state") != "rejected" || !strings.Contains(a.str("reason"), "stale edit") {
		t.Fatalf("stale request must end rejected with the reason: %s", a.Raw)
	}
	p := profileOf(t, profile)
	if p.str("name") == "gate it" || p.Body["requires_approval"] != false || p.Body["version"] != float64(2) || p.str("pending_edit_approval_id") != "" {
		t.Fatalf("stale edit applied or lock kept: %s", p.Raw)
	}
}

func TestOnePendingEditPerProfile(t *testing.T) {
	profile := newProfile(t, true)
	var wg sync.WaitGroup
	statuses := make([]response, 4)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = call(t, "alice", "PUT", "/api/v1/profiles/"+profile, map[string]any{"name": uniq("n"), "requires_approval": true})
		}()
	}
	wg.Wait()
	accepted, pendingID := 0, ""
	for _, r := range statuses {
		if r.Status == http.StatusAccepted {
			accepted++
			pendingID = r.str("approval_id")
		}
	}
	if accepted != 1 {
		t.Fatalf("%d edits pending at once, want 1", accepted)
	}
	for _, r := range statuses {
		if r.Status == http.StatusConflict && !strings.Contains(r.str("message"), pendingID) {
			t.Fatalf("409 must name the pending approval %s: %s", pendingID, r.Raw)
		}
		if r.Status != http.StatusAccepted && r.Status != http.StatusConflict {
			t.Fatalf("unexpected %d: %s", r.Status, r.Raw)
		}
	}
	// Deletion is gated too while approval-tier, and also waits its turn.
	must(t, http.StatusConflict, "alice", "DELETE", "/api/v1/profiles/"+profile, nil)
}

func TestUngatedEditsAndDeletesApplyAtOnce(t *testing.T) {
	profile := newProfile(t, false)
	p := must(t, http.StatusOK, "alice", "PUT", "/api/v1/profiles/"+profile, map[string]any{"name": "renamed", "renew_before_seconds": 86400})
	if p.Body["version"] != float64(2) || p.Body["renew_before_seconds"] != float64(86400) {
		t.Fatalf("direct edit: %s", p.Raw)
	}
	must(t, http.StatusNoContent, "alice", "DELETE", "/api/v1/profiles/"+profile, nil)
	must(t, http.StatusNotFound, "carol", "GET", "/api/v1/profiles/"+profile, nil)
}

func TestGatedDeleteNeedsApproval(t *testing.T) {
	profile := newProfile(t, true)
	r := must(t, http.StatusAccepted, "alice", "DELETE", "/api/v1/profiles/"+profile, nil)
	profileOf(t, profile) // still there
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+r.str("approval_id")+"/approve", nil)
	must(t, http.StatusNotFound, "carol", "GET", "/api/v1/profiles/"+profile, nil)
}

func TestExpiryDropsTheEdit(t *testing.T) {
	embeddedOnly(t)
	profile := newProfile(t, true)
	r := must(t, http.StatusAccepted, "alice", "PUT", "/api/v1/profiles/"+profile, map[string]any{"name": "never", "requires_approval": false})
	if _, err := at(stack.Config.ApprovalTimeout + time.Hour).Reap(context.Background()); err != nil {
		t.Fatal(err)
	}
	a := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+r.str("approval_id"), nil)
	if a.str("state") != "expired" {
		t.Fatalf("edit request after expiry: %s", a.Raw)
	}
	p := profileOf(t, profile)
	if p.Body["requires_approval"] != true || p.Body["version"] != float64(1) || p.str("pending_edit_approval_id") != "" {
		t.Fatalf("expired edit applied or lock kept: %s", p.Raw)
	}
	must(t, http.StatusConflict, "bob", "POST", "/api/v1/approvals/"+r.str("approval_id")+"/approve", nil)
	pending := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals?state=pending&kind=profile_edit&profile_id="+profile, nil).Body["data"].([]any)
	if len(pending) != 0 {
		t.Fatalf("still listed as pending: %v", pending)
	}
}

func TestProfileInUseCannotBeDeleted(t *testing.T) {
	profile := newProfile(t, false)
	newCert(t, "alice", profile)
	r := must(t, http.StatusConflict, "alice", "DELETE", "/api/v1/profiles/"+profile, nil)
	if !strings.Contains(r.str("message"), "is used by 1 certificates") {
		t.Fatalf("delete in use: %s", r.Raw)
	}
	profileOf(t, profile)
}

// Re-sending a gated profile unchanged changes nothing and asks no one.
func TestUnchangedEditNeedsNoApproval(t *testing.T) {
	profile := newProfile(t, true)
	cur := profileOf(t, profile)
	r := must(t, http.StatusOK, "alice", "PUT", "/api/v1/profiles/"+profile, map[string]any{"name": cur.str("name"), "requires_approval": true})
	if r.Body["version"] != float64(1) || r.str("pending_edit_approval_id") != "" {
		t.Fatalf("no-op edit: %s", r.Raw)
	}
}

// An approved gated edit (here, one that also ends the gate, and one that
// makes an ungated profile approval-tier) changes only what it edits: who
// created the profile, and when, stay as they were.
func TestApprovedEditKeepsWhoCreatedTheProfile(t *testing.T) {
	for _, gated := range []bool{true, false} {
		profile := newProfile(t, gated)
		before := profileOf(t, profile)
		r := must(t, http.StatusAccepted, "alice", "PUT", "/api/v1/profiles/"+profile, map[string]any{"name": "edited", "requires_approval": !gated})
		must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+r.str("approval_id")+"/approve", nil)
		after := profileOf(t, profile)
		if after.str("name") != "edited" || after.Body["version"] != float64(2) {
			t.Fatalf("gated=%v: the edit was not applied: %s", gated, after.Raw)
		}
		if after.str("created_by") != "alice" || after.str("created_at") != before.str("created_at") || after.str("created_at") == "" {
			t.Fatalf("gated=%v: created_by/created_at changed by an approved edit:\nbefore %s\nafter  %s", gated, before.Raw, after.Raw)
		}
	}
}

// No one operator can lock a zone with a pool nobody can satisfy: an IAM
// identity the mapping cannot make an approver is refused, a public suffix
// is refused, and an admin can always decide a profile's edits (never their
// own), while its certificate requests keep their pool.
func TestNoOperatorLocksAZone(t *testing.T) {
	zoneName := uniq("victim") + ".example"
	for _, body := range []map[string]any{
		{"name": "lock", "requires_approval": true, "allowed_names": []string{"**." + zoneName},
			"approvers": map[string]any{"principals": []string{"iam:aws:000000000000:role/nobody"}}},
		{"name": "lock", "requires_approval": true, "allowed_names": []string{"**." + zoneName},
			"approvers": map[string]any{"principals": []string{"arn:aws:iam::000000000000:role/nobody"}}},
		{"name": "suffix", "requires_approval": true, "allowed_names": []string{"**.co.uk"}},
	} {
		r := must(t, http.StatusBadRequest, "alice", "POST", "/api/v1/profiles", body)
		if !strings.Contains(r.str("message"), "approvers.principals") && !strings.Contains(r.str("message"), "public suffix") {
			t.Fatalf("%v: %s", body, r.Raw)
		}
	}
	// A pool of one: only bob may decide, but an admin can still edit it.
	id := uniq("pool-of-one")
	must(t, http.StatusCreated, "alice", "POST", "/api/v1/profiles", map[string]any{
		"id": id, "name": "pool of one", "requires_approval": true, "allowed_names": []string{"**." + zone(id)},
		"approvers": map[string]any{"principals": []string{"bob"}},
	})
	cert := newCert(t, "alice", id)
	must(t, http.StatusForbidden, "admin", "POST", "/api/v1/approvals/"+cert.str("approval_id")+"/approve", nil)
	edit := must(t, http.StatusAccepted, "alice", "PUT", "/api/v1/profiles/"+id, map[string]any{"name": "renamed"})
	must(t, http.StatusOK, "admin", "POST", "/api/v1/approvals/"+edit.str("approval_id")+"/approve", map[string]string{"note": "break glass"})
	if p := profileOf(t, id); p.str("name") != "renamed" {
		t.Fatalf("the admin's decision did not apply the edit: %s", p.Raw)
	}
	own := must(t, http.StatusAccepted, "admin", "PUT", "/api/v1/profiles/"+id, map[string]any{"name": "mine"})
	r := must(t, http.StatusForbidden, "admin", "POST", "/api/v1/approvals/"+own.str("approval_id")+"/approve", nil)
	if !strings.Contains(r.str("message"), "two-person integrity") {
		t.Fatalf("admin approving their own edit: %s", r.Raw)
	}
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+own.str("approval_id")+"/reject", map[string]string{"note": "no"})
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+cert.str("approval_id")+"/reject", map[string]string{"note": "no"})
}
