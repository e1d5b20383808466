package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/certctl-serverless/certctl-serverless/pkg/client"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

func issuerCommands(r *runner) []*cobra.Command {
	list := r.leaf("list", "List the issuers", "", 0, 0, func(r *runner, _ *cobra.Command, _ []string) error { return issuersList(r) })
	var pemOnly bool
	get := r.leaf("get [ID]", "Show an issuer (default: \"default\"); --pem prints its CA certificate",
		"Show an issuer (default: \"default\"). With --pem, print only its CA certificate, to verify chains against. "+
			"The CA is created on the first issuance.", 0, 1,
		func(r *runner, _ *cobra.Command, args []string) error { return issuersGet(r, args, pemOnly) })
	get.Flags().BoolVar(&pemOnly, "pem", false, "print only the CA certificate (PEM)")
	get.Aliases = []string{"show", "describe"}
	get.ValidArgsFunction = r.completeIDs(func(string) []string { return []string{domain.DefaultIssuerID} })
	return []*cobra.Command{list, get, r.issuersCRL(), r.issuersCA()}
}

func (r *runner) auditCommand() *cobra.Command {
	var f client.AuditFilter
	var since, until string
	var pf *pageFlags
	cmd := r.leaf("audit", "List the audit trail, newest first (auditor, admin)",
		"List the audit trail, newest first (auditor, admin). Times are RFC 3339 or a duration ago (24h, 7d). "+
			"Without --actor, --action or --resource the server covers at most the 90 days before --until.", 0, 0,
		func(r *runner, cmd *cobra.Command, _ []string) error { return auditList(r, cmd, f, since, until, pf) })
	fs := cmd.Flags()
	fs.StringVar(&f.Actor, "actor", "", "only rows by `PRINCIPAL` (system-bypass proves bypass is off)")
	fs.StringVar(&f.Action, "action", "", "only this `ACTION`, e.g. approval_approved")
	fs.StringVar(&f.ResourceID, "resource", "", "only rows about resource `ID`")
	fs.StringVar(&since, "since", "", "from `TIME` on")
	fs.StringVar(&until, "until", "", "up to `TIME`")
	pf = addPageFlags(fs)
	r.completeFlag(fs, "action", func() []string { return domain.AuditActions })
	cmd.Example = "  certctl audit --actor system-bypass --since 7d\n  certctl audit verify"
	cmd.AddCommand(auditChainCommands(r)...)
	return cmd
}

func (r *runner) metricsCommand() *cobra.Command {
	return r.leaf("metrics", "Print the approval metrics in Prometheus text format", "", 0, 0,
		func(r *runner, _ *cobra.Command, _ []string) error { return metrics(r) })
}

func keyCommands(r *runner) []*cobra.Command {
	var in domain.APIKeyRequest
	var expiresIn durationFlag
	rl := listFlag{commas: true}
	create := r.leaf("create", "Create an API key (admin); the secret is printed once, alone on stdout",
		"Create an API key (admin), setting the principal's roles if --role is given. The secret is printed once, "+
			"alone on stdout; nothing stores it.", 0, 0,
		func(r *runner, cmd *cobra.Command, _ []string) error { return keysCreate(r, cmd, in, rl, expiresIn) })
	create.Flags().StringVar(&in.Principal, "principal", "", "the `PRINCIPAL` the key acts as, e.g. dave")
	create.Flags().Var(&rl, "role", "set the principal's roles: admin, operator, approver, viewer, auditor; repeatable (`ROLE`)")
	create.Flags().Var(&expiresIn, "expires-in", "the key stops working after this `DURATION`, e.g. 720h or 30d (default: never)")
	r.completeFlag(create.Flags(), "role", enumOf(allRoles))
	create.Example = "  certctl keys create --principal dave --role operator --expires-in 30d > dave.key && chmod 600 dave.key"

	var principal string
	var pf *pageFlags
	list := r.leaf("list", "List API keys, never their secrets (non-admins: their own)", "", 0, 0,
		func(r *runner, _ *cobra.Command, _ []string) error { return keysList(r, principal, pf) })
	list.Flags().StringVar(&principal, "principal", "", "only keys of `PRINCIPAL`")
	pf = addPageFlags(list.Flags())

	revoke := r.leaf("revoke ID", "Revoke a key at once",
		"Revoke a key at once (API Gateway's authorizer cache may honour it for up to 30 seconds).", 1, 1,
		func(r *runner, _ *cobra.Command, args []string) error { return keysRevoke(r, args[0]) })
	revoke.ValidArgsFunction = r.completeIDs(r.keyIDs)
	return []*cobra.Command{create, list, revoke}
}

func principalCommands(r *runner) []*cobra.Command {
	rl := listFlag{commas: true}
	set := r.leaf("set-roles P", "Replace a principal's roles (admin); no one grants a role they do not hold", "", 1, 1,
		func(r *runner, cmd *cobra.Command, args []string) error { return setRoles(r, cmd, args[0], rl) })
	set.Flags().Var(&rl, "role", "a `ROLE` to hold: admin, operator, approver, viewer, auditor; repeatable")
	r.completeFlag(set.Flags(), "role", enumOf(allRoles))
	return []*cobra.Command{set}
}

func issuersList(r *runner) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	fetch := func(ctx context.Context, _ client.PageRequest) ([]domain.IssuerView, string, error) {
		items, err := c.ListIssuers(ctx)
		return items, "", err
	}
	return listing(r, &pageFlags{}, fetch, []string{"ID", "STATUS", "CREATED"}, func(is domain.IssuerView) []string {
		return []string{is.ID, is.Status, fmtTimeP(is.CreatedAt)}
	})
}

func issuersGet(r *runner, pos []string, pemOnly bool) error {
	id := domain.DefaultIssuerID
	if len(pos) == 1 {
		id = pos[0]
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	is, err := c.GetIssuer(r.ctx, id)
	switch {
	case err != nil:
		return err
	case pemOnly && is.CAPEM == "":
		return fmt.Errorf("issuer %s is %s: its CA certificate is created on the first issuance", id, is.Status)
	case pemOnly:
		_, err = io.WriteString(r.stdout, is.CAPEM)
		return err
	}
	return r.show(is, func() []field {
		ca := "not yet created (made on the first issuance)"
		if is.CAPEM != "" {
			ca = "present (print it with --pem)"
		}
		return []field{{"ID", is.ID}, {"Status", is.Status}, {"Created", fmtTimeP(is.CreatedAt)}, {"CA certificate", ca}}
	})
}

// parseWhen reads an RFC 3339 time, or a duration meaning that long ago.
func (r *runner) parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := parseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-01-02T15:04:05Z) nor a duration (24h, 7d)", s)
	}
	return r.now().Add(-d).Truncate(time.Second), nil
}

func auditList(r *runner, cmd *cobra.Command, f client.AuditFilter, since, until string, pf *pageFlags) error {
	var err error
	if f.Since, err = r.parseWhen(since); err != nil {
		return r.usageErr("%s: --since: %v", name(cmd), err)
	}
	if f.Until, err = r.parseWhen(until); err != nil {
		return r.usageErr("%s: --until: %v", name(cmd), err)
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	fetch := func(ctx context.Context, p client.PageRequest) ([]domain.AuditEvent, string, error) {
		return c.ListAudit(ctx, f, p)
	}
	return listing(r, pf, fetch, []string{"TIME", "ACTOR", "ACTION", "RESOURCE"}, func(e domain.AuditEvent) []string {
		return []string{fmtTime(e.Timestamp), e.Actor, e.Action, e.ResourceType + " " + e.ResourceID}
	})
}

func metrics(r *runner) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	text, err := c.Metrics(r.ctx)
	if err != nil {
		return err
	}
	_, err = io.WriteString(r.stdout, text)
	return err
}

func roles(l listFlag) []domain.Role {
	out := make([]domain.Role, len(l.vals))
	for i, v := range l.vals {
		out[i] = domain.Role(v)
	}
	return out
}

func keysCreate(r *runner, cmd *cobra.Command, in domain.APIKeyRequest, rl listFlag, expiresIn durationFlag) error {
	if err := r.required(cmd, "principal"); err != nil {
		return err
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	in.Roles = roles(rl)
	if expiresIn.set {
		at := r.now().Add(expiresIn.d).UTC().Truncate(time.Second)
		in.ExpiresAt = &at
	}
	k, err := c.CreateAPIKey(r.ctx, in)
	if err != nil {
		return err
	}
	if r.structured() {
		return r.printValue(k)
	}
	// The secret alone on stdout, so KEY=$(certctl keys create ...) works,
	// as with bootstrap-key.
	fmt.Fprintln(r.stdout, k.Secret)
	fmt.Fprintf(r.stderr, "created key %s (%s…) for %s with roles [%s]; the secret is shown only this once\n",
		k.ID, k.Prefix, k.Principal, join(k.Roles))
	return nil
}

func keyState(k domain.APIKey, now time.Time) string {
	switch {
	case k.RevokedAt != nil:
		return "revoked"
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return "expired"
	}
	return "active"
}

func keysList(r *runner, principal string, pf *pageFlags) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	fetch := func(ctx context.Context, p client.PageRequest) ([]domain.APIKey, string, error) {
		return c.ListAPIKeys(ctx, principal, p)
	}
	return listing(r, pf, fetch, []string{"ID", "PREFIX", "PRINCIPAL", "STATE", "CREATED", "CREATED BY", "EXPIRES"},
		func(k domain.APIKey) []string {
			return []string{k.ID, k.Prefix, k.Principal, keyState(k, r.now()), fmtTime(k.CreatedAt), k.CreatedBy, fmtTimeP(k.ExpiresAt)}
		})
}

func keysRevoke(r *runner, id string) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	k, err := c.RevokeAPIKey(r.ctx, id)
	if err != nil {
		return err
	}
	if r.structured() {
		return r.printValue(k)
	}
	fmt.Fprintf(r.stdout, "revoked %s (%s…, %s)\n", k.ID, k.Prefix, k.Principal)
	return nil
}

func setRoles(r *runner, cmd *cobra.Command, principal string, rl listFlag) error {
	if len(rl.vals) == 0 {
		return r.usageErr("%s: --role is required (at least one)", name(cmd))
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	p, err := c.SetRoles(r.ctx, principal, roles(rl))
	if err != nil {
		return err
	}
	if r.structured() {
		return r.printValue(p)
	}
	fmt.Fprintf(r.stdout, "%s now holds: %s\n", p.ID, join(p.Roles))
	return nil
}

var allRoles = []domain.Role{domain.RoleAdmin, domain.RoleOperator, domain.RoleApprover, domain.RoleViewer, domain.RoleAuditor}
