package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Parse(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Bypass || c.ApprovalTimeout != 168*time.Hour {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestParseBool(t *testing.T) {
	for in, want := range map[string]bool{"true": true, "TRUE": true, "1": true, "yes": true, "on": true, "false": false, "0": false, "off": false, " no ": false} {
		got, err := ParseBool("X", in, !want)
		if err != nil || got != want {
			t.Errorf("ParseBool(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"ture", "2", "enabled", "y"} {
		_, err := ParseBool("CERTCTL_APPROVAL_BYPASS", bad, false)
		if err == nil || !strings.Contains(err.Error(), "CERTCTL_APPROVAL_BYPASS") || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParseBool(%q): want an error naming the variable and value, got %v", bad, err)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 5 * time.Minute, "168h": 168 * time.Hour, "20s": 20 * time.Second, " 1h30m ": 90 * time.Minute} {
		got, err := ParseDuration("X", in, 5*time.Minute)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	cases := map[string]string{"168": "missing unit", "7d": "not a Go duration", "-1h": "must be positive", "0s": "must be positive", "abc": "not a Go duration"}
	for in, msg := range cases {
		_, err := ParseDuration(EnvApprovalTimeout, in, 0)
		if err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), EnvApprovalTimeout) {
			t.Errorf("ParseDuration(%q): want error containing %q, got %v", in, msg, err)
		}
	}
}

func TestParseFailsFast(t *testing.T) {
	for name, m := range map[string]map[string]string{
		"bad bypass":        {EnvBypass: "maybe"},
		"bad timeout":       {EnvApprovalTimeout: "a week"},
		"timeout too long":  {EnvApprovalTimeout: "9000h"},
		"timeout too short": {EnvApprovalTimeout: "500ms"},
	} {
		if _, err := Parse(env(m)); err == nil {
			t.Errorf("%s: Parse accepted %v", name, m)
		}
	}
}

func TestRequire(t *testing.T) {
	c := Config{StateTable: "s"}
	if err := c.Require(EnvStateTable); err != nil {
		t.Fatal(err)
	}
	if err := c.Require(EnvStateTable, EnvAuditTable); err == nil || !strings.Contains(err.Error(), EnvAuditTable) {
		t.Fatalf("Require: %v", err)
	}
}
