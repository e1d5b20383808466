package eventcheck

import (
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
