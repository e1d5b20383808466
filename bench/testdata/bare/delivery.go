//go:build ref_delivery

package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// The SSM and Secrets Manager clients, as the issue function and the
// reaper deliver issued certificates.
func init() {
	clients = append(clients, func(cfg aws.Config) func(context.Context) error {
		sm, sc := ssm.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg)
		return func(ctx context.Context) error {
			if _, err := sm.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/bare"), Value: aws.String("x"), Overwrite: aws.Bool(true)}); err != nil {
				return err
			}
			_, err := sc.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("bare"), SecretString: aws.String("x")})
			return err
		}
	})
}
