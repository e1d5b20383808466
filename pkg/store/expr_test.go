package store

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
)

func TestPadAliases(t *testing.T) {
	for _, tc := range []struct {
		in    string
		width int
		want  string
	}{
		{"#1 = :1, #10 = :10", 2, "#01 = :1, #10 = :10"},
		{"attribute_not_exists (#0)", 1, "attribute_not_exists (#0)"},
		{"(#2 = :0) AND (#11 <> :1)", 2, "(#02 = :0) AND (#11 <> :1)"},
		{"#5", 3, "#005"},
	} {
		if got := padAliases(tc.in, tc.width); got != tc.want {
			t.Errorf("padAliases(%q, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
		}
	}
}

// A profile update names more than ten attributes: its aliases come out
// of equal width, on one line, and the names map agrees with them.
func TestBuildReshapesManyNames(t *testing.T) {
	upd, err := profileFields(fullProfile(), attrPendingEditID)
	if err != nil {
		t.Fatal(err)
	}
	e, err := updateOf(upd, exists(), equals(attrVersion, n(3)))
	if err != nil {
		t.Fatal(err)
	}
	if len(e.names) < 11 {
		t.Fatalf("%d names; the test needs more than ten", len(e.names))
	}
	all := *e.update + " " + *e.condition
	if strings.Contains(all, "\n") {
		t.Errorf("spans lines: %q", all)
	}
	for alias := range e.names {
		if len(alias) != 3 || !strings.Contains(all, alias) {
			t.Errorf("alias %q: not of width 2 or unused in %q", alias, all)
		}
	}
	if _, err := build(expression.NewBuilder()); err == nil {
		t.Error("an empty builder must be an error")
	}
}
