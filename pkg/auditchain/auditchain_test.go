package auditchain_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/auditchain"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// The worked example in docs/audit-chain.md: these bytes and this hash are
// what an auditor's own implementation must produce.
func TestCanonicalRowExample(t *testing.T) {
	row := map[string]string{
		"pk": "AUDIT#ar-1", "sk": "2026-01-02T03:04:05.000000000Z#01J0000000000000000000000A",
		"id": "01J0000000000000000000000A", "actor": "bob", "actor_type": "User", "action": "approval_approved",
		"resource_type": "approval", "resource_id": "ar-1", "details": `{"note":"ok"}`,
		"ts": "2026-01-02T03:04:05Z", "day": "2026-01-02",
	}
	h, err := auditchain.Link(row, auditchain.ShardOf("ar-1"), 1, auditchain.ZeroHash)
	if err != nil {
		t.Fatal(err)
	}
	want := "certctl.audit.row.v1\n" +
		"action=17:approval_approved\n" +
		"actor=3:bob\n" +
		"actor_type=4:User\n" +
		"chain=2:06\n" +
		"chain_seq=12:000000000001\n" +
		"day=10:2026-01-02\n" +
		`details=13:{"note":"ok"}` + "\n" +
		"id=26:01J0000000000000000000000A\n" +
		"pk=10:AUDIT#ar-1\n" +
		"prev_hash=64:" + auditchain.ZeroHash + "\n" +
		"resource_id=4:ar-1\n" +
		"resource_type=8:approval\n" +
		"sk=57:2026-01-02T03:04:05.000000000Z#01J0000000000000000000000A\n" +
		"ts=20:2026-01-02T03:04:05Z\n"
	got, err := auditchain.Canonical(row)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("canonical:\n%s\nwant:\n%s", got, want)
	}
	sum := sha256.Sum256([]byte(want))
	const documented = "835dffe4ab4581a5a113aafadefa133a6e45ede32869a1db03c2c044a40fdb05"
	if h != fmt.Sprintf("%x", sum) || row[auditchain.AttrHash] != h || h != documented {
		t.Fatalf("hash %s, want %x (documented: %s)", h, sum, documented)
	}
}

func TestCanonicalRefusesWhatItCannotEncode(t *testing.T) {
	for name, attrs := range map[string]map[string]string{
		"upper-case name": {"Actor": "x"},
		"name with =":     {"a=b": "x"},
		"empty name":      {"": "x"},
		"invalid UTF-8":   {"actor": "\xff"},
	} {
		if _, err := auditchain.Canonical(attrs); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
	// A value holding the separators cannot be confused with two fields.
	a, _ := auditchain.RowHash(map[string]string{"a": "1\nb=1:2"})
	b, _ := auditchain.RowHash(map[string]string{"a": "1", "b": "2"})
	if a == b {
		t.Fatal("length prefixes must keep values apart")
	}
}

func TestShardOf(t *testing.T) {
	seen := map[string]int{}
	for i := range 1000 {
		s := auditchain.ShardOf(fmt.Sprintf("res-%d", i))
		if !auditchain.ValidShard(s) {
			t.Fatalf("shard %q", s)
		}
		seen[s]++
	}
	if len(seen) != auditchain.Shards {
		t.Fatalf("1000 resources used %d of %d shards", len(seen), auditchain.Shards)
	}
	if got := auditchain.ShardOf("ar-1"); got != "06" { // the documented example
		t.Fatalf("ShardOf(ar-1) = %s", got)
	}
	for _, bad := range []string{"", "16", "7", "007", "-1", "xx"} {
		if auditchain.ValidShard(bad) {
			t.Errorf("ValidShard(%q)", bad)
		}
	}
}

func TestDigestRoundTrip(t *testing.T) {
	d := auditchain.Digest{Seq: 3, Prev: strings.Repeat("ab", 32), CreatedAt: "2026-01-02T03:04:05.123Z",
		PeriodStart: "2026-01-02T02:04:05Z", KeyID: "arn:aws:kms:us-east-1:111122223333:key/k"}
	for _, s := range auditchain.ShardNames() {
		d.Heads = append(d.Heads, auditchain.Head{Shard: s, Hash: auditchain.ZeroHash})
	}
	d.Heads[7] = auditchain.Head{Shard: "07", Seq: 42, Hash: strings.Repeat("cd", 32), FirstTS: "2026-01-01T00:00:00Z", LastTS: "2026-01-02T00:00:00Z"}
	c := d.Content()
	back, err := auditchain.ParseDigest(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(back.Content()) != string(c) || back.Heads[7].Seq != 42 || back.Heads[0].FirstTS != "" {
		t.Fatalf("round trip: %+v", back)
	}
	if !strings.Contains(string(c), "shard.07=109:42 "+strings.Repeat("cd", 32)+" 2026-01-01T00:00:00Z 2026-01-02T00:00:00Z\n") {
		t.Fatalf("content:\n%s", c)
	}
	for name, bad := range map[string]string{
		"extra byte":    string(c) + "x",
		"short":         string(c[:len(c)-10]),
		"other prefix":  strings.Replace(string(c), "digest.v1", "digest.v2", 1),
		"wrong length":  strings.Replace(string(c), "digest_seq=1:3", "digest_seq=2:3", 1),
		"seq not a num": strings.Replace(string(c), "digest_seq=1:3", "digest_seq=1:x", 1),
	} {
		if _, err := auditchain.ParseDigest([]byte(bad)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// trail builds a trail the way the store and the digest function do.
type trail struct {
	t     *testing.T
	key   *ecdsa.PrivateKey
	items map[string]map[string]string // pk+" "+sk -> attributes
	heads map[string]auditchain.Head
	order []string // item keys in write order
	dseq  int64
	dprev string
	clock time.Time
}

func newTrail(t *testing.T) *trail {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tr := &trail{t: t, key: key, items: map[string]map[string]string{}, heads: map[string]auditchain.Head{},
		dprev: auditchain.ZeroHash, clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, s := range auditchain.ShardNames() {
		tr.heads[s] = auditchain.Head{Shard: s, Hash: auditchain.ZeroHash}
	}
	return tr
}

func (tr *trail) put(attrs map[string]string) {
	k := attrs["pk"] + " " + attrs["sk"]
	if _, ok := tr.items[k]; !ok {
		tr.order = append(tr.order, k)
	}
	tr.items[k] = attrs
}

// row appends one row about resource and returns its key.
func (tr *trail) row(resource, action string) string {
	tr.clock = tr.clock.Add(time.Minute)
	id := fmt.Sprintf("ID%06d", len(tr.order))
	ts := tr.clock.Format(time.RFC3339Nano)
	attrs := map[string]string{"pk": "AUDIT#" + resource, "sk": ts + "#" + id, "id": id, "actor": "alice", "actor_type": "User",
		"action": action, "resource_type": "test", "resource_id": resource, "details": "null", "ts": ts, "day": ts[:10]}
	s := auditchain.ShardOf(resource)
	h := tr.heads[s]
	hash, err := auditchain.Link(attrs, s, h.Seq+1, h.Hash)
	if err != nil {
		tr.t.Fatal(err)
	}
	if h.FirstTS == "" {
		h.FirstTS = ts
	}
	h.Seq, h.Hash, h.LastTS = h.Seq+1, hash, ts
	tr.heads[s] = h
	tr.put(attrs)
	tr.putHead(h)
	return attrs["pk"] + " " + attrs["sk"]
}

func (tr *trail) putHead(h auditchain.Head) {
	tr.put(map[string]string{"pk": auditchain.HeadPK, "sk": auditchain.HeadSK(h.Shard), "shard": h.Shard,
		"seq": fmt.Sprint(h.Seq), "hash": h.Hash, "first_ts": h.FirstTS, "last_ts": h.LastTS})
}

// digest signs the heads as they are.
func (tr *trail) digest() {
	tr.clock = tr.clock.Add(time.Minute)
	tr.dseq++
	d := auditchain.Digest{Seq: tr.dseq, Prev: tr.dprev, CreatedAt: tr.clock.Format(time.RFC3339Nano), KeyID: "key"}
	for _, s := range auditchain.ShardNames() {
		d.Heads = append(d.Heads, tr.heads[s])
	}
	c := d.Content()
	sum := sha256.Sum256(c)
	sig, err := ecdsa.SignASN1(rand.Reader, tr.key, sum[:])
	if err != nil {
		tr.t.Fatal(err)
	}
	tr.dprev = auditchain.Sum(c)
	tr.put(map[string]string{"pk": auditchain.DigestPK, "sk": auditchain.DigestSK(d.Seq), "created_at": d.CreatedAt,
		"key_id": "key", "digest_hash": tr.dprev, "content": string(c), "signature": base64.StdEncoding.EncodeToString(sig)})
}

// rowsOf lists a shard's row keys in chain order.
func (tr *trail) rowsOf(shard string) []string {
	var out []string
	for seq := int64(1); ; seq++ {
		found := ""
		for _, k := range tr.order {
			a := tr.items[k]
			if a["chain"] == shard && a["chain_seq"] == auditchain.FormatSeq(seq) {
				found = k
			}
		}
		if found == "" {
			return out
		}
		out = append(out, found)
	}
}

func (tr *trail) verify(opt auditchain.Options) *auditchain.Report {
	tr.t.Helper()
	var items []domain.AuditChainRow
	for _, k := range tr.order {
		if a, ok := tr.items[k]; ok {
			items = append(items, domain.AuditChainRow{Attributes: maps.Clone(a)})
		}
	}
	opt.PublicKey = &tr.key.PublicKey
	rep, err := auditchain.Verify(context.Background(), auditchain.NewMemory(items, 3), opt)
	if err != nil {
		tr.t.Fatal(err)
	}
	return rep
}

// busyShard builds a trail with 12 rows in one shard (and a few
// elsewhere), a digest after the ninth, and returns the shard.
func busyShard(t *testing.T) (*trail, string) {
	tr := newTrail(t)
	res := "cert-1"
	others := 0
	for i := range 9 {
		tr.row(res, fmt.Sprintf("action_%d", i))
		for ; auditchain.ShardOf(fmt.Sprintf("other-%d", others)) == auditchain.ShardOf(res); others++ {
		}
		tr.row(fmt.Sprintf("other-%d", others), "other")
		others++
	}
	tr.digest()
	for i := range 3 {
		tr.row(res, fmt.Sprintf("late_%d", i))
	}
	return tr, auditchain.ShardOf(res)
}

func TestUntouchedTrailVerifies(t *testing.T) {
	tr, _ := busyShard(t)
	tr.digest()
	rep := tr.verify(auditchain.Options{})
	if !rep.OK() || rep.Rows != 21 || rep.Digests != 2 || rep.Latest.Seq != 2 {
		t.Fatalf("report: %+v", rep)
	}
	// From the first digest on, only the rows after it are read.
	rep = tr.verify(auditchain.Options{Since: tr.clock.Add(-time.Hour).Add(time.Minute * 0)})
	if !rep.OK() {
		t.Fatalf("since: %+v", rep.Findings)
	}
}

// TestEachTamperingIsNamed breaks a trail in each way the README's threat
// model lists and checks the verifier names it.
func TestEachTamperingIsNamed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(tr *trail, rows []string)
		want   auditchain.Kind
		seq    int64
	}{
		{"edit a field", func(tr *trail, rows []string) { tr.items[rows[3]]["actor"] = "mallory" }, auditchain.Edited, 4},
		{"edit and rehash the row", func(tr *trail, rows []string) {
			a := tr.items[rows[3]]
			a["actor"] = "mallory"
			h, _ := auditchain.RowHash(a)
			a["row_hash"] = h
		}, auditchain.Broken, 5},
		{"add an attribute", func(tr *trail, rows []string) { tr.items[rows[3]]["extra"] = "x" }, auditchain.Edited, 4},
		{"delete a row", func(tr *trail, rows []string) { delete(tr.items, rows[4]) }, auditchain.Missing, 5},
		{"insert a row at a taken position", func(tr *trail, rows []string) {
			a := maps.Clone(tr.items[rows[2]])
			a["sk"] += "X"
			a["action"] = "approval_approved"
			tr.put(a)
		}, auditchain.Inserted, 3},
		{"swap two rows", func(tr *trail, rows []string) {
			a, b := tr.items[rows[2]], tr.items[rows[5]]
			a["chain_seq"], b["chain_seq"] = b["chain_seq"], a["chain_seq"]
		}, auditchain.Reordered, 3},
		{"truncate the tail a digest covers", func(tr *trail, rows []string) {
			for _, k := range rows[7:] {
				delete(tr.items, k)
			}
		}, auditchain.Truncated, 8},
		{"truncate the tail after the digest, head left", func(tr *trail, rows []string) {
			for _, k := range rows[10:] {
				delete(tr.items, k)
			}
		}, auditchain.Truncated, 11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, shard := busyShard(t)
			tc.tamper(tr, tr.rowsOf(shard))
			rep := tr.verify(auditchain.Options{})
			if len(rep.Findings) != 1 {
				t.Fatalf("findings: %v", rep.Findings)
			}
			f := rep.Findings[0]
			if f.Kind != tc.want || f.Shard != shard || f.Seq != tc.seq {
				t.Fatalf("got %s, want %s at shard %s seq %d", f, tc.want, shard, tc.seq)
			}
			t.Log(f)
		})
	}
}

func TestInsertedOutsideTheChain(t *testing.T) {
	tr, _ := busyShard(t)
	tr.put(map[string]string{"pk": "AUDIT#cert-1", "sk": "2026-01-01T00:30:00Z#FORGED", "action": "approval_approved", "actor": "mallory"})
	rep := tr.verify(auditchain.Options{})
	if len(rep.Findings) != 1 || rep.Findings[0].Kind != auditchain.Inserted || !strings.Contains(rep.Findings[0].Row, "FORGED") {
		t.Fatalf("findings: %v", rep.Findings)
	}
	// A row naming a shard that is not one is outside every chain too.
	tr, _ = busyShard(t)
	tr.put(map[string]string{"pk": "AUDIT#x", "sk": "s", "chain": "99", "chain_seq": auditchain.FormatSeq(1)})
	if rep := tr.verify(auditchain.Options{}); len(rep.Findings) != 1 || rep.Findings[0].Kind != auditchain.Inserted {
		t.Fatalf("findings: %v", rep.Findings)
	}
}

func TestTruncationAfterTheLastDigestWithTheHeadRewound(t *testing.T) {
	// What the threat model says is not detected: rows after the last
	// digest removed and the head moved back with them.
	tr, shard := busyShard(t)
	rows := tr.rowsOf(shard)
	for _, k := range rows[9:] {
		delete(tr.items, k)
	}
	h := tr.heads[shard]
	last := tr.items[rows[8]]
	h.Seq, h.Hash = 9, last["row_hash"]
	tr.putHead(h)
	if rep := tr.verify(auditchain.Options{}); !rep.OK() {
		t.Fatalf("findings: %v", rep.Findings)
	}
}

func TestDigestTampering(t *testing.T) {
	digestKey := func(seq int64) string { return auditchain.DigestPK + " " + auditchain.DigestSK(seq) }
	for _, tc := range []struct {
		name   string
		tamper func(tr *trail)
		want   auditchain.Kind
	}{
		{"edit a digest", func(tr *trail) {
			tr.items[digestKey(1)]["content"] = strings.Replace(tr.items[digestKey(1)]["content"], "key_id=3:key", "key_id=3:kez", 1)
		}, auditchain.BadDigest},
		{"delete a digest in the middle", func(tr *trail) { delete(tr.items, digestKey(2)) }, auditchain.MissingDigest},
		{"delete the first digest", func(tr *trail) { delete(tr.items, digestKey(1)) }, auditchain.MissingDigest},
		{"re-sign with another key", func(tr *trail) {
			other := newTrail(tr.t)
			tr.key, other.key = other.key, tr.key // the verifier trusts tr.key's public half: now the wrong one
		}, auditchain.BadDigest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, _ := busyShard(t)
			tr.digest()
			tr.row("cert-9", "x")
			tr.digest()
			tc.tamper(tr)
			rep := tr.verify(auditchain.Options{})
			if len(rep.Findings) == 0 || rep.Findings[0].Kind != tc.want {
				t.Fatalf("findings %v, want %s", rep.Findings, tc.want)
			}
			t.Log(rep.Findings[0])
		})
	}
	// The newest digests deleted: found only against an anchor kept from
	// an earlier run.
	tr, _ := busyShard(t)
	tr.digest()
	anchor := tr.verify(auditchain.Options{}).Latest
	delete(tr.items, digestKey(2))
	if rep := tr.verify(auditchain.Options{}); !rep.OK() {
		t.Fatalf("without an anchor: %v", rep.Findings)
	}
	rep := tr.verify(auditchain.Options{Anchor: anchor})
	if len(rep.Findings) != 1 || rep.Findings[0].Kind != auditchain.MissingDigest {
		t.Fatalf("with anchor %s: %v", anchor, rep.Findings)
	}
}

// A rewrite of rows and their links, heads included, is caught by the
// digest that signed the old chain.
func TestRewriteBeforeADigestIsCaught(t *testing.T) {
	tr, shard := busyShard(t)
	rows := tr.rowsOf(shard)
	prev := auditchain.ZeroHash
	for i, k := range rows {
		a := tr.items[k]
		if i == 2 {
			a["actor"] = "mallory"
		}
		seq, _ := auditchain.ParseSeq(a["chain_seq"])
		h, err := auditchain.Link(a, shard, seq, prev)
		if err != nil {
			t.Fatal(err)
		}
		prev = h
	}
	h := tr.heads[shard]
	h.Hash = prev
	tr.putHead(h)
	rep := tr.verify(auditchain.Options{})
	if len(rep.Findings) != 1 || rep.Findings[0].Kind != auditchain.Edited || rep.Findings[0].Seq != 9 {
		t.Fatalf("findings: %v", rep.Findings)
	}
	t.Log(rep.Findings[0])
}

// The procedure without certctl (docs/audit-chain.md): the Python script
// over a scan of the table, and openssl over each digest it writes out.
// Skipped where python3 or openssl is missing.
func TestDocumentedProcedure(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	tr, shard := busyShard(t)
	tr.digest()
	dir := t.TempDir()
	scan := func() string {
		var items []map[string]map[string]string
		for _, k := range tr.order {
			a, ok := tr.items[k]
			if !ok {
				continue
			}
			item := map[string]map[string]string{}
			for name, v := range a {
				item[name] = map[string]string{"S": v}
			}
			items = append(items, item)
		}
		b, _ := json.Marshal(map[string]any{"Items": items})
		path := filepath.Join(dir, "audit.json")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	run := func() (string, error) {
		out, err := exec.Command(python, "../../docs/audit-chain-verify.py", scan(), filepath.Join(dir, "digests")).CombinedOutput()
		return string(out), err
	}
	out, err := run()
	if err != nil || !strings.Contains(out, "21 rows, 2 digests") || !strings.HasSuffix(strings.TrimSpace(out), "OK") {
		t.Fatalf("untouched: %v\n%s", err, out)
	}
	if openssl, err := exec.LookPath("openssl"); err == nil {
		der, _ := x509.MarshalPKIXPublicKey(&tr.key.PublicKey)
		pemPath := filepath.Join(dir, "digest.pem")
		_ = os.WriteFile(pemPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)
		for _, seq := range []string{"000000000001", "000000000002"} {
			base := filepath.Join(dir, "digests", "digest-"+seq)
			if b, err := exec.Command(openssl, "dgst", "-sha256", "-verify", pemPath, "-signature", base+".sig", base+".txt").CombinedOutput(); err != nil {
				t.Fatalf("openssl on digest %s: %v\n%s", seq, err, b)
			}
		}
	}
	rows := tr.rowsOf(shard)
	tr.items[rows[3]]["actor"] = "mallory"
	if out, err := run(); err == nil || !strings.Contains(out, "edited: shard "+shard+" seq 4") {
		t.Fatalf("edited row: %v\n%s", err, out)
	}
}

// A row linked, consistently, into a shard its resource does not belong
// to (moved between chains and re-linked) is found.
func TestRowInTheWrongShard(t *testing.T) {
	tr, shard := busyShard(t)
	other := "other-resource"
	for auditchain.ShardOf(other) == shard {
		other += "x"
	}
	// Append a row about other at the end of shard, as an attacker who
	// relinks would: a valid hash and link, the head moved.
	h := tr.heads[shard]
	attrs := map[string]string{"pk": "AUDIT#" + other, "sk": "2026-01-02T00:00:00Z#MOVED", "resource_id": other, "action": "approval_approved"}
	hash, err := auditchain.Link(attrs, shard, h.Seq+1, h.Hash)
	if err != nil {
		t.Fatal(err)
	}
	tr.put(attrs)
	h.Seq, h.Hash = h.Seq+1, hash
	tr.putHead(h)
	rep := tr.verify(auditchain.Options{})
	if len(rep.Findings) != 1 || rep.Findings[0].Kind != auditchain.Edited || !strings.Contains(rep.Findings[0].Detail, "belongs in shard") {
		t.Fatalf("findings: %v", rep.Findings)
	}
}
