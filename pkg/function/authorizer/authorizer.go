// Package authorizer builds the authorizer function: API Gateway's REQUEST
// authorizer for API keys, over DynamoDB only.
package authorizer

import (
	"context"

	"github.com/aws/aws-lambda-go/events"

	auth "github.com/certctl-serverless/certctl-serverless/pkg/authorizer"
	"github.com/certctl-serverless/certctl-serverless/pkg/function/internal/wire"
	"github.com/certctl-serverless/certctl-serverless/pkg/lambdafn"
)

// Name is the function's name.
const Name = "authorizer"

// Handler answers one authorization request.
type Handler = func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error)

// New builds the authorizer function.
func New(_ context.Context, env lambdafn.Env) (Handler, error) {
	return auth.Handler(wire.Store(env), env.Log), nil
}
