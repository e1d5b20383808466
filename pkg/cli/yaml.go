package cli

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
)

// toYAML renders a generic JSON value (as toTree makes it) as YAML. Every
// JSON document has a YAML form in which strings that could read as
// something else are double-quoted; JSON's string escapes are valid in
// YAML's double-quoted scalars, so those are written as JSON strings.
func toYAML(v any) string {
	var b strings.Builder
	writeYAML(&b, v, 0, false)
	return b.String()
}

func writeYAML(b *strings.Builder, v any, indent int, inList bool) {
	pad := strings.Repeat("  ", indent)
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			b.WriteString("{}\n")
			return
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 || !inList {
				b.WriteString(pad)
			}
			b.WriteString(yamlScalar(k))
			b.WriteString(":")
			writeChild(b, x[k], indent)
		}
	case []any:
		if len(x) == 0 {
			b.WriteString("[]\n")
			return
		}
		for i, item := range x {
			if i > 0 || !inList {
				b.WriteString(pad)
			}
			b.WriteString("- ")
			switch item.(type) {
			case map[string]any, []any:
				writeYAML(b, item, indent+1, true)
			default:
				b.WriteString(yamlValue(item))
				b.WriteString("\n")
			}
		}
	default:
		b.WriteString(pad + yamlValue(x) + "\n")
	}
}

// writeChild writes the value after "key:".
func writeChild(b *strings.Builder, v any, indent int) {
	switch v.(type) {
	case map[string]any, []any:
		if isEmpty(v) {
			b.WriteString(" ")
			writeYAML(b, v, 0, true)
			return
		}
		b.WriteString("\n")
		writeYAML(b, v, indent+1, false)
	default:
		b.WriteString(" " + yamlValue(v) + "\n")
	}
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

func yamlValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		if x {
			return "true"
		}
		return "false"
	case json.Number:
		return x.String()
	case string:
		return yamlScalar(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// plainSafe is a string YAML reads back as the same string when unquoted:
// no indicator first, no ": " or " #", not a number, bool, null or date.
var plainSafe = regexp.MustCompile(`^[A-Za-z_/.][A-Za-z0-9_./@+=-]*( [A-Za-z0-9_./@+=()-]+)*$`)

var yamlReserved = map[string]bool{"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true,
	"null": true, "y": true, "n": true, "~": true}

func yamlScalar(s string) string {
	if plainSafe.MatchString(s) && !yamlReserved[strings.ToLower(s)] && !strings.HasPrefix(s, ".") {
		return s
	}
	b, _ := json.Marshal(s)
	return string(b)
}
