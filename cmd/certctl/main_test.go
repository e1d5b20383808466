package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunRefusesBadArguments(t *testing.T) {
	for name, args := range map[string][]string{
		"no command":      nil,
		"unknown command": {"delete-everything"},
		"no tables":       {"bootstrap-key", "--principal", "admin", "--roles", "admin"},
		"no principal":    {"bootstrap-key", "--state-table", "s", "--audit-table", "a", "--roles", "admin"},
		"unknown role":    {"bootstrap-key", "--state-table", "s", "--audit-table", "a", "--principal", "p", "--roles", "admin,root"},
		"no roles":        {"bootstrap-key", "--state-table", "s", "--audit-table", "a", "--principal", "p"},
	} {
		t.Setenv("CERTCTL_STATE_TABLE", "")
		t.Setenv("CERTCTL_AUDIT_TABLE", "")
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, &out, &errOut); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if out.Len() != 0 {
			t.Errorf("%s: printed %q on stdout (only a key may go there)", name, out.String())
		}
	}
	var errOut bytes.Buffer
	_ = run(context.Background(), nil, &bytes.Buffer{}, &errOut)
	if !strings.Contains(errOut.String(), "bootstrap-key") {
		t.Fatalf("usage: %q", errOut.String())
	}
}
