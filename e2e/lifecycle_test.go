package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// Archive and delete, as each role and with each refusal: archiving is
// refused while a job is in flight, deleting unless archived; deleting
// removes the certificate's records (its versions, jobs and requests) and
// frees its profile, while the audit trail keeps its history.
func TestArchiveAndDelete(t *testing.T) {
	profile := newProfile(t, true)
	created := newCert(t, "alice", profile)
	id := certID(created)
	path := "/api/v1/certificates/" + id

	must(t, http.StatusUnauthorized, "", "POST", path+"/archive", nil)
	must(t, http.StatusForbidden, "carol", "POST", path+"/archive", nil)
	must(t, http.StatusForbidden, "carol", "DELETE", path, nil)
	r := must(t, http.StatusConflict, "alice", "POST", path+"/archive", nil)
	if msg := r.str("message"); !strings.Contains(msg, "in flight") {
		t.Fatalf("archive with a job in flight: %s", r.Raw)
	}
	must(t, http.StatusConflict, "alice", "DELETE", path, nil) // not archived
	must(t, http.StatusBadRequest, "alice", "POST", path+"/archive", map[string]any{"force": true})

	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+created.str("approval_id")+"/approve", nil)
	waitJob(t, created.str("job_id"), "Completed")
	must(t, http.StatusConflict, "admin", "DELETE", path, nil) // Active
	r = must(t, http.StatusOK, "alice", "POST", path+"/archive", nil)
	if r.str("status") != "Archived" || r.str("archived_at") == "" {
		t.Fatalf("archived: %s", r.Raw)
	}
	must(t, http.StatusConflict, "alice", "POST", path+"/archive", nil)
	must(t, http.StatusConflict, "alice", "POST", path+"/renew", nil)
	if p := profileOf(t, profile); p.Body["certificate_count"] != float64(1) {
		t.Fatalf("profile count before the delete: %s", p.Raw)
	}

	must(t, http.StatusNoContent, "alice", "DELETE", path, nil)
	must(t, http.StatusNotFound, "carol", "GET", path, nil)
	must(t, http.StatusNotFound, "carol", "GET", path+"/versions", nil)
	must(t, http.StatusNotFound, "carol", "GET", "/api/v1/jobs/"+created.str("job_id"), nil)
	must(t, http.StatusNotFound, "carol", "GET", "/api/v1/approvals/"+created.str("approval_id"), nil)
	if jobs := must(t, http.StatusOK, "carol", "GET", "/api/v1/jobs?certificate_id="+id, nil).Body["data"].([]any); len(jobs) != 0 {
		t.Fatalf("jobs of a deleted certificate: %v", jobs)
	}
	must(t, http.StatusNotFound, "alice", "DELETE", path, nil)
	if p := profileOf(t, profile); p.Body["certificate_count"] != float64(0) {
		t.Fatalf("profile count after the delete: %s", p.Raw)
	}
	rows := must(t, http.StatusOK, "admin", "GET", "/api/v1/audit?resource_id="+id, nil).Body["data"].([]any)
	actions := map[string]bool{}
	for _, row := range rows {
		actions[row.(map[string]any)["action"].(string)] = true
	}
	for _, a := range []string{"certificate.created", "certificate.archived", "certificate.records_deleted", "certificate.deleted"} {
		if !actions[a] {
			t.Errorf("the audit trail of %s lacks %s: %v", id, a, actions)
		}
	}
	// The profile, in use no more, can be deleted (a gated delete: a request).
	must(t, http.StatusAccepted, "alice", "DELETE", "/api/v1/profiles/"+profile, nil)
}
