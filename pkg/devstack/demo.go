package devstack

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/certctl-serverless/certctl-serverless/pkg/apikey"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
)

// DemoUser is one API key local mode seeds.
type DemoUser struct {
	Name  string
	Roles []domain.Role
}

// DemoUsers are seeded by local mode and the tests: alice and bob can
// approve each other's requests, which two-person integrity needs for a
// demo; carol only reads; admin holds every role.
var DemoUsers = []DemoUser{
	{"alice", []domain.Role{domain.RoleOperator, domain.RoleApprover}},
	{"bob", []domain.Role{domain.RoleOperator, domain.RoleApprover}},
	{"carol", []domain.Role{domain.RoleViewer}},
	{"admin", []domain.Role{domain.RoleAdmin}},
}

// SeedDemoKeys creates a key for every demo user and returns name → secret.
func (s *Stack) SeedDemoKeys(ctx context.Context) (map[string]string, error) {
	db := dynamodb.NewFromConfig(s.AWSConfig)
	keys := make(map[string]string, len(DemoUsers))
	for _, u := range DemoUsers {
		secret, err := apikey.Bootstrap(ctx, store.New(db, s.Config.StateTable, s.Config.AuditTable), u.Name, u.Roles)
		if err != nil {
			return nil, fmt.Errorf("devstack: seed API key for %s: %w", u.Name, err)
		}
		keys[u.Name] = secret
	}
	return keys, nil
}
