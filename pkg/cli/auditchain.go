package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/spf13/cobra"

	"github.com/certctl-serverless/certctl-serverless/pkg/auditchain"
	"github.com/certctl-serverless/certctl-serverless/pkg/client"
	"github.com/certctl-serverless/certctl-serverless/pkg/digestclient"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// auditChainCommands are audit's subcommands: the tamper-evident chain
// (docs/audit-chain.md).
func auditChainCommands(r *runner) []*cobra.Command {
	var since, keyFile, anchor string
	var page int
	var lag time.Duration
	verify := r.leaf("verify", "Verify the audit trail: every row's hash and link, every digest's signature (auditor, admin)",
		"Read the whole audit trail through the API, recompute every row's hash and link in its shard's chain, "+
			"check every digest's signature with the digest key, that each digest follows the one before and that "+
			"the rows still hash to what each digest signed, and look for items outside the chain. Reports the first "+
			"edited, missing, inserted, reordered or truncated row of each shard and exits 1 if anything is wrong. "+
			"Memory stays bounded (one page per shard) whatever the trail's size. "+
			"--since starts at the newest digest signed before TIME and reads only the rows after it. "+
			"--public-key pins the digest key (PEM, e.g. from aws kms get-public-key) instead of asking the API; "+
			"--anchor SEQ:HASH (printed by an earlier run as \"latest digest\") also catches the newest digests being deleted.", 0, 0,
		func(r *runner, cmd *cobra.Command, _ []string) error {
			return auditVerify(r, cmd, since, keyFile, anchor, page, lag)
		})
	fs := verify.Flags()
	fs.StringVar(&since, "since", "", "start at the newest digest signed before `TIME` (RFC 3339 or a duration ago, e.g. 7d)")
	fs.StringVar(&keyFile, "public-key", "", "the digest key's public half, a PEM `FILE` (default: GET /audit/public-key)")
	fs.StringVar(&anchor, "anchor", "", "a digest verified before, `SEQ:HASH`: it must still be there, unchanged")
	fs.IntVar(&page, "page-size", 500, "rows per request (1-500); memory is about 16 pages")
	fs.DurationVar(&lag, "index-lag", 2*time.Second, "how long to wait for an index that lags before calling a shard truncated (`DURATION`)")
	verify.Example = "  certctl audit verify\n  certctl audit verify --since 30d --public-key digest.pem --anchor 412:3f1c…"

	var function, region string
	digest := r.leaf("digest", "Have the digest function sign a digest of the chain now (AWS credentials)",
		"Invoke the digest function with your AWS credentials (lambda:InvokeFunction on it) to sign a digest of every "+
			"shard's head now, and print it. It also runs on a schedule (digestRate). The API has no such route: the "+
			"internet-facing function can neither sign with the digest key nor cause a digest.", 0, 0,
		func(r *runner, cmd *cobra.Command, _ []string) error { return auditDigest(r, cmd, function, region) })
	digest.Flags().StringVar(&function, "function", "", "the digest function's `NAME` or ARN (stack output DigestFunctionName)")
	digest.Flags().StringVar(&region, "region", "", "the stack's AWS `REGION` (default: from the AWS configuration)")
	digest.Example = "  certctl audit digest --function certctl-prod-digest"

	var asc bool
	var pf *pageFlags
	digests := r.leaf("digests", "List the signed digests, newest first (auditor, admin)", "", 0, 0,
		func(r *runner, _ *cobra.Command, _ []string) error { return auditDigests(r, asc, pf) })
	digests.Flags().BoolVar(&asc, "oldest-first", false, "list oldest first")
	pf = addPageFlags(digests.Flags())

	publicKey := r.leaf("public-key", "Print the digest key's public half (PEM)",
		"Print the public half of the KMS key that signs audit digests, as PEM, for openssl dgst -verify. "+
			"For a check independent of this API, compare it with: aws kms get-public-key --key-id <DigestKeyArn>.", 0, 0,
		func(r *runner, _ *cobra.Command, _ []string) error { return auditPublicKey(r) })
	return []*cobra.Command{verify, digest, digests, publicKey}
}

func auditVerify(r *runner, cmd *cobra.Command, since, keyFile, anchor string, page int, lag time.Duration) error {
	opt := auditchain.Options{LagRetries: 3, LagWait: lag / 3}
	var err error
	if opt.Since, err = r.parseWhen(since); err != nil {
		return r.usageErr("%s: --since: %v", name(cmd), err)
	}
	if page < 1 || page > 500 {
		return r.usageErr("%s: --page-size must be 1 to 500", name(cmd))
	}
	if lag < 0 {
		return r.usageErr("%s: --index-lag must not be negative", name(cmd))
	}
	if anchor != "" {
		seq, hash, ok := strings.Cut(anchor, ":")
		n, err := strconv.ParseInt(seq, 10, 64)
		if !ok || err != nil || n < 1 || len(hash) != 64 {
			return r.usageErr("%s: --anchor must be SEQ:HASH as an earlier run printed it (e.g. 12:3f1c…, 64 hex digits)", name(cmd))
		}
		opt.Anchor = &auditchain.DigestRef{Seq: n, Hash: strings.ToLower(hash)}
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	pemText := ""
	if keyFile != "" {
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return r.usageErr("%s: --public-key: %v", name(cmd), err)
		}
		pemText = string(b)
	} else if pemText, err = c.DigestPublicKey(r.ctx); err != nil {
		return err
	}
	if opt.PublicKey, err = parsePublicKey(pemText); err != nil {
		return fmt.Errorf("the digest key: %w", err)
	}
	start := r.now()
	rep, err := auditchain.Verify(r.ctx, &client.ChainSource{C: c, Page: page}, opt)
	if err != nil {
		return err
	}
	if r.structured() {
		if err := r.printValue(verifyView(rep)); err != nil {
			return err
		}
	} else {
		printReport(r.stdout, rep, r.now().Sub(start))
	}
	if !rep.OK() {
		return fmt.Errorf("the audit trail does not verify: %s", plural(int64(len(rep.Findings)), "finding"))
	}
	return nil
}

// parsePublicKey reads a PEM PUBLIC KEY block holding an ECDSA P-256 key.
func parsePublicKey(text string) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM PUBLIC KEY block")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	key, ok := pub.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("a %T, not an ECDSA P-256 key", pub)
	}
	return key, nil
}

type findingView struct {
	Kind   string `json:"kind"`
	Shard  string `json:"shard,omitempty"`
	Seq    int64  `json:"seq,omitempty"`
	Row    string `json:"row,omitempty"`
	Detail string `json:"detail"`
}

type reportView struct {
	OK        bool          `json:"ok"`
	Rows      int64         `json:"rows"`
	Digests   int           `json:"digests"`
	Start     string        `json:"start_digest,omitempty"`
	Latest    string        `json:"latest_digest,omitempty"`
	LatestAt  string        `json:"latest_digest_created_at,omitempty"`
	Findings  []findingView `json:"findings"`
	Truncated bool          `json:"findings_truncated,omitempty"`
}

func verifyView(rep *auditchain.Report) reportView {
	v := reportView{OK: rep.OK(), Rows: rep.Rows, Digests: rep.Digests, Findings: []findingView{}, Truncated: rep.Truncated}
	if rep.Start != nil {
		v.Start = rep.Start.String()
	}
	if rep.Latest != nil {
		v.Latest, v.LatestAt = rep.Latest.String(), rep.Latest.CreatedAt
	}
	for _, f := range rep.Findings {
		v.Findings = append(v.Findings, findingView{Kind: string(f.Kind), Shard: f.Shard, Seq: f.Seq, Row: f.Row, Detail: f.Detail})
	}
	return v
}

func printReport(w io.Writer, rep *auditchain.Report, took time.Duration) {
	for _, f := range rep.Findings {
		fmt.Fprintln(w, visible(f.String()))
	}
	if rep.Truncated {
		fmt.Fprintln(w, "… more findings not shown")
	}
	from := "from each shard's first row"
	if rep.Start != nil {
		from = fmt.Sprintf("from digest %d (signed %s) on", rep.Start.Seq, rep.Start.CreatedAt)
	}
	fmt.Fprintf(w, "%s in %d shards verified %s, %s signed by the digest key, in %s\n",
		plural(rep.Rows, "row"), auditchain.Shards, from, plural(int64(rep.Digests), "digest"), took.Round(time.Millisecond))
	if rep.Latest != nil {
		fmt.Fprintf(w, "latest digest: %s (signed %s); keep it and pass --anchor to catch deleted digests later\n", rep.Latest, rep.Latest.CreatedAt)
	} else {
		fmt.Fprintln(w, "no digest yet: nothing signed vouches for the rows yet (wait for the schedule, or: certctl audit digest --function <the stack's digest function>, with AWS credentials)")
	}
	if rep.OK() {
		fmt.Fprintln(w, "OK: no row edited, missing, inserted, reordered or truncated")
	} else {
		fmt.Fprintf(w, "FAILED: %s\n", plural(int64(len(rep.Findings)), "finding"))
	}
}

func auditDigest(r *runner, cmd *cobra.Command, function, region string) error {
	if err := r.required(cmd, "function"); err != nil {
		return err
	}
	var opts []func(*awsconfig.LoadOptions) error
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(r.ctx, opts...)
	if err != nil {
		return fmt.Errorf("AWS configuration: %w", err)
	}
	d, err := digestclient.New(lambda.NewFromConfig(cfg), function).WriteDigest(r.ctx)
	if err != nil {
		return err
	}
	return r.showDigest(d)
}

func (r *runner) showDigest(d *domain.AuditDigest) error {
	return r.show(d, func() []field {
		return []field{{"Seq", strconv.FormatInt(d.Seq, 10)}, {"Created", fmtTime(d.CreatedAt)}, {"Hash", d.DigestHash}, {"Key", d.KeyID}}
	})
}

func auditDigests(r *runner, asc bool, pf *pageFlags) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	fetch := func(ctx context.Context, p client.PageRequest) ([]domain.AuditDigest, string, error) {
		return c.ListDigests(ctx, client.DigestFilter{Ascending: asc}, p)
	}
	return listing(r, pf, fetch, []string{"SEQ", "CREATED", "HASH"}, func(d domain.AuditDigest) []string {
		return []string{strconv.FormatInt(d.Seq, 10), fmtTime(d.CreatedAt), d.DigestHash}
	})
}

func auditPublicKey(r *runner) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	text, err := c.DigestPublicKey(r.ctx)
	if err != nil {
		return err
	}
	_, err = io.WriteString(r.stdout, text)
	return err
}

// plural is "1 row" or "2 rows".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
