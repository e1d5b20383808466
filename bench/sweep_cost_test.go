package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go/middleware"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/stepfn"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// The sweep's scale: many certificates, few of them due.
const (
	sweepCerts = 10_000
	sweepDue   = 10
	batchSize  = 25 // BatchWriteItem's limit
)

// BenchmarkSweepReadCost measures what one scheduled sweep reads from
// DynamoDB when 10 of 10,000 certificates are due: items read and read
// capacity, per operation, from the clients of the sweep's own workflow
// service (the renewals it starts run in the stack's functions, uncounted).
// It fails unless the sweep starts exactly the due renewals and reads no
// certificate that is not due.
//
// The stack is its own, not the shared one: the seeded certificates would
// otherwise stay in the table the other benchmarks use, and the full-Scan
// comparison would include their items. Seeding is setup; b.Loop times only
// the due-index read (DueBefore, read-only, repeated b.N times before the
// sweep). The sweep itself runs once, whatever b.N.
func BenchmarkSweepReadCost(b *testing.B) {
	ctx := context.Background()
	e := startOwnEnv(b)
	profile := e.newProfile(b, false)
	now := time.Now().UTC()
	due := seedCertificates(b, ctx, e, profile, now)
	scan := scanStateTable(b, ctx, e.stack.AWSConfig, e.stack.Config.StateTable, now)
	if scan.dueReady != sweepDue {
		b.Fatalf("the state table holds %d due certificates without a job, want %d", scan.dueReady, sweepDue)
	}
	// In-flight certificates keep their due keys, so the due query examines
	// them too (its filter drops them); none are expected on this stack.
	maxExamined := sweepDue + scan.dueInFlight

	// The repeated read: the sweep's query of the due index.
	loopMeter := NewReadMeter()
	loopStore := store.New(dynamodb.NewFromConfig(metered(e.stack.AWSConfig, loopMeter.APIOption)),
		e.stack.Config.StateTable, e.stack.Config.AuditTable)
	for b.Loop() {
		certs, next, err := loopStore.DueBefore(ctx, time.Now(), domain.PageRequest{Limit: 100})
		if err != nil {
			b.Fatal(err)
		}
		if len(certs) != sweepDue || next != "" {
			b.Fatalf("DueBefore returned %d certificates (next page %q), want %d on one page", len(certs), next, sweepDue)
		}
	}
	if q := loopMeter.Snapshot()["DynamoDB.Query"]; q.Examined > b.N*maxExamined {
		b.Fatalf("%d due-index reads examined %d items, want at most %d each", b.N, q.Examined, maxExamined)
	}

	// The sweep, on clients of its own that count every call and read.
	calls, reads := NewCounter(), NewReadMeter()
	cfg := metered(e.stack.AWSConfig, calls.APIOption, reads.APIOption)
	svc := workflow.New(store.New(dynamodb.NewFromConfig(cfg), e.stack.Config.StateTable, e.stack.Config.AuditTable),
		stepfn.New(sfn.NewFromConfig(cfg), e.stack.Config.StateMachineARN))
	svc.ApprovalTimeout, svc.Log = e.stack.Config.ApprovalTimeout, slog.New(slog.NewJSONHandler(io.Discard, nil))
	start := time.Now()
	res, err := svc.Sweep(ctx)
	took := time.Since(start)
	if err != nil {
		b.Fatalf("sweep: %v (%+v)", err, res)
	}
	stats, keys := reads.Snapshot(), reads.KeysRead()
	counts := calls.Snapshot()

	printSweepCost(counts, stats, scan, res, took)
	total := Total(stats)
	b.ReportMetric(float64(total.Examined), "items_read")
	b.ReportMetric(total.RCU, "rcu")
	b.ReportMetric(float64(scan.items), "scan_items")
	b.ReportMetric(scan.rcu, "scan_rcu")
	b.ReportMetric(float64(took.Microseconds())/1000, "ms/sweep")

	if res.Started != sweepDue || res.Skipped != 0 || res.Refused != 0 || res.Failed != 0 {
		b.Fatalf("the sweep started %d renewals (skipped %d, refused %d, failed %d), want exactly %d", res.Started, res.Skipped, res.Refused, res.Failed, sweepDue)
	}
	q := stats["DynamoDB.Query"]
	if q.Examined > maxExamined {
		b.Fatalf("the sweep's due-index queries examined %d items, want at most %d (%d due + %d in flight)",
			q.Examined, maxExamined, sweepDue, scan.dueInFlight)
	}
	for _, pk := range keys {
		id, isCert := strings.CutPrefix(pk, "CERT#")
		if isCert && !slices.Contains(due, id) {
			b.Fatalf("the sweep read certificate %s, which is not due", id)
		}
	}

	// Let the renewals finish (uncounted) so the stack closes idle, and
	// check they renewed.
	for _, id := range due {
		c, err := e.store.GetCertificate(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		if c.CurrentJobID == "" {
			if c.LastRenewalAt == nil {
				b.Fatalf("certificate %s has no renewal in flight and was not renewed", id)
			}
			continue
		}
		if err := e.waitJob(c.CurrentJobID, domain.JobCompleted); err != nil {
			b.Fatal(err)
		}
	}
}

// startOwnEnv starts a stack for this benchmark alone, closed when it ends.
func startOwnEnv(b *testing.B) *env {
	b.Helper()
	e, err := startEnv(context.Background())
	if err != nil {
		b.Fatalf("start local stack: %v", err)
	}
	b.Cleanup(func() {
		if err := e.stack.Close(); err != nil {
			b.Errorf("close stack: %v", err)
		}
		_ = e.logs.Close()
		if b.Failed() {
			fmt.Fprintln(os.Stderr, "bench: function logs are in", e.logs.Name())
		} else {
			_ = os.Remove(e.logs.Name())
		}
	})
	return e
}

// metered copies cfg with extra API options.
func metered(cfg aws.Config, opts ...func(*middleware.Stack) error) aws.Config {
	c := cfg.Copy()
	c.APIOptions = append(slices.Clone(c.APIOptions), opts...)
	return c
}

// seedCertificates writes sweepCerts issued, Active certificates of profile
// straight into the state table, in the shape the store writes them, and
// returns the ids of the sweepDue whose renewal time has passed. The due
// ones are spread over the table; every certificate has a real CSR for its
// name, so a renewal passes the CSR check.
func seedCertificates(b *testing.B, ctx context.Context, e *env, profile string, now time.Time) []string {
	b.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	db := dynamodb.NewFromConfig(e.stack.AWSConfig)
	table := e.stack.Config.StateTable
	stride := sweepCerts / sweepDue
	var due []string
	batch := make([]types.WriteRequest, 0, batchSize)
	for i := range sweepCerts {
		id := fmt.Sprintf("swc-%05d", i)
		renewAt := now.Add(time.Hour + time.Duration(i)*time.Minute) // not due
		if i%stride == stride/2 {
			renewAt = now.Add(-time.Duration(i+1) * time.Second) // due
			due = append(due, id)
		}
		item, err := seedItem(id, profile, renewAt, now, key)
		if err != nil {
			b.Fatal(err)
		}
		batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
		if len(batch) == batchSize || i == sweepCerts-1 {
			if err := batchWrite(ctx, db, table, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return due
}

// seedItem is the state-table item of an issued certificate, as
// store.certItem writes it: the certificate marshalled by its JSON tags,
// the primary key, the list-index keys and the due-index keys.
func seedItem(id, profile string, renewAt, now time.Time, key *ecdsa.PrivateKey) (map[string]types.AttributeValue, error) {
	cn := id + ".sweep.bench.example.com"
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
	}, key)
	if err != nil {
		return nil, err
	}
	serial := make([]byte, 16)
	_, _ = rand.Read(serial)
	expires := renewAt.Add(time.Duration(domain.DefaultRenewBeforeSeconds) * time.Second)
	notBefore := expires.Add(-time.Duration(domain.DefaultMaxValiditySeconds) * time.Second)
	created := now.Add(-120 * 24 * time.Hour)
	c := domain.Certificate{
		ID: id, CommonName: cn, SANs: []string{cn}, ProfileID: profile, IssuerID: domain.DefaultIssuerID,
		Status: domain.CertActive, CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})),
		KeyAlgorithm: domain.KeyECDSAP256, SerialNumber: hex.EncodeToString(serial),
		NotBefore: &notBefore, ExpiresAt: &expires, RenewAt: &renewAt,
		CreatedBy: "alice", CreatedAt: created, UpdatedAt: notBefore,
	}
	// store.marshal's options.
	item, err := attributevalue.MarshalMapWithOptions(c, func(o *attributevalue.EncoderOptions) {
		o.TagKey = "json"
		o.OmitNullAttributeValues = true
		o.OmitEmptyTime = true
	})
	if err != nil {
		return nil, err
	}
	str := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	item["pk"] = str("CERT#" + id)
	item["sk"] = str("CERT")
	item["list_pk"] = str("CERT")
	item["list_sk"] = str(store.SortTime(created) + "#" + id)
	item["due_pk"] = str("DUE")
	item["due_sk"] = str(store.SortTime(renewAt) + "#" + id)
	return item, nil
}

// batchWrite puts one batch, resending unprocessed items.
func batchWrite(ctx context.Context, db *dynamodb.Client, table string, reqs []types.WriteRequest) error {
	pending := map[string][]types.WriteRequest{table: reqs}
	for try := 0; len(pending[table]) > 0; try++ {
		if try == 10 {
			return fmt.Errorf("seed: %d items still unprocessed after %d tries", len(pending[table]), try)
		}
		out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
		if err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		pending = out.UnprocessedItems
	}
	return nil
}

// tableScan is what a full Scan of the state table reads.
type tableScan struct {
	items, certs int
	bytes        int
	pages        int     // Scan calls made here (1,000 items a page)
	rcu          float64 // eventually consistent, rounded per page
	dueReady     int     // certificates due at the cutoff, no job in flight
	dueInFlight  int     // certificates in the due index before the cutoff, with a job in flight
}

// scanStateTable reads the whole state table with an uncounted client, for
// comparison; cutoff classifies the due-index entries.
func scanStateTable(b *testing.B, ctx context.Context, cfg aws.Config, table string, cutoff time.Time) tableScan {
	b.Helper()
	db := dynamodb.NewFromConfig(cfg)
	var ts tableScan
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table), Limit: aws.Int32(1000)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			b.Fatalf("scan %s: %v", table, err)
		}
		ts.pages++
		page := 0
		for _, it := range out.Items {
			page += ItemSize(it)
			ts.items++
			if keyString(it["sk"]) == "CERT" {
				ts.certs++
			}
			if dueSK := keyString(it["due_sk"]); dueSK != "" && dueSK < store.SortTime(cutoff) {
				if _, busy := it["current_job_id"]; busy {
					ts.dueInFlight++
				} else {
					ts.dueReady++
				}
			}
		}
		ts.bytes += page
		ts.rcu += ReadUnits(page, false)
	}
	return ts
}

// printSweepCost prints the sweep's calls and reads to stdout, so `make
// bench` shows them without -v.
func printSweepCost(counts Counts, stats map[string]ReadStats, scan tableScan, res workflow.SweepResult, took time.Duration) {
	fmt.Printf("\nsweep read cost: %d certificates, %d due (state table: %d items); started %d, skipped %d, refused %d, failed %d, %.0f ms on the emulator\n",
		sweepCerts, sweepDue, scan.items, res.Started, res.Skipped, res.Refused, res.Failed, float64(took.Microseconds())/1000)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tcalls\titems returned\titems read\tbytes read\tRCU\t")
	ops := counts.Of(NoFunction)
	names := make([]string, 0, len(ops))
	for op := range ops {
		names = append(names, op)
	}
	slices.Sort(names)
	for _, op := range names {
		rs, ok := stats[op]
		if !ok || (rs.Examined == 0 && rs.RCU == 0) {
			fmt.Fprintf(tw, "%s\t%d\t-\t-\t-\t-\t\n", op, ops[op])
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.1f\t\n", op, ops[op], rs.Returned, rs.Examined, rs.Bytes, rs.RCU)
	}
	t := Total(stats)
	fmt.Fprintf(tw, "sweep total (reads)\t\t%d\t%d\t%d\t%.1f\t\n", t.Returned, t.Examined, t.Bytes, t.RCU)
	fmt.Fprintf(tw, "full Scan instead (%d pages of 1,000)\t\t%d\t%d\t%d\t%.1f\t\n", scan.pages, scan.items, scan.items, scan.bytes, scan.rcu)
	_ = tw.Flush()
	fmt.Printf("items read = items DynamoDB examined (Query ScannedCount; GetItem hits); RCU estimated from item sizes: Query/Scan 0.5 per 4 KB (eventually consistent), GetItem 1 per 4 KB (strongly consistent), writes read nothing. The Scan holds %d certificates.\n\n", scan.certs)
}
