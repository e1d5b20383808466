package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// GET /whoami says who the API takes the caller for, with the roles it
// enforces: what the console signs in with.
func TestWhoAmI(t *testing.T) {
	for who, roles := range map[string][]string{
		"alice": {"operator", "approver"}, "carol": {"viewer"}, "admin": {"admin"},
	} {
		r := must(t, http.StatusOK, who, "GET", "/api/v1/whoami", nil)
		var got []string
		for _, role := range r.Body["roles"].([]any) {
			got = append(got, role.(string))
		}
		if r.str("principal") != who || r.str("type") != "User" || !slices.Equal(got, roles) {
			t.Errorf("%s: %s", who, r.Raw)
		}
	}
	must(t, http.StatusBadRequest, "carol", "GET", "/api/v1/whoami?user=alice", nil)
	must(t, http.StatusUnauthorized, "", "GET", "/api/v1/whoami", nil)
	if stack != nil {
		r := iamCall(t, "arn:aws:sts::123456789012:assumed-role/ReadOnlyAuditors/frank", "GET", "/api/v1/whoami", nil)
		if r.Status != http.StatusOK || r.str("principal") != "iam:aws:123456789012:role/readonlyauditors" {
			t.Errorf("IAM caller: %d %s", r.Status, r.Raw)
		}
	}
}

// GET /approvals/{id}/history is the request's own audit rows, readable by
// everyone who may read the request (the audit trail is not).
func TestApprovalHistory(t *testing.T) {
	created := newCert(t, "alice", newProfile(t, true))
	id := created.str("approval_id")
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+id+"/reject", map[string]string{"note": "wrong names"})
	must(t, http.StatusForbidden, "carol", "GET", "/api/v1/audit?resource_id="+id, nil)
	rows := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+id+"/history", nil).Body["data"].([]any)
	var actions []string
	for _, row := range rows {
		m := row.(map[string]any)
		if m["resource_id"] != id || m["resource_type"] != "approval" {
			t.Errorf("row of another resource: %v", m)
		}
		actions = append(actions, m["actor"].(string)+" "+m["action"].(string))
	}
	if !slices.Equal(actions, []string{"bob approval_rejected", "alice approval_requested"}) {
		t.Errorf("history %v, want the rejection then the request", actions)
	}
	if note := rows[0].(map[string]any)["details"].(map[string]any)["note"]; note != "wrong names" {
		t.Errorf("rejection note %v", note)
	}
	r := must(t, http.StatusNotFound, "carol", "GET", "/api/v1/approvals/ar-does-not-exist/history", nil)
	if !strings.Contains(r.str("message"), "ar-does-not-exist") {
		t.Errorf("unknown request: %s", r.Raw)
	}
	must(t, http.StatusBadRequest, "carol", "GET", "/api/v1/approvals/"+id+"/history?actor=bob", nil)
}
