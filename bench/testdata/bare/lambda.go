//go:build ref_lambda

package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// The Lambda client, as the api asks the issue function for a new CRL.
func init() {
	clients = append(clients, func(cfg aws.Config) func(context.Context) error {
		lc := awslambda.NewFromConfig(cfg)
		return func(ctx context.Context) error {
			_, err := lc.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("bare"), InvocationType: lambdatypes.InvocationTypeEvent})
			return err
		}
	})
}
