package domain

import (
	"regexp"
	"strings"
	"testing"
)

// validID must agree with the pattern its errors quote.
func TestValidIDMatchesItsRule(t *testing.T) {
	rule := regexp.MustCompile(idRule)
	cases := []string{"", "a", "0", "-a", ".a", "_a", "a-b.c_d", "A", "a b", "é", "a\x00",
		strings.Repeat("a", 63), strings.Repeat("a", 64), "a" + strings.Repeat("-", 62), "ab/c"}
	for _, id := range cases {
		if got, want := validID(id), rule.MatchString(id); got != want {
			t.Errorf("validID(%q) = %v, the pattern says %v", id, got, want)
		}
	}
}
