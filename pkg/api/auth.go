package api

import (
	"context"
	"net/http"

	"github.com/certctl-serverless/certctl-serverless/pkg/apigw"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Identities resolves the caller of a request to an actor.
type Identities interface {
	// FromIAM maps an AWS_IAM caller (the userArn API Gateway verified) to
	// an actor; unknown principals get no roles.
	FromIAM(ctx context.Context, userARN string) (domain.Actor, error)
}

type actorKey struct{}

func actorFrom(ctx context.Context) domain.Actor {
	a, _ := ctx.Value(actorKey{}).(domain.Actor)
	return a
}

// authenticate resolves the actor from what API Gateway established: the
// REQUEST authorizer's context for API keys, or the SigV4-verified identity
// for AWS_IAM. The body never names the actor.
func (a *API) authenticate(r *http.Request) (domain.Actor, error) {
	rc, ok := apigw.RequestContext(r.Context())
	if !ok {
		return domain.Actor{}, domain.ErrUnauthorized
	}
	if principal, _ := rc.Authorizer["principal"].(string); principal != "" {
		roles, _ := rc.Authorizer["roles"].(string)
		return domain.Actor{ID: principal, Type: domain.ActorUser, Roles: domain.ParseRoles(roles)}, nil
	}
	if arn := rc.Identity.UserArn; arn != "" && a.identities != nil {
		return a.identities.FromIAM(r.Context(), arn)
	}
	return domain.Actor{}, domain.ErrUnauthorized
}

// require wraps h so it runs only for an authenticated actor holding one of roles.
func (a *API) require(roles []domain.Role, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		actor, err := a.authenticate(r)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if !actor.Has(roles...) {
			a.fail(w, r, domain.Forbiddenf("%s needs one of the roles %v", actor.ID, roles))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), actorKey{}, actor)))
	}
}
