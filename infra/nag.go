package main

import (
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// ApplyNag runs the AwsSolutions rules on everything in scope at synth time.
// Unsuppressed findings become error annotations, and the cdk CLI then
// refuses to synthesize or deploy.
func ApplyNag(scope constructs.IConstruct) {
	awscdk.Aspects_Of(scope).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
}

// Suppression is one accepted cdk-nag finding and why.
type Suppression struct {
	Path      string   // construct path below the stack
	ID        string   // rule id, e.g. AwsSolutions-IAM5
	AppliesTo []string // granular findings (IAM5), empty for the whole rule
	Reason    string
	// AppliesToRegex are granular findings matched by an ECMA-262 regex,
	// for findings whose text holds a token CDK renders unpredictably.
	AppliesToRegex []string
}

// Reasons, shared where one reason covers several constructs.
const (
	reasonXRayLambda = "Lambda active tracing adds xray:PutTraceSegments and xray:PutTelemetryRecords, " +
		"which support no resource-level permissions (Resource must be *). Every other statement of this role " +
		"names its table, index, state machine or key."
	reasonDelivery = "Delivery writes each issued certificate's PEM chain to the SSM parameter or Secrets Manager secret " +
		"its profile names; the names are chosen by operators at run time, so the grant covers the stage's prefixes " +
		"(/certctl/<stage>/ and certctl/<stage>/, which profiles are validated against), with the write actions only."
	reasonSFNLogsXRay = "Step Functions vended log delivery (logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, " +
		"DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) and X-Ray " +
		"(PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets) support no resource-level " +
		"permissions. The role's only other statement invokes exactly the three workflow functions."
	reasonExecutions = "states:DescribeExecution is granted on the executions of the renewal state machine only " +
		"(arn:<partition>:states:<region>:<account>:execution:<this state machine>:*): execution names are job ids, " +
		"unknown when the policy is written. The api function reads one execution's status to repair its job (admin route)."
	reasonCallerInvoke = "A caller role may invoke every method and path of this stage of the IAM API (<api>/<stage>/*/*): " +
		"which routes it may use is decided per route by the api function from the certctl roles the stage's IAM mapping " +
		"gives the role; it can invoke nothing else."
	reasonDLQ = "This queue is itself the dead-letter queue: EventBridge Scheduler's DLQ and the Lambda on-failure " +
		"destination of sweep and reaper. A queue behind it would add nothing; its depth has an alarm."
	reasonValidation = "Both APIs proxy (AWS_PROXY) every route to the api function, which validates requests itself " +
		"(strict JSON decoding: unknown fields are 400; ids, limits and filters are checked). API Gateway models would " +
		"duplicate that contract and drift from it."
	reasonWAF = "No WAFv2 web ACL by default: every route but the health probe requires SigV4 or a valid API key, and the " +
		"stage is throttled (apiThrottleRate/apiThrottleBurst). A web ACL costs $5/month plus per rule and request; " +
		"associate one with the stage where your account policy requires it."
	reasonHealth = "GET /health and GET /api/v1/health are the unauthenticated liveness probe; " +
		"it returns no data and runs no business logic."
	reasonOpenAPI = "GET /api/v1/openapi.json is the API's published OpenAPI description, embedded in the function: " +
		"it names the routes and their schemas, never any stored data, and runs no business logic."
	reasonConsole = "GET /console and GET /console/{proxy+} on the key API serve the web console's static files (HTML, " +
		"CSS, JavaScript, SVG embedded in the api function), which hold no data; every API call the page makes carries " +
		"the API key the person signs in with and goes through the REQUEST authorizer."
	reasonCRL = "GET /api/v1/issuers/{id}/crl and /ca serve the issuer's CRL and CA certificate, which relying parties fetch " +
		"without credentials from the URLs every certificate names (RFC 5280 distribution points): public by design, " +
		"read-only, no secret in them."
	reasonCognito = "Authentication is AWS_IAM (SigV4) on the -iam API and API keys validated by the REQUEST " +
		"authorizer (SHA-256 lookup in DynamoDB) on the -key API, by design; the service has no Cognito user pool."
	reasonExecLogs = "Execution logs go to a log group API Gateway creates outside the stack (API-Gateway-Execution-Logs_<id>/<stage>) " +
		"with no retention. JSON access logs with the caller's identity are on for every request; pass " +
		"-c apiExecutionLogs=true for execution logs at level ERROR."
	reasonAPIGWRole = "AmazonAPIGatewayPushToCloudWatchLogs is the AWS-managed policy documented for API Gateway's " +
		"account-level logging role; only apigateway.amazonaws.com can assume this role, and stage logging " +
		"(access logs included) cannot work without it."
	reasonNotifyKMS = "Notification messages carry what people are asked to approve (names, key fingerprints, requesters), " +
		"which every approver sees anyway. EventBridge and CloudWatch cannot publish to a topic encrypted with the AWS-managed " +
		"aws/sns key, and a customer-managed key would cost $1/month per stage; publishing requires TLS (enforceSSL)."
	reasonKeyChangesKMS = "The topic carries CloudTrail's record of a KMS call on the stack's signing keys (who, when, which key), " +
		"which CloudTrail already holds for anyone with read access to it. EventBridge cannot publish to a topic encrypted with " +
		"the AWS-managed aws/sns key, and a customer-managed key would cost $1/month for no confidentiality gain; publishing " +
		"requires TLS (enforceSSL)."
	reasonSNSKMS = "Alarm notifications carry only alarm names and states. CloudWatch cannot publish to a topic encrypted " +
		"with the AWS-managed aws/sns key, and a customer-managed key would cost $1/month for no confidentiality gain; " +
		"publishing requires TLS (enforceSSL)."
)

// Suppressions lists every accepted finding for the stack's configuration.
func (s *Stack) Suppressions() []Suppression {
	var out []Suppression
	for _, fn := range FunctionNames {
		out = append(out, Suppression{construct(fn) + "Role/DefaultPolicy/Resource", "AwsSolutions-IAM5", []string{"Resource::*"}, reasonXRayLambda, nil})
	}
	out = append(out,
		Suppression{Path: "ApiRole/DefaultPolicy/Resource", ID: "AwsSolutions-IAM5", Reason: reasonExecutions,
			AppliesToRegex: []string{`/^Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:certctl-` +
				regexp.QuoteMeta(s.Props.Stage) + `-renewal-.*:\*$/g`}},
		Suppression{"RenewalStateMachine/Role/DefaultPolicy/Resource", "AwsSolutions-IAM5", []string{"Resource::*"}, reasonSFNLogsXRay, nil},
	)
	for _, fn := range []string{FnIssue, FnReaper} {
		out = append(out, Suppression{construct(fn) + "Role/DefaultPolicy/Resource", "AwsSolutions-IAM5", []string{
			"Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/certctl/" + s.Props.Stage + "/*",
			"Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:certctl/" + s.Props.Stage + "/*",
		}, reasonDelivery, nil})
	}
	out = append(out,
		Suppression{"DeadLetterQueue/Resource", "AwsSolutions-SQS3", nil, reasonDLQ, nil},
	)
	for _, api := range []string{"IamApi", "KeyApi"} {
		out = append(out,
			Suppression{api + "/Resource", "AwsSolutions-APIG2", nil, reasonValidation, nil},
			Suppression{api + "/DeploymentStage." + s.Props.Stage + "/Resource", "AwsSolutions-APIG3", nil, reasonWAF, nil},
			Suppression{api + "/Default/health/GET/Resource", "AwsSolutions-APIG4", nil, reasonHealth, nil},
			Suppression{api + "/Default/health/GET/Resource", "AwsSolutions-COG4", nil, reasonHealth, nil},
			Suppression{api + "/Default/api/v1/health/GET/Resource", "AwsSolutions-APIG4", nil, reasonHealth, nil},
			Suppression{api + "/Default/api/v1/health/GET/Resource", "AwsSolutions-COG4", nil, reasonHealth, nil},
			Suppression{api + "/Default/api/v1/openapi.json/GET/Resource", "AwsSolutions-APIG4", nil, reasonOpenAPI, nil},
			Suppression{api + "/Default/api/v1/openapi.json/GET/Resource", "AwsSolutions-COG4", nil, reasonOpenAPI, nil},
			Suppression{api + "/Default/api/v1/{proxy+}/ANY/Resource", "AwsSolutions-COG4", nil, reasonCognito, nil},
			Suppression{api + "/Default/api/v1/issuers/ANY/Resource", "AwsSolutions-COG4", nil, reasonCognito, nil},
			Suppression{api + "/Default/api/v1/issuers/{id}/ANY/Resource", "AwsSolutions-COG4", nil, reasonCognito, nil},
			Suppression{api + "/Default/api/v1/issuers/{id}/{proxy+}/ANY/Resource", "AwsSolutions-COG4", nil, reasonCognito, nil},
		)
		if api == "KeyApi" {
			for _, m := range []string{"console/GET", "console/{proxy+}/GET"} {
				out = append(out,
					Suppression{api + "/Default/" + m + "/Resource", "AwsSolutions-APIG4", nil, reasonConsole, nil},
					Suppression{api + "/Default/" + m + "/Resource", "AwsSolutions-COG4", nil, reasonConsole, nil})
			}
		}
		for _, path := range PublicIssuerPaths {
			res := api + "/Default/api/v1/issuers/{id}/" + path
			out = append(out,
				Suppression{res + "/GET/Resource", "AwsSolutions-APIG4", nil, reasonCRL, nil},
				Suppression{res + "/GET/Resource", "AwsSolutions-COG4", nil, reasonCRL, nil},
				Suppression{res + "/ANY/Resource", "AwsSolutions-COG4", nil, reasonCognito, nil},
			)
		}
		if !s.Props.APIExecutionLogs {
			out = append(out, Suppression{api + "/DeploymentStage." + s.Props.Stage + "/Resource", "AwsSolutions-APIG6", nil, reasonExecLogs, nil})
		}
	}
	for _, name := range sortedKeys(s.Props.CallerRoles) {
		out = append(out, Suppression{Path: "CallerRole" + construct(name), ID: "AwsSolutions-IAM5", Reason: reasonCallerInvoke,
			AppliesToRegex: []string{`/^Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<IamApi[0-9A-F]*>\/` +
				regexp.QuoteMeta(s.Props.Stage) + `\/\*\/\*$/g`}})
	}
	if s.AlarmTopic != nil {
		out = append(out, Suppression{"AlarmTopic/Resource", "AwsSolutions-SNS2", nil, reasonSNSKMS, nil})
	}
	for _, name := range sortedKeys(s.NotifyTopics) {
		out = append(out, Suppression{*s.NotifyTopics[name].Node().Id() + "/Resource", "AwsSolutions-SNS2", nil, reasonNotifyKMS, nil})
	}
	out = append(out, Suppression{"KeyChangesTopic/Resource", "AwsSolutions-SNS2", nil, reasonKeyChangesKMS, nil})
	if s.Props.APIGatewayAccountRole {
		out = append(out, Suppression{"IamApi/CloudWatchRole/Resource", "AwsSolutions-IAM4",
			[]string{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}, reasonAPIGWRole, nil})
	}
	return out
}

// suppressions attaches Suppressions to their constructs (grouped per
// construct, as cdk-nag stores them in the resource's metadata).
func (s *Stack) suppressions() {
	byPath := map[string][]*cdknag.NagPackSuppression{}
	var order []string
	for _, sp := range s.Suppressions() {
		if _, ok := byPath[sp.Path]; !ok {
			order = append(order, sp.Path)
		}
		ns := &cdknag.NagPackSuppression{Id: jsii.String(sp.ID), Reason: jsii.String(sp.Reason)}
		if len(sp.AppliesTo)+len(sp.AppliesToRegex) > 0 {
			applies := make([]any, 0, len(sp.AppliesTo)+len(sp.AppliesToRegex))
			for _, a := range sp.AppliesTo {
				applies = append(applies, a)
			}
			for _, r := range sp.AppliesToRegex {
				applies = append(applies, &cdknag.RegexAppliesTo{Regex: jsii.String(r)})
			}
			ns.AppliesTo = &applies
		}
		byPath[sp.Path] = append(byPath[sp.Path], ns)
	}
	for _, path := range order {
		list := byPath[path]
		cdknag.NagSuppressions_AddResourceSuppressionsByPath(s.Stack, jsii.String("/"+*s.StackName()+"/"+path), &list, jsii.Bool(false))
	}
}
