package bench

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/app"
	"github.com/certctl-serverless/certctl-serverless/pkg/version"
)

// benchVersion is the version the benchmarks stamp, where the Makefile
// stamps $(VERSION): the -X flag is part of the flags being measured.
const benchVersion = "bench"

// lambdaBuildFlags are the Makefile's LAMBDA_FLAGS, as go build arguments.
// TestLambdaFlagsMatchMakefile keeps the two in step.
var lambdaBuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w -X " + version.Var + "=" + benchVersion}

// lambdaFlagsText is lambdaBuildFlags as the tables print them.
const lambdaFlagsText = `CGO_ENABLED=0 -tags lambda.norpc -trimpath -ldflags="-s -w -X …version=bench"`

// The target Lambda runs (provided.al2023 on Graviton).
const (
	lambdaGOOS   = "linux"
	lambdaGOARCH = "arm64"
)

// The reference functions among the built binaries: bench/testdata/bare,
// and for a function that links SDK clients beyond bare's DynamoDB and
// Step Functions, bare built with a tag per such client, so that a function
// is charged for its own code, not for the SDK's. No function is called.
const (
	bareName = "bare"
	barePkg  = "./bench/testdata/bare"
)

// refClients are the SDK clients a function may link beyond bare's: the
// packages that mark one, and the build tag and name suffix of the
// reference that links it too.
var refClients = []struct {
	pkgs      []string
	tag, name string
}{
	{[]string{"github.com/aws/aws-sdk-go-v2/service/kms"}, "ref_kms", "kms"},
	{[]string{"github.com/aws/aws-sdk-go-v2/service/lambda"}, "ref_lambda", "lambda"},
	{[]string{"github.com/aws/aws-sdk-go-v2/service/eventbridge"}, "ref_events", "events"},
	{[]string{"github.com/aws/aws-sdk-go-v2/service/ssm", "github.com/aws/aws-sdk-go-v2/service/secretsmanager"}, "ref_delivery", "delivery"},
}

// moduleRoot is the module's root, seen from this package.
const moduleRoot = ".."

// lambdaBuild is one set of binaries (every function and the bare one) for
// one GOOS/GOARCH, built once per test binary run.
type lambdaBuild struct {
	once  sync.Once
	paths map[string]string // function or reference name -> .../<name>/bootstrap
	base  map[string]string // function name -> its reference's name
	took  time.Duration
	err   error
}

var (
	buildMu   sync.Mutex
	buildRoot string // temporary; removed by removeLambdaBuilds
	builds    = map[string]*lambdaBuild{}
)

// binaryNames lists the reference functions first (bare, then those
// base names), then every function.
func binaryNames(base map[string]string) []string {
	refs := []string{bareName}
	for _, r := range base {
		if !slices.Contains(refs, r) {
			refs = append(refs, r)
		}
	}
	slices.Sort(refs[1:])
	return append(refs, app.FunctionNames...)
}

// isReference reports the reference functions (and copies of them).
func isReference(name string) bool { return strings.HasPrefix(name, bareName) }

// refTags are the build tags of a reference, from its name
// ("bare+kms+events" -> ref_kms, ref_events).
func refTags(name string) []string {
	var tags []string
	for _, part := range strings.Split(name, "+")[1:] {
		for _, c := range refClients {
			if c.name == part {
				tags = append(tags, c.tag)
			}
		}
	}
	return tags
}

// baselines maps every function to its reference: bare plus each client
// of refClients the function links (go list -deps).
func baselines() (map[string]string, error) {
	args := []string{"list", "-deps", "-f", "{{.ImportPath}}"}
	base := map[string]string{}
	for _, fn := range app.FunctionNames {
		cmd := exec.Command("go", append(args, "./functions/"+fn)...)
		cmd.Dir = moduleRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+lambdaGOOS, "GOARCH="+lambdaGOARCH)
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("go list -deps ./functions/%s: %w", fn, err)
		}
		deps := strings.Fields(string(out))
		name := bareName
		for _, c := range refClients {
			if slices.ContainsFunc(c.pkgs, func(p string) bool { return slices.Contains(deps, p) }) {
				name += "+" + c.name
			}
		}
		base[fn] = name
	}
	return base, nil
}

// lambdaBinaries builds every function and the bare function for goos/goarch
// with the Lambda flags (once per run; later calls reuse the binaries) and
// returns each one's path, named bootstrap as on Lambda, and each
// function's reference.
func lambdaBinaries(b *testing.B, goos, goarch string) (paths, base map[string]string) {
	b.Helper()
	buildMu.Lock()
	target := goos + "/" + goarch
	lb := builds[target]
	if lb == nil {
		lb = &lambdaBuild{}
		builds[target] = lb
	}
	if buildRoot == "" {
		var err error
		if buildRoot, err = os.MkdirTemp("", "certctl-bench-lambda-*"); err != nil {
			buildMu.Unlock()
			b.Fatal(err)
		}
	}
	root := buildRoot
	buildMu.Unlock()

	lb.once.Do(func() {
		start := time.Now()
		lb.base, lb.err = baselines()
		if lb.err == nil {
			lb.paths, lb.err = buildLambdas(filepath.Join(root, goos+"-"+goarch), goos, goarch, lb.base)
		}
		lb.took = time.Since(start)
		if lb.err == nil {
			fmt.Printf("built %d binaries for %s with the Lambda flags in %.1f s\n", len(lb.paths), target, lb.took.Seconds())
		}
	})
	if lb.err != nil {
		b.Fatalf("build for %s: %v", target, lb.err)
	}
	return lb.paths, lb.base
}

// buildLambdas runs one go build for every function and the bare function
// (so the toolchain shares the work) and one for each tagged reference base
// names, then moves each binary to dir/<name>/bootstrap.
func buildLambdas(dir, goos, goarch string, base map[string]string) (map[string]string, error) {
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	run := func(args ...string) error {
		// `go test` puts the go command that runs it first on PATH.
		cmd := exec.Command("go", args...)
		cmd.Dir = moduleRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
		if msg, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, msg)
		}
		return nil
	}
	pkgs := map[string]string{bareName: barePkg}
	for _, fn := range app.FunctionNames {
		pkgs[fn] = "./functions/" + fn
	}
	args := append([]string{"build"}, lambdaBuildFlags...)
	args = append(args, "-o", out+string(filepath.Separator), barePkg)
	for _, fn := range app.FunctionNames {
		args = append(args, pkgs[fn])
	}
	if err := run(args...); err != nil {
		return nil, err
	}
	paths := map[string]string{}
	move := func(name, built string) error {
		to := filepath.Join(dir, name, "bootstrap")
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		paths[name] = to
		return os.Rename(built, to)
	}
	for _, name := range binaryNames(base) {
		if tags := refTags(name); len(tags) > 0 {
			// The Lambda flags with the reference's tags added to theirs.
			flags := slices.Clone(lambdaBuildFlags)
			i := slices.Index(flags, "-tags")
			flags[i+1] += "," + strings.Join(tags, ",")
			built := filepath.Join(out, strings.ReplaceAll(name, "+", "-"))
			if err := run(append(append([]string{"build"}, flags...), "-o", built, barePkg)...); err != nil {
				return nil, err
			}
			if err := move(name, built); err != nil {
				return nil, err
			}
			continue
		}
		// go build names each binary after its package's last element.
		built := filepath.Join(out, filepath.Base(pkgs[name]))
		if goos == "windows" {
			built += ".exe"
		}
		if err := move(name, built); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// removeLambdaBuilds deletes every binary lambdaBinaries built (TestMain).
func removeLambdaBuilds() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildRoot != "" {
		if err := os.RemoveAll(buildRoot); err != nil {
			fmt.Fprintln(os.Stderr, "bench: remove lambda builds:", err)
		}
		buildRoot = ""
	}
}

// TestLambdaFlagsMatchMakefile checks that the benchmarks build with the
// flags `make build` uses for the deployed functions (fast: reads the
// Makefile only).
func TestLambdaFlagsMatchMakefile(t *testing.T) {
	f, err := os.Open(filepath.Join(moduleRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vars := map[string]string{}
	var recipe string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		for _, op := range []string{":=", "?="} {
			name, value, ok := strings.Cut(line, op)
			if name = strings.TrimSpace(name); ok && name != "" && !strings.ContainsAny(name, " \t") {
				vars[name] = strings.TrimSpace(value)
			}
		}
		if strings.Contains(line, "go build") || strings.Contains(line, "$(GO) build") {
			if recipe == "" {
				recipe = line
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	// The version stamp is a variable of its own; $(VERSION) is what make
	// computes, the benchmarks stamp their own.
	flags := strings.ReplaceAll(vars["LAMBDA_FLAGS"], "$(VERSION_LDFLAGS)", vars["VERSION_LDFLAGS"])
	got, err := shellWords(strings.ReplaceAll(flags, "$(VERSION)", benchVersion))
	if err != nil {
		t.Fatalf("LAMBDA_FLAGS: %v", err)
	}
	if !slices.Equal(got, lambdaBuildFlags) {
		t.Errorf("the Makefile's LAMBDA_FLAGS are %q, the benchmarks build with %q", got, lambdaBuildFlags)
	}
	if vars["GOARCH_LAMBDA"] != lambdaGOARCH {
		t.Errorf("the Makefile's GOARCH_LAMBDA is %q, the benchmarks build for %s", vars["GOARCH_LAMBDA"], lambdaGOARCH)
	}
	for _, want := range []string{"CGO_ENABLED=0", "GOOS=" + lambdaGOOS, "GOARCH=$(GOARCH_LAMBDA)", "$(LAMBDA_FLAGS)"} {
		if !strings.Contains(recipe, want) {
			t.Errorf("the Makefile's build recipe %q does not set %s", strings.TrimSpace(recipe), want)
		}
	}
}

// shellWords splits s as a shell would for the forms the Makefile uses:
// words separated by blanks, double quotes grouping (and disappearing).
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case (r == ' ' || r == '\t') && !quoted:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unbalanced quote in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
