package workflow

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// readmeRequest is the request the README's sample message is about.
func readmeRequest() *domain.Approval {
	created := time.Date(2026, 5, 4, 9, 30, 0, 0, time.UTC)
	return &domain.Approval{
		ID: "ar-01jtdbk3f4m8x2q5v7w9yz0abc", Kind: domain.KindCertIssuance, State: domain.ApprovalPending,
		JobID: "job-01jtdbk3f4m8x2q5v7w9yz0abd", CertificateID: "web", ProfileID: "prod-web", RequestedBy: "alice",
		RequestedType: domain.ActorUser,
		Subject: &domain.Subject{
			CommonName: "web.example.com", DNSNames: []string{"web.example.com", "www.example.com"}, IPAddresses: []string{},
			KeyAlgorithm: domain.KeyECDSAP256, PublicKeySHA256: "9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f1a3c5e7b9d0f",
			ValiditySeconds: 90 * 24 * 3600, IssuerID: "default", ProfileID: "prod-web", ProfileVersion: 3, ProfileName: "Production web",
		},
		CreatedAt: created, ExpiresAt: created.Add(168 * time.Hour),
	}
}

// The README shows a reminder exactly as the message builder produces it,
// and the webhook body exactly as a webhook target receives it.
func TestREADMEShowsTheMessageAsProduced(t *testing.T) {
	s := &Service{Notify: NotifySettings{Stage: "prod", ConsoleURL: "https://certs.example.com/console/", Default: []string{"ops"}}}
	a := readmeRequest()
	d := s.pendingDetail(a, a.CreatedAt.Add(26*time.Hour+15*time.Minute), []string{"ops"}, "Reminder 1, approval waiting", 1)
	body, err := json.Marshal(d.Message)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range []struct{ name, want string }{
		{"message", d.Message.Text},
		{"webhook-body", string(body)},
	} {
		_, rest, ok := strings.Cut(string(readme), "<!-- "+block.name+":begin -->\n```text\n")
		got, _, ok2 := strings.Cut(rest, "\n```\n<!-- "+block.name+":end -->")
		if !ok || !ok2 {
			t.Fatalf("README.md has no %s block; it should read:\n%s", block.name, block.want)
		}
		if got != block.want {
			t.Errorf("README.md's %s block differs from what is produced:\n--- README\n%s\n--- produced\n%s", block.name, got, block.want)
		}
	}
}
