package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/client"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

func issuerCommands() []command {
	return []command{
		{"issuers list", "", "List the issuers.", issuersList},
		{"issuers get", "[ID] [--pem]", "Show an issuer (default: \"default\"). With --pem, print only its CA " +
			"certificate, to verify chains against. The CA is created on the first issuance.", issuersGet},
	}
}

func auditCommands() []command {
	return []command{
		{"audit", "[--actor P] [--action A] [--resource ID] [--since T] [--until T] [--limit N] [--page-token TOKEN]",
			"List the audit trail, newest first (auditor, admin). Times are RFC 3339 or a duration ago (24h, 7d). " +
				"Without --actor, --action or --resource the server covers at most the 90 days before --until.", auditList},
		{"metrics", "", "Print the approval metrics in Prometheus text format.", metrics},
	}
}

func keyCommands() []command {
	return []command{
		{"keys create", "--principal P [--role R]... [--expires-in 720h]", "Create an API key (admin), setting the " +
			"principal's roles if --role is given. The secret is printed once, alone on stdout; nothing stores it.", keysCreate},
		{"keys list", "[--principal P] [--limit N] [--page-token TOKEN]", "List API keys, never their secrets. " +
			"Non-admins see only their own.", keysList},
		{"keys revoke", "ID", "Revoke a key at once (API Gateway's authorizer cache may honour it for up to 30 seconds).", keysRevoke},
		{"principals set-roles", "P --role R...", "Replace a principal's roles (admin). No one grants a role they do not hold.", setRoles},
	}
}

func issuersList(r *runner, args []string) error {
	fs := r.flags()
	if _, err := r.parse(fs, args, 0, 0); err != nil {
		return err
	}
	c, err := r.client(r.usage(fs))
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

func issuersGet(r *runner, args []string) error {
	fs := r.flags()
	var pemOnly bool
	fs.BoolVar(&pemOnly, "pem", false, "print only the CA certificate (PEM)")
	pos, err := r.parse(fs, args, 0, 1)
	if err != nil {
		return err
	}
	id := domain.DefaultIssuerID
	if len(pos) == 1 {
		id = pos[0]
	}
	c, err := r.client(r.usage(fs))
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

func auditList(r *runner, args []string) error {
	fs := r.flags()
	var f client.AuditFilter
	var since, until string
	fs.StringVar(&f.Actor, "actor", "", "only rows by `PRINCIPAL` (system-bypass proves bypass is off)")
	fs.StringVar(&f.Action, "action", "", "only this `ACTION`, e.g. approval_approved")
	fs.StringVar(&f.ResourceID, "resource", "", "only rows about resource `ID`")
	fs.StringVar(&since, "since", "", "from `TIME` on")
	fs.StringVar(&until, "until", "", "up to `TIME`")
	pf := addPageFlags(fs)
	if _, err := r.parse(fs, args, 0, 0); err != nil {
		return err
	}
	var err error
	if f.Since, err = r.parseWhen(since); err != nil {
		return r.usageErr(fs, "--since: %v", err)
	}
	if f.Until, err = r.parseWhen(until); err != nil {
		return r.usageErr(fs, "--until: %v", err)
	}
	c, err := r.client(r.usage(fs))
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

func metrics(r *runner, args []string) error {
	fs := r.flags()
	if _, err := r.parse(fs, args, 0, 0); err != nil {
		return err
	}
	c, err := r.client(r.usage(fs))
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

func keysCreate(r *runner, args []string) error {
	fs := r.flags()
	var in domain.APIKeyRequest
	var expiresIn durationFlag
	rl := listFlag{commas: true}
	fs.StringVar(&in.Principal, "principal", "", "the `PRINCIPAL` the key acts as, e.g. dave")
	fs.Var(&rl, "role", "set the principal's roles: admin, operator, approver, viewer, auditor; repeatable (`ROLE`)")
	fs.Var(&expiresIn, "expires-in", "the key stops working after this `DURATION`, e.g. 720h or 30d (default: never)")
	if _, err := r.parse(fs, args, 0, 0); err != nil {
		return err
	}
	if err := r.required(fs, "principal"); err != nil {
		return err
	}
	c, err := r.client(r.usage(fs))
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
	if r.jsonOutput() {
		return r.printJSON(k)
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

func keysList(r *runner, args []string) error {
	fs := r.flags()
	var principal string
	fs.StringVar(&principal, "principal", "", "only keys of `PRINCIPAL`")
	pf := addPageFlags(fs)
	if _, err := r.parse(fs, args, 0, 0); err != nil {
		return err
	}
	c, err := r.client(r.usage(fs))
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

func keysRevoke(r *runner, args []string) error {
	id, c, err := r.idAndClient(args)
	if err != nil {
		return err
	}
	k, err := c.RevokeAPIKey(r.ctx, id)
	if err != nil {
		return err
	}
	if r.jsonOutput() {
		return r.printJSON(k)
	}
	fmt.Fprintf(r.stdout, "revoked %s (%s…, %s)\n", k.ID, k.Prefix, k.Principal)
	return nil
}

func setRoles(r *runner, args []string) error {
	fs := r.flags()
	rl := listFlag{commas: true}
	fs.Var(&rl, "role", "a `ROLE` to hold: admin, operator, approver, viewer, auditor; repeatable")
	pos, err := r.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if len(rl.vals) == 0 {
		return r.usageErr(fs, "--role is required (at least one)")
	}
	c, err := r.client(r.usage(fs))
	if err != nil {
		return err
	}
	p, err := c.SetRoles(r.ctx, pos[0], roles(rl))
	if err != nil {
		return err
	}
	if r.jsonOutput() {
		return r.printJSON(p)
	}
	fmt.Fprintf(r.stdout, "%s now holds: %s\n", p.ID, join(p.Roles))
	return nil
}
