package workflow_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

const day = 24 * time.Hour

// issuedCert creates and issues a certificate (approved by bob when gated).
func (e *env) issuedCert(id, profile, cn string) *domain.Certificate {
	e.t.Helper()
	s := e.newCert(alice, id, profile, cn)
	if s.ApprovalID != "" {
		e.approve(bob, s.ApprovalID)
	}
	e.issued(id, s.JobID)
	return e.cert(id)
}

func (e *env) sweep() workflow.SweepResult {
	e.t.Helper()
	res, err := e.svc.Sweep(e.t.Context())
	if err != nil {
		e.t.Fatalf("sweep: %+v %v", res, err)
	}
	return res
}

// startedFor is the execution input of the last start for a job of certID.
func (e *env) startedFor(certID string) *workflow.ExecutionInput {
	starts := e.exec.Starts()
	for i := len(starts) - 1; i >= 0; i-- {
		if starts[i].CertificateID == certID {
			return &starts[i]
		}
	}
	return nil
}

// Certificates whose renewal time has come get a renewal through the same
// gate as a manual renewal, requested by system-scheduler; the rest are
// left alone, and a second run starts nothing twice.
func TestSweepStartsDueRenewalsThroughTheGate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gatedProfile("prod", "**.prod.example.com")
	e.ungatedProfile("dev", "**.dev.example.com")
	gated := e.issuedCert("a", "prod", "a.prod.example.com")
	open := e.issuedCert("b", "dev", "b.dev.example.com")
	e.clock.Advance(30 * day)
	e.issuedCert("c", "dev", "c.dev.example.com") // due 30 days later than the others
	startsBefore := len(e.exec.Starts())

	e.clock.Advance(31 * day) // past a's and b's renewal time (60 days after issuance)
	if !e.clock.Now().After(*gated.RenewAt) || !e.clock.Now().After(*open.RenewAt) {
		t.Fatalf("test setup: renewal times %v %v not reached", gated.RenewAt, open.RenewAt)
	}
	if res := e.sweep(); res != (workflow.SweepResult{Started: 2}) {
		t.Fatalf("sweep: %+v", res)
	}
	if n := len(e.exec.Starts()) - startsBefore; n != 2 {
		t.Fatalf("%d executions started", n)
	}
	a := e.cert("a")
	ja := e.job(a.CurrentJobID)
	if a.Status != domain.CertRenewalInProgress || ja.Type != domain.JobRenewal || ja.Status != domain.JobAwaitingApproval ||
		ja.RequestedBy != domain.SystemScheduler || ja.PrevCertStatus != domain.CertExpiring {
		t.Fatalf("gated renewal: certificate %s, job %+v", a.Status, ja)
	}
	if in := e.startedFor("a"); in == nil || !in.RequiresApproval || in.ApprovalID != ja.ApprovalID {
		t.Fatalf("gated renewal's execution: %+v", in)
	}
	if ar := e.approval(ja.ApprovalID); ar.State != domain.ApprovalPending || ar.RequestedBy != domain.SystemScheduler {
		t.Fatalf("gated renewal's request: %+v", ar)
	}
	jb := e.job(e.cert("b").CurrentJobID)
	if jb.Status != domain.JobPending || jb.ApprovalID != "" || jb.RequiresApproval {
		t.Fatalf("ungated renewal: %+v", jb)
	}
	if c := e.cert("c"); c.CurrentJobID != "" || c.Status != domain.CertActive {
		t.Fatalf("a certificate not yet due was touched: %+v", c)
	}
	for _, id := range []string{"a", "b"} {
		rows := e.rowsBy(id, domain.AuditCertificateStatus)
		if len(rows) != 1 || rows[0].Actor != domain.SystemScheduler || rows[0].Details["to"] != string(domain.CertExpiring) {
			t.Fatalf("%s: status audit %+v", id, rows)
		}
	}
	if res := e.sweep(); res != (workflow.SweepResult{}) {
		t.Fatalf("second sweep: %+v", res)
	}

	// The scheduler's request is decided like any other, and issues.
	e.approve(alice, ja.ApprovalID)
	v := e.issued("a", ja.ID)
	if got := e.cert("a"); got.Status != domain.CertActive || got.SerialNumber != v.SerialNumber || !got.RenewAt.After(e.clock.Now()) {
		t.Fatalf("after renewal: %+v", got)
	}
}

// After a rejected renewal the sweep waits a day before asking again.
func TestSweepWaitsADayAfterARejectedRenewal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gatedProfile("prod", "**.example.com")
	e.issuedCert("a", "prod", "a.example.com")
	e.clock.Advance(61 * day)
	if res := e.sweep(); res.Started != 1 {
		t.Fatalf("sweep: %+v", res)
	}
	job := e.job(e.cert("a").CurrentJobID)
	if _, err := e.svc.Reject(t.Context(), bob, job.ApprovalID, "not this week"); err != nil {
		t.Fatal(err)
	}
	if c := e.cert("a"); c.CurrentJobID != "" || c.Status != domain.CertExpiring {
		t.Fatalf("certificate after the rejection: %+v", c)
	}
	e.clock.Advance(day - time.Minute)
	if res := e.sweep(); res.Started != 0 {
		t.Fatalf("asked again within a day: %+v", res)
	}
	e.clock.Advance(2 * time.Minute)
	if res := e.sweep(); res.Started != 1 {
		t.Fatalf("a day later: %+v", res)
	}
}

// A renewal policy now refuses (a name the profile no longer allows, or a
// name an approval-tier profile now governs) is not a sweep failure: it is
// deferred a day and audited for a person to act on, and nothing starts.
func TestSweepDefersRenewalsThePolicyRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		narrow func(e *env)
		kind   error // what a manual renewal is told
	}{
		{"name withdrawn", func(e *env) {
			if _, pending, err := e.svc.UpdateProfile(e.t.Context(), olivia, "dev", domain.ProfileInput{AllowedNames: names("y.dev.example.com")}); err != nil || pending != nil {
				e.t.Fatalf("narrowing: %+v %v", pending, err)
			}
		}, domain.ErrInvalid},
		{"name now governed", func(e *env) {
			e.gatedProfile("prod", "x.dev.example.com")
		}, domain.ErrConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.ungatedProfile("dev", "**.dev.example.com")
			e.issuedCert("x", "dev", "x.dev.example.com")
			tc.narrow(e)
			starts := len(e.exec.Starts())
			e.clock.Advance(61 * day)

			_, err := e.svc.Renew(t.Context(), alice, "x", domain.RenewInput{})
			wantKind(t, "manual renewal", err, tc.kind)
			if res := e.sweep(); res != (workflow.SweepResult{Refused: 1}) {
				t.Fatalf("sweep: %+v", res)
			}
			rows := e.rowsBy("x", domain.AuditRenewalRefused)
			if len(rows) != 1 || rows[0].Actor != domain.SystemScheduler || rows[0].ActorType != domain.ActorSystem || rows[0].Details["reason"] == "" {
				t.Fatalf("refusal audit: %+v", rows)
			}
			if c := e.cert("x"); c.CurrentJobID != "" || c.Status != domain.CertExpiring {
				t.Fatalf("certificate: %+v", c)
			}
			if n := len(e.exec.Starts()) - starts; n != 0 {
				t.Fatalf("%d executions started", n)
			}
			e.clock.Advance(day - time.Hour) // the hourly sweeps of the next day
			if res := e.sweep(); res != (workflow.SweepResult{}) {
				t.Fatalf("the refused renewal was not deferred: %+v", res)
			}
			e.clock.Advance(time.Hour + time.Second)
			if res := e.sweep(); res != (workflow.SweepResult{Refused: 1}) {
				t.Fatalf("a day later: %+v", res)
			}
		})
	}
}

// A certificate has at most one renewal in flight: of two renewals racing
// from the same read, one starts and the other is told a job is in flight.
func TestAtMostOneRenewalInFlight(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ungatedProfile("dev", "**.example.com")
	e.issuedCert("a", "dev", "a.example.com")
	starts := len(e.exec.Starts())
	b := newBarrier(2)
	e.st.getCertificate = func(ctx context.Context, id string) (*domain.Certificate, error) {
		c, err := e.st.Store.GetCertificate(ctx, id)
		b.Wait() // both renewals read the idle certificate before either writes
		return c, err
	}
	var wg sync.WaitGroup
	started, errs := make([]*domain.Started, 2), make([]error, 2)
	for i, who := range []domain.Actor{alice, olivia} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started[i], errs[i] = e.svc.Renew(context.Background(), who, "a", domain.RenewInput{})
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("two renewals started: %+v and %+v", started[won], started[i])
		case err == nil:
			won = i
		case !errors.Is(err, domain.ErrConflict):
			t.Fatalf("the losing renewal: %v, want a conflict", err)
		}
	}
	if won < 0 {
		t.Fatalf("no renewal started: %v", errs)
	}
	if c := e.cert("a"); c.CurrentJobID != started[won].JobID {
		t.Fatalf("job in flight %s, the winner's %s", c.CurrentJobID, started[won].JobID)
	}
	if got := e.exec.Starts(); len(got)-starts != 1 || got[len(got)-1].JobID != started[won].JobID {
		t.Fatalf("executions started: %+v", got[starts:])
	}
	jobs, _, err := e.st.Store.ListJobs(t.Context(), domain.JobFilter{CertificateID: "a"}, domain.PageRequest{Limit: 10})
	if err != nil || len(jobs) != 2 {
		t.Fatalf("jobs of the certificate: %d %v, want its issuance and one renewal", len(jobs), err)
	}
}
