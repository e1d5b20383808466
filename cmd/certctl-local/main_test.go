package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadSettings(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	s, err := readSettings(env(nil))
	if err != nil || s.addr != "127.0.0.1:8080" || s.reaper != 10*time.Minute || s.sweep != time.Hour {
		t.Fatalf("defaults: %+v, %v", s, err)
	}
	s, err = readSettings(env(map[string]string{envAddr: ":9000", envReaperInterval: "30s", envSweepInterval: "2m"}))
	if err != nil || s.addr != ":9000" || s.reaper != 30*time.Second || s.sweep != 2*time.Minute {
		t.Fatalf("set: %+v, %v", s, err)
	}
	for k, v := range map[string]string{envReaperInterval: "10", envSweepInterval: "soon", "CERTCTL_APPROVAL_BYPASS": "maybe"} {
		if _, err := readSettings(env(map[string]string{k: v})); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: err = %v, want one naming the variable", k, v, err)
		}
	}
}

func TestWriteCredentials(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".local")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "credentials.json")
	for _, secret := range []string{"old", "new"} { // a second run replaces the file
		if _, err := writeCredentials(path, map[string]string{"alice": secret}); err != nil {
			t.Fatal(err)
		}
	}
	var got map[string]string
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &got) != nil || got["alice"] != "new" {
		t.Fatalf("credentials %s, %v", b, err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v (%v)", p, fi.Mode().Perm(), want, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left-over files: %v", entries)
	}
}
