package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/certctl-serverless/certctl-serverless/pkg/client"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

func approvalCommands() []command {
	return []command{
		{"approvals list", "[--state STATE] [--kind KIND] [--profile ID] [--cert ID] [--requested-by PRINCIPAL] [--limit N] [--page-token TOKEN]",
			"List approval requests, newest first.", approvalsList},
		{"approvals show", "ID", "Show a request and exactly what it would approve: the certificate's subject, " +
			"or a profile edit's field-by-field diff.", approvalsShow},
		{"approvals approve", "ID [--note TEXT]", "Approve a pending request. The requester cannot decide their own " +
			"request (two-person integrity).", approvalsApprove},
		{"approvals reject", "ID --note TEXT", "Reject a pending request; the note saying why is required. " +
			"The job ends Cancelled and the certificate returns to its previous status.", approvalsReject},
	}
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
	}
	return a.ProfileID
}

func approvalsList(r *runner, args []string) error {
	fs := r.flags()
	var f client.ApprovalFilter
	fs.StringVar(&f.State, "state", "", "only this `STATE`: pending, approved, rejected, expired, bypassed")
	fs.StringVar(&f.Kind, "kind", "", "only this `KIND`: cert_issuance or profile_edit")
	fs.StringVar(&f.ProfileID, "profile", "", "only requests under profile `ID`")
	fs.StringVar(&f.CertificateID, "cert", "", "only requests for certificate `ID`")
	fs.StringVar(&f.RequestedBy, "requested-by", "", "only requests made by `PRINCIPAL`")
	pf := addPageFlags(fs)
	if _, err := r.parse(fs, args, 0, 0); err != nil {
		return err
	}
	c, err := r.client(r.usage(fs))
	if err != nil {
		return err
	}
	fetch := func(ctx context.Context, p client.PageRequest) ([]domain.ApprovalView, string, error) {
		return c.ListApprovals(ctx, f, p)
	}
	return listing(r, pf, fetch, []string{"ID", "STATE", "KIND", "SUBJECT", "REQUESTED BY", "AGE", "DECIDED BY"},
		func(a domain.ApprovalView) []string {
			return []string{a.ID, string(a.State), string(a.Kind), subject(a), a.RequestedBy, r.fmtAge(a.CreatedAt), a.DecidedBy}
		})
}

func approvalsShow(r *runner, args []string) error {
	id, c, err := r.idAndClient(args)
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
			field{"Note", a.Note}, field{"Reason", a.Reason})
		if p := a.ApproverPool; p != nil {
			fields = append(fields, field{"Approvers", join(p.Principals)}, field{"Approver roles", join(p.Roles)})
		}
		if s := a.Subject; s != nil {
			fields = append(fields,
				field{"Common name", s.CommonName}, field{"DNS names", join(s.DNSNames)}, field{"IP addresses", join(s.IPAddresses)},
				field{"Key algorithm", s.KeyAlgorithm}, field{"Key SHA-256", s.PublicKeySHA256},
				field{"Validity", fmtSeconds(s.ValiditySeconds)}, field{"Issuer", s.IssuerID},
				field{"Key usage", join(s.KeyUsage)}, field{"Extended key usage", join(s.ExtKeyUsage)},
				field{"Profile", s.ProfileName + " (version " + strconv.FormatInt(s.ProfileVersion, 10) + ")"})
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

func approvalsApprove(r *runner, args []string) error {
	return decide(r, args, false)
}

func approvalsReject(r *runner, args []string) error {
	return decide(r, args, true)
}

func decide(r *runner, args []string, reject bool) error {
	fs := r.flags()
	var note string
	fs.StringVar(&note, "note", "", "why, e.g. a ticket (`TEXT`); recorded with the decision and in the audit trail")
	pos, err := r.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if reject {
		if err := r.required(fs, "note"); err != nil {
			return err
		}
	}
	c, err := r.client(r.usage(fs))
	if err != nil {
		return err
	}
	send := c.Approve
	if reject {
		send = c.Reject
	}
	res, err := send(r.ctx, pos[0], note)
	if err != nil {
		return err
	}
	if r.jsonOutput() {
		return r.printJSON(res)
	}
	fmt.Fprintf(r.stdout, "%s %s (decided by %s)\n", res.Action, res.ID, res.DecidedBy)
	return nil
}
