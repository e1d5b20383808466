package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPropsFromContext(t *testing.T) {
	ctx := map[string]any{
		"stage":                   "prod",
		"production":              true, // cdk.json gives JSON values
		"bypass":                  "false",
		"approvalTimeout":         "72h",
		"sweepRate":               "2h",
		"reaperRate":              "5m",
		"architecture":            "x86_64",
		"issueConcurrency":        "3",
		"alarmEmail":              "ops@example.com",
		"alarmPendingApprovalAge": "36h",
		"alarmHandoffQueue":       "2",
		"alarmApi5xx":             5,
		"iamPrincipals":           []any{map[string]any{"role": "CertOps", "roles": []any{"operator"}}},
	}
	p, err := PropsFromContext(func(k string) any { return ctx[k] })
	if err != nil {
		t.Fatal(err)
	}
	if p.Stage != "prod" || !p.Production || p.Bypass || p.ApprovalTimeout != 72*time.Hour ||
		p.SweepRate != 2*time.Hour || p.ReaperRate != 5*time.Minute || p.Architecture != "x86_64" ||
		p.IssueConcurrency != 3 || p.AlarmEmail != "ops@example.com" || p.ReservedConcurrency ||
		p.AlarmPendingApprovalAge != 36*time.Hour || p.AlarmHandoffQueue != 2 || p.AlarmStartQueue != DefaultAlarmStartQueue || p.AlarmAPI5xx != 5 ||
		p.IAMPrincipals != `[{"role":"CertOps","roles":["operator"]}]` {
		t.Errorf("props %+v", p)
	}
	for k, v := range map[string]string{
		"production": "maybe", "approvalTimeout": "7d", "issueConcurrency": "x", "sweepRate": "soon",
	} {
		_, err := PropsFromContext(func(key string) any {
			if key == k {
				return v
			}
			return nil
		})
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: error %v should name the key", k, v, err)
		}
	}
}

func TestNormalizeRejects(t *testing.T) {
	assets := placeholderAssets(t)
	for name, mutate := range map[string]func(*Props){
		"stage":            func(p *Props) { p.Stage = "Prod_1" },
		"architecture":     func(p *Props) { p.Architecture = "mips" },
		"sweepRate":        func(p *Props) { p.SweepRate = 90 * time.Second },
		"reaperRate":       func(p *Props) { p.ReaperRate = 30 * time.Second },
		"approvalTimeout":  func(p *Props) { p.ApprovalTimeout = 9000 * time.Hour },
		"logRetentionDays": func(p *Props) { p.LogRetentionDays = 42 },
		"logLevel":         func(p *Props) { p.LogLevel = "trace" },
		// An age the reaper never lets a request reach could never fire.
		"alarmPendingApprovalAge": func(p *Props) { p.AlarmPendingApprovalAge = p.ApprovalTimeout },
		"alarmHandoffQueue":       func(p *Props) { p.AlarmHandoffQueue = -1 },
		"alarmApi5xx":             func(p *Props) { p.AlarmAPI5xx = -2 },
		"auditTableName":          func(p *Props) { p.StateTableName = "certctl-prod-state-restored" },
		"stateTableName":          func(p *Props) { p.StateTableName, p.AuditTableName = "x y", "certctl-audit" },
		"iamPrincipals": func(p *Props) {
			p.IAMPrincipals = `[{"role":"Cert*","sessions":"source-identity","roles":["approver"]}]`
		},
	} {
		p := DefaultProps()
		p.AssetsDir = assets
		mutate(&p)
		if _, err := p.Normalize(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

func TestScheduleExpression(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Minute:      "rate(1 minute)",
		10 * time.Minute: "rate(10 minutes)",
		time.Hour:        "rate(1 hour)",
		90 * time.Minute: "rate(90 minutes)",
		6 * time.Hour:    "rate(6 hours)",
		24 * time.Hour:   "rate(1 day)",
		48 * time.Hour:   "rate(2 days)",
	} {
		if got := ScheduleExpression(d); got != want {
			t.Errorf("%s: %s, want %s", d, got, want)
		}
	}
	for d, want := range map[time.Duration]string{168 * time.Hour: "168h", 90 * time.Minute: "90m", 45 * time.Second: "45s"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%s) = %s", d, got)
		}
		if back, err := time.ParseDuration(FormatDuration(d)); err != nil || back != d {
			t.Errorf("FormatDuration(%s) does not round-trip: %v %v", d, back, err)
		}
	}
}

// goStringConsts collects the values of string constants declared in the
// Go packages under dir (the functions' module), by name, and by
// <package folder>.<name> (so pkg/function/api's Name is "api.Name").
func goStringConsts(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return nil // someone else's work in progress; not this test's business
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							if v, err := strconv.Unquote(lit.Value); err == nil {
								out[name.Name] = v
								out[filepath.Base(filepath.Dir(path))+"."+name.Name] = v
							}
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The stack and the Go code agree on env names, function names and index
// names: the constants in pkg/config, pkg/app and pkg/store.
func TestContractWithGoCode(t *testing.T) {
	root, err := FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	consts := goStringConsts(t, filepath.Join(root, "pkg"))
	for name, want := range map[string]string{
		"EnvStateTable": EnvStateTable, "EnvAuditTable": EnvAuditTable, "EnvStateMachineARN": EnvStateMachineARN,
		"EnvCAKeyID": EnvCAKeyID, "EnvBypass": EnvBypass, "EnvApprovalTimeout": EnvApprovalTimeout,
		"EnvStage": EnvStage, "EnvLogLevel": EnvLogLevel, "EnvIAMPrincipals": EnvIAMPrincipals,
		"EnvPublicURL": EnvPublicURL, "EnvCRLFunction": EnvCRLFunction,
		"IndexList": IndexList, "IndexParent": IndexParent, "IndexPending": IndexPending, "IndexDue": IndexDue,
		"AuditIndexActor": AuditIndexActor, "AuditIndexAction": AuditIndexAction, "AuditIndexDay": AuditIndexDay,
		// The metrics the alarms read (pkg/emf) and the event finalize
		// accepts (pkg/app).
		"Namespace": MetricNamespace, "DecisionsTotal": MetricApprovalDecisions, "OldestPending": MetricOldestPending,
		"HandoffQueue": MetricHandoffQueue, "StartQueue": MetricStartQueue, "ExecutionStatusChange": executionStatusChange,
		// Notifications: the settings (pkg/config), the events' source
		// (pkg/domain) and how the stack routes them (pkg/eventbus).
		"EnvEventBus": EnvEventBus, "EnvRemindAfter": EnvRemindAfter, "EnvEscalateAfter": EnvEscalateAfter,
		"EnvExpiryWarning": EnvExpiryWarning, "EnvConsoleURL": EnvConsoleURL, "EnvNotifyTargets": EnvNotifyTargets,
		"EnvNotifyDefault": EnvNotifyDefault, "EnvNotifyEscalation": EnvNotifyEscalation,
		"EventSource": EventSource, "WebhookInputPath": WebhookInputPath, "EmailTextPath": EmailTextPath, "RouteField": RouteField,
		"DigestsWritten": MetricDigestsWritten,
		// The audit chain: the digest function's settings and the index of a shard's rows.
		"EnvDigestKeyID": EnvDigestKeyID, "IndexByChain": AuditIndexChain,
		"DeliveryQueue": MetricDeliveryQueue,
	} {
		got, ok := consts[name]
		if !ok {
			t.Errorf("pkg/ declares no string constant %s (infra expects %q)", name, want)
			continue
		}
		if got != want {
			t.Errorf("pkg/ %s = %q, infra uses %q", name, got, want)
		}
	}
	// Function names: pkg/app's FnX literals, or each function package's
	// Name (pkg/function/<name without dashes>).
	for fn, name := range map[string]string{FnAPI: "FnAPI", FnAuthorizer: "FnAuthorizer", FnApprovalWait: "FnApprovalWait",
		FnIssue: "FnIssue", FnFinalize: "FnFinalize", FnSweep: "FnSweep", FnReaper: "FnReaper", FnDigest: "FnDigest"} {
		got, ok := consts[strings.ReplaceAll(fn, "-", "")+".Name"]
		if !ok {
			got, ok = consts[name]
		}
		if !ok || got != fn {
			t.Errorf("pkg/ names function %s %q (found %v), infra uses %q", name, got, ok, fn)
		}
	}
	// The local front serves what API Gateway serves: the same binary
	// media types and public issuer resources (pkg/devstack/front.go).
	front, err := os.ReadFile(filepath.Join(root, "pkg", "devstack", "front.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"var BinaryMediaTypes = []string{" + quoteAll(BinaryMediaTypes) + "}",
		"var publicIssuerResources = []string{" + quoteAll(PublicIssuerPaths) + "}",
	} {
		if !strings.Contains(string(front), want) {
			t.Errorf("pkg/devstack/front.go does not declare %s", want)
		}
	}
	// Every function the stack deploys has a main package.
	for _, fn := range FunctionNames {
		if _, err := os.Stat(filepath.Join(root, "functions", fn)); err != nil {
			t.Logf("functions/%s not present yet: %v", fn, err)
		}
	}
}

// Every context key is documented in infra/README.md's table.
func TestContextKeysDocumented(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range contextKeys {
		found := false
		for _, line := range strings.Split(string(readme), "\n") {
			if strings.HasPrefix(line, "| `") && strings.Contains(strings.SplitN(line[1:], "|", 2)[0], "`"+k+"`") {
				found = true
			}
		}
		if !found {
			t.Errorf("context key %s is not in the first column of a table in README.md", k)
		}
	}
}

// Reserved concurrency is off unless asked for: an account whose Lambda
// quota leaves less than 100 unreserved refuses any reservation.
func TestReservedConcurrencyIsOptIn(t *testing.T) {
	if DefaultProps().ReservedConcurrency {
		t.Fatal("reserved concurrency on by default")
	}
	p, err := PropsFromContext(func(k string) any {
		return map[string]any{"reservedConcurrency": "true"}[k]
	})
	if err != nil || !p.ReservedConcurrency {
		t.Fatalf("reservedConcurrency=true: %v %v", p.ReservedConcurrency, err)
	}
}

func TestCallerRolesContext(t *testing.T) {
	for _, v := range []any{`{"approvers":["approver"]}`, map[string]any{"approvers": []any{"approver"}}} {
		p, err := PropsFromContext(func(k string) any { return map[string]any{"callerRoles": v}[k] })
		if err != nil || !reflect.DeepEqual(p.CallerRoles, map[string][]string{"approvers": {"approver"}}) {
			t.Errorf("%v: %v %v", v, p.CallerRoles, err)
		}
	}
	if _, err := PropsFromContext(func(k string) any { return map[string]any{"callerRoles": `["approver"]`}[k] }); err == nil {
		t.Error("a list is not a map of roles")
	}
	assets := placeholderAssets(t)
	for _, bad := range []map[string][]string{{"Approvers": {"approver"}}, {"a": nil}, {"a": {"root"}}} {
		p := DefaultProps()
		p.AssetsDir, p.CallerRoles = assets, bad
		if _, err := p.Normalize(); err == nil || !strings.Contains(err.Error(), "callerRoles") {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

func TestIAMPrincipalsShape(t *testing.T) {
	for _, bad := range []string{
		`{"role":"X"}`,
		`[{"role":"X","arn":"arn:aws:iam::123456789012:user/a","roles":["viewer"]}]`,
		`[{"role":"X","roles":["viewer"],"extra":1}]`,
		`[{"role":"X","account":"12","roles":["viewer"]}]`,
		`[{"arn":"arn:aws:iam::123456789012:user/a","account":"123456789012","roles":["viewer"]}]`,
		`[{"role":"X","sessions":"maybe","roles":["viewer"]}]`,
		`[{"role":"X*","sessions":"source-identity","roles":["viewer"]}]`,
		`[{"arn":"arn:aws:iam::123456789012:user/a","sessions":"source-identity","roles":["viewer"]}]`,
	} {
		if _, err := parseIAMPrincipals(bad); err == nil || !strings.Contains(err.Error(), "iamPrincipals") {
			t.Errorf("%s: %v", bad, err)
		}
	}
	p := Props{}
	var err error
	p.iamRules, err = parseIAMPrincipals(`[{"role":"CertOps","roles":["operator"]},
		{"role":"CertApprovers","sessions":"source-identity","roles":["approver"]},
		{"role":"CertApprovers","account":"210987654321","sessions":"source-identity","roles":["approver"]},
		{"arn":"arn:aws:sts::123456789012:assumed-role/CertApprovers/alice","sessions":"source-identity","principal":"alice"}]`)
	if err != nil {
		t.Fatal(err)
	}
	got := p.sourceIdentityRoles()
	want := [][2]string{{"", "CertApprovers"}, {"210987654321", "CertApprovers"}, {"123456789012", "CertApprovers"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("source-identity roles %v, want %v", got, want)
	}
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
