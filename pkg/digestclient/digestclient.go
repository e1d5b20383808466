// Package digestclient is how the api reaches the digest function: a
// synchronous Lambda invocation. The api never holds the digest key; it
// can only ask the function, which signs the chain heads as they are,
// whatever the request says.
package digestclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Lambda is the subset of the Lambda API the client uses.
type Lambda interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Client invokes the digest function. It keeps the public key once read:
// a key's public half never changes.
type Client struct {
	api      Lambda
	function string

	mu     sync.Mutex
	keyID  string
	keyPEM string
}

// New returns a client of the named function (name or ARN).
func New(api Lambda, function string) *Client { return &Client{api: api, function: function} }

// WriteDigest asks the function for a digest of the chain now.
func (c *Client) WriteDigest(ctx context.Context) (*domain.AuditDigest, error) {
	out, err := c.invoke(ctx, domain.DigestActionWrite)
	if err != nil {
		return nil, err
	}
	if out.Digest == nil {
		return nil, errors.New("digestclient: the digest function returned no digest")
	}
	return out.Digest, nil
}

// PublicKey is the digest key's id and public half (PEM).
func (c *Client) PublicKey(ctx context.Context) (keyID, pem string, err error) {
	c.mu.Lock()
	keyID, pem = c.keyID, c.keyPEM
	c.mu.Unlock()
	if pem != "" {
		return keyID, pem, nil
	}
	out, err := c.invoke(ctx, domain.DigestActionPublicKey)
	if err != nil {
		return "", "", err
	}
	if !strings.Contains(out.PublicKeyPEM, "BEGIN PUBLIC KEY") {
		return "", "", errors.New("digestclient: the digest function returned no public key")
	}
	c.mu.Lock()
	c.keyID, c.keyPEM = out.KeyID, out.PublicKeyPEM
	c.mu.Unlock()
	return out.KeyID, out.PublicKeyPEM, nil
}

func (c *Client) invoke(ctx context.Context, action string) (*domain.DigestResponse, error) {
	payload, _ := json.Marshal(domain.DigestRequest{Action: action})
	out, err := c.api.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(c.function), Payload: payload})
	if err != nil {
		return nil, domain.Unavailable("the digest function could not be reached; retry", fmt.Errorf("digestclient: invoke %s: %w", c.function, err))
	}
	if out.FunctionError != nil {
		var fe struct {
			Type    string `json:"errorType"`
			Message string `json:"errorMessage"`
		}
		_ = json.Unmarshal(out.Payload, &fe)
		return nil, domain.Unavailable("the digest function failed; retry",
			fmt.Errorf("digestclient: %s %s: %s: %s", c.function, action, fe.Type, fe.Message))
	}
	var resp domain.DigestResponse
	if err := json.Unmarshal(out.Payload, &resp); err != nil {
		return nil, fmt.Errorf("digestclient: the digest function's answer: %w", err)
	}
	return &resp, nil
}
