package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/e2e/eventcheck"
	"github.com/certctl-serverless/certctl-serverless/e2e/invariants"
	"github.com/certctl-serverless/certctl-serverless/pkg/app"
	"github.com/certctl-serverless/certctl-serverless/pkg/auditchain"
)

// Settings, from the environment:
//
//	CHAOS_SECONDS   run random schedules this long (unset: a short fixed-seed run)
//	CHAOS_SEED      the seed (default: 1 for the short run, the clock otherwise)
//	CHAOS_RATE      the chance that an eligible AWS call or task invocation gets a fault (0.08)
//	CHAOS_WORKERS   scenarios run at once (4)
//	CHAOS_SUMMARY   a file to write the summary line to
const shortRunScenarios = 16

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func TestChaos(t *testing.T) {
	seconds := envInt("CHAOS_SECONDS", 0)
	seed := uint64(1)
	if seconds > 0 {
		seed = uint64(time.Now().UnixNano())
	}
	if v, err := strconv.ParseUint(os.Getenv("CHAOS_SEED"), 10, 64); err == nil {
		seed = v
	}
	rate := 0.08
	if v, err := strconv.ParseFloat(os.Getenv("CHAOS_RATE"), 64); err == nil {
		rate = v
	}
	workers := envInt("CHAOS_WORKERS", 4)

	ctx := context.Background()
	sys, err := startSystem(ctx, seed, rate)
	if err != nil {
		t.Fatal(err)
	}
	defer sys.stack.Close()
	t.Logf("chaos: seed %d, fault rate %.2f, %d workers, tier %s", seed, rate, workers, tier())

	master := rand.New(rand.NewPCG(seed, seed+1))
	var mu sync.Mutex
	var violations []invariants.Violation
	scenarios := 0
	next := func() (*scenario, bool) {
		mu.Lock()
		defer mu.Unlock()
		if seconds == 0 && scenarios >= shortRunScenarios {
			return nil, false
		}
		scenarios++
		s := master.Uint64()
		return &scenario{sys: sys, rng: rand.New(rand.NewPCG(s, s+1)), name: fmt.Sprintf("scenario %d (seed %d)", scenarios, s)}, true
	}
	deadline := time.Now().Add(time.Duration(seconds) * time.Second)

	sys.inj.Enable(true)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for seconds == 0 || time.Now().Before(deadline) {
				sc, ok := next()
				if !ok {
					return
				}
				found := sc.run(ctx)
				mu.Lock()
				violations = append(violations, found...)
				mu.Unlock()
				if len(found) > 0 {
					t.Logf("%s: %d violations; its steps: %v", sc.name, len(found), sc.log)
				}
			}
		})
	}
	wg.Wait()
	sys.inj.Enable(false)

	// At rest: drain what the faults left queued, let every execution end,
	// then check everything, including what only holds at rest.
	final, snap := drain(ctx, t, sys)
	violations = append(violations, final...)
	if snap != nil {
		if rep, err := invariants.VerifyChain(snap); err == nil {
			t.Logf("audit chain at rest: %d rows linked in %d shards, %d signed digests, %d findings", rep.Rows, auditchain.Shards, rep.Digests, len(rep.Findings))
		}
	}
	for _, v := range violations {
		t.Errorf("violation: %s", v)
	}
	summary := fmt.Sprintf("chaos: %d scenarios, %d faults injected, %d invariant violations, %d events delivered",
		scenarios, sys.inj.Total(), len(violations), len(sys.stack.Events()))
	t.Logf("faults by kind: %s", sys.inj)
	t.Log(summary)
	if path := os.Getenv("CHAOS_SUMMARY"); path != "" {
		_ = os.WriteFile(path, []byte(fmt.Sprintf("chaos: faults by kind: %s (seed %d, tier %s)\n%s\n", sys.inj, seed, tier(), summary)), 0o644)
	}
	if seconds == 0 && sys.inj.Total() == 0 {
		t.Error("the short run injected no faults")
	}
}

// drain runs the reaper until no hand-off or start is queued, waits for the
// executions to end, and checks the whole stack at rest.
func drain(ctx context.Context, t *testing.T, sys *system) ([]invariants.Violation, *invariants.Snapshot) {
	var snap *invariants.Snapshot
	var found []invariants.Violation
	for end := time.Now().Add(2 * time.Minute); ; {
		if _, err := sys.stack.Invoke(ctx, app.FnReaper, map[string]string{"source": "chaos-drain"}); err != nil {
			t.Logf("drain: reaper: %v", err)
		}
		if err := sys.stack.DeliverExecutionEvents(ctx); err != nil {
			t.Logf("drain: execution events: %v", err)
		}
		// The scheduled CRL refresh: at rest no CRL is stale.
		if _, err := sys.stack.Invoke(ctx, app.FnIssue, map[string]string{"action": "refresh_crl", "issuer_id": "default"}); err != nil {
			t.Logf("drain: CRL refresh: %v", err)
		}
		if err := sys.stack.SettleEvents(ctx, 500*time.Millisecond); err != nil {
			t.Logf("drain: events: %v", err)
		}
		var err error
		if snap, err = invariants.Take(ctx, sys.source()); err != nil {
			return []invariants.Violation{{Rule: "harness", Detail: "final snapshot: " + err.Error()}}, nil
		}
		delivered, schema := deliveredEvents(sys)
		found = invariants.Check(snap, invariants.Scope{}, invariants.Options{Quiescent: true, Delivered: delivered, Lint: true})
		found = append(found, schema...)
		if len(found) == 0 || time.Now().After(end) {
			return found, snap
		}
		time.Sleep(time.Second)
	}
}

// deliveredEvents is every event the bus delivered, for the outbox rules,
// and what is wrong with them: a detail its schema refuses, or one id
// delivered twice with different contents (a fault may make an event go
// out twice, but only as the same event).
func deliveredEvents(sys *system) ([]invariants.Delivered, []invariants.Violation) {
	events := sys.stack.Events()
	delivered := make([]invariants.Delivered, 0, len(events))
	checked := make([]eventcheck.Event, 0, len(events))
	for _, e := range events {
		delivered = append(delivered, invariants.Delivered{ID: e.EventID(), DetailType: e.DetailType})
		checked = append(checked, eventcheck.Event{DetailType: e.DetailType, Source: e.Source, Detail: e.Detail})
	}
	v, err := eventcheck.Load()
	if err != nil {
		return delivered, []invariants.Violation{{Rule: "harness", Detail: err.Error()}}
	}
	var out []invariants.Violation
	for _, p := range v.Audit(checked) {
		out = append(out, invariants.Violation{Rule: "event-schema", Detail: p})
	}
	return delivered, out
}

func tier() string {
	if os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") != "" {
		return "strict (DynamoDB and KMS on moto)"
	}
	return "embedded emulator"
}
