// Command bare-kms-lambda is the reference for the api function, which
// reads the audit digest key's public half (KMS) and asks the issue
// function for a new CRL after a revocation (Lambda): bare with both
// clients, each making one call. See ../bare.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

func main() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bare-kms-lambda: aws config:", err)
		os.Exit(1)
	}
	db := dynamodb.NewFromConfig(cfg)
	sf := sfn.NewFromConfig(cfg)
	km := kms.NewFromConfig(cfg)
	lc := awslambda.NewFromConfig(cfg)
	lambda.Start(func(ctx context.Context) (int, error) {
		if _, err := db.DescribeLimits(ctx, &dynamodb.DescribeLimitsInput{}); err != nil {
			return 0, err
		}
		out, err := sf.ListStateMachines(ctx, &sfn.ListStateMachinesInput{MaxResults: 1})
		if err != nil {
			return 0, err
		}
		if _, err := km.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(os.Getenv("KEY_ID"))}); err != nil {
			return 0, err
		}
		if _, err := lc.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("bare"), InvocationType: lambdatypes.InvocationTypeEvent}); err != nil {
			return 0, err
		}
		return len(out.StateMachines), nil
	})
}
