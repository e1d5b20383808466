package cli

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

func profileCommands(r *runner) []*cobra.Command {
	var pf *pageFlags
	list := r.leaf("list", "List certificate profiles", "", 0, 0, func(r *runner, _ *cobra.Command, _ []string) error { return profilesList(r, pf) })
	pf = addPageFlags(list.Flags())

	get := r.leaf("get ID", "Show a profile", "", 1, 1, func(r *runner, _ *cobra.Command, args []string) error { return profilesGet(r, args[0]) })
	get.Aliases = []string{"show", "describe"}
	get.ValidArgsFunction = r.completeIDs(r.profileIDs)

	var cf *profileFlags
	create := r.leaf("create", "Create a profile (one that needs no approval is itself a request)",
		"Create a profile. An approval-tier profile applies at once; one that needs no approval is a request "+
			"someone else must approve (it prints \"pending approval ar-...\"). Unset fields take the server's defaults "+
			"(90d validity, renew 30d before, the common key algorithms, issuer default).", 0, 0,
		func(r *runner, cmd *cobra.Command, _ []string) error { return profilesCreate(r, cmd, cf) })
	cf = addProfileFlags(r, create.Flags(), true)
	create.Example = "  certctl profiles create --id prod-web --name \"Production web\" --requires-approval \\\n" +
		"    --allowed-name web.example.com --allowed-name www.example.com\n" +
		"  certctl profiles create --id pay --name Payments --requires-approval --allowed-name '**.pay.example.com' \\\n" +
		"    --factor security=1,dana,erin --factor owners=1,role:approver"

	var uf *profileFlags
	update := r.leaf("update ID", "Change a profile; flags not given keep their values",
		"Change a profile: flags not given keep their current values, giving --approver or "+
			"--approver-role replaces the whole approver pool (--approver '' clears it), giving --factor replaces the whole approval "+
			"policy (--factor '' clears it), and giving --ssm-parameter or --secret replaces both delivery targets "+
			"(--ssm-parameter '' --secret '' clears them). An edit to or from an approval-tier profile, and any change of who approves "+
			"or how many, changes nothing yet: it prints \"pending approval ar-...\" and applies once approved under the profile's current policy.", 1, 1,
		func(r *runner, cmd *cobra.Command, args []string) error { return profilesUpdate(r, cmd, args[0], uf) })
	uf = addProfileFlags(r, update.Flags(), false)
	update.ValidArgsFunction = r.completeIDs(r.profileIDs)

	del := r.leaf("delete ID", "Delete a profile (gated like any edit of an approval-tier profile)",
		"Delete a profile. Deleting an approval-tier profile needs approval like any other edit; "+
			"a profile still used by a certificate cannot be deleted.", 1, 1,
		func(r *runner, _ *cobra.Command, args []string) error { return profilesDelete(r, args[0]) })
	del.ValidArgsFunction = r.completeIDs(r.profileIDs)
	return []*cobra.Command{list, get, create, update, del}
}

// profileFlags are the writable fields of a profile as flags.
type profileFlags struct {
	id, name, issuer                 string
	requiresApproval                 bool
	requiredApprovals                int
	maxValidity, renewBefore         durationFlag
	names, keyAlgs, approvers, roles listFlag
	ssmParameter, secret             string
	factors                          factorFlag
	notify                           listFlag
}

func addProfileFlags(r *runner, fs *pflag.FlagSet, withID bool) *profileFlags {
	p := &profileFlags{keyAlgs: listFlag{commas: true}, roles: listFlag{commas: true}, notify: listFlag{commas: true}}
	if withID {
		fs.StringVar(&p.id, "id", "", "profile `ID`: lower-case letters, digits, '.', '_', '-'")
	}
	fs.StringVar(&p.name, "name", "", "display `NAME`")
	fs.Var(&p.names, "allowed-name", "a name `PATTERN` the profile may issue: host.example.com, *.example.com (one label) or **.example.com (any depth); repeatable")
	fs.BoolVar(&p.requiresApproval, "requires-approval", false, "issuance needs a second person's approval (--requires-approval=false to turn off)")
	fs.Var(&p.maxValidity, "max-validity", "longest certificate lifetime, a `DURATION` such as 2160h or 90d (at most 398d)")
	fs.Var(&p.renewBefore, "renew-before", "renew this `DURATION` before expiry, e.g. 720h or 30d")
	fs.Var(&p.keyAlgs, "key-algorithms", "allowed key `ALGS`, comma-separated: "+join(domain.KnownKeyAlgorithms))
	fs.StringVar(&p.issuer, "issuer", "", "issuer `ID`")
	fs.Var(&p.approvers, "approver", "a `PRINCIPAL` (key principal or IAM ARN) allowed to approve; repeatable")
	fs.Var(&p.roles, "approver-role", "a `ROLE` whose holders may approve; repeatable")
	fs.StringVar(&p.ssmParameter, "ssm-parameter", "", "publish each new version's PEM chain to this SSM parameter `NAME` "+
		"(under /certctl/<stage>/; {certificate_id} is replaced by the certificate's id)")
	fs.StringVar(&p.secret, "secret", "", "publish each new version's PEM chain to this Secrets Manager secret `NAME` "+
		"(under certctl/<stage>/; {certificate_id} is replaced by the certificate's id)")
	fs.IntVar(&p.requiredApprovals, "required-approvals", 1, "how many distinct people (`N`, 1 to 10), none of them the requester, must approve a request")
	fs.Var(&p.factors, "factor", "an approval policy factor, `NAME=COUNT[,MEMBER...]`: COUNT approvals from the members (principals, "+
		"or role:approver / role:admin; none: any approver); repeatable, every factor must be met and one person counts once; --factor '' clears the policy")
	fs.Var(&p.notify, "notify", "notification `TARGETS` told about the profile's requests and certificates (names configured at deploy), "+
		"comma-separated or repeated; --notify '' returns to the stage's defaults")
	r.completeFlag(fs, "key-algorithms", func() []string { return domain.KnownKeyAlgorithms })
	r.completeFlag(fs, "approver-role", func() []string { return []string{string(domain.RoleApprover), string(domain.RoleAdmin)} })
	return p
}

// apply copies the flags given on the command line onto in.
func (p *profileFlags) apply(fs *pflag.FlagSet, in *domain.ProfileInput) {
	fs.Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "name":
			in.Name = domain.Ptr(p.name)
		case "allowed-name":
			names := make([]domain.NamePattern, len(p.names.vals))
			for i, n := range p.names.vals {
				names[i] = domain.NamePattern(n)
			}
			in.AllowedNames = &names
		case "requires-approval":
			in.RequiresApproval = domain.Ptr(p.requiresApproval)
		case "max-validity":
			in.MaxValiditySeconds = domain.Ptr(int64(p.maxValidity.d.Seconds()))
		case "renew-before":
			in.RenewBeforeSeconds = domain.Ptr(int64(p.renewBefore.d.Seconds()))
		case "key-algorithms":
			in.AllowedKeyAlgorithms = domain.Ptr(p.keyAlgs.vals)
		case "issuer":
			in.IssuerID = domain.Ptr(p.issuer)
		case "approver", "approver-role":
			// --approver '' clears the pool: anyone holding approver may approve.
			in.Approvers = &domain.ApproverPool{Principals: p.approvers.vals, Roles: roles(p.roles)}
		case "ssm-parameter", "secret":
			// Either replaces both targets; both '' clear them.
			in.Delivery = &domain.DeliveryTargets{SSMParameter: p.ssmParameter, Secret: p.secret}
		case "required-approvals":
			in.RequiredApprovals = domain.Ptr(p.requiredApprovals)
		case "factor":
			in.ApprovalPolicy = domain.Ptr(p.factors.policy)
		case "notify":
			in.Notify = domain.Ptr(append([]string{}, p.notify.vals...))
		}
	})
}

func profilesList(r *runner, pf *pageFlags) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	return listing(r, pf, c.ListProfiles,
		[]string{"ID", "NAME", "APPROVAL", "VALIDITY", "RENEW BEFORE", "ISSUER", "VERSION", "PENDING EDIT"},
		func(p domain.Profile) []string {
			approval := "-"
			if p.RequiresApproval {
				approval = "required"
			}
			return []string{p.ID, p.Name, approval, fmtSeconds(p.MaxValiditySeconds), fmtSeconds(p.RenewBeforeSeconds),
				p.IssuerID, strconv.FormatInt(p.Version, 10), p.PendingEditID}
		})
}

func profilesGet(r *runner, id string) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	p, err := c.GetProfile(r.ctx, id)
	if err != nil {
		return err
	}
	return r.showProfile(p)
}

func (r *runner) showProfile(p *domain.Profile) error {
	return r.show(p, func() []field {
		var principals, roles string
		if p.Approvers != nil {
			principals, roles = join(p.Approvers.Principals), join(p.Approvers.Roles)
		}
		return []field{
			{"ID", p.ID}, {"Name", p.Name}, {"Requires approval", yesNo(p.RequiresApproval)},
			{"Allowed names", join(p.AllowedNames)}, {"Certificates", strconv.FormatInt(p.CertificateCount, 10)},
			{"Key algorithms", join(p.AllowedKeyAlgorithms)},
			{"Max validity", fmtSeconds(p.MaxValiditySeconds)}, {"Renew before", fmtSeconds(p.RenewBeforeSeconds)},
			{"Issuer", p.IssuerID}, {"Approvers", principals}, {"Approver roles", roles},
			{"Required approvals", strconv.Itoa(p.RequiredApprovals)}, {"Approval policy", fmtPolicy(p.ApprovalPolicy)},
			{"Delivery", deliveryTargets(p.Delivery)},
			{"Version", strconv.FormatInt(p.Version, 10)}, {"Pending edit", p.PendingEditID},
			{"Created", fmtTime(p.CreatedAt) + " by " + p.CreatedBy}, {"Updated", fmtTime(p.UpdatedAt)},
		}
	})
}

// deliveryTargets shows where a profile publishes new versions.
func deliveryTargets(t *domain.DeliveryTargets) string {
	if t.Empty() {
		return ""
	}
	var out []string
	if t.SSMParameter != "" {
		out = append(out, "SSM parameter "+t.SSMParameter)
	}
	if t.Secret != "" {
		out = append(out, "secret "+t.Secret)
	}
	return join(out)
}

func profilesCreate(r *runner, cmd *cobra.Command, pf *profileFlags) error {
	if err := r.required(cmd, "id", "name", "allowed-name"); err != nil {
		return err
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	in := domain.ProfileInput{ID: pf.id}
	pf.apply(cmd.Flags(), &in)
	p, pending, err := c.CreateProfile(r.ctx, in)
	switch {
	case err != nil:
		return err
	case pending != nil:
		return r.pending(pending)
	}
	return r.showProfile(p)
}

func profilesUpdate(r *runner, cmd *cobra.Command, id string, pf *profileFlags) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	// Fields not given keep their values on the server.
	var in domain.ProfileInput
	pf.apply(cmd.Flags(), &in)
	p, pending, err := c.UpdateProfile(r.ctx, id, in)
	if err != nil {
		return err
	}
	if pending != nil {
		return r.pending(pending)
	}
	return r.showProfile(p)
}

func profilesDelete(r *runner, id string) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	pending, err := c.DeleteProfile(r.ctx, id)
	switch {
	case err != nil:
		return err
	case pending != nil:
		return r.pending(pending)
	case r.structured():
		return r.printValue(map[string]string{"status": "deleted", "id": id})
	}
	fmt.Fprintf(r.stdout, "deleted profile %s\n", id)
	return nil
}

// factorFlag collects --factor NAME=COUNT[,MEMBER...] into a policy;
// an empty value clears it.
type factorFlag struct {
	policy domain.ApprovalPolicy
}

func (f *factorFlag) Type() string { return "factor" }

func (f *factorFlag) String() string { return fmtPolicy(f.policy) }

func (f *factorFlag) Set(s string) error {
	if strings.TrimSpace(s) == "" {
		f.policy = domain.ApprovalPolicy{}
		return nil
	}
	name, rest, ok := strings.Cut(s, "=")
	fields := strings.Split(rest, ",")
	count, err := strconv.Atoi(strings.TrimSpace(fields[0]))
	if !ok || err != nil {
		return fmt.Errorf("want NAME=COUNT[,MEMBER...], e.g. security=1,dana or owners=2,role:approver")
	}
	factor := domain.ApprovalFactor{Name: strings.TrimSpace(name), Count: count}
	for _, m := range fields[1:] {
		m = strings.TrimSpace(m)
		if m == "" {
			continue
		}
		if factor.Approvers == nil {
			factor.Approvers = &domain.ApproverPool{}
		}
		if role, isRole := strings.CutPrefix(m, "role:"); isRole {
			factor.Approvers.Roles = append(factor.Approvers.Roles, domain.Role(role))
		} else {
			factor.Approvers.Principals = append(factor.Approvers.Principals, m)
		}
	}
	f.policy = append(f.policy, factor)
	return nil
}

// fmtPolicy shows a policy on one line: "security: 1 of dana; owners: 2
// of role:approver".
func fmtPolicy(p domain.ApprovalPolicy) string {
	parts := make([]string, len(p))
	for i, f := range p {
		parts[i] = fmt.Sprintf("%s: %d of %s", f.Name, f.Count, fmtPool(f.Approvers))
	}
	return strings.Join(parts, "; ")
}

// fmtPool shows who a pool admits.
func fmtPool(pool *domain.ApproverPool) string {
	if pool == nil || len(pool.Principals)+len(pool.Roles) == 0 {
		return "any approver"
	}
	members := slices.Clone(pool.Principals)
	for _, r := range pool.Roles {
		members = append(members, "role:"+string(r))
	}
	return strings.Join(members, ", ")
}

// pending reports a gated profile edit.
func (r *runner) pending(p *domain.PendingEdit) error {
	if r.structured() {
		return r.printValue(p)
	}
	fmt.Fprintf(r.stdout, "pending approval %s\n", p.ApprovalID)
	fmt.Fprintln(r.stderr, "the edit applies once someone else approves it: certctl approvals approve "+p.ApprovalID)
	return nil
}
