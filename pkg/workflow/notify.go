package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Events publishes the events of committed transitions (EventBridge
// PutEvents). It returns the ids of the notices the bus accepted; the
// others stay in the outbox for the reaper.
type Events interface {
	Publish(ctx context.Context, notices []domain.Notice) (published []string, err error)
}

// OutboxPort is the store's side of publishing: the outbox each audited
// transition's transaction writes its notices to.
type OutboxPort interface {
	ClearOutbox(ctx context.Context, id string) error
	PendingOutbox(ctx context.Context, cutoff time.Time, page domain.PageRequest) ([]domain.Notice, string, error)
}

// NotifySettings say who is told, when, and how the messages read.
type NotifySettings struct {
	Stage string
	// ConsoleURL is the console's base URL ("…/", or empty): messages link
	// to <ConsoleURL>#/approvals/<id>.
	ConsoleURL string
	// Targets are the configured notification targets; Default, those told
	// when a profile names none; Escalation, those an escalation also goes to.
	Targets, Default, Escalation []string
	// RemindAfter and EscalateAfter: see config.Config.
	RemindAfter, EscalateAfter time.Duration
	// ExpiryWarning is how long before not_after an unreplaced certificate
	// is announced as expiring.
	ExpiryWarning time.Duration
}

// checkNotify refuses a notify list naming a target the stage does not
// route to: an event for it would reach no one.
func (s *Service) checkNotify(names []string) error {
	for _, n := range names {
		if !slices.Contains(s.Notify.Targets, n) {
			configured := strings.Join(s.Notify.Targets, ", ")
			if configured == "" {
				configured = "none"
			}
			return domain.Invalidf("notify: %q is not a notification target of this stage (configured: %s)", n, configured)
		}
	}
	return nil
}

// recipients is who hears about something of a profile whose notify list
// is names: those, or the stage's defaults.
func (s *Service) recipients(names []string) []string {
	if len(names) > 0 {
		return slices.Clone(names)
	}
	return append([]string{}, s.Notify.Default...)
}

// attach makes ev carry the event its transition publishes. The event's id
// is the audit row's, so it exists exactly when the row does.
func (s *Service) attach(ev *domain.AuditEvent, typ string, d domain.EventDetail) {
	if ev.ID == "" {
		ev.ID = ulid.Make().String()
	}
	if ev.Timestamp.IsZero() {
		ev.Timestamp = s.now()
	}
	d.ID, d.Time, d.Stage, d.Action, d.Actor = ev.ID, ev.Timestamp.UTC(), s.Notify.Stage, ev.Action, ev.Actor
	if d.Notify == nil {
		d.Notify = []string{}
	}
	d.Route = make(map[string]bool, len(d.Notify))
	for _, t := range d.Notify {
		d.Route[t] = true
	}
	raw, err := json.Marshal(d)
	if err != nil { // plain strings, numbers and times: cannot happen
		s.log().Error("notify: cannot encode an event", "type", typ, "error", err)
		return
	}
	ev.Notice = &domain.Notice{ID: ev.ID, Type: typ, Time: d.Time, Detail: raw}
}

// publish sends the events of a committed transition and takes each one
// the bus accepted out of the outbox. Nothing is lost when it fails: the
// events were written with the transition, and the reaper publishes what
// is left after the grace period.
func (s *Service) publish(ctx context.Context, audits ...*domain.AuditEvent) {
	var notices []domain.Notice
	for _, ev := range audits {
		if ev != nil && ev.Notice != nil {
			notices = append(notices, *ev.Notice)
		}
	}
	if len(notices) == 0 || s.Events == nil || s.Outbox == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	sent, err := s.Events.Publish(ctx, notices)
	if err != nil {
		s.log().WarnContext(ctx, "events not published; they stay in the outbox and the reaper publishes them", "error", err)
	}
	for _, id := range sent {
		if err := s.Outbox.ClearOutbox(ctx, id); err != nil {
			s.log().WarnContext(ctx, "event published; clearing its outbox entry failed (the reaper publishes it again, with the same id)",
				"event_id", id, "error", err)
		}
	}
}

// republish publishes the outbox entries older than the grace period: the
// events of transitions whose function died or failed to publish.
func (s *Service) republish(ctx context.Context) (sent, failed int, err error) {
	if s.Events == nil || s.Outbox == nil {
		return 0, 0, nil
	}
	cutoff := s.now().Add(-s.handoffGrace())
	token := ""
	for {
		queued, next, err := s.Outbox.PendingOutbox(ctx, cutoff, domain.PageRequest{Limit: reapPageSize, Token: token})
		if err != nil {
			return sent, failed, err
		}
		if len(queued) > 0 {
			ok, err := s.Events.Publish(ctx, queued)
			if err != nil {
				s.log().ErrorContext(ctx, "reaper: publishing queued events failed; will retry", "error", err)
			}
			failed += len(queued) - len(ok)
			for _, id := range ok {
				if err := s.Outbox.ClearOutbox(ctx, id); err != nil {
					failed++
					continue
				}
				sent++
			}
		}
		if next == "" {
			return sent, failed, nil
		}
		token = next
	}
}

// --- What each event says -------------------------------------------------

// approvalFacts is what every approval event says about a request.
func (s *Service) approvalFacts(a *domain.Approval, at time.Time) *domain.EventApproval {
	e := &domain.EventApproval{
		ID: a.ID, Kind: string(a.Kind), State: string(a.State), ProfileID: a.ProfileID,
		CertificateID: a.CertificateID, JobID: a.JobID, RequestedBy: a.RequestedBy, Reason: requestReason(a),
		Subject: a.Subject, CreatedAt: a.CreatedAt.UTC(), ExpiresAt: a.ExpiresAt.UTC(),
		PendingSeconds: max(0, int64(at.Sub(a.CreatedAt).Seconds())),
	}
	policy := a.Policy()
	e.RequiredApprovals, e.Votes = a.Quorum().Total(), assigned(policy, a.Votes)
	if a.State == domain.ApprovalPending {
		e.Missing = a.Quorum().Missing(a.Votes)
	}
	if m := a.Move; m != nil {
		names := slices.Concat([]string{m.CommonName}, m.DNSNames, m.IPAddresses)
		slices.Sort(names)
		e.Move = &domain.EventMove{FromProfileID: m.From.ID, ToProfileID: m.To.ID, CommonName: m.CommonName, Names: slices.Compact(names)}
	}
	if pe := a.ProfileEdit; pe != nil {
		op := "update"
		switch {
		case pe.Create:
			op = "create"
		case pe.Delete:
			op = "delete"
		}
		fields := make([]string, 0, len(pe.Diff))
		for f := range pe.Diff {
			fields = append(fields, f)
		}
		slices.Sort(fields)
		e.ProfileChange = &domain.EventProfileChange{Operation: op, Fields: fields}
	}
	return e
}

// assigned copies votes with the factor each counts toward (never nil).
func assigned(policy domain.ApprovalPolicy, votes []domain.Vote) []domain.Vote {
	out := make([]domain.Vote, len(votes))
	for i, v := range votes {
		out[i] = v
		out[i].Eligible = append([]string{}, v.Eligible...)
	}
	policy.Assign(out)
	return out
}

// quorum reports a request whose policy needs more than one vote: its
// messages say the votes so far and what is still missing.
func quorum(a *domain.Approval) bool { return a.Quorum().Total() > 1 }

// writeVotes says, for a quorum, the votes so far (and the factor each
// counts toward, when the policy has several) and, unless the votes
// satisfied it, what is still missing.
func writeVotes(b *strings.Builder, a *domain.Approval, satisfied bool) {
	policy := a.Policy()
	votes := assigned(policy, a.Votes)
	who := make([]string, len(votes))
	for i, v := range votes {
		who[i] = v.Actor
		if len(policy) > 1 && v.Factor != "" {
			who[i] += " for " + v.Factor
		}
	}
	fmt.Fprintf(b, "Votes: %d of %d", len(votes), a.Quorum().Total())
	if len(who) > 0 {
		fmt.Fprintf(b, " (%s)", strings.Join(who, ", "))
	}
	b.WriteString(".\n")
	if !satisfied {
		fmt.Fprintf(b, "Still missing: %s.\n", a.Quorum().Missing(a.Votes))
	}
}

// requestReason is the requester's own reason for a request.
func requestReason(a *domain.Approval) string { return a.RequestReason }

// pendingDetail is the event of a request still waiting: requested,
// reminder, escalation. It says what is asked and how to decide.
func (s *Service) pendingDetail(a *domain.Approval, at time.Time, notify []string, headline string, reminder int) domain.EventDetail {
	return s.pendingDetailWith(a, at, notify, headline, "", reminder)
}

// pendingDetailWith is pendingDetail with a line after the headline.
func (s *Service) pendingDetailWith(a *domain.Approval, at time.Time, notify []string, headline, lead string, reminder int) domain.EventDetail {
	facts := s.approvalFacts(a, at)
	facts.Reminder = reminder
	facts.Decide = []string{
		fmt.Sprintf("certctl approvals approve %s --note \"…\"", a.ID),
		fmt.Sprintf("certctl approvals reject %s --note \"why\"", a.ID),
	}
	d := domain.EventDetail{Notify: notify, Approval: facts}
	var b strings.Builder
	fmt.Fprintf(&b, "[certctl %s] %s: %s (%s)\n", s.Notify.Stage, headline, what(a), a.ID)
	if lead != "" {
		fmt.Fprintf(&b, "%s\n", lead)
	}
	writeAsk(&b, a)
	waited := at.Sub(a.CreatedAt)
	fmt.Fprintf(&b, "Requested %s by %s; waiting %s; expires %s (in %s).\n",
		stamp(a.CreatedAt), a.RequestedBy, human(waited), stamp(a.ExpiresAt), human(a.ExpiresAt.Sub(at)))
	if quorum(a) {
		writeVotes(&b, a, false)
		fmt.Fprintf(&b, "To vote or reject (one vote per person, in a pool still missing votes; not %s):\n", a.RequestedBy)
	} else {
		fmt.Fprintf(&b, "To decide (anyone in the approver pool but %s):\n", a.RequestedBy)
	}
	for _, c := range facts.Decide {
		fmt.Fprintf(&b, "  %s\n", c)
	}
	if link := s.consoleLink(a.ID); link != "" {
		fmt.Fprintf(&b, "  %s\n", link)
		d.Links = map[string]string{"console": link}
	}
	d.Message.Text = strings.TrimRight(b.String(), "\n")
	return d
}

func (s *Service) consoleLink(approvalID string) string {
	if s.Notify.ConsoleURL == "" {
		return ""
	}
	return s.Notify.ConsoleURL + "#/approvals/" + approvalID
}

// what names what a request is about, in a few words.
func what(a *domain.Approval) string {
	switch {
	case a.Subject != nil:
		return fmt.Sprintf("certificate %s for %s", a.CertificateID, a.Subject.CommonName)
	case a.Move != nil:
		return fmt.Sprintf("move of certificate %s to profile %s", a.CertificateID, a.Move.To.ID)
	case a.ProfileEdit != nil && a.ProfileEdit.Create:
		return "creation of profile " + a.ProfileID
	case a.ProfileEdit != nil && a.ProfileEdit.Delete:
		return "deletion of profile " + a.ProfileID
	case a.ProfileEdit != nil:
		return "change to profile " + a.ProfileID
	}
	return "request under profile " + a.ProfileID
}

// writeAsk says exactly what approving would allow.
func writeAsk(b *strings.Builder, a *domain.Approval) {
	if x := a.Subject; x != nil {
		profile := x.ProfileID
		if x.ProfileName != "" {
			profile += " (" + x.ProfileName + ")"
		}
		fmt.Fprintf(b, "%s asks for a certificate under profile %s:\n", a.RequestedBy, profile)
		fmt.Fprintf(b, "  Common name: %s\n", x.CommonName)
		fmt.Fprintf(b, "  Names: %s\n", strings.Join(x.Names(), ", "))
		fmt.Fprintf(b, "  Key: %s, public key SHA-256 %s\n", x.KeyAlgorithm, x.PublicKeySHA256)
		fmt.Fprintf(b, "  Validity: %s\n", human(time.Duration(x.ValiditySeconds)*time.Second))
	}
	if m := a.Move; m != nil {
		fmt.Fprintf(b, "%s asks to move certificate %s from profile %s to profile %s:\n", a.RequestedBy, a.CertificateID, m.From.ID, m.To.ID)
		fmt.Fprintf(b, "  Common name: %s\n", m.CommonName)
		fmt.Fprintf(b, "  Names: %s\n", strings.Join(slices.Concat(m.DNSNames, m.IPAddresses), ", "))
		if len(m.FromPolicy) > 0 {
			b.WriteString("  Both profiles require approval: the votes must satisfy both policies.\n")
		}
	}
	if pe := a.ProfileEdit; pe != nil {
		fields := make([]string, 0, len(pe.Diff))
		for f := range pe.Diff {
			fields = append(fields, f)
		}
		slices.Sort(fields)
		switch {
		case pe.Create:
			fmt.Fprintf(b, "%s asks to create profile %s (fields: %s).\n", a.RequestedBy, a.ProfileID, strings.Join(fields, ", "))
		case pe.Delete:
			fmt.Fprintf(b, "%s asks to delete profile %s (version %d).\n", a.RequestedBy, a.ProfileID, pe.BaseVersion)
		default:
			fmt.Fprintf(b, "%s asks to change profile %s (version %d): %s.\n", a.RequestedBy, a.ProfileID, pe.BaseVersion, strings.Join(fields, ", "))
		}
		fmt.Fprintf(b, "  See the diff: certctl approvals show %s\n", a.ID)
	}
	if r := requestReason(a); r != "" {
		fmt.Fprintf(b, "  Reason: %s\n", r)
	}
}

// noticeRequested attaches the Approval Requested event to a new request's row.
func (s *Service) noticeRequested(ev *domain.AuditEvent, a *domain.Approval) {
	s.attach(ev, domain.EventApprovalRequested, s.pendingDetail(a, a.CreatedAt, s.recipients(a.Notify), "Approval requested", 0))
}

// noticeVoted attaches Approval Vote Recorded to the approval_vote row of
// a vote that leaves the request pending; a holds the votes with it.
func (s *Service) noticeVoted(ev *domain.AuditEvent, a *domain.Approval, v domain.Vote) {
	headline := fmt.Sprintf("%s voted (%d of %d), approval waiting", v.Actor, len(a.Votes), a.Quorum().Total())
	lead := ""
	if v.Note != "" {
		lead = fmt.Sprintf("%s's note: %s", v.Actor, v.Note)
	}
	s.attach(ev, domain.EventApprovalVoteRecorded, s.pendingDetailWith(a, v.At, s.recipients(a.Notify), headline, lead, 0))
}

// noticeDecided attaches the event of a decision (approved, rejected, bypassed,
// expired) to its row.
func (s *Service) noticeDecided(ev *domain.AuditEvent, a *domain.Approval, state domain.ApprovalState, by, note, reason string, at time.Time) {
	facts := s.approvalFacts(a, at)
	facts.State, facts.DecidedBy, facts.Note, facts.DecisionReason = string(state), by, note, reason
	satisfied := state == domain.ApprovalApproved || state == domain.ApprovalBypassed
	facts.Missing = nil
	if !satisfied {
		facts.Missing = a.Quorum().Missing(a.Votes)
	}
	d := domain.EventDetail{Notify: s.recipients(a.Notify), Approval: facts}
	var b strings.Builder
	typ := domain.EventApprovalDecided
	waited := human(at.Sub(a.CreatedAt))
	switch state {
	case domain.ApprovalApproved:
		fmt.Fprintf(&b, "[certctl %s] Approved: %s (%s)\n", s.Notify.Stage, what(a), a.ID)
		fmt.Fprintf(&b, "%s approved %s's request after %s.", by, a.RequestedBy, waited)
	case domain.ApprovalRejected:
		fmt.Fprintf(&b, "[certctl %s] Rejected: %s (%s)\n", s.Notify.Stage, what(a), a.ID)
		fmt.Fprintf(&b, "%s rejected %s's request after %s.", by, a.RequestedBy, waited)
		if reason != "" {
			fmt.Fprintf(&b, " Reason: %s.", reason)
		}
	case domain.ApprovalBypassed:
		fmt.Fprintf(&b, "[certctl %s] Bypassed: %s (%s)\n", s.Notify.Stage, what(a), a.ID)
		fmt.Fprintf(&b, "Approved at once by %s for %s: approval bypass is on in this stage.", by, a.RequestedBy)
	case domain.ApprovalExpired:
		typ = domain.EventApprovalExpired
		fmt.Fprintf(&b, "[certctl %s] Expired: %s (%s)\n", s.Notify.Stage, what(a), a.ID)
		fmt.Fprintf(&b, "Nobody decided %s's request; it expired after %s", a.RequestedBy, waited)
		if reason != "" {
			fmt.Fprintf(&b, " (%s)", reason)
		}
		b.WriteString(".")
	}
	if note != "" {
		fmt.Fprintf(&b, "\nNote: %s", note)
	}
	if quorum(a) && state != domain.ApprovalBypassed {
		var votes strings.Builder
		writeVotes(&votes, a, satisfied)
		fmt.Fprintf(&b, "\n%s", strings.TrimRight(votes.String(), "\n"))
	}
	switch {
	case a.Kind == domain.KindCertIssuance && (state == domain.ApprovalApproved || state == domain.ApprovalBypassed):
		fmt.Fprintf(&b, "\nThe certificate is issued next: certctl jobs get %s", a.JobID)
	case a.Kind == domain.KindCertIssuance:
		fmt.Fprintf(&b, "\nNothing was issued; the certificate keeps its previous version. Ask again: certctl certs renew %s", a.CertificateID)
	case a.Move != nil && state == domain.ApprovalApproved:
		fmt.Fprintf(&b, "\nCertificate %s moved to profile %s.", a.CertificateID, a.Move.To.ID)
	case a.Move != nil:
		fmt.Fprintf(&b, "\nCertificate %s stays under profile %s.", a.CertificateID, a.Move.From.ID)
	case state == domain.ApprovalApproved:
		fmt.Fprintf(&b, "\nThe change to profile %s is applied.", a.ProfileID)
	default:
		fmt.Fprintf(&b, "\nProfile %s is unchanged.", a.ProfileID)
	}
	d.Message.Text = b.String()
	s.attach(ev, typ, d)
}

// certFacts is what certificate events say about a job's certificate.
func certFacts(job *domain.Job) *domain.EventCertificate {
	c := &domain.EventCertificate{ID: job.CertificateID, ProfileID: job.ProfileID, JobID: job.ID, ApprovalID: job.ApprovalID, Names: []string{}}
	if x := job.Subject; x != nil {
		c.CommonName, c.Names = x.CommonName, x.Names()
	}
	return c
}

// noticeIssued attaches Certificate Issued to a completed job's row.
func (s *Service) noticeIssued(ev *domain.AuditEvent, job *domain.Job, v *domain.CertificateVersion) {
	c := certFacts(job)
	nb, na := v.NotBefore.UTC(), v.NotAfter.UTC()
	c.SerialNumber, c.NotBefore, c.NotAfter, c.FingerprintSHA256, c.PEMChain = v.SerialNumber, &nb, &na, v.FingerprintSHA256, v.PEMChain
	var b strings.Builder
	fmt.Fprintf(&b, "[certctl %s] Certificate issued: %s (%s)\n", s.Notify.Stage, c.ID, c.CommonName)
	fmt.Fprintf(&b, "Names: %s\n", strings.Join(c.Names, ", "))
	fmt.Fprintf(&b, "Serial %s, valid %s to %s (%s)\n", v.SerialNumber, stamp(nb), stamp(na), human(na.Sub(nb)))
	fmt.Fprintf(&b, "SHA-256 fingerprint %s\n", v.FingerprintSHA256)
	fmt.Fprintf(&b, "Fetch the chain: certctl certs chain %s", c.ID)
	s.attach(ev, domain.EventCertificateIssued, domain.EventDetail{Notify: s.recipients(job.Notify), Certificate: c, Message: domain.EventMessage{Text: b.String()}})
}

// noticeFailed attaches Renewal Failed to a failed job's row.
func (s *Service) noticeFailed(ev *domain.AuditEvent, job *domain.Job, msg string) {
	c := certFacts(job)
	c.Error = msg
	var b strings.Builder
	fmt.Fprintf(&b, "[certctl %s] %s failed: certificate %s (%s), job %s\n", s.Notify.Stage, jobNoun(job), c.ID, c.CommonName, job.ID)
	fmt.Fprintf(&b, "Error: %s\n", msg)
	fmt.Fprintf(&b, "Nothing was issued. Once the cause is fixed: certctl certs renew %s", c.ID)
	s.attach(ev, domain.EventRenewalFailed, domain.EventDetail{Notify: s.recipients(job.Notify), Certificate: c, Message: domain.EventMessage{Text: b.String()}})
}

func jobNoun(job *domain.Job) string {
	if job.Type == domain.JobIssuance {
		return "Issuance"
	}
	return "Renewal"
}

// noticeExpiring attaches Certificate Expiring to its row.
func (s *Service) noticeExpiring(ev *domain.AuditEvent, cert *domain.Certificate, notify []string, at time.Time) {
	c := &domain.EventCertificate{ID: cert.ID, CommonName: cert.CommonName, Names: nonNil(cert.SANs), ProfileID: cert.ProfileID,
		SerialNumber: cert.SerialNumber, RenewalJobID: cert.CurrentJobID}
	if !slices.Contains(c.Names, cert.CommonName) {
		c.Names = append([]string{cert.CommonName}, c.Names...)
	}
	c.NotBefore, c.NotAfter = utc(cert.NotBefore), utc(cert.ExpiresAt)
	var b strings.Builder
	left := "has ended"
	if c.NotAfter != nil && c.NotAfter.After(at) {
		left = "ends in " + human(c.NotAfter.Sub(at))
	}
	fmt.Fprintf(&b, "[certctl %s] Certificate expiring: %s (%s) %s\n", s.Notify.Stage, cert.ID, cert.CommonName, left)
	if c.NotAfter != nil {
		fmt.Fprintf(&b, "Serial %s is valid until %s and no newer version has been issued.\n", cert.SerialNumber, stamp(*c.NotAfter))
	}
	if cert.CurrentJobID != "" {
		fmt.Fprintf(&b, "A renewal is in flight and may be waiting for an approval: certctl jobs get %s", cert.CurrentJobID)
	} else {
		fmt.Fprintf(&b, "Renew it: certctl certs renew %s", cert.ID)
	}
	s.attach(ev, domain.EventCertificateExpiring, domain.EventDetail{Notify: notify, Certificate: c, Message: domain.EventMessage{Text: b.String()}})
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// stamp is a time as messages show it.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// human is a duration as people say it: the two largest units.
func human(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Round(time.Second)
	days, d := d/(24*time.Hour), d%(24*time.Hour)
	hours, d := d/time.Hour, d%time.Hour
	mins, secs := d/time.Minute, (d%time.Minute)/time.Second
	parts := []string{}
	for _, p := range []struct {
		n    time.Duration
		unit string
	}{{days, "d"}, {hours, "h"}, {mins, "m"}, {secs, "s"}} {
		if p.n > 0 || (len(parts) > 0 && len(parts) < 2) {
			parts = append(parts, fmt.Sprintf("%d%s", p.n, p.unit))
		}
		if len(parts) == 2 {
			break
		}
	}
	if len(parts) == 0 {
		return "0s"
	}
	if len(parts) == 2 && strings.HasPrefix(parts[1], "0") {
		parts = parts[:1]
	}
	return strings.Join(parts, " ")
}
