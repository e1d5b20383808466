// Package invariants reads a stack's tables and executions directly and
// checks the README's invariants and the ones the fault-injection and
// model-based suites add. It reads raw items, not through pkg/store, so a
// bug in the store cannot hide from it. Test harness only.
package invariants

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/certctl-serverless/certctl-serverless/pkg/auditchain"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Item is one raw DynamoDB item.
type Item map[string]types.AttributeValue

// S returns a string attribute, or "".
func (it Item) S(name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// N returns a number attribute, or 0.
func (it Item) N(name string) float64 {
	if v, ok := it[name].(*types.AttributeValueMemberN); ok {
		f, _ := strconv.ParseFloat(v.Value, 64)
		return f
	}
	return 0
}

// Bytes returns a binary attribute, or nil.
func (it Item) Bytes(name string) []byte {
	if v, ok := it[name].(*types.AttributeValueMemberB); ok {
		return v.Value
	}
	return nil
}

// B returns a boolean attribute, or false.
func (it Item) B(name string) bool {
	v, ok := it[name].(*types.AttributeValueMemberBOOL)
	return ok && v.Value
}

// L returns a list attribute's elements, or nil.
func (it Item) L(name string) []types.AttributeValue {
	if v, ok := it[name].(*types.AttributeValueMemberL); ok {
		return v.Value
	}
	return nil
}

// M returns a map attribute as an Item, or nil.
func (it Item) M(name string) Item {
	if v, ok := it[name].(*types.AttributeValueMemberM); ok {
		return Item(v.Value)
	}
	return nil
}

// Strings returns a list (or string set) attribute's string elements.
func (it Item) Strings(name string) []string {
	if v, ok := it[name].(*types.AttributeValueMemberSS); ok {
		return v.Value
	}
	var out []string
	for _, e := range it.L(name) {
		if v, ok := e.(*types.AttributeValueMemberS); ok {
			out = append(out, v.Value)
		}
	}
	return out
}

// Items returns a list attribute's map elements.
func (it Item) Items(name string) []Item {
	var out []Item
	for _, e := range it.L(name) {
		if v, ok := e.(*types.AttributeValueMemberM); ok {
			out = append(out, Item(v.Value))
		}
	}
	return out
}

// Has reports whether the attribute is present.
func (it Item) Has(name string) bool { _, ok := it[name]; return ok }

// Details decodes an audit row's JSON details.
func (it Item) Details() map[string]any {
	var d map[string]any
	_ = json.Unmarshal([]byte(it.S("details")), &d)
	return d
}

// Snapshot is everything the checks read, taken at one moment (tables are
// scanned with strongly consistent reads, so later writes may show, earlier
// ones never miss).
type Snapshot struct {
	Profiles   map[string]Item
	Principals map[string]Item
	Certs      map[string]Item
	Jobs       map[string]Item
	Approvals  map[string]Item
	Versions   []Item          // pk CERT#<id>, sk VERSION#<job>
	Metrics    map[string]Item // kind#outcome#profile
	Issuers    map[string]Item // issuer id -> its CA certificate
	CRLs       map[string]Item // issuer id -> its CRL state and DER
	// CRLsAfter is each CRL item read again after the audit table: the
	// snapshot reads the state table first, so a CRL published in between
	// is in the audit rows but not in CRLs.
	CRLsAfter  map[string]Item
	Entries    []Item            // revocation entries: pk CRL#<issuer>, sk ENTRY#<serial>
	Deliveries []Item            // queued deliveries: pk CERT#<id>, sk DELIVERY#<job>
	Audit      []Item            // the audit rows (pk AUDIT#…)
	Executions map[string]string // execution name -> status
	Outbox     map[string]Item   // event id -> its outbox item (not yet confirmed published)

	// Chain is the audit table as the chain verifier reads it: every item
	// but the heads and digests, then the heads as read before the scan
	// and the digests written before that (see Take).
	Chain []domain.AuditChainRow
	// DigestKey verifies the digests; nil when the source names no key.
	DigestKey *ecdsa.PublicKey
}

// Source names the resources of one stack.
type Source struct {
	AWS             aws.Config // a clean config: no fault injection
	StateTable      string
	AuditTable      string
	StateMachineARN string
	DigestKeyID     string // the audit digest key, whose public half verifies digests
}

// Take reads everything.
func Take(ctx context.Context, src Source) (*Snapshot, error) {
	snap := &Snapshot{
		Profiles: map[string]Item{}, Principals: map[string]Item{}, Certs: map[string]Item{}, Jobs: map[string]Item{},
		Approvals: map[string]Item{}, Metrics: map[string]Item{}, Executions: map[string]string{},
		Issuers: map[string]Item{}, CRLs: map[string]Item{}, Outbox: map[string]Item{},
	}
	db := dynamodb.NewFromConfig(src.AWS)
	err := scan(ctx, db, src.StateTable, func(it Item) {
		pk, sk := it.S("pk"), it.S("sk")
		switch {
		case strings.HasPrefix(pk, "PROFILE#") && sk == "PROFILE":
			snap.Profiles[it.S("id")] = it
		case strings.HasPrefix(pk, "PRINCIPAL#") && sk == "PRINCIPAL":
			snap.Principals[it.S("id")] = it
		case strings.HasPrefix(pk, "CERT#") && sk == "CERT":
			snap.Certs[it.S("id")] = it
		case strings.HasPrefix(pk, "CERT#") && strings.HasPrefix(sk, "VERSION#"):
			snap.Versions = append(snap.Versions, it)
		case strings.HasPrefix(pk, "CERT#") && strings.HasPrefix(sk, "DELIVERY#"):
			snap.Deliveries = append(snap.Deliveries, it)
		case strings.HasPrefix(pk, "ISSUER#"):
			snap.Issuers[it.S("id")] = it
		case strings.HasPrefix(pk, "CRL#") && sk == "CRL":
			snap.CRLs[strings.TrimPrefix(pk, "CRL#")] = it
		case strings.HasPrefix(pk, "CRL#") && strings.HasPrefix(sk, "ENTRY#"):
			snap.Entries = append(snap.Entries, it)
		case strings.HasPrefix(pk, "JOB#"):
			snap.Jobs[it.S("id")] = it
		case strings.HasPrefix(pk, "APPROVAL#"):
			snap.Approvals[it.S("id")] = it
		case strings.HasPrefix(pk, "OUTBOX#"):
			snap.Outbox[it.S("id")] = it
		case strings.HasPrefix(pk, "METRIC_PENDING#"):
			// pending gauges: checked by checkApprovals' pending counts
			snap.Metrics["pending#"+strings.TrimPrefix(pk, "METRIC_PENDING#")] = it
		case strings.HasPrefix(pk, "METRIC#"):
			snap.Metrics["cert_issuance#"+strings.TrimPrefix(pk, "METRIC#")] = it
		case strings.HasPrefix(pk, "METRIC_"):
			kind, rest, _ := strings.Cut(strings.TrimPrefix(pk, "METRIC_"), "#")
			snap.Metrics[kind+"#"+rest] = it
		}
	})
	if err != nil {
		return nil, err
	}
	if err := takeAudit(ctx, db, src, snap); err != nil {
		return nil, err
	}
	// Each CRL again, after the audit scan: a CRL published while the
	// tables were read lies between the two numbers (see checkCRLNumbers).
	snap.CRLsAfter = map[string]Item{}
	for issuer := range snap.CRLs {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(src.StateTable), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "CRL#" + issuer}, "sk": &types.AttributeValueMemberS{Value: "CRL"}},
		})
		if err != nil {
			return nil, fmt.Errorf("invariants: read CRL %s again: %w", issuer, err)
		}
		snap.CRLsAfter[issuer] = out.Item
	}
	if src.StateMachineARN != "" {
		client := sfn.NewFromConfig(src.AWS)
		var token *string
		for {
			out, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(src.StateMachineARN), NextToken: token, MaxResults: 1000})
			if err != nil {
				return nil, fmt.Errorf("invariants: list executions: %w", err)
			}
			for _, e := range out.Executions {
				snap.Executions[aws.ToString(e.Name)] = string(e.Status)
			}
			if out.NextToken == nil {
				break
			}
			token = out.NextToken
		}
	}
	return snap, nil
}

func scan(ctx context.Context, db *dynamodb.Client, table string, each func(Item)) error {
	var start map[string]types.AttributeValue
	for {
		out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), ExclusiveStartKey: start, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return fmt.Errorf("invariants: scan %s: %w", table, err)
		}
		for _, it := range out.Items {
			each(Item(it))
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		start = out.LastEvaluatedKey
	}
}

// takeAudit reads the audit table so that the chain can be verified while
// transitions still commit: a scan is no snapshot, so the newest digest
// and the heads are read first, strongly consistent. Every row at or
// below a head read then committed before it, so the scan that follows
// sees it; rows committed later lie past the heads, where the verifier
// does not look, and digests written later are left out.
func takeAudit(ctx context.Context, db *dynamodb.Client, src Source, snap *Snapshot) error {
	latest, err := db.Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(src.AuditTable), KeyConditionExpression: aws.String("pk = :d"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": &types.AttributeValueMemberS{Value: auditchain.DigestPK}},
		ScanIndexForward:          aws.Bool(false), Limit: aws.Int32(1), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("invariants: latest digest: %w", err)
	}
	lastDigest := ""
	if len(latest.Items) > 0 {
		lastDigest = Item(latest.Items[0]).S("sk")
	}
	heads, err := db.Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(src.AuditTable), KeyConditionExpression: aws.String("pk = :h"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":h": &types.AttributeValueMemberS{Value: auditchain.HeadPK}},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("invariants: chain heads: %w", err)
	}
	err = scan(ctx, db, src.AuditTable, func(it Item) {
		switch pk := it.S("pk"); {
		case strings.HasPrefix(pk, auditchain.RowPKPrefix):
			snap.Audit = append(snap.Audit, it)
		case pk == auditchain.HeadPK && strings.HasPrefix(it.S("sk"), auditchain.HeadSKPrefix):
			return // as read before the scan, below
		case pk == auditchain.DigestPK && it.S("sk") > lastDigest:
			return // written after the heads were read
		}
		snap.Chain = append(snap.Chain, chainRow(it))
	})
	if err != nil {
		return err
	}
	for _, it := range heads.Items {
		snap.Chain = append(snap.Chain, chainRow(it))
	}
	if src.DigestKeyID != "" {
		out, err := kms.NewFromConfig(src.AWS).GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(src.DigestKeyID)})
		if err != nil {
			return fmt.Errorf("invariants: digest key: %w", err)
		}
		pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
		if err != nil {
			return fmt.Errorf("invariants: digest key: %w", err)
		}
		key, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("invariants: the digest key is %T, not ECDSA", pub)
		}
		snap.DigestKey = key
	}
	return nil
}

// chainRow is an item as the chain verifier reads it.
func chainRow(it Item) domain.AuditChainRow {
	row := domain.AuditChainRow{Attributes: map[string]string{}}
	for name, v := range it {
		if sv, ok := v.(*types.AttributeValueMemberS); ok {
			row.Attributes[name] = sv.Value
		} else {
			row.OtherTypes = append(row.OtherTypes, name)
		}
	}
	return row
}
