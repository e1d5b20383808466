//go:build ref_kms

package main

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// The KMS client, as the issue and digest functions sign and the api
// reads the digest key's public half.
func init() {
	clients = append(clients, func(cfg aws.Config) func(context.Context) error {
		km := kms.NewFromConfig(cfg)
		return func(ctx context.Context) error {
			_, err := km.Sign(ctx, &kms.SignInput{KeyId: aws.String(os.Getenv("KEY_ID")), Message: make([]byte, 32)})
			return err
		}
	})
}
