package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Concurrent cold starts each make a CA certificate; the conditional write
// lets exactly one be stored and every caller gets that one back.
func TestConcurrentCAInitialisationAgreesOnOne(t *testing.T) {
	embeddedOnly(t)
	id := uniq("issuer")
	st := storeOf()
	var wg sync.WaitGroup
	got := make([]string, 8)
	created := make([]bool, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			is := &domain.Issuer{ID: id, CAPEM: fmt.Sprintf("candidate-%d", i), CreatedAt: time.Now().UTC()}
			audit := &domain.AuditEvent{Actor: domain.SystemWorkflow, ActorType: domain.ActorSystem, Action: domain.AuditIssuerInitialized, ResourceType: "issuer", ResourceID: id}
			stored, ok, err := st.PutIssuerIfAbsent(context.Background(), is, audit)
			if err != nil {
				t.Error(err)
				return
			}
			got[i], created[i] = stored.CAPEM, ok
		}()
	}
	wg.Wait()
	winners := 0
	for i := range got {
		if got[i] != got[0] {
			t.Fatalf("callers disagree on the CA: %q vs %q", got[i], got[0])
		}
		if created[i] {
			winners++
		}
	}
	if winners != 1 {
		t.Fatalf("%d callers think they created the CA, want 1", winners)
	}
	rows := must(t, http.StatusOK, "admin", "GET", "/api/v1/audit?resource_id="+id, nil).Body["data"].([]any)
	if len(rows) != 1 {
		t.Fatalf("want one issuer.initialized row, got %d", len(rows))
	}
}
