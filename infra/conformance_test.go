package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/certctl-serverless/certctl-serverless/infra/iampolicy"
)

// The IAM conformance test. Nothing local evaluates IAM policies, so the
// e2e suite records every AWS call each function made (and each invocation
// by the state machine and the schedules) with CERTCTL_IAM_RECORD set
// (pkg/devstack/iamrecord); this test checks each call against the role
// the synthesized template gives that caller. `make iam-conformance` runs
// both tiers and then this test.
//
// Recorded ARNs are the emulators' (random prefixes, accounts 000000000000
// or 123456789012); template ARNs are intrinsics. Both are brought into one
// namespace: the template's intrinsics resolve with fixed pseudo parameters
// and each resource's logical id, and each recorded ARN is rewritten by
// swapping the recorded stack's resource ARN for the template's ARN of the
// construct it stands for (s.Stack.GetLogicalId), keeping any suffix such
// as /index/<name>.

// iamCallsEnv lists the recording files, comma-separated.
const iamCallsEnv = "CERTCTL_IAM_CALLS"

// recordingFormat must match iamrecord.Format.
const recordingFormat = "certctl-iam-recording/1"

// The principals of a recorded call (iamrecord.Principal*).
const (
	principalFunction     = "function"
	principalStateMachine = "state-machine"
	principalScheduler    = "scheduler"
)

// Pseudo parameters the template ARNs resolve with. Recorded ARNs are
// rewritten wholesale, so any fixed values do.
const (
	tmplPartition = "aws"
	tmplRegion    = "us-east-1"
	tmplAccount   = "111122223333"
	tmplStackID   = "arn:aws:cloudformation:us-east-1:111122223333:stack/certctl-test/0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
)

// recording is the file iamrecord writes.
type recording struct {
	Format string `json:"format"`
	Stacks []struct {
		Prefix       string            `json:"prefix"`
		StateTable   string            `json:"state_table"`
		AuditTable   string            `json:"audit_table"`
		CAKey        string            `json:"ca_key"`
		DigestKey    string            `json:"digest_key"`
		StateMachine string            `json:"state_machine"`
		EventBus     string            `json:"event_bus"`
		Functions    map[string]string `json:"functions"`
		Stage        string            `json:"stage"`
		Calls        []recordedCall    `json:"calls"`
	} `json:"stacks"`
	Unattributed []map[string]string `json:"unattributed"`

	file string
}

type recordedCall struct {
	Principal string `json:"principal"`
	Function  string `json:"function"`
	Action    string `json:"action"`
	Resource  string `json:"resource"`
}

func TestIAMConformance(t *testing.T) {
	env := os.Getenv(iamCallsEnv)
	if env == "" {
		t.Skipf("%s is not set: no recorded calls to check (make iam-conformance records them and runs this test)", iamCallsEnv)
	}
	recs, err := loadRecordings(strings.Split(env, ","))
	if err != nil {
		t.Fatal(err)
	}
	s := defaultStack(t)
	m, err := newIAMModel(s.Template, stackIDsOf(s))
	if err != nil {
		t.Fatal(err)
	}
	r := m.check(recs)
	for _, p := range r.problems {
		t.Error(p)
	}
	t.Logf("checked %d distinct calls against %d roles; grants no recorded call used "+
		"([platform]: used by AWS for the role, for log delivery, X-Ray or dead letters, which no local run shows):", r.checked, len(m.roles))
	for _, u := range r.unused {
		t.Log("  " + u)
	}
}

// loadRecordings reads every file; a missing, empty or foreign file is an
// error: a check of nothing must not pass.
func loadRecordings(paths []string) ([]recording, error) {
	var out []recording
	for _, p := range paths {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", iamCallsEnv, err)
		}
		if len(strings.TrimSpace(string(b))) == 0 {
			return nil, fmt.Errorf("%s: %s is empty", iamCallsEnv, p)
		}
		var r recording
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", iamCallsEnv, p, err)
		}
		if r.Format != recordingFormat {
			return nil, fmt.Errorf("%s: %s: format %q, want %q", iamCallsEnv, p, r.Format, recordingFormat)
		}
		calls := 0
		for _, s := range r.Stacks {
			calls += len(s.Calls)
		}
		if calls == 0 {
			return nil, fmt.Errorf("%s: %s records no calls", iamCallsEnv, p)
		}
		r.file = filepath.Base(p)
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s names no file", iamCallsEnv)
	}
	return out, nil
}

// stackIDs are the logical ids of the constructs a recording refers to.
type stackIDs struct {
	StateTable, AuditTable, CAKey, DigestKey, StateMachine, EventBus string
	Functions                                                        map[string]string // app function -> function
	FunctionRoles                                                    map[string]string // app function -> its execution role
	StateMachineRole                                                 string
	SchedulerRoles                                                   map[string]string // each schedule's function -> the schedule's role
}

func stackIDsOf(s *synthed) stackIDs {
	st := s.Stack
	id := func(c constructs.IConstruct) string {
		return *st.GetLogicalId(c.Node().DefaultChild().(awscdk.CfnElement))
	}
	ids := stackIDs{
		StateTable:       id(st.StateTable),
		AuditTable:       id(st.AuditTable),
		CAKey:            id(st.CAKey),
		DigestKey:        id(st.DigestKey),
		StateMachine:     id(st.StateMachine),
		EventBus:         id(st.EventBus),
		StateMachineRole: id(st.StateMachine.Role()),
		Functions:        map[string]string{},
		FunctionRoles:    map[string]string{},
		SchedulerRoles:   map[string]string{},
	}
	for _, fn := range FunctionNames {
		ids.Functions[fn] = id(st.Functions[fn])
		ids.FunctionRoles[fn] = id(st.Roles[fn])
	}
	for _, sc := range st.Schedules() {
		ids.SchedulerRoles[sc.fn] = id(st.Node().FindChild(jsii.String(sc.id + "SchedulerRole")))
	}
	return ids
}

// iamModel is the template in the comparable namespace.
type iamModel struct {
	resources map[string]map[string]any // logical id -> resource
	ids       stackIDs
	roles     map[string][]iampolicy.Statement // role logical id -> its statements
	display   map[string]string                // template ARN -> ${Logical.Arn}
}

func newIAMModel(template map[string]any, ids stackIDs) (*iamModel, error) {
	m := &iamModel{ids: ids, roles: map[string][]iampolicy.Statement{}, display: map[string]string{}, resources: map[string]map[string]any{}}
	res, _ := template["Resources"].(map[string]any)
	for id, r := range res {
		m.resources[id], _ = r.(map[string]any)
	}
	for id := range m.resources {
		if arn, err := m.arnOf(id); err == nil {
			m.display[arn] = "${" + logical(id) + ".Arn}"
		}
	}
	var roleIDs []string
	roleIDs = append(roleIDs, ids.StateMachineRole)
	for _, r := range ids.FunctionRoles {
		roleIDs = append(roleIDs, r)
	}
	for _, r := range ids.SchedulerRoles {
		roleIDs = append(roleIDs, r)
	}
	for _, role := range roleIDs {
		stmts, err := m.statementsOf(role)
		if err != nil {
			return nil, err
		}
		m.roles[role] = stmts
	}
	return m, nil
}

// statementsOf collects the role's inline and attached statements.
func (m *iamModel) statementsOf(role string) ([]iampolicy.Statement, error) {
	r, ok := m.resources[role]
	if !ok || r["Type"] != "AWS::IAM::Role" {
		return nil, fmt.Errorf("role %s: not an AWS::IAM::Role in the template", role)
	}
	if mp, ok := props(r)["ManagedPolicyArns"]; ok {
		return nil, fmt.Errorf("role %s: managed policies %s are not evaluated", role, render(mp))
	}
	var docs []any
	for _, p := range list(props(r)["Policies"]) {
		docs = append(docs, p.(map[string]any)["PolicyDocument"])
	}
	ids := make([]string, 0, len(m.resources))
	for id := range m.resources {
		ids = append(ids, id)
	}
	sort.Strings(ids) // a stable statement order, for stable messages
	for _, id := range ids {
		pol := m.resources[id]
		if pol["Type"] != "AWS::IAM::Policy" {
			continue
		}
		for _, ref := range list(props(pol)["Roles"]) {
			if x, ok := ref.(map[string]any); ok && x["Ref"] == role {
				docs = append(docs, props(pol)["PolicyDocument"])
			}
		}
	}
	var out []iampolicy.Statement
	for _, d := range docs {
		doc, _ := d.(map[string]any)
		for _, raw := range list(doc["Statement"]) {
			st, err := iampolicy.Parse(raw.(map[string]any), m.value)
			if err != nil {
				return nil, fmt.Errorf("role %s: %w", role, err)
			}
			out = append(out, st)
		}
	}
	return out, nil
}

// value resolves a template value to a string: Ref of pseudo parameters,
// Fn::GetAtt of Arn, Fn::Join. Anything else is an error, so a statement
// the model cannot read fails the test instead of being skipped.
func (m *iamModel) value(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case map[string]any:
		if len(x) != 1 {
			break
		}
		if ref, ok := x["Ref"].(string); ok {
			switch ref {
			case "AWS::Partition":
				return tmplPartition, nil
			case "AWS::Region":
				return tmplRegion, nil
			case "AWS::AccountId":
				return tmplAccount, nil
			case "AWS::URLSuffix":
				return "amazonaws.com", nil
			case "AWS::StackId":
				return tmplStackID, nil
			}
			return "", fmt.Errorf("cannot resolve Ref %s", ref)
		}
		if g, ok := x["Fn::GetAtt"].([]any); ok && len(g) == 2 && g[1] == "Arn" {
			id, _ := g[0].(string)
			return m.arnOf(id)
		}
		if sel, ok := x["Fn::Select"].([]any); ok && len(sel) == 2 {
			i, ok := sel[0].(float64)
			if !ok {
				break
			}
			items, err := m.values(sel[1])
			if err != nil {
				return "", err
			}
			if int(i) < 0 || int(i) >= len(items) {
				return "", fmt.Errorf("Fn::Select %d of %d items", int(i), len(items))
			}
			return items[int(i)], nil
		}
		if j, ok := x["Fn::Join"].([]any); ok && len(j) == 2 {
			sep, _ := j[0].(string)
			var parts []string
			for _, p := range list(j[1]) {
				s, err := m.value(p)
				if err != nil {
					return "", err
				}
				parts = append(parts, s)
			}
			return strings.Join(parts, sep), nil
		}
	}
	return "", fmt.Errorf("cannot resolve %s", render(v))
}

// values resolves a list-valued template expression: Fn::Split.
func (m *iamModel) values(v any) ([]string, error) {
	if x, ok := v.(map[string]any); ok && len(x) == 1 {
		if sp, ok := x["Fn::Split"].([]any); ok && len(sp) == 2 {
			sep, _ := sp[0].(string)
			whole, err := m.value(sp[1])
			if err != nil {
				return nil, err
			}
			return strings.Split(whole, sep), nil
		}
	}
	return nil, fmt.Errorf("cannot resolve the list %s", render(v))
}

// arnOf is the ARN of a template resource, named by its physical name when
// the template sets one and by its logical id otherwise.
func (m *iamModel) arnOf(id string) (string, error) {
	r, ok := m.resources[id]
	if !ok {
		return "", fmt.Errorf("no resource %s", id)
	}
	name := func(prop string) (string, error) {
		if v, ok := props(r)[prop]; ok {
			return m.value(v)
		}
		return id, nil
	}
	prefix := func(service string) string {
		return "arn:" + tmplPartition + ":" + service + ":" + tmplRegion + ":" + tmplAccount + ":"
	}
	var format, prop string
	switch r["Type"] {
	case "AWS::DynamoDB::Table":
		format, prop = prefix("dynamodb")+"table/%s", "TableName"
	case "AWS::KMS::Key":
		format = prefix("kms") + "key/%s"
	case "AWS::Lambda::Function":
		format, prop = prefix("lambda")+"function:%s", "FunctionName"
	case "AWS::StepFunctions::StateMachine":
		format, prop = prefix("states")+"stateMachine:%s", "StateMachineName"
	case "AWS::SQS::Queue":
		format, prop = prefix("sqs")+"%s", "QueueName"
	case "AWS::Logs::LogGroup":
		format, prop = prefix("logs")+"log-group:%s:*", "LogGroupName"
	case "AWS::SNS::Topic":
		format, prop = prefix("sns")+"%s", "TopicName"
	case "AWS::Events::EventBus":
		format, prop = prefix("events")+"event-bus/%s", "Name"
	case "AWS::IAM::Role":
		format, prop = "arn:"+tmplPartition+":iam::"+tmplAccount+":role/%s", "RoleName"
	default:
		return "", fmt.Errorf("no ARN known for %s (%v)", id, r["Type"])
	}
	n := id
	if prop != "" {
		var err error
		if n, err = name(prop); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf(format, n), nil
}

// show renders a template ARN readably: ${StateTable.Arn}/index/list.
func (m *iamModel) show(arn string) string {
	best := ""
	for a := range m.display {
		if (arn == a || strings.HasPrefix(arn, a+"/")) && len(a) > len(best) {
			best = a
		}
	}
	if best == "" {
		return arn
	}
	return m.display[best] + strings.TrimPrefix(arn, best)
}

// roleOf is the logical id of the role a call needs.
func (m *iamModel) roleOf(c recordedCall) (string, error) {
	var role string
	switch c.Principal {
	case principalFunction:
		role = m.ids.FunctionRoles[c.Function]
	case principalStateMachine:
		role = m.ids.StateMachineRole
	case principalScheduler:
		role = m.ids.SchedulerRoles[c.Function]
	}
	if role == "" {
		return "", fmt.Errorf("no role in the template for principal %q function %q", c.Principal, c.Function)
	}
	return role, nil
}

// conformance is the outcome of a check.
type conformance struct {
	problems []string // refused calls and calls that could not be checked
	unused   []string // grants no recorded call used
	checked  int
}

func (m *iamModel) check(recs []recording) conformance {
	var out conformance
	problems := map[string][]string{} // message -> where seen
	problem := func(where, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		problems[msg] = append(problems[msg], where)
	}
	used := map[string]map[iampolicy.Grant]bool{} // role -> grants some call used
	seen := map[string]bool{}
	for _, rec := range recs {
		for _, u := range rec.Unattributed {
			problem(rec.file, "a call no stack accounts for, so it was not checked: %v", u)
		}
		for _, st := range rec.Stacks {
			where := rec.file
			rewrite, err := m.rewriter(st.StateTable, st.AuditTable, st.CAKey, st.DigestKey, st.StateMachine, st.EventBus, st.Functions, st.Stage)
			if err != nil {
				problem(where, "%v", err)
				continue
			}
			for _, c := range st.Calls {
				role, err := m.roleOf(c)
				if err != nil {
					problem(where, "%v", err)
					continue
				}
				resource, ok := rewrite(c.Resource)
				if !ok {
					problem(where, "%s: %s on %s: the resource is none of the stack's", who(c), c.Action, c.Resource)
					continue
				}
				if k := role + " " + c.Action + " " + resource; !seen[k] {
					seen[k] = true
					out.checked++
				}
				stmts := m.roles[role]
				res := iampolicy.Evaluate(stmts, c.Action, resource)
				if res.Decision != iampolicy.Allowed {
					why := "no Allow statement matches"
					if res.Decision == iampolicy.ExplicitDeny {
						why = "explicitly denied by " + stmts[res.By[0]].String()
					}
					if res.Note != "" {
						why += "; " + res.Note
					}
					problem(where, "%s (role %s) would be refused %s on %s: %s", who(c), logical(role), c.Action, m.show(resource), why)
					continue
				}
				if used[role] == nil {
					used[role] = map[iampolicy.Grant]bool{}
				}
				for _, g := range iampolicy.Grants(stmts) {
					if g.Covers(c.Action, resource) {
						used[role][g] = true
					}
				}
			}
		}
	}
	for msg, where := range problems {
		out.problems = append(out.problems, fmt.Sprintf("%s [seen in %s]", msg, strings.Join(dedupe(where), "; ")))
	}
	sort.Strings(out.problems)
	var platform []string
	for role, stmts := range m.roles {
		for _, g := range iampolicy.Grants(stmts) {
			if used[role][g] {
				continue
			}
			line := fmt.Sprintf("unused grant: role %s: %s on %s", logical(role), g.Action, m.show(g.Resource))
			if platformAction(g.Action) {
				platform = append(platform, line+" [platform]")
			} else {
				out.unused = append(out.unused, line)
			}
		}
	}
	sort.Strings(out.unused)
	sort.Strings(platform)
	out.unused = append(out.unused, platform...)
	return out
}

// rewriter maps a recorded stack's ARNs (and their /index/... suffixes) to
// the template's ARNs of the same constructs. "*" stays "*".
func (m *iamModel) rewriter(stateTable, auditTable, caKey, digestKey, stateMachine, eventBus string, functions map[string]string, stage string) (func(string) (string, bool), error) {
	type pair struct{ local, id string }
	pairs := []pair{{stateTable, m.ids.StateTable}, {auditTable, m.ids.AuditTable}, {caKey, m.ids.CAKey}, {stateMachine, m.ids.StateMachine},
		{eventBus, m.ids.EventBus}}
	if m.ids.DigestKey != "" {
		pairs = append(pairs, pair{digestKey, m.ids.DigestKey})
	}
	for fn, arn := range functions {
		id, ok := m.ids.Functions[fn]
		if !ok {
			return nil, fmt.Errorf("recorded function %q has no counterpart in the template", fn)
		}
		pairs = append(pairs, pair{arn, id})
	}
	swap := map[string]string{}
	for _, p := range pairs {
		if p.local == "" && p.id == m.ids.EventBus {
			continue // a recording from before the stack had a bus
		}
		if p.local == "" {
			return nil, errors.New("a recorded stack lacks one of its resource ARNs")
		}
		arn, err := m.arnOf(p.id)
		if err != nil {
			return nil, err
		}
		swap[p.local] = arn
	}
	// Executions are named under their state machine:
	// …:stateMachine:<name> → …:execution:<name>:<execution>.
	smLocal, err := m.arnOf(m.ids.StateMachine)
	if err != nil {
		return nil, err
	}
	execution := func(arn string) string { return strings.Replace(arn, ":stateMachine:", ":execution:", 1) + ":" }
	swap[execution(stateMachine)] = execution(smLocal)
	// Delivery targets live under the stage's prefixes, in the region and
	// account of the stack's tables.
	if parts := strings.Split(stateTable, ":"); stage != "" && len(parts) >= 6 {
		local := func(service, resource string) string {
			return "arn:" + parts[1] + ":" + service + ":" + parts[3] + ":" + parts[4] + ":" + resource
		}
		tmpl := func(service, resource string) string {
			return "arn:" + tmplPartition + ":" + service + ":" + tmplRegion + ":" + tmplAccount + ":" + resource
		}
		swap[local("ssm", "parameter/certctl/"+stage+"/")] = tmpl("ssm", "parameter/certctl/"+testStage+"/")
		swap[local("secretsmanager", "secret:certctl/"+stage+"/")] = tmpl("secretsmanager", "secret:certctl/"+testStage+"/")
	}
	return func(resource string) (string, bool) {
		if resource == "*" {
			return resource, true
		}
		for local, tmpl := range swap {
			if resource == local {
				return tmpl, true
			}
			if rest, ok := strings.CutPrefix(resource, local+"/"); ok {
				return tmpl + "/" + rest, true
			}
			if strings.HasSuffix(local, ":") || strings.HasSuffix(local, "/") {
				if rest, ok := strings.CutPrefix(resource, local); ok && rest != "" {
					return tmpl + rest, true
				}
			}
		}
		return "", false
	}, nil
}

func who(c recordedCall) string {
	switch c.Principal {
	case principalFunction:
		return "the " + c.Function + " function"
	case principalScheduler:
		return "the " + c.Function + " schedule"
	}
	return "the " + c.Principal
}

// platformAction: grants the Lambda, Step Functions and Scheduler services
// use with the role (log delivery, X-Ray, dead-letter queues), which the
// recording cannot see.
func platformAction(action string) bool {
	for _, p := range []string{"logs:", "xray:", "sqs:"} {
		if strings.HasPrefix(strings.ToLower(action), p) {
			return true
		}
	}
	return false
}

func dedupe(l []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range l {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// TestIAMConformanceChecker runs the check on a hand-built template and
// recording: intrinsics, ARN rewriting, index ARNs, Deny winning over a
// wildcard Allow, and what it reports.
func TestIAMConformanceChecker(t *testing.T) {
	var template map[string]any
	if err := json.Unmarshal([]byte(`{"Resources": {
	  "StateTable11111111": {"Type": "AWS::DynamoDB::Table"},
	  "AuditTable22222222": {"Type": "AWS::DynamoDB::Table"},
	  "CaKey33333333": {"Type": "AWS::KMS::Key"},
	  "RenewalStateMachine44444444": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"StateMachineName": "certctl-test-renewal"}},
	  "Issue55555555": {"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": "certctl-test-issue"}},
	  "IssueRole66666666": {"Type": "AWS::IAM::Role"},
	  "IssueRoleDefaultPolicy77777777": {"Type": "AWS::IAM::Policy", "Properties": {
	    "Roles": [{"Ref": "IssueRole66666666"}],
	    "PolicyDocument": {"Statement": [
	      {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"], "Resource": {"Fn::GetAtt": ["StateTable11111111", "Arn"]}},
	      {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": ["StateTable11111111", "Arn"]}, "/index/pending"]]}},
	      {"Effect": "Allow", "Action": "dynamodb:*", "Resource": {"Fn::GetAtt": ["AuditTable22222222", "Arn"]}},
	      {"Sid": "AppendOnly", "Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": {"Fn::GetAtt": ["AuditTable22222222", "Arn"]}},
	      {"Effect": "Allow", "Action": "states:SendTask*", "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":states:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":stateMachine:certctl-test-renewal"]]}},
	      {"Effect": "Allow", "Action": "kms:Sign", "Resource": {"Fn::GetAtt": ["CaKey33333333", "Arn"]}}
	    ]}}},
	  "RenewalStateMachineRole88888888": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyDocument": {"Statement": [
	    {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": {"Fn::GetAtt": ["Issue55555555", "Arn"]}}]}}]}}
	}}`), &template); err != nil {
		t.Fatal(err)
	}
	ids := stackIDs{
		StateTable: "StateTable11111111", AuditTable: "AuditTable22222222", CAKey: "CaKey33333333",
		StateMachine: "RenewalStateMachine44444444", StateMachineRole: "RenewalStateMachineRole88888888",
		Functions:     map[string]string{FnIssue: "Issue55555555"},
		FunctionRoles: map[string]string{FnIssue: "IssueRole66666666"},
	}
	m, err := newIAMModel(template, ids)
	if err != nil {
		t.Fatal(err)
	}
	const local = "arn:aws:dynamodb:us-east-1:000000000000:table/certctl-0a0a-"
	var rec recording
	if err := json.Unmarshal([]byte(`{"format": "`+recordingFormat+`", "stacks": [{
	  "prefix": "certctl-0a0a",
	  "state_table": "`+local+`state", "audit_table": "`+local+`audit",
	  "ca_key": "arn:aws:kms:us-east-1:000000000000:key/0f0f",
	  "state_machine": "arn:aws:states:us-east-1:000000000000:stateMachine:certctl-0a0a-renewal",
	  "functions": {"issue": "arn:aws:lambda:us-east-1:000000000000:function:certctl-0a0a-issue"},
	  "calls": [
	    {"principal": "function", "function": "issue", "action": "dynamodb:GetItem", "resource": "`+local+`state"},
	    {"principal": "function", "function": "issue", "action": "dynamodb:Query", "resource": "`+local+`state/index/pending"},
	    {"principal": "function", "function": "issue", "action": "dynamodb:Query", "resource": "`+local+`state/index/list"},
	    {"principal": "function", "function": "issue", "action": "dynamodb:Query", "resource": "`+local+`state"},
	    {"principal": "function", "function": "issue", "action": "dynamodb:PutItem", "resource": "`+local+`audit"},
	    {"principal": "function", "function": "issue", "action": "dynamodb:DeleteItem", "resource": "`+local+`audit"},
	    {"principal": "function", "function": "issue", "action": "states:SendTaskSuccess", "resource": "arn:aws:states:us-east-1:000000000000:stateMachine:certctl-0a0a-renewal"},
	    {"principal": "function", "function": "issue", "action": "kms:Sign", "resource": "arn:aws:kms:us-east-1:000000000000:key/0f0f"},
	    {"principal": "function", "function": "issue", "action": "dynamodb:GetItem", "resource": "`+local+`other"},
	    {"principal": "function", "function": "api", "action": "dynamodb:GetItem", "resource": "`+local+`state"},
	    {"principal": "state-machine", "action": "lambda:InvokeFunction", "resource": "arn:aws:lambda:us-east-1:000000000000:function:certctl-0a0a-issue"}
	  ]}],
	  "unattributed": [{"principal": "function", "action": "kms:Sign", "target": "key x", "reason": "no stack"}]}`), &rec); err != nil {
		t.Fatal(err)
	}
	rec.file = "tiny.json"
	got := m.check([]recording{rec})
	wantProblems := []string{
		"the issue function (role IssueRole) would be refused dynamodb:DeleteItem on ${AuditTable.Arn}: explicitly denied by",
		"the issue function (role IssueRole) would be refused dynamodb:Query on ${StateTable.Arn}/index/list: no Allow statement matches",
		"the issue function (role IssueRole) would be refused dynamodb:Query on ${StateTable.Arn}: no Allow statement matches",
		"the issue function: dynamodb:GetItem on " + local + "other: the resource is none of the stack's",
		`no role in the template for principal "function" function "api"`,
		"a call no stack accounts for",
	}
	if len(got.problems) != len(wantProblems) {
		t.Errorf("got %d problems, want %d:\n%s", len(got.problems), len(wantProblems), strings.Join(got.problems, "\n"))
	}
	for _, w := range wantProblems {
		found := false
		for _, p := range got.problems {
			found = found || (strings.Contains(p, w) && strings.HasSuffix(p, "[seen in tiny.json]"))
		}
		if !found {
			t.Errorf("no problem says %q in:\n%s", w, strings.Join(got.problems, "\n"))
		}
	}
	wantUnused := []string{"unused grant: role IssueRole: dynamodb:UpdateItem on ${StateTable.Arn}"}
	if strings.Join(got.unused, "\n") != strings.Join(wantUnused, "\n") {
		t.Errorf("unused:\n got  %q\n want %q", got.unused, wantUnused)
	}
}

// A check of nothing must fail, not pass.
func TestIAMRecordingsMustExist(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", `{"format":"`+recordingFormat+`","stacks":[{"prefix":"p","calls":[{"principal":"function","function":"api","action":"a:b","resource":"*"}]}]}`)
	for name, paths := range map[string][]string{
		"missing":      {filepath.Join(dir, "missing.json")},
		"empty":        {write("empty.json", "")},
		"blank":        {write("blank.json", " \n")},
		"foreign":      {write("foreign.json", `{"format":"other"}`)},
		"no calls":     {write("nocalls.json", `{"format":"`+recordingFormat+`","stacks":[{"prefix":"p","calls":[]}]}`)},
		"one missing":  {good, filepath.Join(dir, "missing.json")},
		"no file name": {" ", ""},
	} {
		if _, err := loadRecordings(paths); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
	if recs, err := loadRecordings([]string{good}); err != nil || len(recs) != 1 {
		t.Errorf("good recording: %v", err)
	}
}
