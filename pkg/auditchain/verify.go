package auditchain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Source is what a verifier reads: the API (the CLI), or a snapshot of the
// table (the invariant checker). Every list is paged; a returned token of
// "" means the list ended.
type Source interface {
	// Heads reads every shard's head now.
	Heads(ctx context.Context) ([]domain.AuditChainHead, error)
	// Digests lists digests with seq >= fromSeq, oldest first.
	Digests(ctx context.Context, fromSeq int64, token string) ([]domain.AuditDigest, string, error)
	// DigestBefore is the newest digest created at or before t, or nil.
	DigestBefore(ctx context.Context, t time.Time) (*domain.AuditDigest, error)
	// Rows lists a shard's rows with chain_seq > afterSeq in chain order.
	Rows(ctx context.Context, shard string, afterSeq int64, token string) ([]domain.AuditChainRow, string, error)
	// Unchained lists the audit table's items that are neither a chained
	// row, a head nor a digest (Classify's Unchained).
	Unchained(ctx context.Context, token string) ([]domain.AuditChainRow, string, error)
}

// Options tune a verification.
type Options struct {
	// PublicKey verifies the digests' signatures. Required.
	PublicKey *ecdsa.PublicKey
	// Since starts the walk at the newest digest created at or before it,
	// trusted once its signature verifies; rows before it are not read.
	// Zero: from each shard's first row.
	Since time.Time
	// Anchor is a digest verified earlier (Report.Latest of a previous
	// run): it must still be there, with the same hash.
	Anchor *DigestRef
	// LagRetries and LagWait: when a shard's rows end before a digest or
	// its head says they should, read again this many times, this long
	// apart, before calling it truncation (the by_chain index is
	// eventually consistent on DynamoDB).
	LagRetries int
	LagWait    time.Duration
	// MaxFindings bounds the report (default 50).
	MaxFindings int
}

// Kind names what a finding found.
type Kind string

// Finding kinds.
const (
	// Edited: a row's content does not match its own hash, or rows no
	// longer hash to what a signed digest or the head recorded.
	Edited Kind = "edited"
	// Missing: positions in a shard with no row (rows deleted).
	Missing Kind = "missing"
	// Inserted: a row the chain does not link (a second row at one
	// position, or an item outside every chain).
	Inserted Kind = "inserted"
	// Reordered: a row sits at another position than the one it was
	// written at.
	Reordered Kind = "reordered"
	// Truncated: a shard ends before a signed digest (or its head) says
	// it does.
	Truncated Kind = "truncated"
	// Broken: a row does not name its predecessor's hash (the predecessor
	// was rewritten, or rows were renumbered).
	Broken Kind = "broken"
	// BadDigest: a digest that does not parse, whose signature does not
	// verify, or that does not name its predecessor.
	BadDigest Kind = "bad-digest"
	// MissingDigest: digests missing from their own chain.
	MissingDigest Kind = "missing-digest"
)

// Finding is one thing wrong.
type Finding struct {
	Kind   Kind
	Shard  string // "" for digests and items outside the chain
	Seq    int64  // the position in the shard (or the digest's seq)
	Row    string // the row's key, pk and sk, when one is at fault
	Detail string
}

func (f Finding) String() string {
	where := ""
	switch {
	case f.Shard != "":
		where = fmt.Sprintf("shard %s seq %d", f.Shard, f.Seq)
	case f.Kind == BadDigest || f.Kind == MissingDigest:
		where = fmt.Sprintf("digest %d", f.Seq)
	}
	if f.Row != "" {
		if where != "" {
			where += " "
		}
		where += "(row " + f.Row + ")"
	}
	if where == "" {
		return string(f.Kind) + ": " + f.Detail
	}
	return string(f.Kind) + ": " + where + ": " + f.Detail
}

// DigestRef names a digest: its seq and DigestHash.
type DigestRef struct {
	Seq       int64
	Hash      string
	CreatedAt string
}

func (d DigestRef) String() string { return fmt.Sprintf("%d:%s", d.Seq, d.Hash) }

// Report is a verification's outcome.
type Report struct {
	Rows     int64      // rows whose hash and link verified
	Digests  int        // digests whose signature and link verified
	Start    *DigestRef // the digest the walk started from (Since); nil: each shard's first row
	Latest   *DigestRef // the newest digest verified
	Findings []Finding
	// Truncated reports that MaxFindings cut the findings short.
	Truncated bool
}

// OK reports whether nothing was found wrong.
func (r *Report) OK() bool { return len(r.Findings) == 0 }

// moveWindow is how far from its position a row's hash is tried at other
// positions before a mismatch is called an edit rather than a move.
const moveWindow = 256

// Verify walks a trail: the digests oldest first (signature, their own
// chain, and that every shard's rows hash to what each one signed), every
// shard's rows up to its head, and the items outside every chain. The
// first fault of each shard stops that shard's walk and is reported;
// memory stays bounded by one page per shard, whatever the trail's size.
// An error is returned only when the source fails.
func Verify(ctx context.Context, src Source, opt Options) (*Report, error) {
	if opt.PublicKey == nil {
		return nil, errors.New("auditchain: a public key is required to check the digests")
	}
	if opt.MaxFindings <= 0 {
		opt.MaxFindings = 50
	}
	v := &verifier{ctx: ctx, src: src, opt: opt, rep: &Report{}, walks: map[string]*walk{}}
	heads, err := src.Heads(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range ShardNames() {
		v.walks[s] = &walk{v: v, shard: s, hash: ZeroHash}
	}
	from := int64(1)
	if !opt.Since.IsZero() {
		d, err := src.DigestBefore(ctx, opt.Since)
		if err != nil {
			return nil, err
		}
		if d != nil {
			start, ok := v.digest(*d)
			if !ok {
				return v.rep, nil // an untrustworthy start: nothing after it can be vouched for
			}
			ref := DigestRef{Seq: start.Seq, Hash: Sum([]byte(d.Content)), CreatedAt: start.CreatedAt}
			v.rep.Start = &ref
			for _, h := range start.Heads {
				w := v.walks[h.Shard]
				w.seq, w.after, w.hash = h.Seq, h.Seq, h.Hash
			}
			v.prev, v.prevHash, from = &start, ref.Hash, start.Seq
		}
	}
	if err := v.digests(from); err != nil {
		return nil, err
	}
	for _, h := range heads {
		w, ok := v.walks[h.Shard]
		if !ok {
			v.find(Finding{Kind: Inserted, Detail: fmt.Sprintf("a head item for shard %q, which is no shard", h.Shard)})
			continue
		}
		if err := w.advanceTo(h.Seq, "its head"); err != nil {
			return nil, err
		}
		if !w.stopped && h.Seq > 0 && w.seq == h.Seq && w.hash != h.Hash {
			w.stop(Finding{Kind: Broken, Seq: h.Seq, Row: w.lastRow,
				Detail: fmt.Sprintf("the head records hash %s for this row, which hashes to %s", short(h.Hash), short(w.hash))})
		}
	}
	if err := v.unchained(); err != nil {
		return nil, err
	}
	for _, w := range v.walks {
		v.rep.Rows += w.rows
	}
	return v.rep, nil
}

type verifier struct {
	ctx      context.Context
	src      Source
	opt      Options
	rep      *Report
	walks    map[string]*walk
	prev     *Digest // the last digest verified
	prevHash string
}

func (v *verifier) find(f Finding) {
	if len(v.rep.Findings) >= v.opt.MaxFindings {
		v.rep.Truncated = true
		return
	}
	v.rep.Findings = append(v.rep.Findings, f)
}

func (v *verifier) full() bool { return len(v.rep.Findings) >= v.opt.MaxFindings }

// digest parses a stored digest and checks its signature and hash.
func (v *verifier) digest(d domain.AuditDigest) (Digest, bool) {
	parsed, err := ParseDigest([]byte(d.Content))
	switch {
	case err != nil:
		v.find(Finding{Kind: BadDigest, Seq: d.Seq, Detail: err.Error()})
		return Digest{}, false
	case parsed.Seq != d.Seq:
		v.find(Finding{Kind: BadDigest, Seq: d.Seq, Detail: fmt.Sprintf("it is stored as digest %d but its content says %d", d.Seq, parsed.Seq)})
		return Digest{}, false
	case !VerifySignature(v.opt.PublicKey, []byte(d.Content), d.Signature):
		v.find(Finding{Kind: BadDigest, Seq: d.Seq, Detail: "its signature does not verify with the digest key"})
		return Digest{}, false
	}
	return parsed, true
}

// digests walks the digests from seq from on, advancing every shard's
// walk to what each one signed.
func (v *verifier) digests(from int64) error {
	expect, token := from, ""
	for {
		page, next, err := v.src.Digests(v.ctx, from, token)
		if err != nil {
			return err
		}
		for _, d := range page {
			if v.prev != nil && d.Seq == v.prev.Seq {
				continue // the start digest itself
			}
			parsed, ok := v.digest(d)
			if !ok {
				return nil // nothing a broken digest says can be relied on, nor what follows it
			}
			hash := Sum([]byte(d.Content))
			switch {
			case parsed.Seq != expect && v.prev == nil:
				v.find(Finding{Kind: MissingDigest, Seq: expect, Detail: fmt.Sprintf("the first digest listed is %d: %s missing", parsed.Seq, span("digest", expect, parsed.Seq-1, "is", "are"))})
			case parsed.Seq != expect:
				v.find(Finding{Kind: MissingDigest, Seq: expect, Detail: fmt.Sprintf("digest %d follows digest %d: %s missing", parsed.Seq, v.prev.Seq, span("digest", expect, parsed.Seq-1, "is", "are"))})
			case v.prev == nil && parsed.Prev != ZeroHash:
				v.find(Finding{Kind: BadDigest, Seq: parsed.Seq, Detail: "the first digest names a predecessor"})
			case v.prev != nil && parsed.Prev != v.prevHash:
				v.find(Finding{Kind: BadDigest, Seq: parsed.Seq, Detail: fmt.Sprintf("it names %s as its predecessor, but digest %d hashes to %s", short(parsed.Prev), v.prev.Seq, short(v.prevHash))})
			}
			if a := v.opt.Anchor; a != nil && a.Seq == parsed.Seq && a.Hash != hash {
				v.find(Finding{Kind: BadDigest, Seq: parsed.Seq, Detail: fmt.Sprintf("it hashes to %s, but %s was verified before: the digests were rewritten", short(hash), short(a.Hash))})
			}
			for i, h := range parsed.Heads {
				w := v.walks[h.Shard]
				if v.prev != nil && h.Seq < v.prev.Heads[i].Seq {
					w.stop(Finding{Kind: Truncated, Seq: h.Seq, Detail: fmt.Sprintf("digest %d says the shard has %d rows, digest %d said %d", parsed.Seq, h.Seq, v.prev.Seq, v.prev.Heads[i].Seq)})
					continue
				}
				why := fmt.Sprintf("digest %d (signed %s)", parsed.Seq, parsed.CreatedAt)
				if err := w.advanceTo(h.Seq, why); err != nil {
					return err
				}
				if !w.stopped && h.Seq > 0 && w.seq == h.Seq && w.hash != h.Hash {
					w.stop(Finding{Kind: Edited, Seq: h.Seq, Row: w.lastRow, Detail: fmt.Sprintf(
						"the shard's rows up to here hash to %s, but %s signed %s: rows were rewritten and re-linked after it was signed",
						short(w.hash), why, short(h.Hash))})
				}
			}
			v.prev, v.prevHash, expect = &parsed, hash, parsed.Seq+1
			v.rep.Digests++
			v.rep.Latest = &DigestRef{Seq: parsed.Seq, Hash: hash, CreatedAt: parsed.CreatedAt}
		}
		if next == "" {
			break
		}
		token = next
	}
	if a := v.opt.Anchor; a != nil && (v.rep.Latest == nil || v.rep.Latest.Seq < a.Seq) {
		v.find(Finding{Kind: MissingDigest, Seq: a.Seq, Detail: "this digest was verified before and is gone: the newest digests were deleted"})
	}
	return nil
}

func (v *verifier) unchained() error {
	token := ""
	for !v.full() {
		page, next, err := v.src.Unchained(v.ctx, token)
		if err != nil {
			return err
		}
		for _, r := range page {
			v.find(Finding{Kind: Inserted, Row: rowKey(r), Detail: "an item in the audit table that no chain links (inserted, or written outside the chain)"})
		}
		if next == "" {
			return nil
		}
		token = next
	}
	return nil
}

// walk verifies one shard's rows in order, one page in memory at a time.
type walk struct {
	v     *verifier
	shard string

	after   int64 // the listing's current lower bound (exclusive)
	buf     []domain.AuditChainRow
	token   string
	fetched bool

	seq     int64  // the last row verified
	hash    string // its hash
	lastRow string
	rows    int64
	stopped bool
}

func (w *walk) stop(f Finding) {
	if w.stopped {
		return
	}
	w.stopped = true
	f.Shard = w.shard
	w.v.find(f)
}

func (w *walk) peek() (*domain.AuditChainRow, error) {
	for len(w.buf) == 0 {
		if w.fetched && w.token == "" {
			return nil, nil
		}
		rows, next, err := w.v.src.Rows(w.v.ctx, w.shard, w.after, w.token)
		if err != nil {
			return nil, err
		}
		w.fetched, w.buf, w.token = true, rows, next
	}
	return &w.buf[0], nil
}

func (w *walk) pop() domain.AuditChainRow {
	r := w.buf[0]
	w.buf = w.buf[1:]
	return r
}

// reread lists the shard again after the last row verified, after a wait:
// an index that lags may hold the rows now.
func (w *walk) reread() (*domain.AuditChainRow, error) {
	for range w.v.opt.LagRetries {
		select {
		case <-w.v.ctx.Done():
			return nil, w.v.ctx.Err()
		case <-time.After(w.v.opt.LagWait):
		}
		w.after, w.buf, w.token, w.fetched = w.seq, nil, "", false
		r, err := w.peek()
		if r != nil || err != nil {
			return r, err
		}
	}
	return nil, nil
}

// advanceTo verifies rows until the shard's seq reaches target; why names
// who says the shard reaches it.
func (w *walk) advanceTo(target int64, why string) error {
	for !w.stopped && w.seq < target {
		r, err := w.peek()
		if err == nil && r == nil {
			r, err = w.reread()
		}
		if err != nil {
			return err
		}
		if r == nil {
			w.stop(Finding{Kind: Truncated, Seq: w.seq + 1, Detail: fmt.Sprintf(
				"%s says the shard has %d rows, but it ends at seq %d: %s removed", why, target, w.seq, span("row", w.seq+1, target, "was", "were"))})
			return nil
		}
		w.next()
	}
	return nil
}

// next verifies the rows at the next position.
func (w *walk) next() {
	e := w.seq + 1
	first := w.buf[0]
	s, err := ParseSeq(first.Attributes[AttrSeq])
	switch {
	case err != nil:
		w.stop(Finding{Kind: Edited, Seq: e, Row: rowKey(first), Detail: "its chain_seq is malformed: " + err.Error()})
		return
	case s < e:
		w.stop(Finding{Kind: Inserted, Seq: s, Row: rowKey(first), Detail: fmt.Sprintf("a second row claims seq %d, which another row holds", s)})
		return
	case s > e:
		w.stop(Finding{Kind: Missing, Seq: e, Row: rowKey(first), Detail: fmt.Sprintf("the next row is seq %d: %s missing (deleted)", s, span("row", e, s-1, "is", "are"))})
		return
	}
	var group []domain.AuditChainRow
	for len(w.buf) > 0 && len(group) < MaxGroupedDup {
		if n, err := ParseSeq(w.buf[0].Attributes[AttrSeq]); err != nil || n != e {
			break
		}
		group = append(group, w.pop())
		if len(w.buf) == 0 && w.token != "" {
			if _, err := w.peek(); err != nil {
				break // the next page's error surfaces on the next peek
			}
		}
	}
	var linked []domain.AuditChainRow
	var problem string
	for _, r := range group {
		if p := w.check(r, e); p == "" {
			linked = append(linked, r)
		} else if problem == "" {
			problem = p
		}
	}
	switch {
	case len(group) == 1 && len(linked) == 1:
		w.accept(linked[0], e)
	case len(group) > 1:
		other := group[0]
		if len(linked) == 1 {
			w.accept(linked[0], e)
			for _, r := range group {
				if rowKey(r) != rowKey(linked[0]) {
					other = r
					break
				}
			}
		}
		w.stop(Finding{Kind: Inserted, Seq: e, Row: rowKey(other), Detail: fmt.Sprintf("%d rows claim this position; the chain links %d of them", len(group), len(linked))})
	default:
		r := group[0]
		if moved := movedFrom(r, e); moved != 0 {
			w.stop(Finding{Kind: Reordered, Seq: e, Row: rowKey(r), Detail: fmt.Sprintf("this row was written at seq %d: rows were reordered", moved)})
			return
		}
		kind := Edited
		if problem == brokenLink {
			kind = Broken
			problem = "its prev_hash is not the hash of row " + fmt.Sprint(e-1) + ": that row was rewritten, or rows were removed and the rest renumbered"
		}
		w.stop(Finding{Kind: kind, Seq: e, Row: rowKey(r), Detail: problem})
	}
}

const brokenLink = "broken link"

// check returns what is wrong with r as row e, or "".
func (w *walk) check(r domain.AuditChainRow, e int64) string {
	if len(r.OtherTypes) > 0 {
		return fmt.Sprintf("its attribute %s is not a string, and no writer stores one", r.OtherTypes[0])
	}
	if r.Attributes[AttrChain] != w.shard {
		return fmt.Sprintf("it is listed in shard %s but names shard %q", w.shard, r.Attributes[AttrChain])
	}
	if res, ok := r.Attributes[AttrResource]; ok && ShardOf(res) != w.shard {
		return fmt.Sprintf("its resource %q belongs in shard %s, not %s: it was moved", res, ShardOf(res), w.shard)
	}
	h, err := RowHash(r.Attributes)
	switch {
	case err != nil:
		return "its attributes cannot be encoded: " + err.Error()
	case h != r.Attributes[AttrHash]:
		return "its content does not match its row_hash: it was edited"
	case r.Attributes[AttrPrev] != w.hash:
		return brokenLink
	}
	return ""
}

func (w *walk) accept(r domain.AuditChainRow, e int64) {
	w.seq, w.hash, w.lastRow = e, r.Attributes[AttrHash], rowKey(r)
	w.rows++
}

// movedFrom finds the position a row's hash was computed at, near e: a
// row that verifies there was moved, not edited. 0 if none.
func movedFrom(r domain.AuditChainRow, e int64) int64 {
	if len(r.OtherTypes) > 0 || r.Attributes[AttrHash] == "" {
		return 0
	}
	attrs := maps.Clone(r.Attributes)
	for d := int64(1); d <= moveWindow; d++ {
		for _, c := range []int64{e + d, e - d} {
			if c < 1 {
				continue
			}
			attrs[AttrSeq] = FormatSeq(c)
			if h, err := RowHash(attrs); err == nil && h == r.Attributes[AttrHash] {
				return c
			}
		}
	}
	return 0
}

// span is "row 5 is" or "rows 5 to 7 are".
func span(noun string, from, to int64, one, many string) string {
	if from == to {
		return fmt.Sprintf("%s %d %s", noun, from, one)
	}
	return fmt.Sprintf("%ss %d to %d %s", noun, from, to, many)
}

func rowKey(r domain.AuditChainRow) string {
	return r.Attributes[AttrPK] + " " + r.Attributes[AttrSK]
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}
