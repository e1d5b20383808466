// Command certctl holds the operator commands that need AWS credentials for
// the stack rather than an API key. Today: bootstrap-key, which creates the
// first admin key (or any key) by writing its hash straight to DynamoDB.
// There is no API path to it and no default key.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/certctl-serverless/certctl-serverless/pkg/apikey"
	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

const usage = `usage: certctl bootstrap-key --state-table NAME --audit-table NAME --principal ID --roles ROLE[,ROLE...]

Creates an API key for a principal and sets the principal's roles, writing
only the key's SHA-256 to the state table. The secret is printed once, on
stdout. Uses the standard AWS credential chain (AWS_PROFILE, AWS_REGION,
AWS_ENDPOINT_URL for LocalStack, ...). The table names default to
$CERTCTL_STATE_TABLE and $CERTCTL_AUDIT_TABLE; the stack outputs them.
Roles: admin, operator, approver, viewer, auditor.
`

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "certctl:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "bootstrap-key" {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown or missing command")
	}
	fs := flag.NewFlagSet("bootstrap-key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stateTable := fs.String("state-table", os.Getenv(config.EnvStateTable), "state table name")
	auditTable := fs.String("audit-table", os.Getenv(config.EnvAuditTable), "audit table name")
	principal := fs.String("principal", "", "principal id, e.g. alice")
	roles := fs.String("roles", "", "comma-separated roles, e.g. admin")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	parsed := domain.ParseRoles(*roles)
	switch {
	case *stateTable == "" || *auditTable == "":
		return fmt.Errorf("--state-table and --audit-table are required (see the stack outputs)")
	case *principal == "":
		return fmt.Errorf("--principal is required")
	case len(parsed) == 0 || domain.JoinRoles(parsed) != normalise(*roles):
		return fmt.Errorf("--roles %q: give known roles separated by commas (admin, operator, approver, viewer, auditor)", *roles)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("aws config: %w", err)
	}
	secret, err := apikey.Bootstrap(ctx, dynamodb.NewFromConfig(awsCfg), *stateTable, *auditTable, *principal, parsed)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, secret)
	fmt.Fprintf(stderr, "created a key for %s (%s); it is shown only this once\n", *principal, domain.JoinRoles(parsed))
	return nil
}

// normalise strips spaces so "admin, viewer" compares equal to its parse.
func normalise(csv string) string {
	out := make([]byte, 0, len(csv))
	for i := 0; i < len(csv); i++ {
		if csv[i] != ' ' {
			out = append(out, csv[i])
		}
	}
	return string(out)
}
