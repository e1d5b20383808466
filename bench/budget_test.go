package bench

import (
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/app"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// The API operations measured, in the order they run.
const (
	opCreate      = "create"       // POST /api/v1/certificates on an approval-tier profile
	opGetApproval = "get-approval" // GET /api/v1/approvals/{id}
	opApprove     = "approve"      // POST /api/v1/approvals/{id}/approve
	opReject      = "reject"       // POST /api/v1/approvals/{id}/reject
	opRenew       = "renew"        // POST /api/v1/certificates/{id}/renew (approval-tier)
	opVote        = "vote"         // POST /api/v1/approvals/{id}/approve that leaves a quorum of two pending
	opCompleting  = "quorum-vote"  // POST /api/v1/approvals/{id}/approve that completes a quorum of two
	opRevoke      = "revoke"       // POST /api/v1/certificates/{id}/revoke, then the CRL it sets off
)

var operations = []string{opCreate, opGetApproval, opApprove, opReject, opRenew, opVote, opCompleting, opRevoke}

// callBudget bounds the AWS calls one function makes for one operation.
// Every call must be listed: an operation not in exact or atMost is over
// budget.
type callBudget struct {
	exact  map[string]int // "Service.Operation" -> exactly this many
	atMost map[string]int // "Service.Operation" -> at most this many
}

// budgets are per operation, for the api function. The approve budget is
// the point of the design: one read of the request and one of the audit
// chain head its decision's row links into, one transaction (which also
// queues the hand-off, moves the head and writes the decision's event to
// the outbox), one hand-off and one write to take it off the queue, then
// one PutEvents for the event and one DeleteItem to take it out of the
// outbox.
var budgets = map[string]callBudget{
	opApprove: {
		exact: map[string]int{"DynamoDB.GetItem": 2, "DynamoDB.TransactWriteItems": 1,
			"EventBridge.PutEvents": 1, "DynamoDB.DeleteItem": 1},
		atMost: map[string]int{"SFN.SendTaskSuccess": 1, "DynamoDB.UpdateItem": 1},
	},
	// A rejection also reads the certificate it restores (the restore is
	// conditioned on the status read, so it never un-revokes one).
	opReject: {
		exact: map[string]int{"DynamoDB.GetItem": 3, "DynamoDB.TransactWriteItems": 1,
			"EventBridge.PutEvents": 1, "DynamoDB.DeleteItem": 1},
		atMost: map[string]int{"SFN.SendTaskSuccess": 1, "DynamoDB.UpdateItem": 1},
	},
	opGetApproval: {
		exact: map[string]int{"DynamoDB.GetItem": 1},
	},
	// A vote that leaves the request pending: a read of the request and
	// one of the chain head its row links into, and one transaction (the
	// request's votes, the vote's audit row, the head, its Approval Vote
	// Recorded event in the outbox), then the event's PutEvents and
	// DeleteItem; nothing to hand over.
	opVote: {
		exact: map[string]int{"DynamoDB.GetItem": 2, "DynamoDB.TransactWriteItems": 1,
			"EventBridge.PutEvents": 1, "DynamoDB.DeleteItem": 1},
	},
	// The vote that completes a quorum is an approval like any other (its
	// two rows, approval_vote and approval_approved, share one shard),
	// publishing its Approval Decided event.
	opCompleting: {
		exact: map[string]int{"DynamoDB.GetItem": 2, "DynamoDB.TransactWriteItems": 1,
			"EventBridge.PutEvents": 1, "DynamoDB.DeleteItem": 1},
		atMost: map[string]int{"SFN.SendTaskSuccess": 1, "DynamoDB.UpdateItem": 1},
	},
	// A revocation: the certificate and the issuer's CRL state (its entry
	// count, for the cap) read, its versions listed, one transaction
	// (versions, entries, CRL state, audit), the certificate read again for
	// the answer, one asynchronous invoke asking for the CRL. No signing:
	// the api holds no kms:Sign.
	opRevoke: {
		exact:  map[string]int{"DynamoDB.Query": 1, "DynamoDB.TransactWriteItems": 1, "Lambda.Invoke": 1},
		atMost: map[string]int{"DynamoDB.GetItem": 4}, // the certificate, the CRL state, the chain head, the certificate again
	},
}

// check returns what is over or under budget in calls ("Service.Operation" -> n).
func (cb callBudget) check(calls map[string]int) []string {
	var problems []string
	for op, want := range cb.exact {
		if calls[op] != want {
			problems = append(problems, fmt.Sprintf("%s×%d, want exactly %d", op, calls[op], want))
		}
	}
	for op, limit := range cb.atMost {
		if calls[op] > limit {
			problems = append(problems, fmt.Sprintf("%s×%d, want at most %d", op, calls[op], limit))
		}
	}
	for op, n := range calls {
		if _, ok := cb.exact[op]; ok {
			continue
		}
		if _, ok := cb.atMost[op]; ok {
			continue
		}
		problems = append(problems, fmt.Sprintf("%s×%d, want none", op, n))
	}
	sort.Strings(problems)
	return problems
}

// BenchmarkAWSCallsPerOperation counts the AWS calls each API operation
// causes, per function: the api function, the authorizer (which runs on
// every request) and the workflow functions the operation sets off. Each
// operation's background work is waited for (with uncounted clients) before
// the next one starts, so every count belongs to one operation. The api
// budgets are checked on every iteration.
func BenchmarkAWSCallsPerOperation(b *testing.B) {
	e := getEnv(b)
	profile := e.newProfile(b, true)
	quorum := e.newQuorumProfile(b, 2)

	first := map[string]Counts{}
	varied := map[string]bool{}
	var last map[string]Counts
	measure := func(op string, call func(), settle func() error) {
		b.Helper()
		e.calls.Reset()
		call()
		if settle != nil {
			if err := settle(); err != nil {
				b.Fatalf("%s: %v", op, err)
			}
		}
		cs := e.calls.Snapshot()
		if bud, ok := budgets[op]; ok {
			if problems := bud.check(cs.Of(app.FnAPI)); len(problems) > 0 {
				b.Fatalf("%s: the api function is over its AWS call budget: %s (all calls: %s)",
					op, strings.Join(problems, "; "), cs.Format(app.FnAPI))
			}
		}
		if prev, ok := first[op]; !ok {
			first[op] = cs
		} else if !prev.Equal(cs) {
			varied[op] = true
		}
		last[op] = cs
	}
	executionEnds := func(jobID string, want sfntypes.ExecutionStatus) error {
		st, err := e.waitExecution(e.exec.ExecutionARN(jobID))
		if err == nil && st != want {
			err = fmt.Errorf("execution of %s ended %s, want %s", jobID, st, want)
		}
		return err
	}

	for b.Loop() {
		last = map[string]Counts{}

		// An approval-tier certificate: the api starts the execution, whose
		// approval-wait function stores the task token.
		body := certificateBody(b, profile)
		var a started
		measure(opCreate, func() {
			a = startedFrom(e.must(b, http.StatusCreated, "alice", http.MethodPost, "/api/v1/certificates", body))
		}, func() error { return e.waitToken(a.ApprovalID) })

		measure(opGetApproval, func() {
			e.must(b, http.StatusOK, "bob", http.MethodGet, "/api/v1/approvals/"+a.ApprovalID, nil)
		}, nil)

		// Approve with the token stored: the api hands the decision over
		// itself, then the execution issues.
		measure(opApprove, func() {
			e.must(b, http.StatusOK, "bob", http.MethodPost, "/api/v1/approvals/"+a.ApprovalID+"/approve", map[string]string{"note": "bench"})
		}, func() error {
			if err := e.waitJob(a.JobID, domain.JobCompleted); err != nil {
				return err
			}
			return executionEnds(a.JobID, sfntypes.ExecutionStatusSucceeded)
		})

		// Reject a second request (set up outside the measurement).
		rj := startedFrom(e.must(b, http.StatusCreated, "alice", http.MethodPost, "/api/v1/certificates", certificateBody(b, profile)))
		if err := e.waitToken(rj.ApprovalID); err != nil {
			b.Fatal(err)
		}
		measure(opReject, func() {
			e.must(b, http.StatusOK, "bob", http.MethodPost, "/api/v1/approvals/"+rj.ApprovalID+"/reject", map[string]string{"note": "bench"})
		}, func() error {
			if err := e.waitJob(rj.JobID, domain.JobCancelled); err != nil {
				return err
			}
			return executionEnds(rj.JobID, sfntypes.ExecutionStatusSucceeded)
		})

		// Renew the certificate issued above: approval-tier again.
		var rn started
		measure(opRenew, func() {
			rn = startedFrom(e.must(b, http.StatusAccepted, "alice", http.MethodPost, "/api/v1/certificates/"+a.CertificateID+"/renew", nil))
		}, func() error { return e.waitToken(rn.ApprovalID) })

		// Clean up outside the measurement: close the renewal.
		e.must(b, http.StatusOK, "bob", http.MethodPost, "/api/v1/approvals/"+rn.ApprovalID+"/reject", map[string]string{"note": "bench cleanup"})
		if err := executionEnds(rn.JobID, sfntypes.ExecutionStatusSucceeded); err != nil {
			b.Fatal(err)
		}

		// A quorum of two (set up outside the measurement): bob's vote
		// leaves the request pending, admin's completes and approves it.
		q := startedFrom(e.must(b, http.StatusCreated, "alice", http.MethodPost, "/api/v1/certificates", certificateBody(b, quorum)))
		if err := e.waitToken(q.ApprovalID); err != nil {
			b.Fatal(err)
		}
		measure(opVote, func() {
			if r := e.must(b, http.StatusOK, "bob", http.MethodPost, "/api/v1/approvals/"+q.ApprovalID+"/approve", map[string]string{"note": "bench"}); r.str("action") != domain.ActionVoted {
				b.Fatalf("vote: %s", r.Raw)
			}
		}, nil)
		measure(opCompleting, func() {
			if r := e.must(b, http.StatusOK, "admin", http.MethodPost, "/api/v1/approvals/"+q.ApprovalID+"/approve", map[string]string{"note": "bench"}); r.str("action") != domain.ActionApproved {
				b.Fatalf("completing vote: %s", r.Raw)
			}
		}, func() error {
			if err := e.waitJob(q.JobID, domain.JobCompleted); err != nil {
				return err
			}
			return executionEnds(q.JobID, sfntypes.ExecutionStatusSucceeded)
		})

		// Revoke the certificate: the api commits the revocation and asks
		// the issue function (asynchronously) for a new CRL, which lists it.
		measure(opRevoke, func() {
			e.must(b, http.StatusOK, "alice", http.MethodPost, "/api/v1/certificates/"+a.CertificateID+"/revoke", map[string]string{"reason": "superseded"})
		}, func() error { return e.waitCRL("default") })
	}

	printCallTable(b.N, first, varied)
	for _, op := range operations {
		b.ReportMetric(float64(last[op].Total(app.FnAPI)), "api-calls/"+op)
		b.ReportMetric(float64(last[op].Total(app.FnAuthorizer)), "authz-calls/"+op)
	}
}

// printCallTable prints the counts of the first run to stdout, so `make
// bench` shows them without -v.
func printCallTable(runs int, first map[string]Counts, varied map[string]bool) {
	fmt.Printf("\nAWS calls per API operation (first of %d runs; api and authorizer run per request, the others are the workflow the operation set off):\n", runs)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "operation\tfunction\tcalls\tby service and operation\tbudget")
	for _, op := range operations {
		cs := first[op]
		fns := []string{app.FnAPI, app.FnAuthorizer}
		for _, fn := range cs.Functions() {
			if !slices.Contains(fns, fn) {
				fns = append(fns, fn)
			}
		}
		name := op
		if varied[op] {
			name += " (varied between runs)"
		}
		for _, fn := range fns {
			budget := ""
			if bud, ok := budgets[op]; ok && fn == app.FnAPI {
				budget = describeBudget(bud)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", name, fn, cs.Total(fn), cs.Format(fn), budget)
			name = ""
		}
	}
	_ = tw.Flush()
	for _, op := range operations {
		if first[op].Total(NoFunction) > 0 {
			fmt.Printf("%s: calls made with a context that carries no Lambda invocation (e.g. one kept from cold start), so no function can be named\n", NoFunction)
			break
		}
	}
	fmt.Println()
}

func describeBudget(cb callBudget) string {
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(cb.exact)) {
		parts = append(parts, fmt.Sprintf("%s=%d", op, cb.exact[op]))
	}
	for _, op := range slices.Sorted(maps.Keys(cb.atMost)) {
		parts = append(parts, fmt.Sprintf("%s≤%d", op, cb.atMost[op]))
	}
	return strings.Join(parts, " ") + ", nothing else"
}

// BenchmarkApproveRoundTrip times create → approve on an approval-tier
// profile over HTTP, and how long until the certificate is issued. The
// figures are wall-clock on the local emulator: reported, never asserted.
func BenchmarkApproveRoundTrip(b *testing.B) {
	e := getEnv(b)
	profile := e.newProfile(b, true)
	var roundTrip, toIssued time.Duration
	for b.Loop() {
		body := certificateBody(b, profile)
		start := time.Now()
		s := startedFrom(e.must(b, http.StatusCreated, "alice", http.MethodPost, "/api/v1/certificates", body))
		e.must(b, http.StatusOK, "bob", http.MethodPost, "/api/v1/approvals/"+s.ApprovalID+"/approve", nil)
		roundTrip += time.Since(start)
		if err := e.waitJob(s.JobID, domain.JobCompleted); err != nil {
			b.Fatal(err)
		}
		toIssued += time.Since(start)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(b.N) }
	b.ReportMetric(ms(roundTrip), "ms/create+approve")
	b.ReportMetric(ms(toIssued), "ms/create-to-issued")
	fmt.Printf("\napprove round trip over %d runs: create+approve %.1f ms, create to issued %.1f ms (local emulator, wall clock)\n\n",
		b.N, ms(roundTrip), ms(toIssued))
}
