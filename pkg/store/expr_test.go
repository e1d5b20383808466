package store

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
)

// A profile update names more than ten attributes; what the builder makes
// goes out as is (the embedded emulator's needs are met in the devstack),
// and every alias in the names map is used.
func TestBuildKeepsTheBuildersOutput(t *testing.T) {
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
	for alias := range e.names {
		if !strings.Contains(all, alias) {
			t.Errorf("alias %q unused in %q", alias, all)
		}
	}
	if _, err := build(expression.NewBuilder()); err == nil {
		t.Error("an empty builder must be an error")
	}
}
