package cli

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// A small JSONPath for -o jsonpath=, the subset kubectl users reach for:
// a template of literal text and {…} expressions, each a path from the
// root such as {.data[0].id}, {.data[*].id}, {.status} or {.data[-1]}.
// A path ending on several values prints them separated by spaces;
// objects and arrays print as JSON.

type jsonPath []jsonPathPart // literal text and expressions, in order

type jsonPathPart struct {
	literal string
	steps   []jsonStep // nil for literal text
}

// jsonStep is one field name, one index, or every element (all).
type jsonStep struct {
	field string
	index int
	all   bool
	isIdx bool
}

func parseJSONPath(tmpl string) (jsonPath, error) {
	if tmpl == "" {
		return nil, fmt.Errorf("empty template; e.g. jsonpath={.data[*].id}")
	}
	var out jsonPath
	for tmpl != "" {
		open := strings.IndexByte(tmpl, '{')
		if open < 0 {
			out = append(out, jsonPathPart{literal: unescapeLiteral(tmpl)})
			break
		}
		if open > 0 {
			out = append(out, jsonPathPart{literal: unescapeLiteral(tmpl[:open])})
		}
		end := strings.IndexByte(tmpl[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unclosed { in the template")
		}
		steps, err := parseSteps(strings.TrimSpace(tmpl[open+1 : open+end]))
		if err != nil {
			return nil, err
		}
		out = append(out, jsonPathPart{steps: steps})
		tmpl = tmpl[open+end+1:]
	}
	return out, nil
}

func unescapeLiteral(s string) string {
	return strings.NewReplacer(`\n`, "\n", `\t`, "\t").Replace(s)
}

// parseSteps reads ".a.b[0][*].c" (a leading $ is allowed).
func parseSteps(expr string) ([]jsonStep, error) {
	expr = strings.TrimPrefix(expr, "$")
	steps := []jsonStep{}
	for expr != "" {
		switch expr[0] {
		case '.':
			expr = expr[1:]
			n := strings.IndexAny(expr, ".[")
			if n < 0 {
				n = len(expr)
			}
			if name := expr[:n]; name != "" {
				steps = append(steps, jsonStep{field: name})
			}
			expr = expr[n:]
		case '[':
			end := strings.IndexByte(expr, ']')
			if end < 0 {
				return nil, fmt.Errorf("unclosed [ in %q", expr)
			}
			sel := strings.Trim(expr[1:end], " '\"")
			expr = expr[end+1:]
			switch i, err := strconv.Atoi(sel); {
			case sel == "*":
				steps = append(steps, jsonStep{all: true})
			case err == nil:
				steps = append(steps, jsonStep{index: i, isIdx: true})
			default:
				steps = append(steps, jsonStep{field: sel}) // ['name']
			}
		default:
			return nil, fmt.Errorf("unexpected %q: a path starts with . as in {.data[0].id}", expr)
		}
	}
	return steps, nil
}

// eval renders the template against a generic JSON value.
func (p jsonPath) eval(root any) (string, error) {
	var b strings.Builder
	for _, part := range p {
		if part.steps == nil {
			b.WriteString(part.literal)
			continue
		}
		vals := []any{root}
		for _, st := range part.steps {
			var next []any
			for _, v := range vals {
				next = append(next, st.apply(v)...)
			}
			vals = next
		}
		strs := make([]string, 0, len(vals))
		for _, v := range vals {
			strs = append(strs, jsonPathText(v))
		}
		b.WriteString(strings.Join(strs, " "))
	}
	return b.String(), nil
}

func (st jsonStep) apply(v any) []any {
	switch {
	case st.all:
		switch x := v.(type) {
		case []any:
			return x
		case map[string]any:
			out := make([]any, 0, len(x))
			for _, k := range sortedKeys(x) {
				out = append(out, x[k])
			}
			return out
		}
	case st.isIdx:
		if a, ok := v.([]any); ok {
			i := st.index
			if i < 0 {
				i += len(a)
			}
			if i >= 0 && i < len(a) {
				return []any{a[i]}
			}
		}
	default:
		if m, ok := v.(map[string]any); ok {
			if x, ok := m[st.field]; ok {
				return []any{x}
			}
		}
	}
	return nil
}

func jsonPathText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	return keys
}
