package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"
)

// API error bodies in the API's own shape for the responses
// API Gateway produces itself, before the api function runs. As in the
// API: 401 when the caller is not authenticated (no key or signature, an
// unknown or revoked key, a bad or expired signature), 403 when an
// authenticated caller is refused (an IAM or resource policy denies it).
// API Gateway answers a path that matches no route the way it answers a
// missing signature (MISSING_AUTHENTICATION_TOKEN), so such paths get 401
// too; every route is under /health, /api/v1/ and (key API) /console.
// A malformed Authorization header (IncompleteSignatureException) stays
// API Gateway's 403: no gateway response type covers it.
// (A function, not a var: package-level jsii calls would start the jsii
// runtime before main can adjust its environment.)
func gatewayResponses() []gatewayResponse {
	return []gatewayResponse{
		{awsapigateway.ResponseType_UNAUTHORIZED(), "401", "Unauthorized"},
		{awsapigateway.ResponseType_MISSING_AUTHENTICATION_TOKEN(), "401", "Unauthorized"},
		{awsapigateway.ResponseType_INVALID_SIGNATURE(), "401", "Unauthorized"},
		{awsapigateway.ResponseType_EXPIRED_TOKEN(), "401", "Unauthorized"},
		{awsapigateway.ResponseType_ACCESS_DENIED(), "403", "Forbidden"},
		{awsapigateway.ResponseType_THROTTLED(), "429", "Too Many Requests"},
		{awsapigateway.ResponseType_AUTHORIZER_FAILURE(), "500", "Internal Server Error"},
		{awsapigateway.ResponseType_AUTHORIZER_CONFIGURATION_ERROR(), "500", "Internal Server Error"},
	}
}

// PublicV1Paths are the resources under /api/v1/ that need no
// authentication (GET only): the API serves them to anyone.
var PublicV1Paths = []string{"health", "openapi.json"}

// PublicIssuerPaths are the resources under /api/v1/issuers/{id}/ that
// need no authentication (GET only): the CRL and the CA certificate, which
// relying parties fetch from the URLs each certificate names.
var PublicIssuerPaths = []string{"crl", "ca"}

// BinaryMediaTypes make API Gateway return the DER the api function
// base64-encodes (the CRL, the CA certificate) as bytes whenever the
// request's first Accept value matches: */* matches every value, curl's
// default (*/*) included. Request bodies with a Content-Type then reach
// the function base64-encoded (pkg/apigw decodes them); JSON answers,
// which the function does not encode, are unaffected.
var BinaryMediaTypes = []string{"*/*"}

type gatewayResponse struct {
	Type   awsapigateway.ResponseType
	Status string
	Text   string
}

// Access log line: who called (IAM identity or API key principal), never
// the key itself.
const accessLogFormat = `{"requestId":"$context.requestId","extendedRequestId":"$context.extendedRequestId","stage":"$context.stage",` +
	`"ip":"$context.identity.sourceIp","userAgent":"$context.identity.userAgent",` +
	`"caller":"$context.identity.caller","user":"$context.identity.user","userArn":"$context.identity.userArn",` +
	`"principalId":"$context.authorizer.principalId","requestTime":"$context.requestTime",` +
	`"httpMethod":"$context.httpMethod","resourcePath":"$context.resourcePath","path":"$context.path",` +
	`"status":"$context.status","protocol":"$context.protocol","responseLength":"$context.responseLength",` +
	`"integrationLatency":"$context.integrationLatency","authorizerError":"$context.authorizer.error",` +
	`"errorType":"$context.error.responseType","errorMessage":"$context.error.message"}`

// apis builds two REST APIs with identical routes, one per way in: a REST
// method has exactly one authorization type.
func (s *Stack) apis() {
	authorizer := awsapigateway.NewRequestAuthorizer(s.Stack, jsii.String("ApiKeyAuthorizer"), &awsapigateway.RequestAuthorizerProps{
		AuthorizerName:  jsii.String(s.name("api-key")),
		Handler:         s.Functions[FnAuthorizer],
		IdentitySources: &[]*string{awsapigateway.IdentitySource_Header(jsii.String("X-Api-Key"))},
		ResultsCacheTtl: awscdk.Duration_Seconds(jsii.Number(AuthorizerCacheTTL.Seconds())),
	})
	// API Gateway writes stage logs (access logs included) only once the
	// region's account settings name a CloudWatch Logs role. The IAM API
	// sets it (AWS::ApiGateway::Account, role and setting retained on
	// delete); both stages wait for it.
	s.IamAPI, _ = s.restAPI("IamApi", "iam", awsapigateway.AuthorizationType_IAM, nil,
		"SigV4-signed requests (AWS_IAM); identity from requestContext.identity", s.Props.APIGatewayAccountRole, s.sessionIdentityPolicy(), false)
	// The web console signs in with API keys, so only the key API serves
	// it; SigV4 callers use the CLI.
	s.KeyAPI, s.KeyAPIAccessLogs = s.restAPI("KeyApi", "key", awsapigateway.AuthorizationType_CUSTOM, authorizer,
		"API keys in X-Api-Key, validated by the REQUEST authorizer; identity from requestContext.authorizer", false, nil, true)
	if account := s.IamAPI.Node().TryFindChild(jsii.String("Account")); account != nil {
		s.KeyAPI.DeploymentStage().Node().AddDependency(account)
	}
}

func (s *Stack) restAPI(id, kind string, auth awsapigateway.AuthorizationType, authorizer awsapigateway.IAuthorizer,
	desc string, accountRole bool, policy awsiam.PolicyDocument, console bool) (awsapigateway.RestApi, awslogs.LogGroup) {
	logs := s.logGroup(id+"AccessLogs", "/aws/apigateway/"+s.name(kind)+"-access")
	logging := awsapigateway.MethodLoggingLevel_OFF
	if s.Props.APIExecutionLogs {
		logging = awsapigateway.MethodLoggingLevel_ERROR
	}
	api := awsapigateway.NewRestApi(s.Stack, jsii.String(id), &awsapigateway.RestApiProps{
		RestApiName:      jsii.String(s.name(kind)),
		Description:      jsii.String(fmt.Sprintf("certctl-serverless %s: %s", s.Props.Stage, desc)),
		EndpointTypes:    &[]awsapigateway.EndpointType{awsapigateway.EndpointType_REGIONAL},
		CloudWatchRole:   jsii.Bool(accountRole),
		Policy:           policy,
		BinaryMediaTypes: jsii.Strings(BinaryMediaTypes...),
		DeployOptions: &awsapigateway.StageOptions{
			StageName:            jsii.String(s.Props.Stage),
			AccessLogDestination: awsapigateway.NewLogGroupLogDestination(logs),
			AccessLogFormat:      awsapigateway.AccessLogFormat_Custom(jsii.String(accessLogFormat)),
			TracingEnabled:       jsii.Bool(true),
			ThrottlingRateLimit:  jsii.Number(s.Props.APIThrottleRate),
			ThrottlingBurstLimit: jsii.Number(float64(s.Props.APIThrottleBurst)),
			LoggingLevel:         logging,
			DataTraceEnabled:     jsii.Bool(false), // never log request bodies or headers
			MetricsEnabled:       jsii.Bool(false),
		},
	})
	// RestApi adds an "Endpoint" output per API; the stack's own outputs
	// name the URLs.
	api.Node().TryRemoveChild(jsii.String("Endpoint"))

	integ := awsapigateway.NewLambdaIntegration(s.Functions[FnAPI], &awsapigateway.LambdaIntegrationOptions{
		Proxy:           jsii.Bool(true),
		AllowTestInvoke: jsii.Bool(false),
	})
	// The liveness probe is public on both paths the API serves it at, and
	// so is the API's OpenAPI document (it describes routes, never data);
	// everything else under /api/v1/ needs the API's authentication.
	public := &awsapigateway.MethodOptions{AuthorizationType: awsapigateway.AuthorizationType_NONE}
	api.Root().AddResource(jsii.String("health"), nil).AddMethod(jsii.String("GET"), integ, public)
	v1 := api.Root().AddResource(jsii.String("api"), nil).AddResource(jsii.String("v1"), nil)
	for _, path := range PublicV1Paths {
		v1.AddResource(jsii.String(path), nil).AddMethod(jsii.String("GET"), integ, public)
	}
	proxy := v1.AddResource(jsii.String("{proxy+}"), nil)
	opts := &awsapigateway.MethodOptions{AuthorizationType: auth}
	if authorizer != nil {
		opts.Authorizer = authorizer
	}
	proxy.AddMethod(jsii.String("ANY"), integ, opts)
	if console {
		// The console's static files are public (GET only): the page holds
		// no data, and every API call it makes carries the signed-in key.
		// API Gateway routes /console/ to the /console resource.
		c := api.Root().AddResource(jsii.String("console"), nil)
		c.AddMethod(jsii.String("GET"), integ, public)
		c.AddResource(jsii.String("{proxy+}"), nil).AddMethod(jsii.String("GET"), integ, public)
	}
	// /api/v1/issuers/{id}/crl and /ca are public. API Gateway routes a
	// request to the most specific resource and never falls back to
	// {proxy+}, so every resource on the way, and a {proxy+} below
	// {id}, carries the authenticated ANY too (GET on crl and ca wins over
	// their ANY).
	issuers := v1.AddResource(jsii.String("issuers"), nil)
	issuers.AddMethod(jsii.String("ANY"), integ, opts)
	issuer := issuers.AddResource(jsii.String("{id}"), nil)
	issuer.AddMethod(jsii.String("ANY"), integ, opts)
	issuer.AddResource(jsii.String("{proxy+}"), nil).AddMethod(jsii.String("ANY"), integ, opts)
	for _, path := range PublicIssuerPaths {
		r := issuer.AddResource(jsii.String(path), nil)
		r.AddMethod(jsii.String("GET"), integ, public)
		r.AddMethod(jsii.String("ANY"), integ, opts)
	}

	for i, gr := range gatewayResponses() {
		api.AddGatewayResponse(jsii.String(fmt.Sprintf("GatewayResponse%d", i)), &awsapigateway.GatewayResponseOptions{
			Type:       gr.Type,
			StatusCode: jsii.String(gr.Status),
			Templates: &map[string]*string{
				"application/json": jsii.String(fmt.Sprintf(
					`{"error":%q,"message":$context.error.messageString,"request_id":"$context.requestId"}`, gr.Text)),
			},
		})
	}
	return api, logs
}

// sessionIdentityPolicy is the IAM API's resource policy when some rule of
// iamPrincipals says a role's sessions are people ("sessions":
// "source-identity"): a session of such a role may call only if it carries
// a source identity and its session name is that source identity. The
// role's trust policy requires the source identity and sets it to the
// caller's own identity; once set it cannot change, so the session name,
// which the api function sees, names the person. Without such rules the
// API has no resource policy (IAM policies alone decide, as before).
//
// The policy only denies: for callers in the API's own account an Allow in
// either the caller's IAM policy or the resource policy suffices, so this
// adds no access. aws:userid of a role session is <role id>:<session name>.
func (s *Stack) sessionIdentityPolicy() awsiam.PolicyDocument {
	roles := s.Props.sourceIdentityRoles()
	if len(roles) == 0 {
		return nil
	}
	var arns []any
	for _, r := range roles {
		account := r[0]
		if account == "" {
			account = *s.Account()
		}
		for _, p := range []string{"role/", "role/*/"} { // any path
			arns = append(arns, "arn:"+*s.Partition()+":iam::"+account+":"+p+r[1])
		}
	}
	deny := func(sid string, cond map[string]any) awsiam.PolicyStatement {
		return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String(sid),
			Effect:     awsiam.Effect_DENY,
			Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
			Actions:    jsii.Strings("execute-api:Invoke"),
			Resources:  jsii.Strings("execute-api:/*"),
			Conditions: &cond,
		})
	}
	return awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
		deny("SessionsNeedASourceIdentity", map[string]any{
			"ArnLike": map[string]any{"aws:PrincipalArn": arns},
			"Null":    map[string]any{"aws:SourceIdentity": "true"},
		}),
		deny("SessionNameIsTheSourceIdentity", map[string]any{
			"ArnLike":       map[string]any{"aws:PrincipalArn": arns},
			"StringNotLike": map[string]any{"aws:userid": "*:${aws:SourceIdentity}"},
		}),
	}})
}

// apiBaseURL is the API's base URL including the stage, without a trailing slash.
func (s *Stack) apiBaseURL(api awsapigateway.RestApi) *string {
	return awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("https://"), api.RestApiId(), jsii.String(".execute-api."), s.Region(),
		jsii.String("."), s.UrlSuffix(), jsii.String("/" + s.Props.Stage),
	})
}
