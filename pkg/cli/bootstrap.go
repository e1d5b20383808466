package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/spf13/cobra"

	"github.com/certctl-serverless/certctl-serverless/pkg/apikey"
	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
)

const bootstrapUsage = `usage: certctl bootstrap-key --state-table NAME --audit-table NAME --principal ID --roles ROLE[,ROLE...]

Creates an API key for a principal and sets the principal's roles, writing
only the key's SHA-256 to the state table. The secret is printed once, on
stdout. Uses the standard AWS credential chain (AWS_PROFILE, AWS_REGION,
AWS_ENDPOINT_URL for LocalStack, ...). The table names default to
$CERTCTL_STATE_TABLE and $CERTCTL_AUDIT_TABLE; the stack outputs them.
Roles: admin, operator, approver, viewer, auditor.
`

// bootstrapCommand parses its own flags (cobra's are off): see bootstrapKey.
func (r *runner) bootstrapCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "bootstrap-key --state-table NAME --audit-table NAME --principal ID --roles ROLE[,ROLE...]",
		Short:              "Create an API key straight in DynamoDB, with AWS credentials for the stack (the first admin key)",
		Long:               bootstrapUsage,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			r.cmd = cmd
			return bootstrapKey(r, args)
		},
	}
}

// bootstrapKey is the command that predates the API client; its flags and
// output are a contract with the deploy docs and localstack/e2e.sh, so it
// keeps its own flag set (no global flags) and usage text.
func bootstrapKey(r *runner, args []string) error {
	fs := flag.NewFlagSet("bootstrap-key", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	stateTable := fs.String("state-table", r.env(config.EnvStateTable), "state table name")
	auditTable := fs.String("audit-table", r.env(config.EnvAuditTable), "audit table name")
	principal := fs.String("principal", "", "principal id, e.g. alice")
	rolesCSV := fs.String("roles", "", "comma-separated roles, e.g. admin")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(r.stdout, bootstrapUsage)
			return nil
		}
		return &usageError{msg: "bootstrap-key: " + err.Error()}
	}
	bad := func(msg string) error { return &usageError{msg: "bootstrap-key: " + msg} }
	parsed := domain.ParseRoles(*rolesCSV)
	switch {
	case fs.NArg() > 0:
		return bad(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	case *stateTable == "" || *auditTable == "":
		return bad("--state-table and --audit-table are required (see the stack outputs)")
	case *principal == "":
		return bad("--principal is required")
	case len(parsed) == 0 || domain.JoinRoles(parsed) != normalise(*rolesCSV):
		return bad(fmt.Sprintf("--roles %q: give known roles separated by commas (admin, operator, approver, viewer, auditor)", *rolesCSV))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(r.ctx)
	if err != nil {
		return fmt.Errorf("aws config: %w", err)
	}
	secret, err := apikey.Bootstrap(r.ctx, store.New(dynamodb.NewFromConfig(awsCfg), *stateTable, *auditTable), *principal, parsed)
	if err != nil {
		return err
	}
	fmt.Fprintln(r.stdout, secret)
	fmt.Fprintf(r.stderr, "created a key for %s (%s); it is shown only this once\n", *principal, domain.JoinRoles(parsed))
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
