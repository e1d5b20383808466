// Command bare-kms-delivery is the reference for functions that sign with
// KMS and publish issued chains to SSM Parameter Store and Secrets Manager
// (the issue function): bare-kms with an SSM and a Secrets Manager client,
// each making one call. Those two clients add about 1.4 MB to a binary,
// which is the SDK's cost, not the function's own code. See ../bare.
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
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

func main() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bare-kms-delivery: aws config:", err)
		os.Exit(1)
	}
	db := dynamodb.NewFromConfig(cfg)
	km := kms.NewFromConfig(cfg)
	ps := ssm.NewFromConfig(cfg)
	sm := secretsmanager.NewFromConfig(cfg)
	lambda.Start(func(ctx context.Context) (int, error) {
		if _, err := db.DescribeLimits(ctx, &dynamodb.DescribeLimitsInput{}); err != nil {
			return 0, err
		}
		out, err := km.Sign(ctx, &kms.SignInput{KeyId: aws.String(os.Getenv("KEY_ID")), Message: make([]byte, 32)})
		if err != nil {
			return 0, err
		}
		if _, err := ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/bare"), Value: aws.String("x")}); err != nil {
			return 0, err
		}
		if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("bare"), SecretString: aws.String("x")}); err != nil {
			return 0, err
		}
		return len(out.Signature), nil
	})
}
