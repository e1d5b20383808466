package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/jsii-runtime-go"
)

// API error bodies in the API's own shape (DESIGN §3) for the responses
// API Gateway produces itself, before the api function runs.
// (A function, not a var: package-level jsii calls would start the jsii
// runtime before main can adjust its environment.)
func gatewayResponses() []gatewayResponse {
	return []gatewayResponse{
		{awsapigateway.ResponseType_UNAUTHORIZED(), "401", "Unauthorized"},
		{awsapigateway.ResponseType_ACCESS_DENIED(), "403", "Forbidden"},
		{awsapigateway.ResponseType_MISSING_AUTHENTICATION_TOKEN(), "403", "Forbidden"},
		{awsapigateway.ResponseType_INVALID_SIGNATURE(), "403", "Forbidden"},
		{awsapigateway.ResponseType_EXPIRED_TOKEN(), "403", "Forbidden"},
		{awsapigateway.ResponseType_THROTTLED(), "429", "Too Many Requests"},
		{awsapigateway.ResponseType_AUTHORIZER_FAILURE(), "500", "Internal Server Error"},
		{awsapigateway.ResponseType_AUTHORIZER_CONFIGURATION_ERROR(), "500", "Internal Server Error"},
	}
}

type gatewayResponse struct {
	Type   awsapigateway.ResponseType
	Status string
	Text   string
}

// Access log line: who called (IAM identity or API key principal), never
// the key itself.
const accessLogFormat = `{"requestId":"$context.requestId","extendedRequestId":"$context.extendedRequestId",` +
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
	s.IamAPI = s.restAPI("IamApi", "iam", awsapigateway.AuthorizationType_IAM, nil,
		"SigV4-signed requests (AWS_IAM); identity from requestContext.identity", s.Props.APIGatewayAccountRole)
	s.KeyAPI = s.restAPI("KeyApi", "key", awsapigateway.AuthorizationType_CUSTOM, authorizer,
		"API keys in X-Api-Key, validated by the REQUEST authorizer; identity from requestContext.authorizer", false)
	if account := s.IamAPI.Node().TryFindChild(jsii.String("Account")); account != nil {
		s.KeyAPI.DeploymentStage().Node().AddDependency(account)
	}
}

func (s *Stack) restAPI(id, kind string, auth awsapigateway.AuthorizationType, authorizer awsapigateway.IAuthorizer, desc string, accountRole bool) awsapigateway.RestApi {
	logs := s.logGroup(id+"AccessLogs", "/aws/apigateway/"+s.name(kind)+"-access")
	logging := awsapigateway.MethodLoggingLevel_OFF
	if s.Props.APIExecutionLogs {
		logging = awsapigateway.MethodLoggingLevel_ERROR
	}
	api := awsapigateway.NewRestApi(s.Stack, jsii.String(id), &awsapigateway.RestApiProps{
		RestApiName:    jsii.String(s.name(kind)),
		Description:    jsii.String(fmt.Sprintf("certctl-serverless %s: %s", s.Props.Stage, desc)),
		EndpointTypes:  &[]awsapigateway.EndpointType{awsapigateway.EndpointType_REGIONAL},
		CloudWatchRole: jsii.Bool(accountRole),
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
	health := api.Root().AddResource(jsii.String("health"), nil)
	health.AddMethod(jsii.String("GET"), integ, &awsapigateway.MethodOptions{
		AuthorizationType: awsapigateway.AuthorizationType_NONE,
	})
	proxy := api.Root().AddResource(jsii.String("api"), nil).
		AddResource(jsii.String("v1"), nil).
		AddResource(jsii.String("{proxy+}"), nil)
	opts := &awsapigateway.MethodOptions{AuthorizationType: auth}
	if authorizer != nil {
		opts.Authorizer = authorizer
	}
	proxy.AddMethod(jsii.String("ANY"), integ, opts)

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
	return api
}

// apiBaseURL is the API's base URL including the stage, without a trailing slash.
func (s *Stack) apiBaseURL(api awsapigateway.RestApi) *string {
	return awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("https://"), api.RestApiId(), jsii.String(".execute-api."), s.Region(),
		jsii.String("."), s.UrlSuffix(), jsii.String("/" + s.Props.Stage),
	})
}
