package delivery

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

type fakeSSM struct{ in *ssm.PutParameterInput }

func (f *fakeSSM) PutParameter(_ context.Context, in *ssm.PutParameterInput, _ ...func(*ssm.Options)) (*ssm.PutParameterOutput, error) {
	f.in = in
	return &ssm.PutParameterOutput{}, nil
}

// fakeSecrets holds secrets by name; createdMeanwhile makes the next
// CreateSecret find the secret created by someone else.
type fakeSecrets struct {
	values           map[string]string
	createdMeanwhile bool
	calls            []string
}

func (f *fakeSecrets) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	f.calls = append(f.calls, "put")
	name := aws.ToString(in.SecretId)
	if _, ok := f.values[name]; !ok {
		return nil, &smtypes.ResourceNotFoundException{Message: aws.String("no such secret")}
	}
	f.values[name] = aws.ToString(in.SecretString)
	return &secretsmanager.PutSecretValueOutput{}, nil
}

func (f *fakeSecrets) CreateSecret(_ context.Context, in *secretsmanager.CreateSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	f.calls = append(f.calls, "create")
	name := aws.ToString(in.Name)
	if f.createdMeanwhile {
		f.values[name] = "someone else's"
		return nil, &smtypes.ResourceExistsException{Message: aws.String("exists")}
	}
	f.values[name] = aws.ToString(in.SecretString)
	return &secretsmanager.CreateSecretOutput{}, nil
}

func TestPutParameterOverwritesWithIntelligentTiering(t *testing.T) {
	f := &fakeSSM{}
	p := &Publisher{SSM: f}
	if err := p.PutParameter(t.Context(), "/certctl/test/x", "chain"); err != nil {
		t.Fatal(err)
	}
	if !aws.ToBool(f.in.Overwrite) || f.in.Type != ssmtypes.ParameterTypeString || f.in.Tier != ssmtypes.ParameterTierIntelligentTiering ||
		aws.ToString(f.in.Value) != "chain" {
		t.Fatalf("put parameter %+v", f.in)
	}
}

func TestPutSecretCreatesOnceThenPuts(t *testing.T) {
	f := &fakeSecrets{values: map[string]string{}}
	p := &Publisher{Secrets: f}
	if err := p.PutSecret(t.Context(), "certctl/test/x", "v1"); err != nil {
		t.Fatal(err)
	}
	if err := p.PutSecret(t.Context(), "certctl/test/x", "v2"); err != nil {
		t.Fatal(err)
	}
	if f.values["certctl/test/x"] != "v2" || strings.Join(f.calls, ",") != "put,create,put" {
		t.Fatalf("values %v calls %v", f.values, f.calls)
	}
	// Created concurrently between the put and the create: the value is written over it.
	f = &fakeSecrets{values: map[string]string{}, createdMeanwhile: true}
	p = &Publisher{Secrets: f}
	if err := p.PutSecret(t.Context(), "certctl/test/y", "mine"); err != nil {
		t.Fatal(err)
	}
	if f.values["certctl/test/y"] != "mine" {
		t.Fatalf("values %v calls %v", f.values, f.calls)
	}
}

func TestErrorsNameTheCall(t *testing.T) {
	p := &Publisher{Secrets: failing{}}
	err := p.PutSecret(t.Context(), "certctl/test/x", "v")
	var denied *smtypes.InvalidRequestException
	if !errors.As(err, &denied) || !strings.HasPrefix(err.Error(), "put secret: ") {
		t.Fatalf("error %v", err)
	}
}

type failing struct{}

func (failing) PutSecretValue(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	return nil, &smtypes.InvalidRequestException{Message: aws.String("marked for deletion")}
}

func (failing) CreateSecret(context.Context, *secretsmanager.CreateSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	return nil, errors.New("not called")
}
