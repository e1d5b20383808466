package store_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/auditchain"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// auditItems scans the audit table as the invariant checker does.
func auditItems(t *testing.T, db *dynamodb.Client, table string) []domain.AuditChainRow {
	t.Helper()
	var out []domain.AuditChainRow
	var start map[string]types.AttributeValue
	for {
		page, err := db.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(table), ExclusiveStartKey: start, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page.Items {
			row := domain.AuditChainRow{Attributes: map[string]string{}}
			for k, v := range item {
				if sv, ok := v.(*types.AttributeValueMemberS); ok {
					row.Attributes[k] = sv.Value
				} else {
					row.OtherTypes = append(row.OtherTypes, k)
				}
			}
			out = append(out, row)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out
		}
		start = page.LastEvaluatedKey
	}
}

// verifyChain checks the audit table's chains (no digests are written here).
func verifyChain(t *testing.T, db *dynamodb.Client, table string) *auditchain.Report {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rep, err := auditchain.Verify(t.Context(), auditchain.NewMemory(auditItems(t, db, table), 7), auditchain.Options{PublicKey: &key.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		t.Errorf("chain: %s", f)
	}
	return rep
}

func profileNamed(id string) *domain.Profile {
	p := domain.ProfileInput{ID: id, Name: domain.Ptr(id), AllowedNames: &[]domain.NamePattern{"**.example.com"}}.Profile()
	p.CreatedAt = now
	return p
}

// TestConcurrentCommitsNeverForkTheChain commits many transactions at once,
// most of whose rows go to one shard: every row is linked exactly once,
// in one unbroken chain per shard, and the losers of each race for a head
// were linked again rather than failed.
func TestConcurrentCommitsNeverForkTheChain(t *testing.T) {
	st, db, _, audit := newStore(t)
	const same, spread = 16, 8
	var wg sync.WaitGroup
	errs := make(chan error, same+spread)
	for i := range same + spread {
		resource := "one-resource"
		if i >= same {
			resource = fmt.Sprintf("res-%d", i)
		}
		wg.Go(func() {
			errs <- st.CreateProfile(context.Background(), profileNamed(fmt.Sprintf("p%d", i)), nil, ev("profile.created", resource))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("commit: %v", err)
		}
	}
	rep := verifyChain(t, db, audit)
	if rep.Rows != same+spread {
		t.Fatalf("%d rows verified, want %d", rep.Rows, same+spread)
	}
	status, err := st.ChainStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if h := status.Heads[shardIndex(auditchain.ShardOf("one-resource"))]; h.Seq < same {
		t.Fatalf("head of the busy shard: %+v", h)
	}
	t.Logf("%d commits, %d resent after losing the race for a head", same+spread, st.ChainRetries())
}

func shardIndex(s string) int {
	var i int
	fmt.Sscanf(s, "%d", &i)
	return i
}

// A lost race for a head never touches the transition's own conditions:
// of two decisions on one request, one commits and the other is refused
// by its own condition, whatever the heads did.
func TestRacingDecisionsStillHaveOneWinner(t *testing.T) {
	st, db, _, audit := newStore(t)
	_, _, a := gatedJob(t, st)
	var wg sync.WaitGroup
	results := make([]error, 6)
	for i := range results {
		wg.Go(func() {
			results[i] = st.Decide(context.Background(), workflow.Decision{
				Approval: a, State: domain.ApprovalApproved, DecidedBy: fmt.Sprintf("bob%d", i), ActorType: domain.ActorUser,
				At: now, JobStatus: domain.JobPending, Audit: ev(domain.AuditApprovalApproved, a.ID),
			})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range results {
		switch {
		case err == nil:
			won++
		case !workflow.IsChanged(err):
			t.Errorf("a losing decision: %v, want a race the caller reclassifies", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d decisions committed, want 1", won)
	}
	verifyChain(t, db, audit)
}

// resendingDB applies a transaction, then sends it again and answers
// with the second answer: the SDK's retry of a request whose first answer
// was lost, on an endpoint without idempotency tokens.
type resendingDB struct {
	*dynamodb.Client
	resend bool
}

func (r *resendingDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if r.resend {
		r.resend = false
		if _, err := r.Client.TransactWriteItems(ctx, in, opts...); err != nil {
			return nil, err
		}
	}
	return r.Client.TransactWriteItems(ctx, in, opts...)
}

func TestAResendOfAnAppliedCommitIsItsSuccess(t *testing.T) {
	db, state, audit := testDB(t)
	st := store.New(&resendingDB{Client: db, resend: true}, state, audit)
	if err := st.CreateProfile(t.Context(), profileNamed("p"), nil, ev("profile.created", "p")); err != nil {
		t.Fatalf("the first send applied: %v", err)
	}
	if rep := verifyChain(t, db, audit); rep.Rows != 1 {
		t.Fatalf("%d rows", rep.Rows)
	}
}

func TestChainReads(t *testing.T) {
	st, db, _, audit := newStore(t)
	ctx := t.Context()
	for i := range 5 {
		if err := st.CreateProfile(ctx, profileNamed(fmt.Sprintf("p%d", i)), nil, ev("profile.created", "r")); err != nil {
			t.Fatal(err)
		}
	}
	shard := auditchain.ShardOf("r")
	var seqs []string
	token := ""
	for {
		rows, next, err := st.ListChainRows(ctx, shard, 1, domain.PageRequest{Limit: 2, Token: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			seqs = append(seqs, r.Attributes[auditchain.AttrSeq])
		}
		if next == "" {
			break
		}
		token = next
	}
	if fmt.Sprint(seqs) != fmt.Sprint([]string{auditchain.FormatSeq(2), auditchain.FormatSeq(3), auditchain.FormatSeq(4), auditchain.FormatSeq(5)}) {
		t.Fatalf("rows after seq 1: %v", seqs)
	}
	if _, _, err := st.ListChainRows(ctx, "16", 0, domain.PageRequest{Limit: 1}); !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("shard 16: %v", err)
	}

	// An item written around the chain is found by the unchained scan.
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(audit), Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "AUDIT#r"}, "sk": &types.AttributeValueMemberS{Value: "2026#forged"},
		"action": &types.AttributeValueMemberS{Value: "approval_approved"},
	}}); err != nil {
		t.Fatal(err)
	}
	var found []string
	token = ""
	for {
		rows, next, err := st.ListUnchained(ctx, domain.PageRequest{Limit: 50, Token: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			found = append(found, r.Attributes["sk"])
		}
		if next == "" {
			break
		}
		token = next
	}
	if fmt.Sprint(found) != "[2026#forged]" {
		t.Fatalf("unchained: %v", found)
	}

	// Digests: a seq is taken once; lists both ways; the latest.
	if d, err := st.LatestDigest(ctx); err != nil || d != nil {
		t.Fatalf("no digest yet: %v %v", d, err)
	}
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	for i := int64(1); i <= 3; i++ {
		d := &domain.AuditDigest{Seq: i, CreatedAt: t0.Add(time.Duration(i) * time.Hour), KeyID: "k", DigestHash: fmt.Sprint(i), Content: "c", Signature: "s"}
		if err := st.PutDigest(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.PutDigest(ctx, &domain.AuditDigest{Seq: 2, CreatedAt: t0, Content: "other"}); !workflow.IsChanged(err) {
		t.Fatalf("a second digest 2: %v", err)
	}
	if d, err := st.LatestDigest(ctx); err != nil || d.Seq != 3 || !d.CreatedAt.Equal(t0.Add(3*time.Hour)) {
		t.Fatalf("latest: %+v %v", d, err)
	}
	list := func(f domain.DigestFilter) string {
		ds, _, err := st.ListDigests(ctx, f, domain.PageRequest{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, d := range ds {
			out = append(out, d.Seq)
		}
		return fmt.Sprint(out)
	}
	if got := list(domain.DigestFilter{}); got != "[3 2 1]" {
		t.Errorf("newest first: %s", got)
	}
	if got := list(domain.DigestFilter{Ascending: true, FromSeq: 2}); got != "[2 3]" {
		t.Errorf("from 2: %s", got)
	}
	if got := list(domain.DigestFilter{Until: t0.Add(2*time.Hour + time.Second)}); got != "[2 1]" {
		t.Errorf("until: %s", got)
	}
}
