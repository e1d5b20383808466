package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/app"
	"github.com/certctl-serverless/certctl-serverless/pkg/auditchain"
	"github.com/certctl-serverless/certctl-serverless/pkg/cli"
	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/devstack"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// The tamper-evident audit trail end to end: digests through the API, and
// `certctl audit verify` over a trail tampered with directly in DynamoDB
// (the embedded emulator, or moto on the strict tier).

// TestAuditTrailVerifiesThroughTheCLI: the main stack's trail, with
// everything the suite does to it, verifies; a digest is signed on
// demand (the digest function invoked with AWS credentials, not through
// the API); the key's public half is published; only auditors verify.
func TestAuditTrailVerifiesThroughTheCLI(t *testing.T) {
	if stack == nil {
		t.Skip("needs the embedded emulator's Lambda to invoke the digest function")
	}
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", stack.EmulatorURL)
	t.Setenv("AWS_REGION", devstack.Region)
	t.Setenv("AWS_ACCESS_KEY_ID", "certctl-local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "certctl-local")
	signed := ctl(t, 0, "carol", "-o", "json", "audit", "digest", "--function", stack.Functions[app.FnDigest]).stdout
	var d domain.AuditDigest
	if err := json.Unmarshal([]byte(signed), &d); err != nil || d.Content == "" || d.Signature == "" || d.DigestHash != auditchain.Sum([]byte(d.Content)) {
		t.Fatalf("digest: %v\n%s", err, signed)
	}
	pem := ctl(t, 0, "carol", "audit", "public-key").stdout
	if !strings.HasPrefix(pem, "-----BEGIN PUBLIC KEY-----") {
		t.Fatalf("public key: %q", pem)
	}
	out := ctl(t, 0, "admin", "audit", "verify", "--index-lag", "300ms").stdout
	if !strings.Contains(out, "OK: no row edited") || !strings.Contains(out, "latest digest: ") {
		t.Fatalf("verify:\n%s", out)
	}
	// A pinned key from a file, and -o json.
	keyFile := filepath.Join(t.TempDir(), "digest.pem")
	if err := os.WriteFile(keyFile, []byte(pem), 0o600); err != nil {
		t.Fatal(err)
	}
	if js := ctl(t, 0, "admin", "-o", "json", "audit", "verify", "--public-key", keyFile).stdout; !strings.Contains(js, `"ok": true`) {
		t.Fatalf("verify -o json:\n%s", js)
	}
	if r := certctl(t, "carol", "audit", "verify"); r.code != 1 || !strings.Contains(r.stderr, "403") {
		t.Fatalf("a viewer verifying: exit %d\n%s", r.code, r.stderr)
	}
	if list := ctl(t, 0, "admin", "audit", "digests", "--limit", "1").stdout; !strings.Contains(list, "SEQ") {
		t.Fatalf("digests:\n%s", list)
	}
	if r := certctl(t, "admin", "audit", "digest"); r.code != 2 || !strings.Contains(r.stderr, "--function") {
		t.Fatalf("digest without --function: exit %d\n%s", r.code, r.stderr)
	}
}

// tamperStack is a stack of its own, whose trail a test may break.
type tamperStack struct {
	t     *testing.T
	s     *devstack.Stack
	tg    target
	db    *dynamodb.Client
	table string
}

func (ts *tamperStack) verify(extra ...string) cliRun {
	ts.t.Helper()
	env := map[string]string{cli.EnvEndpoint: ts.s.URL, cli.EnvAPIKey: ts.tg.keys["admin"]}
	args := append([]string{"audit", "verify", "--index-lag", "200ms"}, extra...)
	var out, errOut strings.Builder
	code := cli.Run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errOut)
	return cliRun{code, out.String(), errOut.String()}
}

// rows reads a shard's rows in chain order, raw.
func (ts *tamperStack) rows(shard string) []map[string]types.AttributeValue {
	ts.t.Helper()
	out, err := ts.db.Query(context.Background(), &dynamodb.QueryInput{
		TableName: aws.String(ts.table), IndexName: aws.String(auditchain.IndexByChain),
		KeyConditionExpression:    aws.String("#c = :c"),
		ExpressionAttributeNames:  map[string]string{"#c": auditchain.AttrChain},
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": &types.AttributeValueMemberS{Value: shard}},
	})
	if err != nil {
		ts.t.Fatal(err)
	}
	return out.Items
}

func (ts *tamperStack) get(pk, sk string) map[string]types.AttributeValue {
	ts.t.Helper()
	out, err := ts.db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(ts.table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}})
	if err != nil {
		ts.t.Fatal(err)
	}
	return out.Item
}

func (ts *tamperStack) put(item map[string]types.AttributeValue) {
	ts.t.Helper()
	if _, err := ts.db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(ts.table), Item: item}); err != nil {
		ts.t.Fatal(err)
	}
}

func (ts *tamperStack) del(item map[string]types.AttributeValue) {
	ts.t.Helper()
	if _, err := ts.db.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(ts.table),
		Key: map[string]types.AttributeValue{"pk": item["pk"], "sk": item["sk"]}}); err != nil {
		ts.t.Fatal(err)
	}
}

func sv(item map[string]types.AttributeValue, name string) string {
	v, _ := item[name].(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// TestTamperingIsFoundAndNamed breaks a trail in every way the README's
// threat model lists, one at a time, directly in DynamoDB, and checks that
// `certctl audit verify` exits 1 naming the shard, the position and what
// was done; each tampering is undone before the next, after which the
// trail verifies again.
func TestTamperingIsFoundAndNamed(t *testing.T) {
	if stack == nil {
		t.Skip("needs the embedded emulator: it writes the tables directly")
	}
	s, k, err := startStack(func(*config.Config) {})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ts := &tamperStack{t: t, s: s, tg: target{s.URL, k}, db: dynamodb.NewFromConfig(s.AWSConfig), table: s.Config.AuditTable}

	// A trail with a busy shard: one principal's roles changed again and
	// again (a row each, all in one shard), around some issuance.
	principal := uniq("dave")
	shard := auditchain.ShardOf(principal)
	roles := func(n int) {
		for i := range n {
			role := []string{"viewer", "operator"}[i%2]
			ts.tg.must(t, http.StatusOK, "admin", "PUT", "/api/v1/principals/"+principal, map[string]any{"roles": []string{role}})
		}
	}
	profile := createProfile(t, ts.tg, true)
	cn := uniq("tamper") + "." + zone(profile)
	created := ts.tg.must(t, http.StatusCreated, "alice", "POST", "/api/v1/certificates", map[string]any{
		"common_name": cn, "profile_id": profile, "csr": newCSR(t, cn, cn)})
	roles(8)
	ts.tg.must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+created.str("approval_id")+"/approve", map[string]string{"note": "ok"})
	digest := func() {
		if _, err := s.Invoke(context.Background(), app.FnDigest, map[string]string{}); err != nil {
			t.Fatal(err)
		}
	}
	digest()
	roles(3)
	digest()
	roles(2) // after the last digest

	if r := ts.verify(); r.code != 0 {
		t.Fatalf("untouched trail: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	rows := ts.rows(shard)
	if len(rows) < 13 {
		t.Fatalf("shard %s has %d rows", shard, len(rows))
	}
	seqOf := func(i int) string {
		n, _ := auditchain.ParseSeq(sv(rows[i], auditchain.AttrSeq))
		return shardSeq(shard, n)
	}
	head := ts.get(auditchain.HeadPK, auditchain.HeadSK(shard))
	last := len(rows) - 1

	for _, tc := range []struct {
		name   string
		tamper func()
		undo   func()
		want   string // the finding's start: "<kind>: shard NN seq N"
	}{
		{"edit a field", func() {
			edited := maps.Clone(rows[3])
			edited["actor"] = str("mallory")
			ts.put(edited)
		}, func() { ts.put(rows[3]) }, "edited: " + seqOf(3)},
		{"delete a row", func() { ts.del(rows[4]) }, func() { ts.put(rows[4]) }, "missing: " + seqOf(4)},
		{"insert a row outside the chain", func() {
			forged := maps.Clone(rows[2])
			for _, a := range []string{auditchain.AttrChain, auditchain.AttrSeq, auditchain.AttrPrev, auditchain.AttrHash} {
				delete(forged, a)
			}
			forged["sk"], forged["action"] = str(sv(rows[2], "sk")+"F"), str("approval_approved")
			ts.put(forged)
		}, func() {
			ts.del(map[string]types.AttributeValue{"pk": rows[2]["pk"], "sk": str(sv(rows[2], "sk") + "F")})
		}, "inserted: (row " + sv(rows[2], "pk") + " " + sv(rows[2], "sk") + "F)"},
		{"insert a row at a taken position", func() {
			forged := maps.Clone(rows[2])
			forged["sk"], forged["action"] = str(sv(rows[2], "sk")+"F"), str("approval_approved")
			ts.put(forged)
		}, func() {
			ts.del(map[string]types.AttributeValue{"pk": rows[2]["pk"], "sk": str(sv(rows[2], "sk") + "F")})
		}, "inserted: " + seqOf(2)},
		{"swap two rows", func() {
			a, b := maps.Clone(rows[2]), maps.Clone(rows[5])
			a[auditchain.AttrSeq], b[auditchain.AttrSeq] = rows[5][auditchain.AttrSeq], rows[2][auditchain.AttrSeq]
			ts.put(a)
			ts.put(b)
		}, func() { ts.put(rows[2]); ts.put(rows[5]) }, "reordered: " + seqOf(2)},
		// A careful attacker removes the tail and moves the head back
		// with it: the digests that signed those rows still name them.
		{"truncate the tail a digest signed", func() {
			for _, r := range rows[6:] {
				ts.del(r)
			}
			rewound := maps.Clone(head)
			rewound["seq"], rewound["hash"] = rows[5][auditchain.AttrSeq], rows[5][auditchain.AttrHash]
			ts.put(rewound)
		}, func() {
			for _, r := range rows[6:] {
				ts.put(r)
			}
			ts.put(head)
		}, "truncated: " + seqOf(6)},
		// The rows after the last digest removed, the head left: the head
		// still says how many there were.
		{"truncate the tail after the last digest", func() { ts.del(rows[last]) }, func() { ts.put(rows[last]) }, "truncated: " + seqOf(last)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.tamper()
			r := ts.verify()
			tc.undo()
			if r.code != 1 || !strings.Contains(r.stdout, tc.want) || !strings.Contains(r.stdout, "FAILED") {
				t.Fatalf("exit %d, want 1 and %q in:\n%s%s", r.code, tc.want, r.stdout, r.stderr)
			}
			if again := ts.verify(); again.code != 0 {
				t.Fatalf("undone, the trail does not verify:\n%s", again.stdout)
			}
			t.Log(firstLine(r.stdout))
		})
	}

	// What the threat model says is not found: the rows after the last
	// digest removed together with the head. A later digest (or an
	// anchor) cannot bring them back.
	t.Run("truncation after the last digest with the head rewound is not found", func(t *testing.T) {
		ts.del(rows[last])
		rewound := maps.Clone(head)
		rewound["seq"], rewound["hash"] = rows[last-1][auditchain.AttrSeq], rows[last-1][auditchain.AttrHash]
		ts.put(rewound)
		r := ts.verify()
		ts.put(rows[last])
		ts.put(head)
		if r.code != 0 {
			t.Fatalf("exit %d:\n%s", r.code, r.stdout)
		}
	})

	// Deleting the newest digest is found only against an anchor kept
	// from an earlier run.
	t.Run("the newest digest deleted", func(t *testing.T) {
		first := ts.verify()
		anchor := strings.Fields(strings.TrimPrefix(lineWith(first.stdout, "latest digest: "), "latest digest: "))[0]
		seq, _, _ := strings.Cut(anchor, ":")
		digest := ts.get(auditchain.DigestPK, auditchain.DigestSK(atoi(t, seq)))
		ts.del(digest)
		plain, pinned := ts.verify(), ts.verify("--anchor", anchor)
		ts.put(digest)
		if plain.code != 0 || pinned.code != 1 || !strings.Contains(pinned.stdout, "missing-digest: digest "+seq) {
			t.Fatalf("without anchor exit %d, with anchor exit %d:\n%s", plain.code, pinned.code, pinned.stdout)
		}
	})
	if r := ts.verify(); r.code != 0 {
		t.Fatalf("restored trail: exit %d\n%s", r.code, r.stdout)
	}
}

func shardSeq(shard string, n int64) string { return fmt.Sprintf("shard %s seq %d", shard, n) }

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

func lineWith(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func atoi(t *testing.T, s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
