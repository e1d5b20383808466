// Package iampolicy evaluates identity-policy statements for one request the
// way IAM does: an explicit Deny wins; otherwise some Allow must match both
// the action and the resource. Nothing local evaluates IAM policies, so the
// IAM conformance test (infra/conformance_test.go) uses this to check every
// AWS call recorded during the e2e runs against the synthesized roles.
//
// Conditions are not evaluated. A statement with a Condition is treated
// conservatively: a conditional Allow grants nothing and a conditional Deny
// denies, so the check can fail wrongly but never pass wrongly.
package iampolicy

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Statement is one policy statement whose values are plain strings (any
// CloudFormation intrinsics already resolved).
type Statement struct {
	Sid         string
	Effect      string // "Allow" or "Deny"
	Action      []string
	NotAction   []string
	Resource    []string
	NotResource []string
	Conditional bool // has a Condition, which is not evaluated
}

// Decision is the outcome of an evaluation.
type Decision int

const (
	ImplicitDeny Decision = iota // no Allow matched
	Allowed
	ExplicitDeny
)

func (d Decision) String() string {
	return [...]string{"implicitly denied", "allowed", "explicitly denied"}[d]
}

// Result is a decision and the statements that made it.
type Result struct {
	Decision Decision
	// By are the indexes of the matching Allow statements (Allowed) or of
	// the first matching Deny (ExplicitDeny).
	By []int
	// Note explains a denial that only conditional statements decided.
	Note string
}

// Evaluate decides whether stmts allow action on resource.
func Evaluate(stmts []Statement, action, resource string) Result {
	var allow []int
	conditionalAllow := false
	for i, st := range stmts {
		if !st.Matches(action, resource) {
			continue
		}
		switch {
		case strings.EqualFold(st.Effect, "Deny"):
			r := Result{Decision: ExplicitDeny, By: []int{i}}
			if st.Conditional {
				r.Note = "a Deny with a Condition matches (conditions are not evaluated)"
			}
			return r
		case strings.EqualFold(st.Effect, "Allow") && st.Conditional:
			conditionalAllow = true
		case strings.EqualFold(st.Effect, "Allow"):
			allow = append(allow, i)
		}
	}
	if len(allow) > 0 {
		return Result{Decision: Allowed, By: allow}
	}
	if conditionalAllow {
		return Result{Decision: ImplicitDeny, Note: "only an Allow with a Condition matches (conditions are not evaluated)"}
	}
	return Result{Decision: ImplicitDeny}
}

// Matches reports whether the statement applies to action on resource,
// whatever its effect.
func (st Statement) Matches(action, resource string) bool {
	return st.matchesAction(action) && st.matchesResource(resource)
}

func (st Statement) matchesAction(action string) bool {
	if st.NotAction != nil {
		return !anyMatch(st.NotAction, action, MatchAction)
	}
	return anyMatch(st.Action, action, MatchAction)
}

func (st Statement) matchesResource(resource string) bool {
	if st.NotResource != nil {
		return !anyMatch(st.NotResource, resource, MatchResource)
	}
	return anyMatch(st.Resource, resource, MatchResource)
}

func anyMatch(patterns []string, s string, match func(pattern, s string) bool) bool {
	for _, p := range patterns {
		if match(p, s) {
			return true
		}
	}
	return false
}

// MatchAction matches an action pattern ("dynamodb:Get*") against an
// action. Action names, service prefix included, are case-insensitive.
func MatchAction(pattern, action string) bool {
	return wildcard(strings.ToLower(pattern), strings.ToLower(action))
}

// MatchResource matches a resource pattern against an ARN: '*' matches any
// run of characters (':' and '/' included), '?' any one; case matters.
func MatchResource(pattern, resource string) bool {
	return wildcard(pattern, resource)
}

func wildcard(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// Grant is one (action pattern, resource pattern) pair of an Allow statement.
type Grant struct {
	Statement int // index in the statement list
	Action    string
	Resource  string
}

// Grants lists the (action, resource) pairs the Allow statements grant.
// NotAction and NotResource grants are listed with a "not " prefix.
func Grants(stmts []Statement) []Grant {
	var out []Grant
	for i, st := range stmts {
		if !strings.EqualFold(st.Effect, "Allow") {
			continue
		}
		actions, resources := st.Action, st.Resource
		if st.NotAction != nil {
			actions = prefixed("not ", st.NotAction)
		}
		if st.NotResource != nil {
			resources = prefixed("not ", st.NotResource)
		}
		for _, a := range actions {
			for _, r := range resources {
				out = append(out, Grant{Statement: i, Action: a, Resource: r})
			}
		}
	}
	return out
}

func prefixed(p string, l []string) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = p + s
	}
	return out
}

// Covers reports whether the grant is what lets action on resource through.
func (g Grant) Covers(action, resource string) bool {
	a, notA := strings.CutPrefix(g.Action, "not ")
	r, notR := strings.CutPrefix(g.Resource, "not ")
	return MatchAction(a, action) != notA && MatchResource(r, resource) != notR
}

// Parse reads a statement from its JSON form (as in a template), turning
// every Action, Resource, ... element into a string with value, which
// resolves intrinsics. IAM's "string or list of strings" is accepted.
func Parse(raw map[string]any, value func(any) (string, error)) (Statement, error) {
	st := Statement{}
	st.Sid, _ = raw["Sid"].(string)
	st.Effect, _ = raw["Effect"].(string)
	if st.Effect != "Allow" && st.Effect != "Deny" {
		return st, fmt.Errorf("statement %q: effect %q", st.Sid, st.Effect)
	}
	if _, ok := raw["Principal"]; ok {
		return st, fmt.Errorf("statement %q: a Principal has no place in an identity policy", st.Sid)
	}
	for key, dst := range map[string]*[]string{
		"Action": &st.Action, "NotAction": &st.NotAction, "Resource": &st.Resource, "NotResource": &st.NotResource,
	} {
		v, ok := raw[key]
		if !ok {
			continue
		}
		items, ok := v.([]any)
		if !ok {
			items = []any{v}
		}
		out := make([]string, 0, len(items))
		for _, it := range items {
			s, err := value(it)
			if err != nil {
				return st, fmt.Errorf("statement %q: %s: %w", st.Sid, key, err)
			}
			out = append(out, s)
		}
		*dst = out
	}
	if (st.Action == nil) == (st.NotAction == nil) || (st.Resource == nil) == (st.NotResource == nil) {
		return st, fmt.Errorf("statement %q: needs exactly one of Action/NotAction and of Resource/NotResource", st.Sid)
	}
	_, st.Conditional = raw["Condition"]
	return st, nil
}

// String renders the statement compactly, for messages.
func (st Statement) String() string {
	b, _ := json.Marshal(st)
	return string(b)
}
