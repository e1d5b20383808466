package devstack

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// The table layout, in one place so it can be compared line by line with the
// CDK app. Every attribute is a string; every GSI projects ALL attributes
// (the emulator ignores KEYS_ONLY anyway). Local tables skip PITR and
// deletion protection: they live as long as the process.

// TableDef is one table: its key, its GSIs and the attributes they use.
type TableDef struct {
	PartitionKey, SortKey string
	GSIs                  []GSIDef
}

// GSIDef is one global secondary index.
type GSIDef struct {
	Name                  string
	PartitionKey, SortKey string
}

// StateTable is the single-table design for profiles, certificates, jobs,
// approvals and API keys. The GSIs are sparse: an item is in an index only
// while it carries that index's attributes.
var StateTable = TableDef{
	PartitionKey: "pk", SortKey: "sk",
	GSIs: []GSIDef{
		{Name: "list", PartitionKey: "list_pk", SortKey: "list_sk"},
		{Name: "by_parent", PartitionKey: "parent_pk", SortKey: "parent_sk"},
		{Name: "pending", PartitionKey: "pending_pk", SortKey: "pending_sk"},
		{Name: "due", PartitionKey: "due_pk", SortKey: "due_sk"},
	},
}

// AuditTable is the append-only audit trail: its rows, the heads of their
// hash chains and the signed digests (pkg/auditchain).
var AuditTable = TableDef{
	PartitionKey: "pk", SortKey: "sk",
	GSIs: []GSIDef{
		{Name: "by_actor", PartitionKey: "actor", SortKey: "sk"},
		{Name: "by_action", PartitionKey: "action", SortKey: "sk"},
		{Name: "by_day", PartitionKey: "day", SortKey: "sk"},
		{Name: "by_chain", PartitionKey: "chain", SortKey: "chain_seq"},
	},
}

// CreateTableInput renders the definition as an on-demand CreateTable call.
func (d TableDef) CreateTableInput(name string) *dynamodb.CreateTableInput {
	seen := map[string]bool{}
	var attrs []types.AttributeDefinition
	addAttr := func(n string) {
		if !seen[n] {
			seen[n] = true
			attrs = append(attrs, types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS})
		}
	}
	addAttr(d.PartitionKey)
	addAttr(d.SortKey)
	var gsis []types.GlobalSecondaryIndex
	for _, g := range d.GSIs {
		addAttr(g.PartitionKey)
		addAttr(g.SortKey)
		gsis = append(gsis, types.GlobalSecondaryIndex{
			IndexName:  aws.String(g.Name),
			KeySchema:  keySchema(g.PartitionKey, g.SortKey),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		})
	}
	return &dynamodb.CreateTableInput{
		TableName:              aws.String(name),
		BillingMode:            types.BillingModePayPerRequest,
		AttributeDefinitions:   attrs,
		KeySchema:              keySchema(d.PartitionKey, d.SortKey),
		GlobalSecondaryIndexes: gsis,
	}
}

func keySchema(hash, rangeKey string) []types.KeySchemaElement {
	return []types.KeySchemaElement{
		{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash},
		{AttributeName: aws.String(rangeKey), KeyType: types.KeyTypeRange},
	}
}

func (s *Stack) createTables(ctx context.Context) error {
	ddb := dynamodb.NewFromConfig(s.AWSConfig)
	s.Config.StateTable = s.Prefix + "-state"
	s.Config.AuditTable = s.Prefix + "-audit"
	for name, def := range map[string]TableDef{s.Config.StateTable: StateTable, s.Config.AuditTable: AuditTable} {
		if _, err := ddb.CreateTable(ctx, def.CreateTableInput(name)); err != nil {
			return fmt.Errorf("devstack: create table %s: %w", name, err)
		}
	}
	return nil
}

// createKeys creates the CA's signing key and the audit digest key (both
// ECC_NIST_P256 SIGN_VERIFY, as the stack makes them). A key costs
// ~$1/month on AWS; in the emulator it is free and lives with the process.
func (s *Stack) createKeys(ctx context.Context) error {
	client := kms.NewFromConfig(s.AWSConfig)
	for _, k := range []struct {
		what string
		id   *string
	}{{"CA key", &s.Config.CAKeyID}, {"audit digest key", &s.Config.DigestKeyID}} {
		out, err := client.CreateKey(ctx, &kms.CreateKeyInput{
			KeySpec:     kmstypes.KeySpecEccNistP256,
			KeyUsage:    kmstypes.KeyUsageTypeSignVerify,
			Description: aws.String("certctl local " + k.what + " (" + s.Prefix + ")"),
		})
		if err != nil {
			return fmt.Errorf("devstack: create %s: %w", k.what, err)
		}
		*k.id = aws.ToString(out.KeyMetadata.Arn)
	}
	return nil
}
