package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go/middleware"

	"github.com/certctl-serverless/certctl-serverless/pkg/auditchain"
	"github.com/certctl-serverless/certctl-serverless/pkg/devstack/faults"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/stepfn"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// cancellations counts cancelled transactions by why: a TransactionConflict
// (injected here: real DynamoDB's answer to concurrent transactions), a
// chain head that moved, or a transition's own condition.
type cancellations struct {
	conflicts, heads, transitions atomic.Int64
}

func (c *cancellations) apiOption(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("countCancellations", func(
		ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler,
	) (middleware.InitializeOutput, middleware.Metadata, error) {
		out, md, err := next.HandleInitialize(ctx, in)
		tx, ok := in.Parameters.(*dynamodb.TransactWriteItemsInput)
		var cancelled *types.TransactionCanceledException
		if awsmiddleware.GetOperationName(ctx) != "TransactWriteItems" || !ok || !errors.As(err, &cancelled) {
			return out, md, err
		}
		for i, r := range cancelled.CancellationReasons {
			switch code := aws.ToString(r.Code); {
			case code == "TransactionConflict":
				c.conflicts.Add(1)
			case code == "ConditionalCheckFailed" && i < len(tx.TransactItems) && isHeadPut(tx.TransactItems[i]):
				c.heads.Add(1)
			case code == "ConditionalCheckFailed":
				c.transitions.Add(1)
			}
		}
		return out, md, err
	}), middleware.After)
}

func isHeadPut(it types.TransactWriteItem) bool {
	if it.Put == nil {
		return false
	}
	pk, _ := it.Put.Item["pk"].(*types.AttributeValueMemberS)
	return pk != nil && pk.Value == auditchain.HeadPK
}

// TestConcurrentDecisionsUnderFaultsKeepOneChain decides many requests at
// once (and races a second decider on each) through a store whose
// DynamoDB calls get the chaos suite's faults: conflicts, throttling,
// server errors, answers lost after the write, deaths between calls.
// Every request ends decided once, and the audit chain stays one unbroken
// chain per shard with every row linked. It reports how often a
// transaction lost the race for a chain head and was linked again.
func TestConcurrentDecisionsUnderFaultsKeepOneChain(t *testing.T) {
	embeddedOnly(t)
	const requests = 20
	var ids []string
	for range requests {
		ids = append(ids, newCert(t, "alice", newProfile(t, true)).str("approval_id"))
	}

	counts := &cancellations{}
	inj := faults.New(7, 0.12)
	cfg := stack.AWSConfig.Copy()
	cfg.APIOptions = append(cfg.APIOptions, counts.apiOption, inj.APIOption)
	st := store.New(dynamodb.NewFromConfig(cfg), stack.Config.StateTable, stack.Config.AuditTable)
	svc := workflow.New(st, stepfn.New(sfn.NewFromConfig(stack.AWSConfig), stack.Config.StateMachineARN))
	svc.ApprovalTimeout, svc.Log = stack.Config.ApprovalTimeout, slog.New(slog.NewJSONHandler(io.Discard, nil))

	// One decision, retried as a client retries a 503 or a dead function.
	decide := func(actor domain.Actor, id string, reject bool) (err error) {
		for attempt := 0; attempt < 20; attempt++ {
			err = func() (err error) {
				defer func() {
					if v := recover(); v != nil {
						if !faults.IsDeath(v) {
							panic(v)
						}
						err = fmt.Errorf("died: %v", v)
					}
				}()
				if reject {
					_, err = svc.Reject(context.Background(), actor, id, "race")
				} else {
					_, err = svc.Approve(context.Background(), actor, id, "race")
				}
				return err
			}()
			if err == nil || errors.Is(err, domain.ErrConflict) {
				return err
			}
		}
		return err
	}
	inj.Enable(true)
	var wg sync.WaitGroup
	var wins, refusals atomic.Int64
	for _, id := range ids {
		for i, who := range []string{"bob", "admin"} {
			wg.Go(func() {
				err := decide(domain.Actor{ID: who, Type: domain.ActorUser, Roles: []domain.Role{domain.RoleApprover, domain.RoleAdmin}}, id, i == 1)
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, domain.ErrConflict):
					refusals.Add(1)
				default:
					t.Errorf("%s on %s: %v", who, id, err)
				}
			})
		}
	}
	wg.Wait()
	inj.Enable(false)

	// Every request decided exactly once (a decider whose own decision
	// committed but whose answer was lost may see 409 on its retry).
	for _, id := range ids {
		a := must(t, 200, "carol", "GET", "/api/v1/approvals/"+id, nil)
		if s := a.str("state"); s != "approved" && s != "rejected" {
			t.Errorf("%s is %s", id, s)
		}
		rows := 0
		for _, action := range []string{domain.AuditApprovalApproved, domain.AuditApprovalRejected} {
			got, _, err := storeOf().ListAudit(context.Background(), domain.AuditFilter{ResourceID: id, Action: action}, domain.PageRequest{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			rows += len(got)
		}
		if rows != 1 {
			t.Errorf("%s has %d decision rows, want 1", id, rows)
		}
	}
	violations, err := checkInvariants()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range violations {
		if v.Rule == "audit-chain" {
			t.Errorf("violation: %s", v)
		}
	}
	t.Logf("%d requests, 2 deciders each: %d decisions won, %d refused (409); faults injected: %s", requests, wins.Load(), refusals.Load(), inj)
	t.Logf("cancelled transactions by reason: %d TransactionConflict (injected, resent as is), %d chain head moved (relinked), %d transition condition (the losing decider); the store relinked %d transactions",
		counts.conflicts.Load(), counts.heads.Load(), counts.transitions.Load(), st.ChainRetries())
}
