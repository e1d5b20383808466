package devstack

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// authorizerResponse is a REQUEST authorizer's answer. It is decoded more
// leniently than events.APIGatewayCustomAuthorizerResponse because API
// Gateway accepts Action and Resource as a string or a list, and the real
// authorizer may return either.
type authorizerResponse struct {
	PrincipalID    string         `json:"principalId"`
	PolicyDocument policyDocument `json:"policyDocument"`
	Context        map[string]any `json:"context"`
}

type policyDocument struct {
	Version   string            `json:"Version"`
	Statement []policyStatement `json:"Statement"`
}

type policyStatement struct {
	Effect   string     `json:"Effect"`
	Action   stringList `json:"Action"`
	Resource stringList `json:"Resource"`
}

// stringList is an IAM "string or array of strings" value.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = stringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a string or a list of strings: %w", err)
	}
	*l = many
	return nil
}

// allows evaluates the policy for execute-api:Invoke on methodARN the way
// IAM does: an explicit Deny wins, otherwise some Allow must match.
func (p policyDocument) allows(methodARN string) bool {
	allowed := false
	for _, st := range p.Statement {
		if !st.matches(methodARN) {
			continue
		}
		switch {
		case strings.EqualFold(st.Effect, "Deny"):
			return false
		case strings.EqualFold(st.Effect, "Allow"):
			allowed = true
		}
	}
	return allowed
}

func (st policyStatement) matches(methodARN string) bool {
	actionOK := false
	for _, a := range st.Action {
		// Action names are case-insensitive in IAM; ARNs are not.
		if wildcardMatch(strings.ToLower(a), "execute-api:invoke") {
			actionOK = true
			break
		}
	}
	if !actionOK {
		return false
	}
	for _, r := range st.Resource {
		if wildcardMatch(r, methodARN) {
			return true
		}
	}
	return false
}

// wildcardMatch reports whether s matches pattern, where '*' matches any run
// of characters (including '/' and ':') and '?' any one character.
func wildcardMatch(pattern, s string) bool {
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

// errBadContext is API Gateway's AuthorizerConfigurationException for a
// context value that is an object, an array or null.
var errBadContext = errors.New("authorizer context values must be strings, numbers or booleans")

// requestAuthorizer builds requestContext.authorizer for the proxy event:
// the authorizer's context with every value as a string (REST APIs
// stringify numbers and booleans), plus principalId and integrationLatency.
func (a authorizerResponse) requestAuthorizer(latencyMS int64) (map[string]any, error) {
	out := make(map[string]any, len(a.Context)+2)
	for k, v := range a.Context {
		switch v := v.(type) {
		case string:
			out[k] = v
		case bool, float64:
			b, _ := json.Marshal(v)
			out[k] = string(b)
		default:
			return nil, fmt.Errorf("%w: %q is %T", errBadContext, k, v)
		}
	}
	out["principalId"] = a.PrincipalID
	out["integrationLatency"] = latencyMS
	return out, nil
}
