package eventcheck

import (
	"strings"
	"testing"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Every detail-type has a schema, and a schema refuses what it should.
func TestSchemas(t *testing.T) {
	v, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range domain.EventTypes {
		if _, ok := v.schemas[typ]; !ok {
			t.Errorf("detail-type %q has no schema", typ)
		}
	}
	good := `{"id":"01JQ2Z5N8E3KX0T4V6W8Y9ZABC","time":"2026-03-01T12:00:00Z","stage":"dev","action":"renewal_job_failed",
	  "actor":"system-workflow","notify":["ops"],"route":{"ops":true},"message":{"text":"failed"},
	  "certificate":{"id":"c","common_name":"a.example.com","names":["a.example.com"],"profile_id":"p","job_id":"job-1","error":"boom"}}`
	if err := v.Check(domain.EventRenewalFailed, []byte(good)); err != nil {
		t.Fatalf("a valid Renewal Failed: %v", err)
	}
	for name, bad := range map[string]string{
		"no error":       `{"id":"01JQ2Z5N8E3KX0T4V6W8Y9ZABC","time":"2026-03-01T12:00:00Z","stage":"dev","action":"renewal_job_failed","actor":"x","notify":[],"route":{},"message":{"text":"t"},"certificate":{"id":"c","common_name":"a","names":[],"profile_id":"p","job_id":"j"}}`,
		"unknown field":  `{"id":"01JQ2Z5N8E3KX0T4V6W8Y9ZABC","time":"2026-03-01T12:00:00Z","stage":"dev","action":"renewal_job_failed","actor":"x","notify":[],"route":{},"message":{"text":"t"},"certificate":{"id":"c","common_name":"a","names":[],"profile_id":"p","job_id":"j","error":"e"},"extra":1}`,
		"bad time":       `{"id":"01JQ2Z5N8E3KX0T4V6W8Y9ZABC","time":"yesterday","stage":"dev","action":"renewal_job_failed","actor":"x","notify":[],"route":{},"message":{"text":"t"},"certificate":{"id":"c","common_name":"a","names":[],"profile_id":"p","job_id":"j","error":"e"}}`,
		"other action":   `{"id":"01JQ2Z5N8E3KX0T4V6W8Y9ZABC","time":"2026-03-01T12:00:00Z","stage":"dev","action":"approval_approved","actor":"x","notify":[],"route":{},"message":{"text":"t"},"certificate":{"id":"c","common_name":"a","names":[],"profile_id":"p","job_id":"j","error":"e"}}`,
		"empty message":  `{"id":"01JQ2Z5N8E3KX0T4V6W8Y9ZABC","time":"2026-03-01T12:00:00Z","stage":"dev","action":"renewal_job_failed","actor":"x","notify":[],"route":{},"message":{"text":""},"certificate":{"id":"c","common_name":"a","names":[],"profile_id":"p","job_id":"j","error":"e"}}`,
		"route not true": `{"id":"01JQ2Z5N8E3KX0T4V6W8Y9ZABC","time":"2026-03-01T12:00:00Z","stage":"dev","action":"renewal_job_failed","actor":"x","notify":["ops"],"route":{"ops":false},"message":{"text":"t"},"certificate":{"id":"c","common_name":"a","names":[],"profile_id":"p","job_id":"j","error":"e"}}`,
	} {
		if err := v.Check(domain.EventRenewalFailed, []byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestCheckWebhookBody(t *testing.T) {
	if txt, err := CheckWebhookBody([]byte(`{"text":"hello\nworld"}`)); err != nil || txt != "hello\nworld" {
		t.Fatalf("%q %v", txt, err)
	}
	for _, bad := range []string{`{"text":""}`, `{"text":"a","title":"b"}`, `"text"`, `{}`} {
		if _, err := CheckWebhookBody([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// Approval events carry the policy's size, the votes and, unless the
// request was approved, what is missing; a recorded vote is pending and
// has at least one vote of a quorum.
func TestApprovalSchemasKnowVotes(t *testing.T) {
	v, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	approval := func(state, extra string) string {
		return `{"id":"ar-1","kind":"profile_edit","state":"` + state + `","profile_id":"p","requested_by":"alice",
		  "profile_change":{"operation":"update","fields":["name"]},"created_at":"2026-03-01T12:00:00Z","expires_at":"2026-03-08T12:00:00Z",
		  "pending_seconds":60` + extra + `}`
	}
	event := func(action, approval string) []byte {
		return []byte(`{"id":"01JQ2Z5N8E3KX0T4V6W8Y9ZABC","time":"2026-03-01T12:01:00Z","stage":"dev","action":"` + action + `",
		  "actor":"bob","notify":["ops"],"route":{"ops":true},"message":{"text":"bob voted"},"approval":` + approval + `}`)
	}
	vote := `{"actor":"bob","actor_type":"User","at":"2026-03-01T12:01:00Z","note":"ok","eligible":["approvers"],"factor":"approvers"}`
	missing := `"missing":{"approvals":1,"factors":[{"name":"approvers","votes":1}]}`
	decide := `"decide":["certctl approvals approve ar-1"]`
	good := map[string][]byte{
		domain.EventApprovalVoteRecorded: event("approval_vote", approval("pending", `,"required_approvals":2,"votes":[`+vote+`],`+missing+`,`+decide)),
		domain.EventApprovalDecided: event("approval_approved", approval("approved", `,"decided_by":"carol","required_approvals":2,"votes":[`+vote+`,`+
			strings.ReplaceAll(vote, "bob", "carol")+`]`)),
		domain.EventApprovalExpired: event("approval_expired", approval("expired", `,"decided_by":"system-workflow","required_approvals":2,"votes":[`+vote+`],`+missing)),
	}
	for typ, detail := range good {
		if err := v.Check(typ, detail); err != nil {
			t.Errorf("a valid %s: %v", typ, err)
		}
	}
	for name, bad := range map[string]struct {
		typ    string
		detail []byte
	}{
		"a recorded vote without missing": {domain.EventApprovalVoteRecorded,
			event("approval_vote", approval("pending", `,"required_approvals":2,"votes":[`+vote+`],`+decide))},
		"a recorded vote of no quorum": {domain.EventApprovalVoteRecorded,
			event("approval_vote", approval("pending", `,"required_approvals":1,"votes":[`+vote+`],`+missing+`,`+decide))},
		"a recorded vote with no votes": {domain.EventApprovalVoteRecorded,
			event("approval_vote", approval("pending", `,"required_approvals":2,"votes":[],`+missing+`,`+decide))},
		"an approval that still misses something": {domain.EventApprovalDecided,
			event("approval_approved", approval("approved", `,"decided_by":"carol","required_approvals":2,"votes":[`+vote+`],`+missing))},
		"a rejection that does not say what was missing": {domain.EventApprovalDecided,
			event("approval_rejected", approval("rejected", `,"decided_by":"carol","required_approvals":2,"votes":[`+vote+`]`))},
		"no votes": {domain.EventApprovalExpired,
			event("approval_expired", approval("expired", `,"decided_by":"system-workflow","required_approvals":2,`+missing))},
		"a vote without its voter": {domain.EventApprovalExpired,
			event("approval_expired", approval("expired", `,"decided_by":"system-workflow","required_approvals":2,"votes":[{"actor_type":"User","at":"2026-03-01T12:01:00Z","eligible":[]}],`+missing))},
	} {
		if err := v.Check(bad.typ, bad.detail); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
