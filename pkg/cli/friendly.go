package cli

import (
	"errors"
	"net"
	"net/url"
	"strings"

	"github.com/certctl-serverless/certctl-serverless/pkg/client"
)

// friendly is err's message with what to do about it, for the failures a
// person can fix: an endpoint that does not answer, a key or signature the
// API refuses, AWS credentials that are missing or expired.
func friendly(r *runner, err error) string {
	msg := err.Error()
	switch {
	case awsCredentialsProblem(msg):
		return msg + "\n  AWS credentials are missing or expired: sign in again (aws sso login, or refresh AWS_PROFILE's " +
			"credentials), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; then retry"
	case client.StatusOf(err) == 401:
		return msg + "\n  the API did not accept the credentials: check the key (--api-key-file, " + EnvAPIKey +
			", or the context's key file: certctl config view) is current and not revoked, and that it is for this endpoint; " +
			"with --sigv4 use the stack's IamApiUrl"
	case client.StatusOf(err) == 403 && strings.Contains(msg, "not authorized to access this resource"):
		return msg + "\n  API Gateway refused the call before the API saw it: an IAM policy denies it, or the key's " +
			"authorizer did; check that your role may invoke this stage"
	case unreachable(err):
		return msg + "\n  the API at " + r.endpointForHint() + " did not answer: check the endpoint (--endpoint, " +
			EnvEndpoint + ", or the context's: certctl config view) and that it is running (locally: make dev)"
	}
	return msg
}

func awsCredentialsProblem(msg string) bool {
	for _, s := range []string{"no valid providers in chain", "failed to refresh cached credentials", "ExpiredToken",
		"security token included in the request is expired", "token has expired", "refresh cached SSO token failed",
		"sigv4: no AWS credentials", "get identity: get credentials", "SSOProviderInvalidToken", "InvalidClientTokenId"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// unreachable reports a failure to reach the server at all (no answer).
func unreachable(err error) bool {
	var ne net.Error
	var ue *url.Error
	var oe *net.OpError
	var de *net.DNSError
	return errors.As(err, &oe) || errors.As(err, &de) || (errors.As(err, &ue) && errors.As(err, &ne))
}

func (r *runner) endpointForHint() string {
	s, err := r.settings()
	if err != nil || s.endpoint == "" {
		return "the endpoint"
	}
	return s.endpoint
}
