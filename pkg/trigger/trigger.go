// Package trigger asks another function to do work without waiting for it:
// a Lambda Invoke with InvocationType Event. The api function uses it to
// have the issue function (which holds the CA key; the api function may
// not sign) make an issuer's CRL again right after a revocation.
package trigger

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// API is the part of the Lambda API used.
type API interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// CRL invokes Function with {"action":"refresh_crl","issuer_id":…}. Lambda
// queues the event and retries it; the function refreshes only what is
// stale, so a duplicate costs one read.
type CRL struct {
	Lambda   API
	Function string
}

// RefreshCRL implements workflow.CRLTrigger.
func (c *CRL) RefreshCRL(ctx context.Context, issuerID string) error {
	payload, _ := json.Marshal(map[string]string{"action": "refresh_crl", "issuer_id": issuerID}) // plain strings
	out, err := c.Lambda.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(c.Function),
		InvocationType: types.InvocationTypeEvent,
		Payload:        payload,
	})
	if err != nil {
		return fmt.Errorf("trigger: invoke %s: %w", c.Function, err)
	}
	if out.StatusCode != 202 {
		return fmt.Errorf("trigger: invoke %s: status %d, want 202 (queued)", c.Function, out.StatusCode)
	}
	return nil
}
