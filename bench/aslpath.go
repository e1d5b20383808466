package bench

import (
	"encoding/json"
	"fmt"
	"strings"
)

// aslMachine is the part of an Amazon States Language document the walker
// reads.
type aslMachine struct {
	StartAt string              `json:"StartAt"`
	States  map[string]aslState `json:"States"`
}

type aslState struct {
	Type    string       `json:"Type"`
	Next    string       `json:"Next"`
	End     bool         `json:"End"`
	Choices []choiceRule `json:"Choices"`
	Default string       `json:"Default"`
}

// choiceRule is a Choice state rule (top level, with Next) or a nested
// condition of And/Or/Not. Only the comparisons the walker implements are
// decoded; a rule using any other operator is reported, never guessed.
type choiceRule struct {
	Variable      string       `json:"Variable"`
	BooleanEquals *bool        `json:"BooleanEquals"`
	StringEquals  *string      `json:"StringEquals"`
	IsPresent     *bool        `json:"IsPresent"`
	And           []choiceRule `json:"And"`
	Or            []choiceRule `json:"Or"`
	Not           *choiceRule  `json:"Not"`
	Next          string       `json:"Next"`

	raw map[string]json.RawMessage
}

func (r *choiceRule) UnmarshalJSON(b []byte) error {
	type plain choiceRule
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if err := json.Unmarshal(b, &p.raw); err != nil {
		return err
	}
	*r = choiceRule(p)
	return nil
}

// supportedRuleFields are the Choice rule fields the walker understands.
var supportedRuleFields = map[string]bool{
	"Variable": true, "BooleanEquals": true, "StringEquals": true, "IsPresent": true,
	"And": true, "Or": true, "Not": true, "Next": true, "Comment": true,
}

// maxWalk bounds the walk, so a loop in the machine is an error, not a hang.
const maxWalk = 100

// StatePath walks the state machine in asl from StartAt and returns the
// names of the states an execution with the given input passes through,
// until a Task with End, a Succeed or a Fail state. Choice rules are
// evaluated on input (BooleanEquals, StringEquals, IsPresent, And, Or, Not
// on simple "$.a.b" paths); Task and Pass states follow Next. The input is
// not transformed by Parameters or ResultPath: pass a document that already
// holds what the choices read (e.g. the decision a task would have added).
// Error paths (Catch, Retry) are not followed.
func StatePath(asl []byte, input any) ([]string, error) {
	var m aslMachine
	if err := json.Unmarshal(asl, &m); err != nil {
		return nil, fmt.Errorf("asl: %w", err)
	}
	doc, err := normalize(input)
	if err != nil {
		return nil, err
	}
	var path []string
	name := m.StartAt
	for range maxWalk {
		st, ok := m.States[name]
		if !ok {
			return path, fmt.Errorf("asl: state %q does not exist", name)
		}
		path = append(path, name)
		switch st.Type {
		case "Choice":
			next, err := choose(st, doc)
			if err != nil {
				return path, fmt.Errorf("asl: state %s: %w", name, err)
			}
			name = next
		case "Task", "Pass", "Wait":
			if st.End {
				return path, nil
			}
			if st.Next == "" {
				return path, fmt.Errorf("asl: state %s has neither Next nor End", name)
			}
			name = st.Next
		case "Succeed", "Fail":
			return path, nil
		default:
			return path, fmt.Errorf("asl: state %s: type %q is not supported by the walker", name, st.Type)
		}
	}
	return path, fmt.Errorf("asl: no end after %d states: %s", maxWalk, strings.Join(path, " → "))
}

// normalize turns input into the generic JSON shape the rules read.
func normalize(input any) (any, error) {
	b, err := json.Marshal(input)
	if err != nil {
		return nil, fmt.Errorf("asl: input: %w", err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("asl: input: %w", err)
	}
	return doc, nil
}

func choose(st aslState, doc any) (string, error) {
	for _, rule := range st.Choices {
		ok, err := rule.eval(doc)
		if err != nil {
			return "", err
		}
		if ok {
			return rule.Next, nil
		}
	}
	if st.Default == "" {
		return "", fmt.Errorf("no choice matched and there is no Default")
	}
	return st.Default, nil
}

func (r choiceRule) eval(doc any) (bool, error) {
	for field := range r.raw {
		if !supportedRuleFields[field] {
			return false, fmt.Errorf("choice operator %s is not supported by the walker", field)
		}
	}
	switch {
	case r.And != nil:
		for _, sub := range r.And {
			ok, err := sub.eval(doc)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case r.Or != nil:
		for _, sub := range r.Or {
			ok, err := sub.eval(doc)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case r.Not != nil:
		ok, err := r.Not.eval(doc)
		return !ok, err
	}
	if r.Variable == "" {
		return false, fmt.Errorf("choice rule without Variable, And, Or or Not")
	}
	v, present, err := lookup(doc, r.Variable)
	if err != nil {
		return false, err
	}
	switch {
	case r.IsPresent != nil:
		return present == *r.IsPresent, nil
	case r.BooleanEquals != nil:
		b, ok := v.(bool)
		return present && ok && b == *r.BooleanEquals, nil
	case r.StringEquals != nil:
		s, ok := v.(string)
		return present && ok && s == *r.StringEquals, nil
	}
	return false, fmt.Errorf("choice rule on %s has no comparison the walker supports", r.Variable)
}

// lookup reads a simple reference path ("$", "$.a", "$.a.b") from doc.
func lookup(doc any, path string) (v any, present bool, err error) {
	if path == "$" {
		return doc, true, nil
	}
	rest, ok := strings.CutPrefix(path, "$.")
	if !ok || rest == "" || strings.ContainsAny(rest, "[]*@?()'\"") {
		return nil, false, fmt.Errorf("path %q is not a simple $.field path", path)
	}
	v = doc
	for _, field := range strings.Split(rest, ".") {
		obj, isObj := v.(map[string]any)
		if !isObj {
			return nil, false, nil
		}
		if v, ok = obj[field]; !ok {
			return nil, false, nil
		}
	}
	return v, true, nil
}
