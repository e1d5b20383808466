// Package eventcheck validates events against their documented JSON
// Schemas (events/schemas, draft 2020-12) and checks what the webhook
// targets receive. Test harness only: production code never validates its
// own events at run time.
package eventcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// SchemaFiles maps each detail-type to its schema file under events/schemas.
var SchemaFiles = map[string]string{
	domain.EventApprovalRequested:    "approval-requested.schema.json",
	domain.EventApprovalDecided:      "approval-decided.schema.json",
	domain.EventApprovalVoteRecorded: "approval-vote-recorded.schema.json",
	domain.EventApprovalExpired:      "approval-expired.schema.json",
	domain.EventApprovalReminder:     "approval-reminder.schema.json",
	domain.EventApprovalEscalated:    "approval-escalated.schema.json",
	domain.EventCertificateIssued:    "certificate-issued.schema.json",
	domain.EventRenewalFailed:        "renewal-failed.schema.json",
	domain.EventCertificateExpiring:  "certificate-expiring.schema.json",
}

// Validator holds the compiled schemas.
type Validator struct {
	schemas map[string]*jsonschema.Schema
}

// Load compiles every schema, formats asserted (date-time, uri).
func Load() (*Validator, error) {
	dir, err := schemaDir()
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	v := &Validator{schemas: map[string]*jsonschema.Schema{}}
	for typ, file := range SchemaFiles {
		sch, err := c.Compile(filepath.Join(dir, file))
		if err != nil {
			return nil, fmt.Errorf("eventcheck: %s: %w", file, err)
		}
		v.schemas[typ] = sch
	}
	return v, nil
}

// schemaDir finds events/schemas from the working directory up.
func schemaDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		p := filepath.Join(d, "events", "schemas")
		if _, err := os.Stat(filepath.Join(p, "common.schema.json")); err == nil {
			return p, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("eventcheck: no events/schemas above %s", dir)
		}
	}
}

// Check validates one event's detail against its detail-type's schema.
func (v *Validator) Check(detailType string, detail []byte) error {
	sch, ok := v.schemas[detailType]
	if !ok {
		return fmt.Errorf("detail-type %q has no schema", detailType)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(detail))
	if err != nil {
		return fmt.Errorf("%s: detail is not JSON: %w", detailType, err)
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("%s: %w", detailType, err)
	}
	return nil
}

// Event is what Audit reads of one delivered event.
type Event struct {
	DetailType string
	Source     string
	Detail     json.RawMessage
}

// Audit checks a run's delivered events: each has the stack's source, a
// schema-valid detail, and an id; an id delivered more than once (at least
// once delivery) carries the same detail-type and detail every time.
func (v *Validator) Audit(events []Event) []string {
	var problems []string
	seen := map[string]Event{}
	for _, e := range events {
		if e.Source != domain.EventSource {
			problems = append(problems, fmt.Sprintf("event with source %q", e.Source))
		}
		if err := v.Check(e.DetailType, e.Detail); err != nil {
			problems = append(problems, "schema: "+err.Error())
			continue
		}
		id := DetailID(e.Detail)
		if prev, ok := seen[id]; ok && (prev.DetailType != e.DetailType || !sameJSON(prev.Detail, e.Detail)) {
			problems = append(problems, fmt.Sprintf("event id %s delivered twice with different contents", id))
		}
		seen[id] = e
	}
	sort.Strings(problems)
	return problems
}

// DetailID is a detail's stable id.
func DetailID(detail []byte) string {
	var d struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(detail, &d)
	return d.ID
}

// MessageText is a detail's message text.
func MessageText(detail []byte) string {
	var d struct {
		Message struct {
			Text string `json:"text"`
		} `json:"message"`
	}
	_ = json.Unmarshal(detail, &d)
	return d.Message.Text
}

// CheckWebhookBody checks a webhook target's request body: exactly
// {"text": <the detail's message text>}, nothing else.
func CheckWebhookBody(body []byte) (text string, err error) {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return "", fmt.Errorf("webhook body is not a JSON object: %w", err)
	}
	t, ok := m["text"].(string)
	if !ok || len(m) != 1 || strings.TrimSpace(t) == "" {
		return "", errors.New(`webhook body is not {"text": "…"}: ` + string(body))
	}
	return t, nil
}

func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
