package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/certctl-serverless/certctl-serverless/pkg/client"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

func certCommands() []command {
	return []command{
		{"certs list", "[--status STATUS] [--profile ID] [--limit N] [--page-token TOKEN]", "List certificates.", certsList},
		{"certs get", "ID", "Show a certificate.", certsGet},
		{"certs create", "--cn NAME [--san NAME]... --profile ID --csr FILE [--id ID]",
			"Register a certificate for a CSR (PEM; - reads stdin) and start its issuance at once. " +
				"Under an approval-tier profile the job waits until someone else approves the request it prints.", certsCreate},
		{"certs renew", "ID [--csr FILE]", "Start a renewal, with a new CSR or the stored one. Gated like issuance.", certsRenew},
		{"certs versions", "ID [--limit N] [--page-token TOKEN]", "List a certificate's issued versions, newest first.", certsVersions},
		{"certs chain", "ID", "Print the newest version's PEM chain (leaf, then CA) and nothing else, " +
			"so `certctl certs chain web > chain.pem` works. Ignores -o.", certsChain},
	}
}

func certsList(r *runner, args []string) error {
	fs := r.flags()
	var f client.CertificateFilter
	fs.StringVar(&f.Status, "status", "", "only this `STATUS` (Pending, Active, Expiring, Expired, RenewalInProgress, Failed, Revoked, Archived)")
	fs.StringVar(&f.ProfileID, "profile", "", "only certificates of profile `ID`")
	pf := addPageFlags(fs)
	if _, err := r.parse(fs, args, 0, 0); err != nil {
		return err
	}
	c, err := r.client(r.usage(fs))
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
}

func certsGet(r *runner, args []string) error {
	id, c, err := r.idAndClient(args)
	if err != nil {
		return err
	}
	x, err := c.GetCertificate(r.ctx, id)
	if err != nil {
		return err
	}
	return r.show(x, func() []field {
		return []field{
			{"ID", x.ID}, {"Common name", x.CommonName}, {"SANs", join(x.SANs)}, {"Status", string(x.Status)},
			{"Profile", x.ProfileID}, {"Issuer", x.IssuerID}, {"Key algorithm", x.KeyAlgorithm},
			{"Serial", x.SerialNumber}, {"Not before", fmtTimeP(x.NotBefore)}, {"Expires", fmtTimeP(x.ExpiresAt)},
			{"Renews at", fmtTimeP(x.RenewAt)}, {"Last renewal", fmtTimeP(x.LastRenewalAt)}, {"Job in flight", x.CurrentJobID},
			{"Created", fmtTime(x.CreatedAt) + " by " + x.CreatedBy}, {"Updated", fmtTime(x.UpdatedAt)},
		}
	})
}

// readCSR reads a PEM file, or stdin for "-". The API refuses bodies over
// 256 KiB, so reading more would only fail later.
func (r *runner) readCSR(path string) (string, error) {
	var rd io.Reader
	if path == "-" {
		rd = r.stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		rd = f
	}
	b, err := io.ReadAll(io.LimitReader(rd, 256<<10))
	if err != nil {
		return "", fmt.Errorf("reading the CSR: %w", err)
	}
	return string(b), nil
}

func certsCreate(r *runner, args []string) error {
	fs := r.flags()
	var in domain.CertificateInput
	var csrPath string
	sans := listFlag{commas: true}
	fs.StringVar(&in.CommonName, "cn", "", "common `NAME`; must equal the CSR's CN if it has one")
	fs.Var(&sans, "san", "a DNS `NAME` or IP; repeatable or comma-separated. The CSR's SANs must be among the CN and these")
	fs.StringVar(&in.ProfileID, "profile", "", "profile `ID`")
	fs.StringVar(&csrPath, "csr", "", "PEM certificate request `FILE` (- reads stdin)")
	fs.StringVar(&in.ID, "id", "", "certificate `ID` (default: generated)")
	if _, err := r.parse(fs, args, 0, 0); err != nil {
		return err
	}
	if err := r.required(fs, "cn", "profile", "csr"); err != nil {
		return err
	}
	c, err := r.client(r.usage(fs))
	if err != nil {
		return err
	}
	in.SANs = sans.vals
	if in.CSR, err = r.readCSR(csrPath); err != nil {
		return err
	}
	started, err := c.CreateCertificate(r.ctx, in)
	if err != nil {
		return err
	}
	return r.started(started, in.ID)
}

func certsRenew(r *runner, args []string) error {
	fs := r.flags()
	var csrPath string
	fs.StringVar(&csrPath, "csr", "", "a new PEM certificate request `FILE` (- reads stdin); default: the stored CSR")
	pos, err := r.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	c, err := r.client(r.usage(fs))
	if err != nil {
		return err
	}
	var csr string
	if csrPath != "" {
		if csr, err = r.readCSR(csrPath); err != nil {
			return err
		}
	}
	started, err := c.Renew(r.ctx, pos[0], csr)
	if err != nil {
		return err
	}
	return r.started(started, pos[0])
}

// started reports the job a create or renew started, and what to do next.
func (r *runner) started(s *domain.Started, certID string) error {
	if s.Certificate != nil {
		certID = s.Certificate.ID
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

func certsVersions(r *runner, args []string) error {
	fs := r.flags()
	pf := addPageFlags(fs)
	pos, err := r.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	c, err := r.client(r.usage(fs))
	if err != nil {
		return err
	}
	fetch := func(ctx context.Context, p client.PageRequest) ([]domain.CertificateVersion, string, error) {
		return c.ListVersions(ctx, pos[0], p)
	}
	return listing(r, pf, fetch, []string{"SERIAL", "NOT BEFORE", "NOT AFTER", "SHA-256 FINGERPRINT", "JOB"},
		func(v domain.CertificateVersion) []string {
			return []string{v.SerialNumber, fmtTime(v.NotBefore), fmtTime(v.NotAfter), v.FingerprintSHA256, v.JobID}
		})
}

func certsChain(r *runner, args []string) error {
	id, c, err := r.idAndClient(args)
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
}
