// Command bare-lambda is the reference for functions that invoke another
// function (the api, which asks the issue function for a new CRL after a
// revocation): bare with a Lambda client making one call. See ../bare.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

func main() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bare-lambda: aws config:", err)
		os.Exit(1)
	}
	db := dynamodb.NewFromConfig(cfg)
	sf := sfn.NewFromConfig(cfg)
	lc := awslambda.NewFromConfig(cfg)
	lambda.Start(func(ctx context.Context) (int, error) {
		if _, err := db.DescribeLimits(ctx, &dynamodb.DescribeLimitsInput{}); err != nil {
			return 0, err
		}
		out, err := sf.ListStateMachines(ctx, &sfn.ListStateMachinesInput{MaxResults: 1})
		if err != nil {
			return 0, err
		}
		if _, err := lc.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("bare"), InvocationType: lambdatypes.InvocationTypeEvent}); err != nil {
			return 0, err
		}
		return len(out.StateMachines), nil
	})
}
