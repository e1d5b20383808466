package emf

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

func TestDecisionWritesOneEMFRecord(t *testing.T) {
	var buf bytes.Buffer
	e := New(&buf, "prod")
	e.now = func() time.Time { return time.UnixMilli(1700000000000) }
	e.Decision(domain.KindCertIssuance, "bypassed", "p-cdn", 90*time.Second)

	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("not one JSON line: %q: %v", buf.String(), err)
	}
	aws := rec["_aws"].(map[string]any)
	if aws["Timestamp"].(float64) != 1700000000000 {
		t.Fatalf("timestamp: %v", aws["Timestamp"])
	}
	d := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if d["Namespace"] != Namespace {
		t.Fatalf("namespace: %v", d["Namespace"])
	}
	// Every dimension and metric named in the directive must be a top-level member.
	for _, set := range d["Dimensions"].([]any) {
		for _, dim := range set.([]any) {
			if _, ok := rec[dim.(string)]; !ok {
				t.Fatalf("dimension %v missing from the record", dim)
			}
		}
	}
	for _, m := range d["Metrics"].([]any) {
		if _, ok := rec[m.(map[string]any)["Name"].(string)]; !ok {
			t.Fatalf("metric %v missing from the record", m)
		}
	}
	if rec["stage"] != "prod" || rec["outcome"] != "bypassed" || rec[DecisionsTotal].(float64) != 1 || rec[PendingAge].(float64) != 90 {
		t.Fatalf("values: %v", rec)
	}
}

// Clock skew between the writer of created_at and the decider must not
// produce a negative age.
func TestNegativeAgeIsClamped(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, "dev").Decision(domain.KindCertIssuance, "approved", "p", -5*time.Second)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec[PendingAge].(float64) != 0 {
		t.Fatalf("negative age: %v %v", rec[PendingAge], err)
	}
}

// Profile-edit decisions are their own series: they never count as
// certificate decisions, on /metrics or in CloudWatch.
func TestProfileEditDecisionsAreTheirOwnSeries(t *testing.T) {
	for kind, name := range map[domain.ApprovalKind]string{domain.KindProfileEdit: ProfileEditDecisionsTotal, domain.KindCertificateMove: MoveDecisionsTotal} {
		var buf bytes.Buffer
		New(&buf, "dev").Decision(kind, "approved", "p", time.Minute)
		var rec map[string]any
		if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		if _, ok := rec[DecisionsTotal]; ok {
			t.Fatalf("a %s decision counted as a certificate decision: %v", kind, rec)
		}
		d := rec["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
		ms := d["Metrics"].([]any)
		if len(ms) != 1 || ms[0].(map[string]any)["Name"] != name || rec[name].(float64) != 1 {
			t.Fatalf("%s metrics: %v, record %v", kind, ms, rec)
		}
	}
}

// A digest is one count under the stage, what the alarm on digests that
// stopped reads.
func TestDigestWritesOneEMFRecord(t *testing.T) {
	var buf bytes.Buffer
	e := New(&buf, "prod")
	e.Digest()
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("not one JSON line: %q: %v", buf.String(), err)
	}
	d := rec["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if rec["stage"] != "prod" || rec[DigestsWritten].(float64) != 1 || len(d["Metrics"].([]any)) != 1 ||
		d["Metrics"].([]any)[0].(map[string]any)["Name"] != DigestsWritten {
		t.Fatalf("record: %s", buf.String())
	}
}
