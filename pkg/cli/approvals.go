package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/certctl-serverless/certctl-serverless/pkg/client"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

func approvalCommands(r *runner) []*cobra.Command {
	var f client.ApprovalFilter
	var pf *pageFlags
	list := r.leaf("list", "List approval requests, newest first", "", 0, 0, func(r *runner, _ *cobra.Command, _ []string) error {
		return approvalsList(r, f, pf)
	})
	fs := list.Flags()
	fs.StringVar(&f.State, "state", "", "only this `STATE`: pending, approved, rejected, expired, bypassed")
	fs.StringVar(&f.Kind, "kind", "", "only this `KIND`: cert_issuance, profile_edit or certificate_move")
	fs.StringVar(&f.ProfileID, "profile", "", "only requests under profile `ID`")
	fs.StringVar(&f.CertificateID, "cert", "", "only requests for certificate `ID`")
	fs.StringVar(&f.RequestedBy, "requested-by", "", "only requests made by `PRINCIPAL`")
	fs.BoolVar(&f.CanVote, "can-vote", false, "only pending requests you can still vote on (not yours, not voted on, and your vote would count)")
	pf = addPageFlags(fs)
	r.completeFlag(fs, "state", enumOf([]domain.ApprovalState{domain.ApprovalPending, domain.ApprovalApproved,
		domain.ApprovalRejected, domain.ApprovalExpired, domain.ApprovalBypassed}))
	r.completeFlag(fs, "kind", enumOf(domain.ApprovalKinds))
	r.completeFlagWith(fs, "profile", r.profileIDs)
	r.completeFlagWith(fs, "cert", r.certificateIDs)
	list.Example = "  certctl approvals list --state pending\n  certctl approvals list --can-vote\n" +
		"  certctl approvals list --state pending -o jsonpath='{.data[*].id}'"

	show := r.leaf("show ID", "Show a request, exactly what it would approve, its votes and what it still needs",
		"Show a request and exactly what it would approve: the certificate's subject, or a profile edit's field-by-field diff; "+
			"its approval policy, the votes so far (who, when, which factor each counts toward) and, while it is pending, what is still missing.", 1, 1,
		func(r *runner, _ *cobra.Command, args []string) error { return approvalsShow(r, args[0]) })
	show.Aliases = []string{"get", "describe"}
	show.ValidArgsFunction = r.completeIDs(r.approvalIDs)

	var note string
	w := &waitFlags{}
	approve := r.leaf("approve ID", "Approve a pending request (not your own: two-person integrity)",
		"Approve a pending request: a vote. When the request's policy needs more approvals, the vote is recorded and the "+
			"request stays pending (it prints what is still missing); the vote that satisfies the policy approves it. The "+
			"requester cannot vote on their own request (two-person integrity), nor anyone twice. With --wait, follow the "+
			"certificate job the approval releases until it ends.", 1, 1,
		func(r *runner, cmd *cobra.Command, args []string) error {
			return decide(r, cmd, args[0], note, false, w)
		})
	approve.Flags().StringVar(&note, "note", "", "why, e.g. a ticket (`TEXT`); recorded with the decision and in the audit trail")
	w.register(approve, true)
	approve.ValidArgsFunction = r.completeIDs(r.pendingApprovalIDs)
	approve.Example = "  certctl approvals approve ar-01h… --note \"ticket SEC-1\" --wait"

	var why string
	reject := r.leaf("reject ID", "Reject a pending request; --note saying why is required",
		"Reject a pending request; the note saying why is required. The job ends Cancelled and the certificate returns "+
			"to its previous status.", 1, 1,
		func(r *runner, cmd *cobra.Command, args []string) error {
			if err := r.required(cmd, "note"); err != nil {
				return err
			}
			return decide(r, cmd, args[0], why, true, nil)
		})
	reject.Flags().StringVar(&why, "note", "", "why, e.g. a ticket (`TEXT`); recorded with the decision and in the audit trail")
	reject.ValidArgsFunction = r.completeIDs(r.pendingApprovalIDs)
	return []*cobra.Command{list, show, approve, reject}
}

// keyChanged says whether a renewal changes the key, or "" for a first
// issuance.
func keyChanged(s *domain.Subject) string {
	switch {
	case s.KeyChanged == nil:
		return ""
	case *s.KeyChanged:
		return "yes (the last version's key: " + s.PreviousPublicKeySHA256 + ")"
	}
	return "no (the same key as the last version)"
}

// subject is what a request is about, in one cell.
func subject(a domain.ApprovalView) string {
	switch {
	case a.Subject != nil:
		return a.Subject.CommonName
	case a.ProfileEdit != nil && a.ProfileEdit.Delete:
		return "delete profile " + a.ProfileID
	case a.ProfileEdit != nil:
		return "edit profile " + a.ProfileID
	case a.Move != nil:
		return "move " + a.CertificateID + " to " + a.Move.To.ID
	}
	return a.ProfileID
}

func approvalsList(r *runner, f client.ApprovalFilter, pf *pageFlags) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	fetch := func(ctx context.Context, p client.PageRequest) ([]domain.ApprovalView, string, error) {
		return c.ListApprovals(ctx, f, p)
	}
	return listing(r, pf, fetch, []string{"ID", "STATE", "KIND", "SUBJECT", "REQUESTED BY", "AGE", "VOTES", "DECIDED BY"},
		func(a domain.ApprovalView) []string {
			votes := fmt.Sprintf("%d/%d", len(a.Votes), a.RequiredApprovals)
			return []string{a.ID, string(a.State), string(a.Kind), subject(a), a.RequestedBy, r.fmtAge(a.CreatedAt), votes, a.DecidedBy}
		})
}

func approvalsShow(r *runner, id string) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	a, err := c.GetApproval(r.ctx, id)
	if err != nil {
		return err
	}
	return r.show(a, func() []field {
		fields := []field{
			{"ID", a.ID}, {"State", string(a.State)}, {"Kind", string(a.Kind)}, {"Profile", a.ProfileID},
			{"Certificate", a.CertificateID}, {"Job", a.JobID},
			{"Requested by", a.RequestedBy}, {"Requested", fmtTime(a.CreatedAt)},
		}
		if a.State == domain.ApprovalPending {
			fields = append(fields, field{"Expires", fmtTime(a.ExpiresAt)}, field{"Pending for", fmtSeconds(a.PendingAgeSeconds)})
		}
		fields = append(fields, field{"Decided by", a.DecidedBy}, field{"Decided", fmtTimeP(a.DecidedAt)},
			field{"Note", a.Note}, field{"Reason", a.Reason}, field{"Requester's reason", a.RequestReason})
		fields = append(fields, field{"Approval policy", fmtPolicy(a.ApprovalPolicy)},
			field{"Votes", fmt.Sprintf("%d of %d", len(a.Votes), a.RequiredApprovals)})
		for i, v := range a.Votes {
			line := fmt.Sprintf("%s at %s, counts toward %s", v.Actor, fmtTime(v.At), v.Factor)
			if v.Note != "" {
				line += ": " + v.Note
			}
			fields = append(fields, field{fmt.Sprintf("Vote %d", i+1), line})
		}
		if a.Missing != nil {
			fields = append(fields, field{"Missing", a.Missing.String()})
			for _, f := range a.Missing.Factors {
				fields = append(fields, field{"Can vote for " + f.Name, fmtPool(f.Approvers)})
			}
		}
		if s := a.Subject; s != nil {
			fields = append(fields,
				field{"Common name", s.CommonName}, field{"DNS names", join(s.DNSNames)}, field{"IP addresses", join(s.IPAddresses)},
				field{"Key algorithm", s.KeyAlgorithm}, field{"Key SHA-256", s.PublicKeySHA256}, field{"Key changed", keyChanged(s)},
				field{"Validity", fmtSeconds(s.ValiditySeconds)}, field{"Issuer", s.IssuerID},
				field{"Key usage", join(s.KeyUsage)}, field{"Extended key usage", join(s.ExtKeyUsage)},
				field{"Profile", s.ProfileName + " (version " + strconv.FormatInt(s.ProfileVersion, 10) + ")"})
		}
		if m := a.Move; m != nil {
			gate := func(p domain.ProfileRef) string {
				if p.RequiresApproval {
					return " (approval-tier)"
				}
				return " (needs no approval)"
			}
			fields = append(fields,
				field{"Move from", m.From.ID + " version " + strconv.FormatInt(m.From.Version, 10) + gate(m.From)},
				field{"Move to", m.To.ID + " version " + strconv.FormatInt(m.To.Version, 10) + gate(m.To)},
				field{"Common name", m.CommonName}, field{"DNS names", join(m.DNSNames)}, field{"IP addresses", join(m.IPAddresses)})
			if len(m.FromPolicy) > 0 {
				fields = append(fields, field{"Source approval policy", fmtPolicy(m.FromPolicy)})
			}
		}
		if e := a.ProfileEdit; e != nil {
			fields = append(fields, field{"Base version", strconv.FormatInt(e.BaseVersion, 10)})
			switch {
			case e.Delete:
				fields = append(fields, field{"Edit", "delete the profile"})
			case e.Create:
				fields = append(fields, field{"Edit", "create the profile (it needs no approval, so creating it needs a second person)"})
			}
			names := make([]string, 0, len(e.Diff))
			for k := range e.Diff {
				names = append(names, k)
			}
			slices.Sort(names)
			for _, k := range names {
				fields = append(fields, field{"Change " + k, compact(e.Diff[k].Old) + " -> " + compact(e.Diff[k].New)})
			}
		}
		return fields
	})
}

// compact renders a diff value as JSON on one line.
func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// decide approves or rejects; an approval with --wait then follows the
// certificate job it released.
func decide(r *runner, cmd *cobra.Command, id, note string, reject bool, w *waitFlags) error {
	if w != nil {
		if err := w.check(r, cmd); err != nil {
			return err
		}
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	var jobID string
	if w != nil && w.wait {
		a, err := c.GetApproval(r.ctx, id)
		if err != nil {
			return err
		}
		jobID = a.JobID
	}
	send := c.Approve
	if reject {
		send = c.Reject
	}
	res, err := send(r.ctx, id, note)
	if err != nil {
		return err
	}
	if res.Action == domain.ActionVoted {
		if jobID != "" {
			fmt.Fprintf(r.stderr, "the request needs more approvals, so its job %s still waits: certctl jobs get %s --wait follows it\n", jobID, jobID)
		}
		if r.structured() {
			return r.printValue(res)
		}
		fmt.Fprintf(r.stdout, "voted on %s (still missing: %s)\n", res.ID, res.Missing)
		return nil
	}
	if jobID != "" {
		fmt.Fprintf(r.stderr, "%s %s (decided by %s); following job %s\n", res.Action, res.ID, res.DecidedBy, jobID)
		return r.waitAndShow(c, jobID, w)
	}
	if r.structured() {
		return r.printValue(res)
	}
	fmt.Fprintf(r.stdout, "%s %s (decided by %s)\n", res.Action, res.ID, res.DecidedBy)
	return nil
}
