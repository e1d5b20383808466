// Command bare-delivery is the reference for functions that publish issued
// chains to SSM Parameter Store and Secrets Manager without signing (the
// reaper): bare with an SSM and a Secrets Manager client, each making one
// call. The SSM client's packages alone initialise in about 1.5 ms (its
// schemas), the SDK's cost, not the function's. See ../bare.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

func main() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bare-delivery: aws config:", err)
		os.Exit(1)
	}
	db := dynamodb.NewFromConfig(cfg)
	sf := sfn.NewFromConfig(cfg)
	ps := ssm.NewFromConfig(cfg)
	sm := secretsmanager.NewFromConfig(cfg)
	lambda.Start(func(ctx context.Context) (int, error) {
		if _, err := db.DescribeLimits(ctx, &dynamodb.DescribeLimitsInput{}); err != nil {
			return 0, err
		}
		out, err := sf.ListStateMachines(ctx, &sfn.ListStateMachinesInput{MaxResults: 1})
		if err != nil {
			return 0, err
		}
		if _, err := ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/bare"), Value: aws.String("x")}); err != nil {
			return 0, err
		}
		if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("bare"), SecretString: aws.String("x")}); err != nil {
			return 0, err
		}
		return len(out.StateMachines), nil
	})
}
