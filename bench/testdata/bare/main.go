// Command bare is the reference function the `make bench` budgets compare
// every Lambda function against: the least each of them does. It loads the
// SDK configuration, builds a DynamoDB and a Step Functions client, and
// serves a handler that makes one call with each, so the linker keeps what a
// real function keeps for a call (serializers, signing, retries, endpoint
// resolution), not just the constructors.
//
// A function that links more SDK clients is measured against bare built
// with one tag per such client (ref_kms, ref_lambda, ref_events,
// ref_delivery: the files beside this one), each client making one call
// too: a client's packages cost what they cost whoever links them, which
// is the SDK's cost, not the function's. It lives under testdata so that
// `go build ./...` and `go vet ./...` skip it; the benchmarks build it by
// path with the Lambda flags.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// clients are the tagged files' clients: each builds its client from the
// configuration and returns the one call the handler makes with it.
var clients []func(aws.Config) func(context.Context) error

func main() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bare: aws config:", err)
		os.Exit(1)
	}
	db := dynamodb.NewFromConfig(cfg)
	sf := sfn.NewFromConfig(cfg)
	calls := make([]func(context.Context) error, len(clients))
	for i, c := range clients {
		calls[i] = c(cfg)
	}
	lambda.Start(func(ctx context.Context) (int, error) {
		if _, err := db.DescribeLimits(ctx, &dynamodb.DescribeLimitsInput{}); err != nil {
			return 0, err
		}
		out, err := sf.ListStateMachines(ctx, &sfn.ListStateMachinesInput{MaxResults: 1})
		if err != nil {
			return 0, err
		}
		for _, call := range calls {
			if err := call(ctx); err != nil {
				return 0, err
			}
		}
		return len(out.StateMachines) + len(aws.ToString(out.NextToken)), nil
	})
}
