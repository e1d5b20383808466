// Package authorizer is the API Gateway REQUEST authorizer for API keys: it
// resolves X-Api-Key to a principal and roles and passes them on in the
// authorizer context. Role checks happen in the API, per route.
package authorizer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/certctl-serverless/certctl-serverless/pkg/apikey"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// HeaderName is the header carrying the API key.
const HeaderName = "X-Api-Key"

// ErrUnauthorized is the exact error API Gateway turns into a 401.
var ErrUnauthorized = errors.New("Unauthorized")

// Handler returns the authorizer function.
func Handler(lookup apikey.Lookup, log *slog.Logger) func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	return func(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		secret := header(req.Headers, HeaderName)
		actor, err := apikey.Verify(ctx, lookup, secret, time.Now())
		switch {
		case errors.Is(err, apikey.ErrMalformed), errors.Is(err, apikey.ErrUnknown),
			errors.Is(err, apikey.ErrRevoked), errors.Is(err, apikey.ErrExpired):
			log.WarnContext(ctx, "api key refused", "reason", err.Error(), "prefix", apikey.Prefix(secret), "method_arn", req.MethodArn)
			return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
		case err != nil:
			// A store failure is not the caller's fault: fail closed with a 500.
			return events.APIGatewayCustomAuthorizerResponse{}, fmt.Errorf("authorizer: %w", err)
		}
		return events.APIGatewayCustomAuthorizerResponse{
			PrincipalID: actor.ID,
			PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
				Version: "2012-10-17",
				Statement: []events.IAMPolicyStatement{{
					Action:   []string{"execute-api:Invoke"},
					Effect:   "Allow",
					Resource: []string{wholeAPI(req.MethodArn)},
				}},
			},
			Context: map[string]any{
				"principal":  actor.ID,
				"roles":      domain.JoinRoles(actor.Roles),
				"actor_type": string(domain.ActorUser),
			},
		}, nil
	}
}

// header reads a header case-insensitively, as API Gateway may pass any case.
func header(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// wholeAPI widens a method ARN to every method of its stage, so a cached
// decision for one key applies to all routes (roles are checked per route
// in the API itself).
func wholeAPI(methodARN string) string {
	// arn:aws:execute-api:region:account:apiId/stage/METHOD/path...
	parts := strings.SplitN(methodARN, "/", 3)
	if len(parts) < 2 {
		return methodARN
	}
	return parts[0] + "/" + parts[1] + "/*/*"
}
