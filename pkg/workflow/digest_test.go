package workflow_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/auditchain"
)

// localSigner is the digest key, in memory.
type localSigner struct {
	key   *ecdsa.PrivateKey
	calls int
}

func newLocalSigner(t *testing.T) *localSigner {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &localSigner{key: k}
}

func (s *localSigner) KeyID() string { return "arn:aws:kms:us-east-1:111122223333:key/digest" }

func (s *localSigner) SignDigest(_ context.Context, sum []byte) ([]byte, error) {
	s.calls++
	return ecdsa.SignASN1(rand.Reader, s.key, sum)
}

func TestDigestsSignTheHeadsAndChain(t *testing.T) {
	e := newEnv(t)
	signer := newLocalSigner(t)
	e.gatedProfile("pg", "a.example.com")
	d1, err := e.svc.WriteDigest(t.Context(), signer)
	if err != nil {
		t.Fatal(err)
	}
	first, err := auditchain.ParseDigest([]byte(d1.Content))
	if err != nil {
		t.Fatal(err)
	}
	rows := int64(0)
	for _, h := range first.Heads {
		rows += h.Seq
	}
	if d1.Seq != 1 || first.Prev != auditchain.ZeroHash || rows == 0 || first.PeriodStart != "" || !strings.HasPrefix(d1.Content, "certctl.audit.digest.v1\n") {
		t.Fatalf("first digest: %+v\n%s", d1, d1.Content)
	}
	if !auditchain.VerifySignature(&signer.key.PublicKey, []byte(d1.Content), d1.Signature) {
		t.Fatal("the signature does not verify")
	}

	e.clock.Advance(time.Hour)
	st := e.newCert(alice, "c1", "pg", "a.example.com")
	e.approve(bob, st.ApprovalID)
	d2, err := e.svc.WriteDigest(t.Context(), signer)
	if err != nil {
		t.Fatal(err)
	}
	second, _ := auditchain.ParseDigest([]byte(d2.Content))
	if d2.Seq != 2 || second.Prev != auditchain.Sum([]byte(d1.Content)) || second.PeriodStart != first.CreatedAt || d2.DigestHash != auditchain.Sum([]byte(d2.Content)) {
		t.Fatalf("second digest does not follow the first:\n%s", d2.Content)
	}
	more := int64(0)
	for i, h := range second.Heads {
		if h.Seq < first.Heads[i].Seq {
			t.Fatalf("shard %s went back", h.Shard)
		}
		more += h.Seq - first.Heads[i].Seq
	}
	if more < 4 { // certificate.created, renewal_triggered, approval_requested, approval_approved
		t.Fatalf("the second digest covers %d more rows", more)
	}

	// A head moved back behind the last digest is refused, not signed.
	var busy auditchain.Head
	for _, h := range second.Heads {
		if h.Seq > busy.Seq {
			busy = h
		}
	}
	if _, err := e.db.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(e.trail), Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: auditchain.HeadPK}, "sk": &types.AttributeValueMemberS{Value: auditchain.HeadSK(busy.Shard)},
		"shard": &types.AttributeValueMemberS{Value: busy.Shard}, "seq": &types.AttributeValueMemberS{Value: auditchain.FormatSeq(busy.Seq - 1)},
		"hash": &types.AttributeValueMemberS{Value: auditchain.ZeroHash},
	}}); err != nil {
		t.Fatal(err)
	}
	calls := signer.calls
	if _, err := e.svc.WriteDigest(t.Context(), signer); err == nil || !strings.Contains(err.Error(), "rolled back") || signer.calls != calls {
		t.Fatalf("a rolled-back head: %v (signed %d times)", err, signer.calls-calls)
	}
}
