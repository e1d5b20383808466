package e2e

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go/middleware"

	"github.com/certctl-serverless/certctl-serverless/pkg/devstack/faults"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/stepfn"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// contendedService is the workflow service with DynamoDB's optimistic
// concurrency modelled: writes to an item another transaction holds fail
// as they would on AWS.
func contendedService(model *faults.Contention) *workflow.Service {
	cfg := stack.AWSConfig.Copy()
	cfg.APIOptions = append(append([]func(*middleware.Stack) error(nil), cfg.APIOptions...), model.APIOption)
	svc := workflow.New(store.New(dynamodb.NewFromConfig(cfg), stack.Config.StateTable, stack.Config.AuditTable),
		stepfn.New(sfn.NewFromConfig(cfg), stack.Config.StateMachineARN))
	svc.ApprovalTimeout, svc.Log = stack.Config.ApprovalTimeout, slog.New(slog.NewJSONHandler(io.Discard, nil))
	return svc
}

// Items every request of a kind writes (a profile's certificate count, the
// governance version an ungated job checks, a profile's decision counters)
// are where concurrent requests meet. Under DynamoDB's concurrency rules
// each of 16 concurrent creations on one ungated profile, and each of 16
// concurrent decisions on one profile's requests, still succeeds: a
// cancelled transaction is sent again, then re-read and retried.
func TestConcurrentRequestsOnOneProfileAllSucceed(t *testing.T) {
	const n = 16
	model := faults.NewContention()
	svc := contendedService(model)
	run := func(what string, f func(i int) error) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = f(i) }()
		}
		wg.Wait()
		failed := 0
		for _, err := range errs {
			if err != nil {
				failed++
			}
		}
		if failed > 0 {
			c, r := model.Conflicts()
			t.Fatalf("%s: %d of %d failed (%d of %d writes refused by the contention model): %v", what, failed, n, c, r, errors.Join(errs...))
		}
	}
	alice := domain.Actor{ID: "alice", Type: domain.ActorUser, Roles: []domain.Role{domain.RoleOperator, domain.RoleApprover}}
	bob := domain.Actor{ID: "bob", Type: domain.ActorUser, Roles: []domain.Role{domain.RoleOperator, domain.RoleApprover}}
	create := func(profile string) func(int) error {
		return func(int) error {
			cn := uniq("mc") + "." + zone(profile)
			_, err := svc.CreateCertificate(context.Background(), alice, domain.CertificateInput{CommonName: cn, ProfileID: profile, CSR: newCSR(t, cn, cn)})
			return err
		}
	}
	run("ungated creations", create(newProfile(t, false)))
	ungated, total := model.Conflicts()

	gated := newProfile(t, true)
	approvals := make([]string, n)
	for i := range approvals {
		approvals[i] = newCert(t, "alice", gated).str("approval_id")
	}
	run("decisions", func(i int) error {
		_, err := svc.Approve(context.Background(), bob, approvals[i], "")
		return err
	})
	all, total2 := model.Conflicts()
	t.Logf("contention: %d of %d writes refused during %d concurrent ungated creations on one profile, %d of %d during %d concurrent decisions on one profile",
		ungated, total, n, all-ungated, total2-total, n)
	if all == 0 {
		t.Fatal("the model refused nothing: the test does not exercise contention")
	}
	for _, id := range approvals {
		if a := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+id, nil); a.str("state") != "approved" {
			t.Fatalf("%s: %s", id, a.Raw)
		}
	}
}
