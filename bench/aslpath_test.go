package bench

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestStatePath checks the walker on the real state machine (fast: no stack).
func TestStatePath(t *testing.T) {
	asl, err := os.ReadFile(aslFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		input map[string]any
		want  []string
	}{
		{"approved", approvedInput, []string{"Gate", "AwaitApproval", "Decision", "Issue"}},
		{"bypassed", map[string]any{"requires_approval": true, "decision": map[string]any{"outcome": "bypassed"}}, []string{"Gate", "AwaitApproval", "Decision", "Issue"}},
		{"rejected", map[string]any{"requires_approval": true, "decision": map[string]any{"outcome": "rejected"}}, []string{"Gate", "AwaitApproval", "Decision", "Closed"}},
		{"ungated", map[string]any{"requires_approval": false}, []string{"Gate", "Issue"}},
		{"no decision", map[string]any{"requires_approval": true}, []string{"Gate", "AwaitApproval", "Decision", "Closed"}},
	} {
		got, err := StatePath(asl, tc.input)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: path %s, want %s", tc.name, strings.Join(got, " → "), strings.Join(tc.want, " → "))
		}
	}
}

func TestStatePathRefusesWhatItCannotEvaluate(t *testing.T) {
	for name, asl := range map[string]string{
		"operator":  `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericEquals":1,"Next":"E"}],"Default":"E"},"E":{"Type":"Succeed"}}}`,
		"nested":    `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"And":[{"Variable":"$.a","StringMatches":"x*"}],"Next":"E"}],"Default":"E"},"E":{"Type":"Succeed"}}}`,
		"path":      `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a[0]","StringEquals":"x","Next":"E"}],"Default":"E"},"E":{"Type":"Succeed"}}}`,
		"loop":      `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"A"}}}`,
		"missing":   `{"StartAt":"A","States":{"A":{"Type":"Task","Next":"B"}}}`,
		"parallel":  `{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true}}}`,
		"dead end":  `{"StartAt":"A","States":{"A":{"Type":"Task"}}}`,
		"no choice": `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","BooleanEquals":true,"Next":"E"}]},"E":{"Type":"Succeed"}}}`,
	} {
		if path, err := StatePath([]byte(asl), map[string]any{"a": false}); err == nil {
			t.Errorf("%s: no error, path %v", name, path)
		}
	}
}

func TestStatePathCombinators(t *testing.T) {
	asl := `{"StartAt":"C","States":{
	  "C":{"Type":"Choice","Choices":[
	    {"And":[{"Variable":"$.a.b","IsPresent":true},{"Not":{"Variable":"$.a.b","StringEquals":"no"}}],"Next":"Yes"},
	    {"Or":[{"Variable":"$.x","BooleanEquals":true},{"Variable":"$.y","StringEquals":"y"}],"Next":"Maybe"}],
	   "Default":"No"},
	  "Yes":{"Type":"Succeed"},"Maybe":{"Type":"Succeed"},"No":{"Type":"Fail"}}}`
	for _, tc := range []struct {
		in   map[string]any
		want string
	}{
		{map[string]any{"a": map[string]any{"b": "yes"}}, "Yes"},
		{map[string]any{"a": map[string]any{"b": "no"}, "y": "y"}, "Maybe"},
		{map[string]any{"x": true}, "Maybe"},
		{map[string]any{"x": "true"}, "No"},
		{map[string]any{}, "No"},
	} {
		got, err := StatePath([]byte(asl), tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got[len(got)-1] != tc.want {
			t.Errorf("%v: ended at %s, want %s", tc.in, got[len(got)-1], tc.want)
		}
	}
}
