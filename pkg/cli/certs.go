package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/certctl-serverless/certctl-serverless/pkg/client"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

var certStatuses = []domain.CertStatus{domain.CertPending, domain.CertActive, domain.CertExpiring, domain.CertExpired,
	domain.CertRenewalInProgress, domain.CertFailed, domain.CertRevoked, domain.CertArchived}

func certCommands(r *runner) []*cobra.Command {
	return []*cobra.Command{r.certsList(), r.certsGet(), r.certsCreate(), r.certsRenew(), r.certsVersions(), r.certsChain(), r.certsRevoke(), r.certsArchive(), r.certsDelete(), r.certsMove()}
}

func (r *runner) certsList() *cobra.Command {
	var f client.CertificateFilter
	var pf *pageFlags
	cmd := r.leaf("list", "List certificates", "", 0, 0, func(r *runner, _ *cobra.Command, _ []string) error {
		c, err := r.client()
		if err != nil {
			return err
		}
		fetch := func(ctx context.Context, p client.PageRequest) ([]domain.Certificate, string, error) {
			return c.ListCertificates(ctx, f, p)
		}
		return listing(r, pf, fetch, []string{"ID", "COMMON NAME", "STATUS", "PROFILE", "EXPIRES", "JOB"},
			func(x domain.Certificate) []string {
				return []string{x.ID, x.CommonName, string(x.Status), x.ProfileID, fmtDate(x.ExpiresAt), x.CurrentJobID}
			})
	})
	cmd.Flags().StringVar(&f.Status, "status", "", "only this `STATUS` (Pending, Active, Expiring, Expired, RenewalInProgress, Failed, Revoked, Archived)")
	cmd.Flags().StringVar(&f.ProfileID, "profile", "", "only certificates of profile `ID`")
	pf = addPageFlags(cmd.Flags())
	r.completeFlag(cmd.Flags(), "status", enumOf(certStatuses))
	r.completeFlagWith(cmd.Flags(), "profile", r.profileIDs)
	cmd.Example = "  certctl certs list --status Expiring\n  certctl certs list -o jsonpath='{.data[*].id}'"
	return cmd
}

func (r *runner) certsGet() *cobra.Command {
	cmd := r.leaf("get ID", "Show a certificate", "", 1, 1, func(r *runner, _ *cobra.Command, args []string) error {
		c, err := r.client()
		if err != nil {
			return err
		}
		x, err := c.GetCertificate(r.ctx, args[0])
		if err != nil {
			return err
		}
		return r.show(x, func() []field {
			return []field{
				{"ID", x.ID}, {"Common name", x.CommonName}, {"SANs", join(x.SANs)}, {"Status", string(x.Status)},
				{"Profile", x.ProfileID}, {"Issuer", x.IssuerID}, {"Key algorithm", x.KeyAlgorithm},
				{"Serial", x.SerialNumber}, {"Not before", fmtTimeP(x.NotBefore)}, {"Expires", fmtTimeP(x.ExpiresAt)},
				{"Renews at", fmtTimeP(x.RenewAt)}, {"Last renewal", fmtTimeP(x.LastRenewalAt)}, {"Job in flight", x.CurrentJobID},
				{"Revoked", revokedText(x.RevokedAt, x.RevocationReason)}, {"Archived", fmtTimeP(x.ArchivedAt)},
				{"Move pending", x.PendingMoveID},
				{"Created", fmtTime(x.CreatedAt) + " by " + x.CreatedBy}, {"Updated", fmtTime(x.UpdatedAt)},
			}
		})
	})
	cmd.Aliases = []string{"show", "describe"}
	cmd.ValidArgsFunction = r.completeIDs(r.certificateIDs)
	return cmd
}

// keyFlags are --new-key and its companions, on create and renew.
type keyFlags struct {
	newKey          bool
	keyType, keyOut string
	csrPath         string
}

func addKeyFlags(r *runner, fs *pflag.FlagSet, k *keyFlags, csrHelp string) {
	fs.StringVar(&k.csrPath, "csr", "", csrHelp)
	fs.BoolVar(&k.newKey, "new-key", false, "make a new key and its CSR here instead of --csr: the key is written to --key-out (0600, "+
		"never over an existing file) and never leaves this machine")
	fs.StringVar(&k.keyType, "key-type", "ECDSA_P256", "the new key's `TYPE`: ECDSA_P256, ECDSA_P384, ECDSA_P521, RSA_2048, RSA_3072, RSA_4096 or ED25519")
	fs.StringVar(&k.keyOut, "key-out", "", "where --new-key writes the key (`FILE`; default <certificate id or common name>.key)")
	_ = cobra.MarkFlagFilename(fs, "csr", "csr", "pem")
	_ = cobra.MarkFlagFilename(fs, "key-out", "key", "pem")
	r.completeFlag(fs, "key-type", func() []string { return keyTypes })
}

// check refuses contradictory key flags before anything is read or sent.
func (k *keyFlags) check(r *runner, cmd *cobra.Command) error {
	switch {
	case k.newKey && k.csrPath != "":
		return r.usageErr("%s: give --csr or --new-key, not both", name(cmd))
	case !k.newKey && (cmd.Flags().Changed("key-type") || k.keyOut != ""):
		return r.usageErr("%s: --key-type and --key-out go with --new-key", name(cmd))
	}
	if k.newKey {
		for _, t := range keyTypes {
			if t == k.keyType {
				return nil
			}
		}
		return r.usageErr("--key-type %q: want one of %s", k.keyType, join(keyTypes))
	}
	return nil
}

func (r *runner) certsCreate() *cobra.Command {
	var in domain.CertificateInput
	sans := listFlag{commas: true}
	var k keyFlags
	w := &waitFlags{}
	cmd := r.leaf("create", "Register a certificate for a CSR (or a new key) and start its issuance",
		"Register a certificate for a CSR (PEM; - reads stdin), or with --new-key for a key and CSR made here, and "+
			"start its issuance at once. Under an approval-tier profile the job waits until someone else approves the "+
			"request it prints; --wait follows it to the end. A file holding a private key is refused as --csr before "+
			"anything is sent.", 0, 0,
		func(r *runner, cmd *cobra.Command, _ []string) error {
			if err := r.required(cmd, "cn", "profile"); err != nil {
				return err
			}
			if !k.newKey && k.csrPath == "" {
				return r.usageErr("%s: --csr is required (or --new-key)", name(cmd))
			}
			if err := k.check(r, cmd); err != nil {
				return err
			}
			if err := w.check(r, cmd); err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			in.SANs = sans.vals
			if k.newKey {
				out := firstOf(k.keyOut, firstOf(in.ID, in.CommonName)+".key")
				if in.CSR, err = newKeyAndCSR(k.keyType, out, in.CommonName, in.SANs); err != nil {
					return err
				}
				fmt.Fprintf(r.stderr, "wrote the new %s key to %s (0600); only its CSR is sent\n", k.keyType, out)
			} else if in.CSR, err = r.readCSR(k.csrPath); err != nil {
				return err
			}
			started, err := c.CreateCertificate(r.ctx, in)
			if err != nil {
				return err
			}
			return r.started(c, started, in.ID, w)
		})
	fs := cmd.Flags()
	fs.StringVar(&in.CommonName, "cn", "", "common `NAME`; must equal the CSR's CN if it has one")
	fs.Var(&sans, "san", "a DNS `NAME` or IP; repeatable or comma-separated. The CSR's SANs must be among the CN and these")
	fs.StringVar(&in.ProfileID, "profile", "", "profile `ID`")
	fs.StringVar(&in.ID, "id", "", "certificate `ID` (default: generated)")
	fs.StringVar(&in.Reason, "reason", "", "why, e.g. a ticket (`TEXT`, one line, at most 1 KB); approvers see it")
	addKeyFlags(r, fs, &k, "PEM certificate request `FILE` (- reads stdin)")
	w.register(cmd, true)
	r.completeFlagWith(fs, "profile", r.profileIDs)
	cmd.Example = `  # a key made here, the CSR sent, and wait for approval and issuance
  certctl certs create --id web --cn web.example.com --san www.example.com --profile prod-web --new-key --wait
  # a CSR made elsewhere
  certctl certs create --cn web.example.com --profile prod-web --csr web.csr`
	return cmd
}

func (r *runner) certsRenew() *cobra.Command {
	var k keyFlags
	var reason string
	w := &waitFlags{}
	cmd := r.leaf("renew ID", "Start a renewal, with the stored CSR, a new one, or a new key",
		"Start a renewal with the stored CSR, a new CSR (--csr), or a new key and CSR made here (--new-key, for the "+
			"certificate's names). Gated like issuance; --wait follows the job to the end.", 1, 1,
		func(r *runner, cmd *cobra.Command, args []string) error {
			if err := k.check(r, cmd); err != nil {
				return err
			}
			if err := w.check(r, cmd); err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			in := domain.RenewInput{Reason: reason}
			var csr string
			switch {
			case k.newKey:
				cert, err := c.GetCertificate(r.ctx, args[0])
				if err != nil {
					return err
				}
				out := firstOf(k.keyOut, cert.ID+".key")
				if csr, err = newKeyAndCSR(k.keyType, out, cert.CommonName, cert.SANs); err != nil {
					return err
				}
				fmt.Fprintf(r.stderr, "wrote the new %s key to %s (0600); only its CSR is sent\n", k.keyType, out)
			case k.csrPath != "":
				if csr, err = r.readCSR(k.csrPath); err != nil {
					return err
				}
			}
			in.CSR = csr
			started, err := c.Renew(r.ctx, args[0], in)
			if err != nil {
				return err
			}
			return r.started(c, started, args[0], w)
		})
	addKeyFlags(r, cmd.Flags(), &k, "a new PEM certificate request `FILE` (- reads stdin); default: the stored CSR")
	cmd.Flags().StringVar(&reason, "reason", "", "why, e.g. a ticket (`TEXT`, one line, at most 1 KB); approvers see it")
	w.register(cmd, true)
	cmd.ValidArgsFunction = r.completeIDs(r.certificateIDs)
	cmd.Example = "  certctl certs renew web --new-key --key-out web-2.key --wait"
	return cmd
}

// started reports the job a create or renew started, and what to do next;
// with --wait it then follows the job.
func (r *runner) started(c *client.Client, s *domain.Started, certID string, w *waitFlags) error {
	if s.Certificate != nil {
		certID = s.Certificate.ID
	}
	if w.wait {
		if s.Status == domain.JobAwaitingApproval {
			fmt.Fprintf(r.stderr, "certificate %s: waiting for someone other than you to run 'certctl approvals approve %s'\n", certID, s.ApprovalID)
		}
		return r.waitAndShow(c, s.JobID, w)
	}
	if err := r.show(s, func() []field {
		return []field{{"Certificate", certID}, {"Job", s.JobID}, {"Status", string(s.Status)}, {"Approval", s.ApprovalID}}
	}); err != nil {
		return err
	}
	if s.Status == domain.JobAwaitingApproval {
		fmt.Fprintf(r.stderr, "waiting for approval: someone other than you runs 'certctl approvals approve %s'\n", s.ApprovalID)
	}
	return nil
}

func (r *runner) certsVersions() *cobra.Command {
	var pf *pageFlags
	cmd := r.leaf("versions ID", "List a certificate's issued versions, newest first", "", 1, 1,
		func(r *runner, _ *cobra.Command, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			fetch := func(ctx context.Context, p client.PageRequest) ([]domain.CertificateVersion, string, error) {
				return c.ListVersions(ctx, args[0], p)
			}
			return listing(r, pf, fetch, []string{"SERIAL", "NOT BEFORE", "NOT AFTER", "REVOKED", "SHA-256 FINGERPRINT", "JOB"},
				func(v domain.CertificateVersion) []string {
					return []string{v.SerialNumber, fmtTime(v.NotBefore), fmtTime(v.NotAfter), revokedText(v.RevokedAt, v.RevocationReason), v.FingerprintSHA256, v.JobID}
				})
		})
	pf = addPageFlags(cmd.Flags())
	cmd.ValidArgsFunction = r.completeIDs(r.certificateIDs)
	return cmd
}

func (r *runner) certsChain() *cobra.Command {
	cmd := r.leaf("chain ID", "Print the newest version's PEM chain (leaf, then CA) and nothing else",
		"Print the newest version's PEM chain (leaf, then CA) and nothing else, so `certctl certs chain web > chain.pem` works. Ignores -o.", 1, 1,
		func(r *runner, _ *cobra.Command, args []string) error {
			id := args[0]
			c, err := r.client()
			if err != nil {
				return err
			}
			versions, _, err := c.ListVersions(r.ctx, id, client.PageRequest{Limit: 1})
			if err != nil {
				return err
			}
			if len(versions) == 0 {
				return fmt.Errorf("certificate %s has no issued version yet (see 'certctl jobs list --cert %s')", id, id)
			}
			_, err = io.WriteString(r.stdout, versions[0].PEMChain)
			return err
		})
	cmd.ValidArgsFunction = r.completeIDs(r.certificateIDs)
	return cmd
}
