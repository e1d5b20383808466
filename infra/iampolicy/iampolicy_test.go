package iampolicy

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const (
	table = "arn:aws:dynamodb:us-east-1:111122223333:table/state"
	audit = "arn:aws:dynamodb:us-east-1:111122223333:table/audit"
	sm    = "arn:aws:states:us-east-1:111122223333:stateMachine:certctl-test-renewal"
	key   = "arn:aws:kms:us-east-1:111122223333:key/CaKey"
)

// A tiny hand-built policy: what the conformance test relies on, checked
// against IAM's documented rules.
var policy = []Statement{
	{Sid: "Items", Effect: "Allow", Action: []string{"dynamodb:GetItem", "dynamodb:Put*"}, Resource: []string{table}},
	{Sid: "QueryIndexes", Effect: "Allow", Action: []string{"dynamodb:Query"}, Resource: []string{table + "/index/*"}},
	{Sid: "AuditAnything", Effect: "Allow", Action: []string{"dynamodb:*"}, Resource: []string{audit}},
	{Sid: "AuditAppendOnly", Effect: "Deny", Action: []string{"dynamodb:UpdateItem", "dynamodb:DeleteItem"}, Resource: []string{audit}},
	{Sid: "AnyRenewal", Effect: "Allow", Action: []string{"STATES:SendTask?uccess"}, Resource: []string{"arn:aws:states:*:*:stateMachine:certctl-*-renewal"}},
	{Sid: "SignIfTagged", Effect: "Allow", Action: []string{"kms:Sign"}, Resource: []string{key}, Conditional: true},
	{Sid: "NoKeyButSign", Effect: "Allow", NotAction: []string{"kms:Sign"}, Resource: []string{key}},
}

func TestEvaluate(t *testing.T) {
	for _, c := range []struct {
		action, resource string
		want             Decision
		by               string // Sid of the deciding statement, "" for none
	}{
		{"dynamodb:GetItem", table, Allowed, "Items"},
		{"dynamodb:PutItem", table, Allowed, "Items"},                 // prefix wildcard
		{"DynamoDB:getitem", table, Allowed, "Items"},                 // actions are case-insensitive
		{"dynamodb:UpdateItem", table, ImplicitDeny, ""},              // no statement names it
		{"dynamodb:GetItem", table + "/index/list", ImplicitDeny, ""}, // an index is its own resource
		{"dynamodb:Query", table + "/index/pending", Allowed, "QueryIndexes"},
		{"dynamodb:Query", table, ImplicitDeny, ""},                               // index wildcard does not cover the table
		{"dynamodb:Query", strings.ToUpper(table) + "/index/x", ImplicitDeny, ""}, // ARNs are case-sensitive
		{"dynamodb:PutItem", audit, Allowed, "AuditAnything"},
		{"dynamodb:DeleteItem", audit, ExplicitDeny, "AuditAppendOnly"}, // Deny wins over dynamodb:*
		{"dynamodb:UpdateItem", audit, ExplicitDeny, "AuditAppendOnly"},
		{"states:SendTaskSuccess", sm, Allowed, "AnyRenewal"}, // '?' and '*' across ':' in the ARN
		{"states:SendTaskFailure", sm, ImplicitDeny, ""},
		{"states:SendTaskSuccess", strings.Replace(sm, "certctl-test", "other", 1), ImplicitDeny, ""},
		{"kms:Sign", key, ImplicitDeny, ""},                // only a conditional Allow
		{"kms:GetPublicKey", key, Allowed, "NoKeyButSign"}, // NotAction
	} {
		got := Evaluate(policy, c.action, c.resource)
		if got.Decision != c.want {
			t.Errorf("%s on %s: %s, want %s (%s)", c.action, c.resource, got.Decision, c.want, got.Note)
			continue
		}
		sid := ""
		if len(got.By) > 0 {
			sid = policy[got.By[0]].Sid
		}
		if sid != c.by {
			t.Errorf("%s on %s: decided by %q, want %q", c.action, c.resource, sid, c.by)
		}
	}
	if r := Evaluate(policy, "kms:Sign", key); !strings.Contains(r.Note, "Condition") {
		t.Errorf("a conditional-only refusal should say so: %+v", r)
	}
	deny := append([]Statement{{Effect: "Deny", Action: []string{"*"}, Resource: []string{"*"}, Conditional: true}}, policy...)
	if r := Evaluate(deny, "dynamodb:GetItem", table); r.Decision != ExplicitDeny || r.Note == "" {
		t.Errorf("a conditional Deny must deny (conservatively): %+v", r)
	}
}

func TestGrantsAndCovers(t *testing.T) {
	grants := Grants(policy)
	var items []Grant
	for _, g := range grants {
		if policy[g.Statement].Sid == "Items" {
			items = append(items, g)
		}
		if policy[g.Statement].Effect == "Deny" {
			t.Errorf("a Deny is not a grant: %+v", g)
		}
	}
	if len(items) != 2 || !items[1].Covers("dynamodb:PutItem", table) || items[0].Covers("dynamodb:PutItem", table) {
		t.Errorf("Items grants: %+v", items)
	}
	not := Grant{Action: "not kms:Sign", Resource: key}
	if !not.Covers("kms:Verify", key) || not.Covers("kms:Sign", key) {
		t.Errorf("a NotAction grant covers every other action: %+v", not)
	}
}

func TestParse(t *testing.T) {
	var raw map[string]any
	_ = json.Unmarshal([]byte(`{"Sid":"S","Effect":"Allow","Action":"dynamodb:Query",
		"Resource":[{"Ref":"T"},"x"],"Condition":{"Bool":{"aws:SecureTransport":"true"}}}`), &raw)
	st, err := Parse(raw, func(v any) (string, error) {
		if s, ok := v.(string); ok {
			return s, nil
		}
		return "resolved", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Sid != "S" || len(st.Action) != 1 || strings.Join(st.Resource, ",") != "resolved,x" || !st.Conditional {
		t.Errorf("parsed %s", st)
	}
	_ = json.Unmarshal([]byte(`{"Effect":"Allow","Action":"a:b","Resource":{"Fn::Nope":1}}`), &raw)
	if _, err := Parse(raw, func(any) (string, error) { return "", errors.New("cannot") }); err == nil {
		t.Error("an unresolvable value must be an error")
	}
	for _, bad := range []string{
		`{"Effect":"Permit","Action":"a:b","Resource":"*"}`,
		`{"Effect":"Allow","Resource":"*"}`,
		`{"Effect":"Allow","Action":"a:b","NotAction":"c:d","Resource":"*"}`,
		`{"Effect":"Allow","Action":"a:b","Resource":"*","Principal":"*"}`,
	} {
		raw = nil
		_ = json.Unmarshal([]byte(bad), &raw)
		if _, err := Parse(raw, func(v any) (string, error) { return v.(string), nil }); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}
