package version

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnstampedIsDev(t *testing.T) {
	if Stamped() {
		t.Skip("this test binary was stamped")
	}
	if s := String(); s != "dev" && !strings.HasPrefix(s, "dev+") {
		t.Fatalf("unstamped version %q", s)
	}
	if Get().Go == "" {
		t.Fatal("no Go version")
	}
}

// The Makefile's -X flag reaches the variable: a renamed variable or
// package would silently leave every release "dev".
func TestLinkerStamp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	dir := t.TempDir()
	main := filepath.Join(dir, "main.go")
	src := "package main\n\nimport (\n\t\"fmt\"\n\n\t\"github.com/certctl-serverless/certctl-serverless/pkg/version\"\n)\n\nfunc main() { fmt.Print(version.String()) }\n"
	if err := os.WriteFile(main, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "v")
	build := exec.Command("go", "build", "-o", bin, "-ldflags", "-X "+Var+"=v9.8.7", main)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil || string(out) != "v9.8.7" {
		t.Fatalf("stamped binary says %q (%v)", out, err)
	}
}
