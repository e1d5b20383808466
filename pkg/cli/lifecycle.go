package cli

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/certctl-serverless/certctl-serverless/pkg/ca"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// revokedText says when and why something was revoked, or "" if it was not.
func revokedText(at *time.Time, reason string) string {
	if at == nil {
		return ""
	}
	return fmtTime(*at) + " (" + reason + ")"
}

func (r *runner) certsRevoke() *cobra.Command {
	var in domain.RevokeInput
	cmd := r.leaf("revoke ID", "Revoke a certificate (every version not expired) or one serial, at once",
		"Revoke a certificate at once: without --serial, every version that has neither expired nor been revoked, which "+
			"makes the certificate Revoked (never renewed again; a job in flight for it fails instead of issuing); with "+
			"--serial, that version only. Revocation only removes trust, so it needs no second person; it is audited. "+
			"The issuer's CRL lists the serials within seconds (certctl issuers crl).", 1, 1,
		func(r *runner, cmd *cobra.Command, args []string) error {
			if err := r.required(cmd, "reason"); err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			res, err := c.Revoke(r.ctx, args[0], in)
			if err != nil {
				return err
			}
			return r.show(res, func() []field {
				serials := make([]string, len(res.Revoked))
				for i, v := range res.Revoked {
					serials[i] = v.SerialNumber
				}
				return []field{{"Certificate", res.Certificate.ID}, {"Status", string(res.Certificate.Status)},
					{"Reason", res.Reason}, {"Revoked at", fmtTime(res.RevokedAt)}, {"Serials", strings.Join(serials, ", ")}}
			})
		})
	fs := cmd.Flags()
	fs.StringVar(&in.Reason, "reason", "", "the RFC 5280 `REASON`: "+strings.Join(ca.RevocationReasons(), ", "))
	fs.StringVar(&in.Serial, "serial", "", "revoke only the version with this `SERIAL` (hex, as 'certctl certs versions' shows it)")
	r.completeFlag(fs, "reason", ca.RevocationReasons)
	r.completeFlagArgs(fs, "serial", r.serialsOf)
	cmd.ValidArgsFunction = r.completeIDs(r.certificateIDs)
	cmd.Example = "  certctl certs revoke web --reason keyCompromise\n  certctl certs revoke web --reason superseded --serial 4f1c…"
	return cmd
}

func (r *runner) certsArchive() *cobra.Command {
	cmd := r.leaf("archive ID", "Archive a certificate: never renewed again",
		"Archive a certificate: status Archived, never renewed or issued again. Its versions stay valid until they "+
			"expire (revoke them to remove trust). Refused while a job is in flight or a move waits for approval. "+
			"An archived certificate can then be deleted.", 1, 1,
		func(r *runner, _ *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			cert, err := c.Archive(r.ctx, args[0])
			if err != nil {
				return err
			}
			return r.show(cert, func() []field {
				return []field{{"Certificate", cert.ID}, {"Status", string(cert.Status)}, {"Archived", fmtTimeP(cert.ArchivedAt)}}
			})
		})
	cmd.ValidArgsFunction = r.completeIDs(r.certificateIDs)
	return cmd
}

func (r *runner) certsDelete() *cobra.Command {
	cmd := r.leaf("delete ID", "Delete an archived certificate's records (the audit trail keeps its history)",
		"Delete an archived certificate: its versions, jobs and their requests, then the certificate itself. The audit "+
			"trail keeps its history, and the CRL keeps listing its revoked versions until they expire. Refused unless it "+
			"is archived ('certctl certs archive' first). A certificate with many records takes several calls; this "+
			"command makes them.", 1, 1,
		func(r *runner, _ *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			total := 0
			for {
				d, err := c.DeleteCertificate(r.ctx, args[0])
				if err != nil {
					return err
				}
				if d == nil {
					break
				}
				total += d.Deleted
				fmt.Fprintf(r.stderr, "deleted %d records so far; going on\n", total)
			}
			if r.structured() {
				return r.printValue(map[string]any{"id": args[0], "deleted": true})
			}
			_, err = fmt.Fprintf(r.stdout, "deleted certificate %s\n", args[0])
			return err
		})
	cmd.Aliases = []string{"rm"}
	cmd.ValidArgsFunction = r.completeIDs(r.archivedCertificateIDs)
	return cmd
}

func (r *runner) certsMove() *cobra.Command {
	var in domain.MoveInput
	cmd := r.leaf("move ID", "Move a certificate to another profile (gated when a gate changes)",
		"Move a certificate to another profile. Its names and key must be allowed by the target profile. Moving into, "+
			"out of or between approval-tier profiles changes the gate: it prints the pending request a different person "+
			"approves ('certctl approvals approve'). Between profiles that need no approval it applies at once.", 1, 1,
		func(r *runner, cmd *cobra.Command, args []string) error {
			if err := r.required(cmd, "profile"); err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			cert, pending, err := c.MoveCertificate(r.ctx, args[0], in)
			if err != nil {
				return err
			}
			if pending != nil {
				if err := r.show(pending, func() []field {
					return []field{{"Status", pending.Status}, {"Approval", pending.ApprovalID}}
				}); err != nil {
					return err
				}
				fmt.Fprintf(r.stderr, "pending approval %s: someone other than you runs 'certctl approvals approve %s'\n", pending.ApprovalID, pending.ApprovalID)
				return nil
			}
			return r.show(cert, func() []field {
				return []field{{"Certificate", cert.ID}, {"Profile", cert.ProfileID}, {"Status", string(cert.Status)}, {"Renews at", fmtTimeP(cert.RenewAt)}}
			})
		})
	fs := cmd.Flags()
	fs.StringVar(&in.ProfileID, "profile", "", "the profile `ID` to move it to")
	fs.StringVar(&in.Reason, "reason", "", "why, e.g. a ticket (`TEXT`, one line, at most 1 KB); approvers see it")
	r.completeFlagWith(fs, "profile", r.profileIDs)
	cmd.ValidArgsFunction = r.completeIDs(r.certificateIDs)
	cmd.Example = "  certctl certs move web --profile prod-web --reason \"CHG-42: under change control\""
	return cmd
}

// derFlags print what an issuer route serves: PEM by default, or DER
// (--der) to a file (--out) or a pipe.
type derFlags struct {
	der bool
	out string
}

func (d *derFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&d.der, "der", false, "print DER instead of PEM (to a file or a pipe, not a terminal)")
	cmd.Flags().StringVarP(&d.out, "out", "O", "", "write to `FILE` instead of stdout")
	_ = cobra.MarkFlagFilename(cmd.Flags(), "out")
}

func (r *runner) writeDER(d *derFlags, kind string, der []byte) error {
	body := der
	if !d.der {
		body = pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
	}
	if d.out != "" {
		if err := os.WriteFile(d.out, body, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(r.stderr, "wrote %s (%d bytes)\n", d.out, len(body))
		return nil
	}
	if d.der && isTerminal(r.stdout) {
		return r.usageErr("--der writes bytes: give --out FILE or redirect stdout")
	}
	_, err := r.stdout.Write(body)
	return err
}

func issuerID(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	return domain.DefaultIssuerID
}

// crlSummary is what 'issuers crl' shows of a CRL with -o json, yaml or a table.
type crlSummary struct {
	IssuerID   string           `json:"issuer_id"`
	Number     string           `json:"number"`
	ThisUpdate time.Time        `json:"this_update"`
	NextUpdate time.Time        `json:"next_update"`
	Revoked    []crlSummaryItem `json:"revoked"`
}

type crlSummaryItem struct {
	SerialNumber string    `json:"serial_number"`
	RevokedAt    time.Time `json:"revoked_at"`
	Reason       string    `json:"reason"`
}

func (r *runner) issuersCRL() *cobra.Command {
	d := &derFlags{}
	var pemOut bool
	cmd := r.leaf("crl [ID]", "Show an issuer's current CRL; --pem or --der print it",
		"Fetch an issuer's current certificate revocation list (default issuer: \"default\") from the route relying "+
			"parties use (it needs no key): show its number, update times and revoked serials, or print it with --pem "+
			"or --der, e.g. for 'openssl verify -crl_check -CRLfile'.", 0, 1,
		func(r *runner, _ *cobra.Command, args []string) error {
			c, err := r.publicClient()
			if err != nil {
				return err
			}
			der, err := c.CRL(r.ctx, issuerID(args))
			if err != nil {
				return err
			}
			if pemOut || d.der || d.out != "" {
				return r.writeDER(d, "X509 CRL", der)
			}
			list, err := x509.ParseRevocationList(der)
			if err != nil {
				return fmt.Errorf("the CRL does not parse: %w", err)
			}
			sum := crlSummary{IssuerID: issuerID(args), ThisUpdate: list.ThisUpdate, NextUpdate: list.NextUpdate, Revoked: []crlSummaryItem{}}
			if list.Number != nil {
				sum.Number = list.Number.String()
			}
			for _, e := range list.RevokedCertificateEntries {
				sum.Revoked = append(sum.Revoked, crlSummaryItem{SerialNumber: e.SerialNumber.Text(16), RevokedAt: e.RevocationTime, Reason: ca.ReasonName(e.ReasonCode)})
			}
			if r.structured() {
				return r.printValue(sum)
			}
			r.describe(field{"Issuer", sum.IssuerID}, field{"CRL number", sum.Number}, field{"This update", fmtTime(sum.ThisUpdate)},
				field{"Next update", fmtTime(sum.NextUpdate)}, field{"Revoked", fmt.Sprint(len(sum.Revoked))})
			if len(sum.Revoked) > 0 {
				rows := make([][]string, len(sum.Revoked))
				for i, e := range sum.Revoked {
					rows[i] = []string{e.SerialNumber, fmtTime(e.RevokedAt), e.Reason}
				}
				fmt.Fprintln(r.stdout)
				r.table([]string{"SERIAL", "REVOKED AT", "REASON"}, rows)
			}
			return nil
		})
	cmd.Flags().BoolVar(&pemOut, "pem", false, "print the CRL (PEM)")
	d.register(cmd)
	cmd.ValidArgsFunction = r.completeIDs(func(string) []string { return []string{domain.DefaultIssuerID} })
	cmd.Example = "  certctl issuers crl\n  certctl issuers crl --pem > crl.pem && openssl verify -crl_check -CAfile ca.pem -CRLfile crl.pem leaf.pem"
	return cmd
}

func (r *runner) issuersCA() *cobra.Command {
	d := &derFlags{}
	cmd := r.leaf("ca [ID]", "Print an issuer's CA certificate (PEM, or --der)",
		"Print an issuer's CA certificate (default issuer: \"default\") from the caIssuers route each certificate names "+
			"(it needs no key): PEM, or DER with --der.", 0, 1,
		func(r *runner, _ *cobra.Command, args []string) error {
			c, err := r.publicClient()
			if err != nil {
				return err
			}
			der, err := c.CACertificate(r.ctx, issuerID(args))
			if err != nil {
				return err
			}
			return r.writeDER(d, "CERTIFICATE", der)
		})
	d.register(cmd)
	cmd.ValidArgsFunction = r.completeIDs(func(string) []string { return []string{domain.DefaultIssuerID} })
	return cmd
}
