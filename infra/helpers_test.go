package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// TestMain closes the jsii runtime once: assertions panic on failure, and
// the node child must not outlive the test binary.
func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(run()) // TestMainRefuses… runs the real main in a subprocess
	}
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

const testStage = "test"

// synthed is one synthesized configuration.
type synthed struct {
	Stack    *Stack
	Outdir   string
	Template map[string]any
	T        assertions.Template
	Messages []message // annotations from the cloud assembly (cdk-nag findings)
}

type message struct{ Level, Path, Text string }

// placeholderAssets makes <dir>/<fn>/bootstrap for every function, so tests
// never need a real `make build`.
func placeholderAssets(t testing.TB) string {
	dir := t.TempDir()
	for _, fn := range FunctionNames {
		if err := os.MkdirAll(filepath.Join(dir, fn), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fn, "bootstrap"), []byte("#!/bin/sh\n# placeholder "+fn+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var (
	cacheMu sync.Mutex
	cache   = map[string]*synthed{}
)

// synth builds and synthesizes the stack for props (stage "test", placeholder
// assets), with cdk-nag applied, once per key.
func synth(t *testing.T, key string, mutate func(*Props)) *synthed {
	t.Helper()
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if s, ok := cache[key]; ok {
		return s
	}
	// Not t.TempDir: the result outlives the test that made it.
	base, err := os.MkdirTemp("", "certctl-infra-test-")
	if err != nil {
		t.Fatal(err)
	}
	assets := filepath.Join(base, "assets")
	for _, fn := range FunctionNames {
		_ = os.MkdirAll(filepath.Join(assets, fn), 0o755)
		_ = os.WriteFile(filepath.Join(assets, fn, "bootstrap"), []byte("placeholder "+fn), 0o755)
	}
	outdir := filepath.Join(base, "cdk.out")
	p := DefaultProps()
	p.Stage = testStage
	p.AssetsDir = assets
	if mutate != nil {
		mutate(&p)
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir)})
	stack, err := NewStack(app, p, nil)
	if err != nil {
		t.Fatalf("NewStack: %v", err)
	}
	ApplyNag(app)
	app.Synth(nil)

	s := &synthed{Stack: stack, Outdir: outdir}
	readJSON(t, filepath.Join(outdir, StackName(testStage)+".template.json"), &s.Template)
	s.T = assertions.Template_FromJSON(&s.Template, nil)

	// Annotations (cdk-nag findings) are in the manifest or, with newer
	// CDK versions, in <stack>.metadata.json beside it.
	type entry struct {
		Type string `json:"type"`
		Data any    `json:"data"`
	}
	var manifest struct {
		Artifacts map[string]struct {
			Metadata   map[string][]entry `json:"metadata"`
			Properties struct {
				MetadataFile string `json:"metadataFile"`
			} `json:"properties"`
		} `json:"artifacts"`
	}
	readJSON(t, filepath.Join(outdir, "manifest.json"), &manifest)
	metadataFiles := 0
	collect := func(md map[string][]entry) {
		for path, entries := range md {
			for _, e := range entries {
				switch e.Type {
				case "aws:cdk:error", "aws:cdk:warning":
					s.Messages = append(s.Messages, message{e.Type, path, fmt.Sprint(e.Data)})
				}
			}
		}
	}
	for _, art := range manifest.Artifacts {
		collect(art.Metadata)
	}
	for _, f := range []string{StackName(testStage) + ".metadata.json"} {
		var md map[string][]entry
		if _, err := os.Stat(filepath.Join(outdir, f)); err == nil {
			readJSON(t, filepath.Join(outdir, f), &md)
			collect(md)
			metadataFiles++
		}
	}
	if metadataFiles == 0 && len(manifest.Artifacts[StackName(testStage)].Metadata) == 0 {
		t.Fatalf("no construct metadata found in %s: cannot read cdk-nag findings", outdir)
	}
	cache[key] = s
	return s
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// check runs an assertions call and turns its panic into a test failure.
func check(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	f()
}

// resources returns logical id → resource of one type.
func (s *synthed) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.Template["Resources"].(map[string]any) {
		m := r.(map[string]any)
		if m["Type"] == typ {
			out[id] = m
		}
	}
	return out
}

func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

// hashSuffix is the 8-hex-digit hash CDK appends to logical ids.
var hashSuffix = regexp.MustCompile(`[0-9A-F]{8}$`)

// logical strips the hash: StateTable9728C7E5 → StateTable.
func logical(id string) string {
	if strings.HasPrefix(id, "AWS::") {
		return id
	}
	return hashSuffix.ReplaceAllString(id, "")
}

// render turns CloudFormation intrinsics into readable strings:
// {"Ref":"X1234ABCD"} → ${X}, GetAtt → ${X.Arn}, Join → concatenation.
func render(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if r, ok := x["Ref"]; ok {
			return "${" + logical(r.(string)) + "}"
		}
		if g, ok := x["Fn::GetAtt"]; ok {
			a := g.([]any)
			return "${" + logical(a[0].(string)) + "." + a[1].(string) + "}"
		}
		if isInstance(x) {
			return "${Instance}"
		}
		if j, ok := x["Fn::Join"]; ok {
			a := j.([]any)
			var parts []string
			for _, p := range a[1].([]any) {
				parts = append(parts, render(p))
			}
			return strings.Join(parts, a[0].(string))
		}
	}
	b, _ := json.Marshal(normalize(v))
	return string(b)
}

// instanceExpr is how the template spells the stack's instance suffix:
// the first group of the GUID in the stack id.
const instanceExpr = `{"Fn::Select":[0,{"Fn::Split":["-",{"Fn::Select":[2,{"Fn::Split":["/",{"Ref":"AWS::StackId"}]}]}]}]}`

func isInstance(v map[string]any) bool {
	if _, ok := v["Fn::Select"]; !ok {
		return false
	}
	b, _ := json.Marshal(v)
	return string(b) == instanceExpr
}

// normalize replaces intrinsics anywhere in v with their rendered strings.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if isInstance(x) {
			return render(x)
		}
		for _, k := range []string{"Ref", "Fn::GetAtt", "Fn::Join"} {
			if _, ok := x[k]; ok && len(x) == 1 {
				return render(x)
			}
		}
		out := map[string]any{}
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	}
	return v
}

func list(v any) []any {
	if a, ok := v.([]any); ok {
		return a
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// grants flattens the policies attached to a role into sorted
// "Effect action resource" lines.
func (s *synthed) grants(roleLogicalPrefix string) []string {
	var out []string
	for _, pol := range s.resources("AWS::IAM::Policy") {
		attached := false
		for _, r := range list(props(pol)["Roles"]) {
			if logical(render(r)) == "${"+roleLogicalPrefix+"}" {
				attached = true
			}
		}
		if !attached {
			continue
		}
		doc := props(pol)["PolicyDocument"].(map[string]any)
		for _, st := range list(doc["Statement"]) {
			m := st.(map[string]any)
			for _, a := range list(m["Action"]) {
				for _, r := range list(m["Resource"]) {
					line := fmt.Sprintf("%s %s %s", m["Effect"], a, render(r))
					if c, ok := m["Condition"]; ok {
						line += " if " + render(c)
					}
					out = append(out, line)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func diffLines(want, got []string) string {
	w, g := map[string]bool{}, map[string]bool{}
	for _, l := range want {
		w[l] = true
	}
	for _, l := range got {
		g[l] = true
	}
	var b strings.Builder
	for _, l := range want {
		if !g[l] {
			fmt.Fprintf(&b, "\n  missing: %s", l)
		}
	}
	for _, l := range got {
		if !w[l] {
			fmt.Fprintf(&b, "\n  extra:   %s", l)
		}
	}
	return b.String()
}
