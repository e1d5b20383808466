package store

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// roundTrip marshals an item type as the store writes it, decodes the
// result into a new value of the same type and requires the two equal.
func roundTrip[T any](t *testing.T, rec *T) (map[string]types.AttributeValue, *T) {
	t.Helper()
	item, back := reread(t, rec)
	if !reflect.DeepEqual(rec, back) {
		t.Errorf("%T changed in the table:\n got %+v\nwant %+v", rec, &back, rec)
	}
	return item, back
}

// reread is roundTrip without the comparison, for a record holding
// free-form values.
func reread[T any](t *testing.T, rec *T) (map[string]types.AttributeValue, *T) {
	t.Helper()
	item, err := marshalItem(rec)
	if err != nil {
		t.Fatal(err)
	}
	var back T
	if err := unmarshalItem(item, &back); err != nil {
		t.Fatal(err)
	}
	return item, &back
}

// sameDomain compares a domain value read back with the one written.
func sameDomain(t *testing.T, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("%T changed in a round trip through its item:\n got %s\nwant %s", want, g, w)
	}
}

// Every domain type the store keeps comes back from its item exactly as
// written. The fixtures set every field (TestFixturesAreFullyPopulated),
// so a field a conversion forgets fails here.
func TestRoundTrips(t *testing.T) {
	t.Run("Profile", func(t *testing.T) {
		_, back := roundTrip(t, profileItemOf(fullProfile()))
		sameDomain(t, back.toDomain(), fullProfile())
	})
	t.Run("Certificate", func(t *testing.T) {
		_, back := roundTrip(t, certItemOf(fullCertificate()))
		sameDomain(t, back.toDomain(), fullCertificate())
	})
	t.Run("Job", func(t *testing.T) {
		_, back := roundTrip(t, jobItemOf(fullJob(), `{"job_id":"j-full"}`))
		sameDomain(t, back.toDomain(), fullJob())
		if ps := back.pendingStart(); ps.JobID != "j-full" || ps.Input != `{"job_id":"j-full"}` {
			t.Errorf("pending start: %+v", ps)
		}
	})
	t.Run("Approval", func(t *testing.T) {
		rec, err := approvalItemOf(fullApproval())
		if err != nil {
			t.Fatal(err)
		}
		_, back := reread(t, rec)
		want := fullApproval()
		// A diff's values are free-form: they come back as DynamoDB values
		// decode (float64, []any, map[string]any), which is what their JSON
		// decodes to as well.
		b, _ := json.Marshal(want.ProfileEdit.Diff)
		want.ProfileEdit.Diff = nil
		if err := json.Unmarshal(b, &want.ProfileEdit.Diff); err != nil {
			t.Fatal(err)
		}
		// The factor a vote counts toward follows from the votes and the
		// policy; it is never stored.
		for i := range want.Votes {
			want.Votes[i].Factor = ""
		}
		sameDomain(t, back.toDomain(), want)
	})
	t.Run("CertificateVersion", func(t *testing.T) {
		_, back := roundTrip(t, versionItemOf(fullVersion()))
		sameDomain(t, back.toDomain(), fullVersion())
	})
	t.Run("Issuer", func(t *testing.T) {
		_, back := roundTrip(t, issuerItemOf(fullIssuer()))
		sameDomain(t, back.toDomain(), fullIssuer())
	})
	t.Run("APIKey", func(t *testing.T) {
		_, back := roundTrip(t, apiKeyItemOf(fullAPIKey()))
		sameDomain(t, back.toDomain(), fullAPIKey())
		_, id := roundTrip(t, apiKeyIDItemOf(fullAPIKey()))
		if id.hash() != fullAPIKey().Hash || id.PK != "APIKEYID#k-full" {
			t.Errorf("key by id: %+v", id)
		}
	})
	t.Run("Principal", func(t *testing.T) {
		_, back := roundTrip(t, principalItemOf(fullPrincipal()))
		sameDomain(t, back.toDomain(), fullPrincipal())
	})
	t.Run("AuditEvent", func(t *testing.T) {
		row, err := auditItemOf(fullAudit())
		if err != nil {
			t.Fatal(err)
		}
		item, _ := roundTrip(t, row)
		got, err := auditFromItem(item)
		if err != nil {
			t.Fatal(err)
		}
		sameDomain(t, got, fullAudit())
	})
	// Nil and empty stay apart: one is stored as NULL (or left out), the
	// other as an empty list or map.
	t.Run("EmptyValues", func(t *testing.T) {
		c := fullCertificate()
		c.SANs = []string{}
		_, back := roundTrip(t, certItemOf(c))
		sameDomain(t, back.toDomain(), c)
		p := &domain.Principal{ID: "p"}
		_, pb := roundTrip(t, principalItemOf(p))
		sameDomain(t, pb.toDomain(), p)
		a := &domain.Approval{ID: "a", Subject: &domain.Subject{}, ApproverPool: &domain.ApproverPool{}}
		rec, err := approvalItemOf(a)
		if err != nil {
			t.Fatal(err)
		}
		_, ab := roundTrip(t, rec)
		sameDomain(t, ab.toDomain(), a)
	})
}

// The items only the store's update expressions write come back with
// every field.
func TestCounterItemsRoundTrip(t *testing.T) {
	roundTrip(t, &governanceItem{itemKey: governanceKey(), Version: 4})
	roundTrip(t, &markerItem{itemKey: markerKey("**.example.com"), Pattern: "**.example.com", Count: 2})
	roundTrip(t, &adminsItem{itemKey: adminsKey(), Count: 1})
	item, m := roundTrip(t, &metricItem{itemKey: itemKey{PK: "METRIC#approved#p", SK: "METRIC"}, listKey: listKey{ListPK: "METRIC", ListSK: "approved#p"},
		Outcome: "approved", ProfileID: "p", Count: 3, SumSeconds: 12.5})
	requireAllSet(t, "metricItem", reflect.ValueOf(m))
	item[bucketAttr(1)] = n(3)
	if bucketCount(item, 1) != 3 || bucketCount(item, 0) != 0 {
		t.Errorf("buckets: %v", item)
	}
}

// Every value ProfileDiff produces has a stored form; anything else is
// refused rather than stored under field names nobody chose.
func TestDiffValuesAreStorable(t *testing.T) {
	for name, diff := range map[string]map[string]domain.Change{
		"create": domain.ProfileDiff(nil, fullProfile()),
		"delete": domain.ProfileDiff(fullProfile(), nil),
		"edit":   domain.ProfileDiff(fullProfile(), otherProfile()),
	} {
		if _, err := profileEditRecordOf(&domain.ProfileEdit{Diff: diff}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, err := profileEditRecordOf(&domain.ProfileEdit{Diff: map[string]domain.Change{"x": {New: struct{ A int }{1}}}})
	if err == nil || !strings.Contains(err.Error(), "no stored form") {
		t.Errorf("an unknown diff value: %v", err)
	}
}

// Audit rows store their time in UTC, whatever zone the event had.
func TestAuditTimesAreUTC(t *testing.T) {
	ev := fullAudit()
	ev.Timestamp = ev.Timestamp.In(time.FixedZone("X", 3600))
	row, err := auditItemOf(ev)
	if err != nil {
		t.Fatal(err)
	}
	if row.TS != "2026-03-01T12:30:46.123456789Z" || row.Day != "2026-03-01" {
		t.Errorf("ts %s day %s", row.TS, row.Day)
	}
}
