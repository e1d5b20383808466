// Package delivery publishes issued certificates' PEM chains to the
// targets a profile names: an SSM Parameter Store parameter, a Secrets
// Manager secret. It implements workflow.Publisher. Only chains pass
// through here: this service never holds a private key.
package delivery

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// SSM is the part of the SSM API used.
type SSM interface {
	PutParameter(ctx context.Context, in *ssm.PutParameterInput, optFns ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
}

// Secrets is the part of the Secrets Manager API used.
type Secrets interface {
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
}

// Publisher writes chains with SSM and Secrets Manager.
type Publisher struct {
	SSM     SSM
	Secrets Secrets
}

// PutParameter writes value as a String parameter, replacing any value.
// The tier is Intelligent-Tiering: a chain up to 4 KB stays Standard, a
// longer one (a 4096-bit RSA leaf with its CA can pass it) is Advanced (up
// to 8 KB), and an Advanced parameter is never asked to downgrade, which
// SSM refuses.
func (p *Publisher) PutParameter(ctx context.Context, name, value string) error {
	_, err := p.SSM.PutParameter(ctx, &ssm.PutParameterInput{
		Name:        aws.String(name),
		Value:       aws.String(value),
		Type:        ssmtypes.ParameterTypeString,
		Tier:        ssmtypes.ParameterTierIntelligentTiering,
		Overwrite:   aws.Bool(true),
		Description: aws.String("certctl-serverless: the PEM chain (leaf, then CA) of a certificate's newest version"),
	})
	if err != nil {
		return fmt.Errorf("put parameter: %w", err)
	}
	return nil
}

// PutSecret writes value as the secret's new current version, creating the
// secret the first time.
func (p *Publisher) PutSecret(ctx context.Context, name, value string) error {
	put := func() error {
		_, err := p.Secrets.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(value)})
		return err
	}
	err := put()
	var missing *smtypes.ResourceNotFoundException
	if !errors.As(err, &missing) {
		return wrap(err)
	}
	_, err = p.Secrets.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(name),
		SecretString: aws.String(value),
		Description:  aws.String("certctl-serverless: the PEM chain (leaf, then CA) of a certificate's newest version; no private key"),
	})
	var exists *smtypes.ResourceExistsException
	if errors.As(err, &exists) {
		return wrap(put()) // created concurrently: write the value
	}
	return wrap(err)
}

func wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("put secret: %w", err)
}
