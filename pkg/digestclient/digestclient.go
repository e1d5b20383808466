// Package digestclient invokes the digest function directly, with the
// caller's own AWS credentials (lambda:InvokeFunction on that function):
// how `certctl audit digest` asks for a digest now. The api has no such
// path: the internet-facing function can neither sign with the digest key
// nor cause a digest.
package digestclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Lambda is the subset of the Lambda API the client uses.
type Lambda interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Client invokes one digest function (name or ARN).
type Client struct {
	api      Lambda
	function string
}

// New returns a client of the named function.
func New(api Lambda, function string) *Client { return &Client{api: api, function: function} }

// WriteDigest asks the function for a digest of the chain now.
func (c *Client) WriteDigest(ctx context.Context) (*domain.AuditDigest, error) {
	payload, _ := json.Marshal(domain.DigestRequest{Action: domain.DigestActionWrite})
	out, err := c.api.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(c.function), Payload: payload})
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", c.function, err)
	}
	if out.FunctionError != nil {
		var fe struct {
			Type    string `json:"errorType"`
			Message string `json:"errorMessage"`
		}
		_ = json.Unmarshal(out.Payload, &fe)
		return nil, fmt.Errorf("the digest function %s failed: %s: %s", c.function, fe.Type, fe.Message)
	}
	var resp domain.DigestResponse
	if err := json.Unmarshal(out.Payload, &resp); err != nil {
		return nil, fmt.Errorf("the digest function's answer: %w", err)
	}
	if resp.Digest == nil {
		return nil, errors.New("the digest function returned no digest")
	}
	return resp.Digest, nil
}
