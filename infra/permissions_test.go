package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
)

// Expected permissions: an independent copy of the contract in the brief.
func expectedGrants(fn string) []string {
	var out []string
	add := func(resource string, actions ...string) {
		for _, a := range actions {
			out = append(out, "Allow "+a+" "+resource)
		}
	}
	state, audit := "${StateTable.Arn}", "${AuditTable.Arn}"
	sm := stateMachineARN
	executions := "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:certctl-test-renewal-${Instance}:*"
	add("${"+construct(fn)+"Logs.Arn}", "logs:CreateLogStream", "logs:PutLogEvents")
	add("*", "xray:PutTraceSegments", "xray:PutTelemetryRecords")
	query := func(table string, targets ...string) {
		for _, t := range targets {
			if t == "" {
				add(table, "dynamodb:Query") // the table's own key
			} else {
				add(table+"/index/"+t, "dynamodb:Query")
			}
		}
	}
	// Delivery targets: only under the stage's own prefixes.
	deliver := func() {
		add("arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/certctl/test/*", "ssm:PutParameter")
		add("arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:certctl/test/*",
			"secretsmanager:PutSecretValue", "secretsmanager:CreateSecret")
	}
	// Every function that commits a transaction may read its audit row
	// back (GetItem) when the outcome is unknown. Every function that
	// commits a transition people hear about publishes its events on the
	// stage's bus, and writes (in the transaction) and deletes (once
	// published) their outbox entries.
	bus := "${EventBus.Arn}"
	switch fn {
	case FnAPI:
		add(state, "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem")
		query(state, "", "list", "by_parent", "pending")
		add(audit, "dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Scan")
		query(audit, "", "by_actor", "by_action", "by_day", "by_chain")
		add(sm, "states:StartExecution", "states:SendTaskSuccess")
		add(executions, "states:DescribeExecution")
		add(bus, "events:PutEvents")
		add("${DigestKey.Arn}", "kms:GetPublicKey")  // GET /audit/public-key
		add("${Issue.Arn}", "lambda:InvokeFunction") // a new CRL after a revocation
	case FnAuthorizer:
		add(state, "dynamodb:GetItem")
	case FnApprovalWait:
		add(state, "dynamodb:GetItem", "dynamodb:UpdateItem")
		add(sm, "states:SendTaskSuccess")
	case FnIssue:
		add(state, "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem")
		query(state, "") // CRL entries, by their issuer's partition; governed names under a wildcard's zone
		add(audit, "dynamodb:PutItem", "dynamodb:GetItem")
		query(audit, "") // the chain heads' partition
		add("${CaKey.Arn}", "kms:Sign", "kms:GetPublicKey")
		add(bus, "events:PutEvents")
		deliver()
	case FnFinalize:
		add(state, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
		add(audit, "dynamodb:PutItem", "dynamodb:GetItem")
		add(bus, "events:PutEvents")
		query(audit, "")
		// Execution events EventBridge delivers that still fail (async).
		add("${DeadLetterQueue.Arn}", "sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
	case FnSweep:
		add(state, "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem")
		query(state, "due", "", "pending") // due certificates; governed names under a wildcard's zone; expiring ones
		add(audit, "dynamodb:PutItem", "dynamodb:GetItem")
		query(audit, "")
		add(sm, "states:StartExecution")
		add(bus, "events:PutEvents")
		add("${DeadLetterQueue.Arn}", "sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
	case FnReaper:
		add(state, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
		query(state, "pending", "list", "by_parent") // the queues; the pending gauges
		add(audit, "dynamodb:PutItem", "dynamodb:GetItem")
		query(audit, "")
		add(sm, "states:StartExecution", "states:SendTaskSuccess")
		add(bus, "events:PutEvents")
		add("${DeadLetterQueue.Arn}", "sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
		deliver()
	case FnDigest:
		// The heads and the latest digest are Queries; the digest a Put.
		add(audit, "dynamodb:PutItem")
		query(audit, "")
		add("${DigestKey.Arn}", "kms:Sign", "kms:GetPublicKey")
		add("${DeadLetterQueue.Arn}", "sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
	}
	sort.Strings(out)
	return out
}

func TestRolePolicies(t *testing.T) {
	for _, st := range stages(t) {
		t.Run(st.name, func(t *testing.T) { checkRolePolicies(t, st.s) })
	}
}

func checkRolePolicies(t *testing.T, s *synthed) {
	for _, fn := range FunctionNames {
		got, want := s.grants(construct(fn)+"Role"), expectedGrants(fn)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s role:%s", fn, diffLines(want, got))
		}
	}
	// No grant nothing uses: no function sends task failures (outcomes
	// travel as data), and only the api and the reaper (the pending gauges)
	// query by_parent.
	for _, fn := range FunctionNames {
		for _, g := range s.grants(construct(fn) + "Role") {
			if strings.Contains(g, "SendTaskFailure") || (fn != FnAPI && fn != FnReaper && strings.Contains(g, "/index/by_parent")) {
				t.Errorf("%s role: %s", fn, g)
			}
		}
	}
	// The state machine invokes exactly the three workflow functions; the
	// rest is log delivery and X-Ray, which have no resource-level permissions.
	wantSM := []string{
		"Allow lambda:InvokeFunction ${ApprovalWait.Arn}",
		"Allow lambda:InvokeFunction ${Finalize.Arn}",
		"Allow lambda:InvokeFunction ${Issue.Arn}",
	}
	for _, a := range []string{"logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
		"logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
		"logs:DescribeLogGroups", "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
		"xray:GetSamplingTargets"} {
		wantSM = append(wantSM, "Allow "+a+" *")
	}
	sort.Strings(wantSM)
	if got := s.grants("RenewalStateMachineRole"); !reflect.DeepEqual(got, wantSM) {
		t.Errorf("state machine role:%s", diffLines(wantSM, got))
	}
	// Scheduler roles: invoke their own function, write the DLQ.
	for id, fn := range map[string]string{"Sweep": FnSweep, "Reaper": FnReaper, "Crl": FnIssue, "Digest": FnDigest} {
		got := s.grants(id + "SchedulerRole")
		want := []string{
			"Allow lambda:InvokeFunction ${" + construct(fn) + ".Arn}",
			"Allow sqs:SendMessage ${DeadLetterQueue.Arn}",
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s scheduler role:%s", fn, diffLines(want, got))
		}
	}

	// Across every policy of every role: no wildcard actions, no writes to
	// the audit table but PutItem, no managed policies.
	auditActions := map[string]bool{"dynamodb:PutItem": true, "dynamodb:GetItem": true, "dynamodb:Query": true, "dynamodb:Scan": true}
	for id, r := range s.resources("AWS::IAM::Role") {
		// Only API Gateway's account-level logging role uses the AWS-managed
		// policy made for it.
		mp := render(props(r)["ManagedPolicyArns"])
		if logical(id) == "IamApiCloudWatchRole" {
			if !strings.HasSuffix(mp, `:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"]`) ||
				!strings.Contains(render(props(r)["AssumeRolePolicyDocument"]), "apigateway.amazonaws.com") {
				t.Errorf("API Gateway logging role: %s", mp)
			}
		} else if _, ok := props(r)["ManagedPolicyArns"]; ok {
			t.Errorf("role %s has managed policies %s", logical(id), mp)
		}
		for _, g := range s.grants(logical(id)) {
			f := strings.Fields(g)
			action, resource := f[1], f[2]
			if strings.Contains(action, "*") {
				t.Errorf("role %s: wildcard action %s", logical(id), g)
			}
			if strings.HasPrefix(resource, "${AuditTable") && !auditActions[action] {
				t.Errorf("role %s: %s on the audit table (append-only)", logical(id), action)
			}
		}
	}
	// Only the issue role may use the CA key and only the digest role may
	// sign with the digest key (the api reads its public half); each key's
	// policy denies kms:Sign to everyone else.
	signer := map[string]string{"CaKey": "IssueRole", "DigestKey": "DigestRole"}
	for id := range s.resources("AWS::IAM::Role") {
		for _, g := range s.grants(logical(id)) {
			if !strings.Contains(g, " kms:") {
				continue
			}
			f := strings.Fields(g)
			key := strings.TrimSuffix(strings.TrimPrefix(f[2], "${"), ".Arn}")
			reader := logical(id) == "ApiRole" && key == "DigestKey" && f[1] == "kms:GetPublicKey"
			if signer[key] != logical(id) && !reader {
				t.Errorf("role %s: %s", logical(id), g)
			}
		}
	}
	for id, r := range s.resources("AWS::KMS::Key") {
		p := props(r)
		if p["KeySpec"] != "ECC_NIST_P256" || p["KeyUsage"] != "SIGN_VERIFY" {
			t.Errorf("%s spec %v usage %v", logical(id), p["KeySpec"], p["KeyUsage"])
		}
		var deny []string
		for _, st := range list(p["KeyPolicy"].(map[string]any)["Statement"]) {
			m := st.(map[string]any)
			if m["Effect"] == "Deny" {
				deny = append(deny, render(m))
			}
		}
		want := `"ArnNotEquals":{"aws:PrincipalArn":"${` + signer[logical(id)] + `.Arn}"}`
		if len(deny) != 1 || !strings.Contains(deny[0], `"Action":"kms:Sign"`) || !strings.Contains(deny[0], `"Principal":{"AWS":"*"}`) ||
			!strings.Contains(deny[0], want) {
			t.Errorf("%s policy deny: %v, want kms:Sign denied unless %s", logical(id), deny, want)
		}
	}
}

// The digest key's policy: its Sign only to the digest function (above),
// its public half and Verify to the account, and nothing else added to the
// key's default (the account's administrators, through IAM).
func TestDigestKeyPolicy(t *testing.T) {
	for _, st := range stages(t) {
		for id, r := range st.s.resources("AWS::KMS::Key") {
			if logical(id) != "DigestKey" {
				continue
			}
			var stmts []string
			for _, raw := range list(props(r)["KeyPolicy"].(map[string]any)["Statement"]) {
				m := normalize(raw).(map[string]any)
				stmts = append(stmts, fmt.Sprintf("%v %v %s %s %s", m["Sid"], m["Effect"], render(m["Principal"]), render(m["Action"]), render(m["Condition"])))
			}
			sort.Strings(stmts)
			root := `{"AWS":"arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}`
			want := []string{
				`<nil> Allow ` + root + ` kms:* null`,
				`AccountMayVerifyDigests Allow ` + root + ` ["kms:GetPublicKey","kms:Verify","kms:DescribeKey"] null`,
				`OnlyDigestFunctionSigns Deny {"AWS":"*"} kms:Sign {"ArnNotEquals":{"aws:PrincipalArn":"${DigestRole.Arn}"}}`,
			}
			if !reflect.DeepEqual(stmts, want) {
				t.Errorf("%s: digest key policy:%s", st.name, diffLines(want, stmts))
			}
		}
	}
}

func TestAPIAuthorization(t *testing.T) {
	for _, st := range stages(t) {
		t.Run(st.name, func(t *testing.T) { checkAPIAuthorization(t, st.s) })
	}
}

func checkAPIAuthorization(t *testing.T, s *synthed) {
	apis := map[string]string{} // logical id prefix → name
	for id, r := range s.resources("AWS::ApiGateway::RestApi") {
		apis[logical(id)] = props(r)["Name"].(string)
	}
	if !reflect.DeepEqual(apis, map[string]string{"IamApi": "certctl-test-iam", "KeyApi": "certctl-test-key"}) {
		t.Fatalf("APIs %v", apis)
	}
	// Resource paths, from the resource tree.
	res := s.resources("AWS::ApiGateway::Resource")
	var path func(v any) string
	path = func(v any) string {
		ref := render(v)
		for id, r := range res {
			if "${"+logical(id)+"}" == ref {
				p := props(r)
				return path(p["ParentId"]) + "/" + p["PathPart"].(string)
			}
		}
		return "" // the root resource
	}
	var authorizer string
	for id := range s.resources("AWS::ApiGateway::Authorizer") {
		authorizer = "${" + logical(id) + "}"
	}
	got := map[string]string{}
	for _, r := range s.resources("AWS::ApiGateway::Method") {
		p := props(r)
		api := strings.Trim(render(p["RestApiId"]), "${}")
		key := api + " " + p["HttpMethod"].(string) + " " + path(p["ResourceId"])
		auth := p["AuthorizationType"].(string)
		if auth == "CUSTOM" {
			if render(p["AuthorizerId"]) != authorizer {
				t.Errorf("%s: authorizer %s", key, render(p["AuthorizerId"]))
			}
		}
		got[key] = auth
		integ := p["Integration"].(map[string]any)
		if integ["Type"] != "AWS_PROXY" || !strings.Contains(render(integ["Uri"]), "${Api.Arn}") {
			t.Errorf("%s: integration %s", key, render(integ))
		}
	}
	// The health probe is public on both of its paths (the API serves it
	// at /health and /api/v1/health), and so are the OpenAPI document,
	// each issuer's CRL and CA certificate (GET) and, on the key API, the
	// console's static files; everything else is authenticated, the
	// resources on the way to the public ones included (API Gateway never
	// falls back from them to {proxy+}).
	want := map[string]string{
		// The console signs in with an API key, so only the key API serves it.
		"KeyApi GET /console":          "NONE",
		"KeyApi GET /console/{proxy+}": "NONE",
	}
	for api, auth := range map[string]string{"IamApi": "AWS_IAM", "KeyApi": "CUSTOM"} {
		for _, p := range []string{"/health", "/api/v1/health", "/api/v1/openapi.json", "/api/v1/issuers/{id}/crl", "/api/v1/issuers/{id}/ca"} {
			want[api+" GET "+p] = "NONE"
		}
		for _, p := range []string{"/api/v1/{proxy+}", "/api/v1/issuers", "/api/v1/issuers/{id}", "/api/v1/issuers/{id}/{proxy+}",
			"/api/v1/issuers/{id}/crl", "/api/v1/issuers/{id}/ca"} {
			want[api+" ANY "+p] = auth
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("methods\n got  %v\n want %v", got, want)
	}
	// DER answers go out as bytes for any Accept value (curl's */* too).
	for id, r := range s.resources("AWS::ApiGateway::RestApi") {
		if got := render(props(r)["BinaryMediaTypes"]); got != `["*/*"]` {
			t.Errorf("%s: binary media types %s, want [\"*/*\"]", logical(id), got)
		}
	}
	check(t, "authorizer", func() {
		s.T.HasResourceProperties(jsii.String("AWS::ApiGateway::Authorizer"), &map[string]any{
			"Type":                         "REQUEST",
			"IdentitySource":               "method.request.header.X-Api-Key",
			"AuthorizerResultTtlInSeconds": 30,
		})
	})
	for id, r := range s.resources("AWS::ApiGateway::Stage") {
		p := props(r)
		// Stage logs need the account's API Gateway logging role first.
		var deps []string
		for _, d := range list(r["DependsOn"]) {
			deps = append(deps, logical(d.(string)))
		}
		if !slices.Contains(deps, "IamApiAccount") {
			t.Errorf("%s: depends on %v, want the API Gateway account setting", logical(id), deps)
		}
		if p["StageName"] != testStage || p["TracingEnabled"] != true {
			t.Errorf("%s: stage %v tracing %v", logical(id), p["StageName"], p["TracingEnabled"])
		}
		if als, ok := p["AccessLogSetting"].(map[string]any); !ok || !strings.Contains(als["Format"].(string), "$context.requestId") ||
			strings.Contains(strings.ToLower(als["Format"].(string)), "x-api-key") {
			t.Errorf("%s: access log setting %s", logical(id), render(p["AccessLogSetting"]))
		}
		ms := render(p["MethodSettings"])
		if !strings.Contains(ms, `"ThrottlingRateLimit":50`) || !strings.Contains(ms, `"ThrottlingBurstLimit":100`) ||
			!strings.Contains(ms, `"DataTraceEnabled":false`) {
			t.Errorf("%s: method settings %s", logical(id), ms)
		}
	}
}

// Responses API Gateway makes itself follow the API's rule: 401 for a
// caller who is not authenticated (no signature or key, a bad or expired
// signature, a refused key), 403 for one who is but may not, in the API's
// error shape, on both APIs.
func TestGatewayResponses(t *testing.T) {
	want := map[string]string{
		"UNAUTHORIZED": "401", "MISSING_AUTHENTICATION_TOKEN": "401", "INVALID_SIGNATURE": "401", "EXPIRED_TOKEN": "401",
		"ACCESS_DENIED": "403", "THROTTLED": "429", "AUTHORIZER_FAILURE": "500", "AUTHORIZER_CONFIGURATION_ERROR": "500",
	}
	for _, st := range stages(t) {
		got := map[string]map[string]string{}
		for _, r := range st.s.resources("AWS::ApiGateway::GatewayResponse") {
			p := props(r)
			api := strings.Trim(render(p["RestApiId"]), "${}")
			if got[api] == nil {
				got[api] = map[string]string{}
			}
			got[api][p["ResponseType"].(string)] = p["StatusCode"].(string)
			tmpl := render(p["ResponseTemplates"])
			if !strings.Contains(tmpl, `\"error\":`) || !strings.Contains(tmpl, `\"request_id\":\"$context.requestId\"`) {
				t.Errorf("%s %s %s: template %s", st.name, api, p["ResponseType"], tmpl)
			}
		}
		for _, api := range []string{"IamApi", "KeyApi"} {
			if !reflect.DeepEqual(got[api], want) {
				t.Errorf("%s %s: gateway responses\n got  %v\n want %v", st.name, api, got[api], want)
			}
		}
	}
}

// Every gateway response the stack customises is a type API Gateway
// accepts (PutGatewayResponse refuses any other, and the deployment with
// it). The list is API Gateway's GatewayResponseType enumeration. It has no
// type for a malformed Authorization header (IncompleteSignatureException,
// a 403), so that answer cannot be mapped to 401; the README says so.
func TestGatewayResponseTypesAreOnesAPIGatewayAccepts(t *testing.T) {
	accepted := map[string]bool{}
	for _, rt := range []string{
		"DEFAULT_4XX", "DEFAULT_5XX", "RESOURCE_NOT_FOUND", "UNAUTHORIZED", "INVALID_API_KEY", "ACCESS_DENIED",
		"AUTHORIZER_FAILURE", "AUTHORIZER_CONFIGURATION_ERROR", "INVALID_SIGNATURE", "EXPIRED_TOKEN",
		"MISSING_AUTHENTICATION_TOKEN", "INTEGRATION_FAILURE", "INTEGRATION_TIMEOUT", "API_CONFIGURATION_ERROR",
		"UNSUPPORTED_MEDIA_TYPE", "BAD_REQUEST_PARAMETERS", "BAD_REQUEST_BODY", "REQUEST_TOO_LARGE", "THROTTLED",
		"QUOTA_EXCEEDED", "WAF_FILTERED",
	} {
		accepted[rt] = true
	}
	s := defaultStack(t)
	for id, r := range s.resources("AWS::ApiGateway::GatewayResponse") {
		if rt, _ := props(r)["ResponseType"].(string); !accepted[rt] {
			t.Errorf("%s: response type %q is not one API Gateway accepts", id, rt)
		}
	}
}

// Roles whose sessions are people ("sessions": "source-identity"): the IAM
// API refuses their sessions unless the session carries a source identity
// and is named after it. The key API has no resource policy, nor has the
// IAM API without such rules.
func TestSessionIdentityPolicy(t *testing.T) {
	for _, s := range []*synthed{defaultStack(t), customStack(t)} {
		for id, r := range s.resources("AWS::ApiGateway::RestApi") {
			if _, ok := props(r)["Policy"]; ok {
				t.Errorf("%s has a resource policy without source-identity rules: %s", logical(id), render(props(r)["Policy"]))
			}
		}
	}
	p := prodStack(t)
	policies := map[string]string{}
	for id, r := range p.resources("AWS::ApiGateway::RestApi") {
		policies[logical(id)] = render(props(r)["Policy"])
	}
	if policies["KeyApi"] != "null" {
		t.Errorf("key API policy %s", policies["KeyApi"])
	}
	var doc struct {
		Statement []struct {
			Sid, Effect, Action, Resource string
			Principal                     map[string]any
			Condition                     map[string]map[string]any
		}
	}
	if err := json.Unmarshal([]byte(policies["IamApi"]), &doc); err != nil {
		t.Fatalf("IAM API policy %s: %v", policies["IamApi"], err)
	}
	roles := []any{
		"arn:${AWS::Partition}:iam::${AWS::AccountId}:role/CertApprovers",
		"arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*/CertApprovers",
		"arn:${AWS::Partition}:iam::210987654321:role/Auditors",
		"arn:${AWS::Partition}:iam::210987654321:role/*/Auditors",
		"arn:${AWS::Partition}:iam::${AWS::AccountId}:role/certctl-test-approvers",
		"arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*/certctl-test-approvers",
		"arn:${AWS::Partition}:iam::${AWS::AccountId}:role/certctl-test-operators",
		"arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*/certctl-test-operators",
	}
	want := map[string]map[string]map[string]any{
		"SessionsNeedASourceIdentity": {
			"ArnLike": {"aws:PrincipalArn": roles},
			"Null":    {"aws:SourceIdentity": "true"},
		},
		"SessionNameIsTheSourceIdentity": {
			"ArnLike":       {"aws:PrincipalArn": roles},
			"StringNotLike": {"aws:userid": "*:${aws:SourceIdentity}"},
		},
	}
	if len(doc.Statement) != len(want) {
		t.Fatalf("IAM API policy: %s", policies["IamApi"])
	}
	for _, st := range doc.Statement {
		cond := map[string]map[string]any{}
		for op, m := range st.Condition {
			cond[op] = normalize(any(m)).(map[string]any)
		}
		if st.Effect != "Deny" || st.Action != "execute-api:Invoke" || st.Resource != "execute-api:/*" ||
			render(st.Principal) != `{"AWS":"*"}` || !reflect.DeepEqual(cond, want[st.Sid]) {
			t.Errorf("statement %s: %s %s %s %s %s\n want %v", st.Sid, st.Effect, st.Action, st.Resource, render(st.Principal), render(cond), want[st.Sid])
		}
	}
}

// Caller roles the stack creates: assumed only with the caller's own
// source identity (an IAM user's name, or the one a session already
// carries), allowed to invoke the IAM API's stage and nothing else, and
// mapped to their certctl roles with sessions that are people.
func TestCallerRoles(t *testing.T) {
	p := prodStack(t)
	roles := map[string]map[string]any{}
	for id, r := range p.resources("AWS::IAM::Role") {
		if strings.HasPrefix(logical(id), "CallerRole") {
			roles[props(r)["RoleName"].(string)] = props(r)
		}
	}
	if got := keys(roles); !reflect.DeepEqual(got, []string{"certctl-test-approvers", "certctl-test-operators"}) {
		t.Fatalf("caller roles %v", got)
	}
	root := `{"AWS":"arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}`
	for name, r := range roles {
		var trust []string
		for _, st := range list(r["AssumeRolePolicyDocument"].(map[string]any)["Statement"]) {
			m := normalize(st).(map[string]any)
			trust = append(trust, fmt.Sprintf("%s %s %s %s", m["Effect"], render(m["Principal"]), render(m["Action"]), render(m["Condition"])))
		}
		sort.Strings(trust)
		want := []string{
			`Allow ` + root + ` ["sts:AssumeRole","sts:SetSourceIdentity"] {"StringEquals":{"sts:SourceIdentity":"${aws:SourceIdentity}"}}`,
			`Allow ` + root + ` ["sts:AssumeRole","sts:SetSourceIdentity"] {"StringEquals":{"sts:SourceIdentity":"${aws:username}"}}`,
		}
		if !reflect.DeepEqual(trust, want) {
			t.Errorf("%s trust:%s", name, diffLines(want, trust))
		}
		pol := render(r["Policies"])
		if strings.Count(pol, `"Action"`) != 1 || !strings.Contains(pol, `"Action":"execute-api:Invoke"`) ||
			!strings.Contains(pol, `"Resource":"arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${IamApi}/test/*/*"`) {
			t.Errorf("%s policies %s", name, pol)
		}
		if _, ok := r["ManagedPolicyArns"]; ok {
			t.Errorf("%s has managed policies", name)
		}
	}
	outs := p.Template["Outputs"].(map[string]any)
	if got := render(outs["CallerRoleApproversArn"].(map[string]any)["Value"]); got != "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/certctl-test-approvers" {
		t.Errorf("caller role output %s", got)
	}
	for _, s := range []*synthed{defaultStack(t), customStack(t)} {
		for id := range s.resources("AWS::IAM::Role") {
			if strings.HasPrefix(logical(id), "CallerRole") {
				t.Errorf("caller role %s without callerRoles", logical(id))
			}
		}
	}
}
