//go:build certctl_bench

package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/sivchari/kumo"

	"github.com/certctl-serverless/certctl-serverless/pkg/auditchain"
	"github.com/certctl-serverless/certctl-serverless/pkg/devstack"
	"github.com/certctl-serverless/certctl-serverless/pkg/devstack/kumocompat"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// What the audit chain costs a transition, measured at the store (where
// the chain is written) against the same store appending rows unlinked
// (store.WithoutChain, in this build only): AWS calls, items per
// transaction, latency, and, under concurrent decisions, how often a
// transaction loses the race for a chain head and is linked again.

// dynamoTap counts DynamoDB calls by operation, the items and head Puts of
// each transaction, head reads, and cancelled transactions by reason.
type dynamoTap struct {
	mu       sync.Mutex
	ops      map[string]int
	txItems  int
	headPuts int
	headRead int
	// cancellations
	headLost, conditionFailed, conflicts atomic.Int64
}

func newTap() *dynamoTap { return &dynamoTap{ops: map[string]int{}} }

func (d *dynamoTap) reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ops, d.txItems, d.headPuts, d.headRead = map[string]int{}, 0, 0, 0
	d.headLost.Store(0)
	d.conditionFailed.Store(0)
	d.conflicts.Store(0)
}

func (d *dynamoTap) apiOption(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("benchDynamoTap", func(
		ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler,
	) (middleware.InitializeOutput, middleware.Metadata, error) {
		op := awsmiddleware.GetOperationName(ctx)
		d.mu.Lock()
		d.ops[op]++
		switch p := in.Parameters.(type) {
		case *dynamodb.TransactWriteItemsInput:
			d.txItems += len(p.TransactItems)
			for _, it := range p.TransactItems {
				if isHead(it.Put) {
					d.headPuts++
				}
			}
		case *dynamodb.GetItemInput:
			if pk, ok := p.Key["pk"].(*types.AttributeValueMemberS); ok && pk.Value == auditchain.HeadPK {
				d.headRead++
			}
		case *dynamodb.QueryInput:
			if v, ok := p.ExpressionAttributeValues[":0"].(*types.AttributeValueMemberS); ok && v.Value == auditchain.HeadPK {
				d.headRead++
			}
		}
		d.mu.Unlock()
		out, md, err := next.HandleInitialize(ctx, in)
		var cancelled *types.TransactionCanceledException
		if tx, ok := in.Parameters.(*dynamodb.TransactWriteItemsInput); ok && errors.As(err, &cancelled) {
			for i, r := range cancelled.CancellationReasons {
				switch code := aws.ToString(r.Code); {
				case code == "TransactionConflict":
					d.conflicts.Add(1)
				case code == "ConditionalCheckFailed" && i < len(tx.TransactItems) && isHead(tx.TransactItems[i].Put):
					d.headLost.Add(1)
				case code == "ConditionalCheckFailed":
					d.conditionFailed.Add(1)
				}
			}
		}
		return out, md, err
	}), middleware.After)
}

func isHead(p *types.Put) bool {
	if p == nil {
		return false
	}
	pk, ok := p.Item["pk"].(*types.AttributeValueMemberS)
	return ok && pk.Value == auditchain.HeadPK
}

func (d *dynamoTap) format() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	names := make([]string, 0, len(d.ops))
	for op := range d.ops {
		names = append(names, op)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, op := range names {
		parts[i] = fmt.Sprintf("%s×%d", op, d.ops[op])
	}
	return strings.Join(parts, " ")
}

// chainBench is a pair of stores over fresh tables on the tier's DynamoDB.
type chainBench struct {
	tap                *dynamoTap
	chained, unchained *store.Store
	tier               string
	profile            *domain.Profile
	n                  atomic.Int64
}

func newChainBench(b *testing.B) *chainBench {
	b.Helper()
	endpoint, tier := os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"), "strict (moto)"
	tap := newTap()
	options := []func(*middleware.Stack) error{tap.apiOption}
	if endpoint == "" {
		srv := kumo.NewServer()
		b.Cleanup(srv.Close)
		endpoint, tier = srv.URL, "embedded emulator"
		options = append(options, kumocompat.DynamoDB)
	}
	db := dynamodb.NewFromConfig(aws.Config{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("bench", "bench", ""),
		BaseEndpoint: aws.String(endpoint), APIOptions: options,
	})
	suffix := randomSuffix()
	state, audit := "chain-bench-"+suffix+"-state", "chain-bench-"+suffix+"-audit"
	for name, def := range map[string]devstack.TableDef{state: devstack.StateTable, audit: devstack.AuditTable} {
		if _, err := db.CreateTable(context.Background(), def.CreateTableInput(name)); err != nil {
			b.Fatal(err)
		}
	}
	st := store.New(db, state, audit)
	cb := &chainBench{tap: tap, chained: st, unchained: st.WithoutChain(), tier: tier}
	p := domain.ProfileInput{ID: "bench", Name: domain.Ptr("bench"), RequiresApproval: domain.Ptr(true), AllowedNames: &[]domain.NamePattern{"**.bench.example"}}.Profile()
	p.Version, p.CreatedAt = 1, time.Now().UTC()
	if err := st.CreateProfile(context.Background(), p, domain.NewGovernanceChange(0, nil, p.Governs()), cb.event(domain.AuditProfileCreated, "bench")); err != nil {
		b.Fatal(err)
	}
	cb.profile = p
	return cb
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

func (cb *chainBench) event(action, resource string) *domain.AuditEvent {
	return &domain.AuditEvent{Actor: "alice", ActorType: domain.ActorUser, Action: action, ResourceType: "bench", ResourceID: resource, Timestamp: time.Now().UTC()}
}

// newJob is a gated certificate's creation: certificate, job and request,
// with its three audit rows (three resources, so up to three shards). id
// names the request; "" picks one.
func (cb *chainBench) newJob(id string) (workflow.NewJob, *domain.Approval) {
	n := cb.n.Add(1)
	now := time.Now().UTC()
	if id == "" {
		id = fmt.Sprintf("ar-%d-%s", n, randomSuffix())
	}
	c := &domain.Certificate{ID: fmt.Sprintf("c-%d-%s", n, randomSuffix()), CommonName: "a.bench.example", SANs: []string{}, ProfileID: cb.profile.ID,
		IssuerID: "default", Status: domain.CertPending, CSR: "csr", CreatedAt: now}
	j := &domain.Job{ID: fmt.Sprintf("job-%d-%s", n, randomSuffix()), CertificateID: c.ID, ProfileID: cb.profile.ID, Type: domain.JobIssuance,
		Status: domain.JobAwaitingApproval, RequiresApproval: true, ApprovalID: id, RequestedBy: "alice", CSR: "csr", PrevCertStatus: domain.CertPending, CreatedAt: now}
	c.CurrentJobID = j.ID
	a := &domain.Approval{ID: id, Kind: domain.KindCertIssuance, State: domain.ApprovalPending, JobID: j.ID, CertificateID: c.ID,
		ProfileID: cb.profile.ID, RequestedBy: "alice", RequestedType: domain.ActorUser, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
		PrevCertStatus: domain.CertPending}
	return workflow.NewJob{Cert: c, Job: j, Approval: a, ProfileVersion: 1, StartInput: `{"job_id":"` + j.ID + `"}`,
		Audits: []*domain.AuditEvent{
			cb.event(domain.AuditCertificateCreated, c.ID), cb.event(domain.AuditRenewalTriggered, j.ID), cb.event(domain.AuditApprovalRequested, a.ID),
		}}, a
}

func (cb *chainBench) approval(a *domain.Approval, by string) workflow.Decision {
	return workflow.Decision{Approval: a, State: domain.ApprovalApproved, DecidedBy: by, ActorType: domain.ActorUser, At: time.Now().UTC(),
		JobStatus: domain.JobPending, Audit: cb.event(domain.AuditApprovalApproved, a.ID)}
}

// opCost is what one kind of transition cost, summed over runs.
type opCost struct {
	runs      int
	calls     string
	txItems   int
	headReads int
	headPuts  int
	total     time.Duration
}

func (o *opCost) mean() time.Duration {
	if o.runs == 0 {
		return 0
	}
	return o.total / time.Duration(o.runs)
}

// BenchmarkAuditChainCost times a gated create (three audit rows) and an
// approve (one row) at the store, chained and unchained, interleaved so
// that load on the machine falls on both alike, and prints what the chain
// adds to each: calls, transaction items, latency.
func BenchmarkAuditChainCost(b *testing.B) {
	cb := newChainBench(b)
	ctx := context.Background()
	costs := map[string]*opCost{}
	measure := func(name string, f func() error) {
		cb.tap.reset()
		start := time.Now()
		if err := f(); err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		took := time.Since(start)
		c := costs[name]
		if c == nil {
			c = &opCost{}
			costs[name] = c
		}
		c.runs++
		c.total += took
		cb.tap.mu.Lock()
		c.txItems, c.headReads, c.headPuts = cb.tap.txItems, cb.tap.headRead, cb.tap.headPuts
		cb.tap.mu.Unlock()
		c.calls = cb.tap.format()
	}
	// Each iteration measures ten of each, alternating which store goes
	// first: single transitions on the emulator take about a millisecond,
	// so twenty would be mostly noise.
	const perIteration = 10
	i := 0
	for b.Loop() {
		for range perIteration {
			order := []bool{true, false}
			if i%2 == 1 {
				order = []bool{false, true}
			}
			i++
			cb.runPair(ctx, order, measure)
		}
	}
	fmt.Printf("\nAudit chain cost per transition at the store (%s, %d runs each, interleaved; create writes 3 audit rows, approve 1):\n", cb.tier, b.N*perIteration)

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "transition\tstore\tDynamoDB calls\ttx items\thead reads\thead Puts\tmean latency\tchain adds")
	for _, op := range []string{"create", "approve"} {
		u, c := costs[op+" unchained"], costs[op+" chained"]
		fmt.Fprintf(tw, "%s\tunchained\t%s\t%d\t%d\t%d\t%s\t\n", op, u.calls, u.txItems, u.headReads, u.headPuts, u.mean().Round(10*time.Microsecond))
		fmt.Fprintf(tw, "%s\tchained\t%s\t%d\t%d\t%d\t%s\t%+d items, %+d read, %s\n", op, c.calls, c.txItems, c.headReads, c.headPuts,
			c.mean().Round(10*time.Microsecond), c.txItems-u.txItems, c.headReads-u.headReads, (c.mean() - u.mean()).Round(10*time.Microsecond))
		b.ReportMetric(float64(c.mean()-u.mean())/float64(time.Millisecond), "ms-chain-delta/"+op)
	}
	_ = tw.Flush()
	fmt.Println("(a create's rows go to up to three shards: one Query reads every head, and one head Put per shard joins the transaction; a write unit per KB each, twice in a transaction)")
	fmt.Println()
}

// runPair runs a create and an approve on each store, in order.
func (cb *chainBench) runPair(ctx context.Context, order []bool, measure func(string, func() error)) {
	for _, chained := range order {
		st, label := cb.unchained, "unchained"
		if chained {
			st, label = cb.chained, "chained"
		}
		job, a := cb.newJob("")
		measure("create "+label, func() error { return st.CreateCertificate(ctx, job) })
		measure("approve "+label, func() error { return st.Decide(ctx, cb.approval(a, "bob")) })
	}
}

// BenchmarkConcurrentDecisionsChain decides 16 requests at once, chained
// and unchained, with the requests' rows spread over the shards as ids
// fall, and all in one shard (the worst case: one head for all sixteen).
// It prints per-decision latency and how often a transaction lost the race
// for a head and was linked again.
func BenchmarkConcurrentDecisionsChain(b *testing.B) {
	cb := newChainBench(b)
	ctx := context.Background()
	const parallel = 16
	type result struct {
		lat                        []time.Duration
		headLost, relinked, failed int64
		decisions                  int
	}
	results := map[string]*result{}
	sameShard := func() string {
		for {
			id := "ar-hot-" + randomSuffix()
			if auditchain.ShardOf(id) == "00" {
				return id
			}
		}
	}
	run := func(label string, st *store.Store, hot bool) {
		var as []*domain.Approval
		for range parallel {
			id := ""
			if hot {
				id = sameShard()
			}
			job, a := cb.newJob(id)
			if err := cb.chained.CreateCertificate(ctx, job); err != nil {
				b.Fatal(err)
			}
			as = append(as, a)
		}
		r := results[label]
		if r == nil {
			r = &result{}
			results[label] = r
		}
		cb.tap.reset()
		before := cb.chained.ChainRetries()
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, a := range as {
			wg.Go(func() {
				start := time.Now()
				err := st.Decide(ctx, cb.approval(a, "bob"))
				took := time.Since(start)
				mu.Lock()
				defer mu.Unlock()
				r.lat = append(r.lat, took)
				r.decisions++
				if err != nil {
					r.failed++
				}
			})
		}
		wg.Wait()
		r.headLost += cb.tap.headLost.Load()
		r.relinked += cb.chained.ChainRetries() - before
	}
	for b.Loop() {
		run("spread, unchained", cb.unchained, false)
		run("spread, chained", cb.chained, false)
		run("one shard, unchained", cb.unchained, true)
		run("one shard, chained", cb.chained, true)
	}
	fmt.Printf("\nConcurrent decisions (%s): %d at once, %d rounds each; rows spread over the 16 shards as ids fall, or all in one:\n", cb.tier, parallel, b.N)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "case\tdecisions\tp50\tp95\tmax\tlost a head race\trelinked\tfailed")
	for _, label := range []string{"spread, unchained", "spread, chained", "one shard, unchained", "one shard, chained"} {
		r := results[label]
		slices.Sort(r.lat)
		q := func(f float64) time.Duration {
			return r.lat[min(len(r.lat)-1, int(f*float64(len(r.lat))))].Round(100 * time.Microsecond)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d (%.2f/decision)\t%d\t%d\n", label, r.decisions, q(0.5), q(0.95), r.lat[len(r.lat)-1].Round(100*time.Microsecond),
			r.headLost, float64(r.headLost)/float64(r.decisions), r.relinked, r.failed)
		if strings.HasSuffix(label, "chained") && !strings.HasSuffix(label, "unchained") {
			b.ReportMetric(float64(r.relinked)/float64(r.decisions), "relinks/decision-"+strings.ReplaceAll(strings.Split(label, ",")[0], " ", "-"))
		}
	}
	_ = tw.Flush()
	fmt.Println()
}
