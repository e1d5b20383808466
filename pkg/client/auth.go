package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
)

// Auth authenticates requests: an API key (APIKey) or AWS SigV4 (SigV4,
// LoadSigV4). The method is unexported so these are the only two kinds,
// matching the two front doors a deployment has.
type Auth interface {
	authorize(ctx context.Context, req *http.Request, payload []byte) error
}

type apiKeyAuth string

// APIKey authenticates with an API key (X-Api-Key), for a stack's key API
// or local mode.
func APIKey(secret string) Auth { return apiKeyAuth(secret) }

func (k apiKeyAuth) authorize(_ context.Context, req *http.Request, _ []byte) error {
	if k == "" {
		return errors.New("client: the API key is empty")
	}
	req.Header.Set("X-Api-Key", string(k))
	return nil
}

// signingService is the SigV4 service name of API Gateway's invoke API.
const signingService = "execute-api"

type sigV4Auth struct {
	creds  aws.CredentialsProvider
	region string
	signer *v4.Signer
	now    func() time.Time
}

// SigV4 signs requests with the credentials of cfg, for a stack's IAM API.
// The signing region is the endpoint's when its host names one
// (<id>.execute-api.<region>.amazonaws.com): API Gateway checks the
// signature against the region it serves, whatever the profile says. Other
// hosts (a custom domain) are signed for cfg's region.
func SigV4(cfg aws.Config) Auth {
	return &sigV4Auth{creds: cfg.Credentials, region: cfg.Region, signer: v4.NewSigner(), now: time.Now}
}

// LoadSigV4 is SigV4 with the standard AWS configuration chain
// (environment, shared files, SSO, instance roles).
func LoadSigV4(ctx context.Context, optFns ...func(*config.LoadOptions) error) (Auth, error) {
	cfg, err := config.LoadDefaultConfig(ctx, optFns...)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	return SigV4(cfg), nil
}

func (s *sigV4Auth) authorize(ctx context.Context, req *http.Request, payload []byte) error {
	if s.creds == nil {
		return errors.New("sigv4: no AWS credentials configured")
	}
	region := regionFromHost(req.URL.Hostname())
	if region == "" {
		region = s.region
	}
	if region == "" {
		return errors.New("sigv4: no AWS region: set AWS_REGION (or a profile's region), or use the endpoint's execute-api host name")
	}
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("sigv4: AWS credentials: %w", err)
	}
	// The payload hash is signed too, so the body cannot be swapped in
	// flight. The signer adds X-Amz-Date and, for temporary credentials,
	// X-Amz-Security-Token.
	sum := sha256.Sum256(payload)
	if err := s.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), signingService, region, s.now().UTC()); err != nil {
		return fmt.Errorf("sigv4: %w", err)
	}
	return nil
}

// regionFromHost reads the region out of an API Gateway endpoint such as
// abc123.execute-api.eu-west-1.amazonaws.com (also .amazonaws.com.cn and
// private endpoints, abc123-vpce-0a1b.execute-api.eu-west-1.vpce.amazonaws.com).
func regionFromHost(host string) string {
	parts := strings.Split(strings.ToLower(host), ".")
	for i := 0; i+2 < len(parts); i++ {
		if parts[i] != signingService || !regionName.MatchString(parts[i+1]) {
			continue
		}
		for _, p := range parts[i+2:] {
			if p == "amazonaws" {
				return parts[i+1]
			}
		}
	}
	return ""
}

// regionName is the shape of an AWS region: us-east-1, eu-central-2,
// us-gov-west-1, cn-north-1.
var regionName = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
