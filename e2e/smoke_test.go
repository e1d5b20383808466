package e2e

import (
	"net/http"
	"testing"
)

// TestSmoke runs on every target, LocalStack's free edition included.
func TestSmoke(t *testing.T) {
	r := must(t, http.StatusOK, "", "GET", "/health", nil)
	if r.str("status") != "ok" || r.str("version") == "" {
		t.Fatalf("health: %s", r.Raw)
	}
	// No key: refused, by API Gateway or, where no authorizer runs, by the api function.
	if r := call(t, "", "GET", "/api/v1/approvals", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("no key: %d %s", r.Status, r.Raw)
	}
}
