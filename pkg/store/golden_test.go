package store

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/apikey"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// update rewrites the golden files from the code under test. The stored
// layout is a contract with deployed tables and the CDK app's indexes:
// regenerate only for a deliberate, migrated change.
var update = flag.Bool("update", false, "rewrite testdata golden files")

// recordingDB answers every transaction with success and keeps its Puts;
// it keeps the audit chain's heads, so each row links after the last.
type recordingDB struct {
	DB
	puts  []goldenItem
	heads map[string]map[string]types.AttributeValue // sk -> head item
}

func (r *recordingDB) keep(table string, item map[string]types.AttributeValue) {
	r.puts = append(r.puts, goldenItem{Table: table, Item: avMapJSON(item)})
	if pk, ok := item[attrPK].(*types.AttributeValueMemberS); ok && pk.Value == "CHAIN" {
		if r.heads == nil {
			r.heads = map[string]map[string]types.AttributeValue{}
		}
		r.heads[item[attrSK].(*types.AttributeValueMemberS).Value] = item
	}
}

func (r *recordingDB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{Item: r.heads[in.Key[attrSK].(*types.AttributeValueMemberS).Value]}, nil
}

func (r *recordingDB) Query(_ context.Context, _ *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out := &dynamodb.QueryOutput{}
	for _, h := range r.heads {
		out.Items = append(out.Items, h)
	}
	return out, nil
}

func (r *recordingDB) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	r.keep(aws.ToString(in.TableName), in.Item)
	return &dynamodb.PutItemOutput{}, nil
}

type goldenItem struct {
	Table string         `json:"table"`
	Item  map[string]any `json:"item"`
}

func (r *recordingDB) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, it := range in.TransactItems {
		if it.Put != nil {
			r.keep(aws.ToString(it.Put.TableName), it.Put.Item)
		}
	}
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

// avJSON renders an attribute value as DynamoDB's wire JSON, so the
// golden file shows each attribute's type as well as its value.
func avJSON(av types.AttributeValue) any {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return map[string]any{"S": v.Value}
	case *types.AttributeValueMemberN:
		return map[string]any{"N": v.Value}
	case *types.AttributeValueMemberBOOL:
		return map[string]any{"BOOL": v.Value}
	case *types.AttributeValueMemberNULL:
		return map[string]any{"NULL": v.Value}
	case *types.AttributeValueMemberB:
		return map[string]any{"B": v.Value}
	case *types.AttributeValueMemberSS:
		return map[string]any{"SS": v.Value}
	case *types.AttributeValueMemberNS:
		return map[string]any{"NS": v.Value}
	case *types.AttributeValueMemberBS:
		return map[string]any{"BS": v.Value}
	case *types.AttributeValueMemberL:
		l := make([]any, len(v.Value))
		for i, e := range v.Value {
			l[i] = avJSON(e)
		}
		return map[string]any{"L": l}
	case *types.AttributeValueMemberM:
		return map[string]any{"M": avMapJSON(v.Value)}
	}
	return map[string]any{"UNKNOWN": fmt.Sprintf("%T", av)}
}

func avMapJSON(m map[string]types.AttributeValue) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = avJSON(v)
	}
	return out
}

// checkGolden compares got (as indented JSON) with testdata/name, or
// rewrites it under -update.
func checkGolden(t *testing.T, name string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/store -run %s -update once, with the layout you mean to keep)", err, t.Name())
	}
	if string(want) != string(b) {
		gotPath := filepath.Join(t.TempDir(), name)
		_ = os.WriteFile(gotPath, b, 0o644)
		t.Fatalf("stored layout differs from %s; the items written are in %s (diff them). Stored names are a contract with deployed tables", path, gotPath)
	}
}

// TestStoredItemsGolden writes one fully populated instance of every
// entity (and a minimal one, which pins how empty values are stored)
// through the store's own write paths and compares the items, attribute
// names, types and values, with testdata/items.golden.json.
func TestStoredItemsGolden(t *testing.T) {
	db := &recordingDB{}
	st := New(db, "state", "audit")
	ctx := t.Context()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	audit := func(id string) *domain.AuditEvent {
		return &domain.AuditEvent{ID: id, Timestamp: at(0)} // the store fills both otherwise
	}

	// Profiles.
	must("full profile", st.CreateProfile(ctx, fullProfile(), nil, fullAudit()))
	must("minimal profile", st.CreateProfile(ctx, &domain.Profile{ID: "p-min"}, nil, audit("01JAUDITMIN")))

	// A certificate with a job in flight, its job in the start queue and
	// its pending request (token, subject, profile edit, pool).
	must("full certificate", st.CreateCertificate(ctx, workflow.NewJob{
		Cert: fullCertificate(), Job: fullJob(), Approval: fullApproval(), ProfileVersion: 3,
		StartInput: `{"job_id":"j-full"}`, Audits: []*domain.AuditEvent{audit("01JAUDIT2")},
	}))
	// An idle certificate (in the due index), a job not queued for a start,
	// a decided request, and the minimal forms of a subject, a pool and a
	// creating edit (whose diff holds typed nils).
	idle := fullCertificate()
	idle.ID, idle.CurrentJobID = "c-idle", ""
	job := fullJob()
	job.ID = "j-idle"
	decided := fullApproval()
	decided.ID, decided.State, decided.TaskToken = "a-decided", domain.ApprovalApproved, ""
	decided.Subject, decided.ApproverPool = &domain.Subject{}, &domain.ApproverPool{}
	decided.ProfileEdit = &domain.ProfileEdit{Create: true, Proposed: &domain.Profile{}, Diff: domain.ProfileDiff(nil, fullProfile())}
	must("idle certificate", st.CreateCertificate(ctx, workflow.NewJob{Cert: idle, Job: job, Approval: decided, Audits: []*domain.AuditEvent{audit("01JAUDIT3")}}))
	must("minimal certificate", st.CreateCertificate(ctx, workflow.NewJob{
		Cert: &domain.Certificate{ID: "c-min"}, Job: &domain.Job{ID: "j-min"}, Approval: &domain.Approval{ID: "a-min"},
		Audits: []*domain.AuditEvent{audit("01JAUDIT4")},
	}))

	// Issued versions, with and without a governance version.
	// The full one queues its delivery.
	must("full version", st.CompleteIssuance(ctx, workflow.Completion{Job: fullJob(), Version: fullVersion(), RenewAt: at(time.Hour), Audit: audit("01JAUDIT5"),
		Delivery: &workflow.Delivery{JobID: "j-full", CertificateID: "c-full", SerialNumber: "0a1b", CreatedAt: at(0),
			Targets: domain.DeliveryTargets{SSMParameter: "/certctl/test/c-full/chain", Secret: "certctl/test/web"}}}))
	must("minimal version", st.CompleteIssuance(ctx, workflow.Completion{Job: &domain.Job{ID: "j-min"}, Version: &domain.CertificateVersion{CertificateID: "c-min", JobID: "j-min"}, Audit: audit("01JAUDIT6")}))

	// A revocation: its CRL entry is the one item it puts.
	must("revocation", st.Revoke(ctx, workflow.Revocation{Cert: fullCertificate(), Status: domain.CertRevoked, SetCert: true, MaxEntries: 7500, At: at(time.Hour),
		Entries: []domain.RevocationEntry{{IssuerID: "default", SerialNumber: "0a1b", CertificateID: "c-full", JobID: "j-full", Reason: "keyCompromise",
			RevokedAt: at(time.Hour), RevokedBy: "bob", NotAfter: at(48 * time.Hour)}},
		Audit: audit("01JAUDITREV")}))

	// The CA certificate.
	_, _, err := st.PutIssuerIfAbsent(ctx, fullIssuer(), audit("01JAUDIT7"))
	must("issuer", err)

	// API keys (each with its by-id item) and principals.
	must("full key", st.PutAPIKey(ctx, fullAPIKey(), &apikey.PrincipalChange{Next: fullPrincipal()}, audit("01JAUDIT8")))
	must("minimal key", st.PutAPIKey(ctx, &apikey.Key{ID: "k-min"}, &apikey.PrincipalChange{Next: &domain.Principal{ID: "p-min"}}, audit("01JAUDIT9")))

	// A signed digest of the chain heads.
	must("digest", st.PutDigest(ctx, &domain.AuditDigest{Seq: 1, CreatedAt: at(2 * time.Hour), KeyID: "arn:aws:kms:us-east-1:111122223333:key/digest",
		DigestHash: "dh", Content: "certctl.audit.digest.v1\n…", Signature: "c2ln"}))

	if len(db.puts) == 0 {
		t.Fatal(errors.New("nothing recorded"))
	}
	checkGolden(t, "items.golden.json", db.puts)
}
