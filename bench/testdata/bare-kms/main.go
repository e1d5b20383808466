// Command bare-kms is the reference for functions that sign with KMS (the
// issue function): bare's SDK configuration and DynamoDB client, with a KMS
// client where bare has Step Functions. The KMS client's package alone
// initialises in about 0.4 ms, so measuring the issue function against bare
// would charge it for the SDK, not for its own code. See ../bare.
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
)

func main() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bare-kms: aws config:", err)
		os.Exit(1)
	}
	db := dynamodb.NewFromConfig(cfg)
	km := kms.NewFromConfig(cfg)
	lambda.Start(func(ctx context.Context) (int, error) {
		if _, err := db.DescribeLimits(ctx, &dynamodb.DescribeLimitsInput{}); err != nil {
			return 0, err
		}
		out, err := km.Sign(ctx, &kms.SignInput{KeyId: aws.String(os.Getenv("KEY_ID")), Message: make([]byte, 32)})
		if err != nil {
			return 0, err
		}
		return len(out.Signature), nil
	})
}
