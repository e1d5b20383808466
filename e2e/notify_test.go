package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/certctl-serverless/certctl-serverless/e2e/eventcheck"
	"github.com/certctl-serverless/certctl-serverless/pkg/app"
	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/devstack"
	"github.com/certctl-serverless/certctl-serverless/pkg/devstack/faults"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// The notification stack's timings: short, so reminders, the escalation
// and expiry all happen within the test.
const (
	notifyTimeout  = 14 * time.Second
	notifyRemind   = 3 * time.Second
	notifyEscalate = 5 * time.Second
)

// inbox is a webhook listener: every message each target's webhook posts.
type inbox struct {
	mu   sync.Mutex
	msgs []webhookMessage
}

type webhookMessage struct {
	Target string
	Text   string
	Body   []byte
	At     time.Time
}

func (in *inbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	in.mu.Lock()
	defer in.mu.Unlock()
	text, _ := eventcheck.CheckWebhookBody(body)
	in.msgs = append(in.msgs, webhookMessage{Target: strings.Trim(r.URL.Path, "/"), Text: text, Body: body, At: time.Now()})
	w.WriteHeader(http.StatusOK)
}

func (in *inbox) with(text string) []webhookMessage {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []webhookMessage
	for _, m := range in.msgs {
		if m.Text == text {
			out = append(out, m)
		}
	}
	return out
}

// notifyEnv is a stack with three notification targets, each a webhook to
// the inbox: ops (the default), sec (escalations) and team (named by
// profiles that want it). Faults are injected only where a test scripts
// them.
type notifyEnv struct {
	stack *devstack.Stack
	tg    target
	inbox *inbox
	inj   *faults.Injector
	check *eventcheck.Validator
}

func startNotifyStack(t *testing.T, bypass bool) *notifyEnv {
	t.Helper()
	n := &notifyEnv{inbox: &inbox{}, inj: faults.New(1, 0)}
	srv := httptest.NewServer(n.inbox)
	t.Cleanup(srv.Close)
	var err error
	if n.check, err = eventcheck.Load(); err != nil {
		t.Fatal(err)
	}
	s, k, err := startStack(func(c *config.Config) {
		c.Bypass = bypass
		c.ApprovalTimeout, c.RemindAfter, c.EscalateAfter = notifyTimeout, notifyRemind, notifyEscalate
		c.ExpiryWarning = 2 * time.Hour
		c.HandoffGrace = time.Second
		c.ConsoleURL = "https://certs.example.com/console/"
		c.NotifyTargets, c.NotifyDefault, c.NotifyEscalation = []string{"ops", "sec", "team"}, []string{"ops"}, []string{"sec"}
	}, func(o *devstack.Options) {
		o.Webhooks = map[string]string{"ops": srv.URL + "/ops", "sec": srv.URL + "/sec", "team": srv.URL + "/team"}
		o.AWSAPIOptions = append(o.AWSAPIOptions, n.inj.APIOption)
	})
	if err != nil {
		t.Fatal(err)
	}
	n.inj.Enable(true) // rate 0: only scripted faults
	n.stack, n.tg = s, target{s.URL, k}
	t.Cleanup(func() {
		violations, err := checkStack(s)
		if err != nil {
			t.Error(err)
		}
		for _, v := range violations {
			t.Errorf("violation: %s", v)
		}
		s.Close()
	})
	return n
}

// events are the delivered events of type typ about id (an approval's or
// a certificate's).
func (n *notifyEnv) events(typ, id string) []devstack.Event {
	var out []devstack.Event
	for _, e := range n.stack.Events() {
		if e.DetailType != typ {
			continue
		}
		var d struct {
			Approval    *struct{ ID string } `json:"approval"`
			Certificate *struct{ ID string } `json:"certificate"`
		}
		_ = json.Unmarshal(e.Detail, &d)
		if (d.Approval != nil && d.Approval.ID == id) || (d.Certificate != nil && d.Certificate.ID == id) {
			out = append(out, e)
		}
	}
	return out
}

// detail decodes an event's detail.
func detailOf(t *testing.T, e devstack.Event) domain.EventDetail {
	t.Helper()
	var d domain.EventDetail
	if err := json.Unmarshal(e.Detail, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// expect waits for exactly want events of typ about id (the last one is
// returned), checks each against its schema, and checks that each target
// it names got its message once (the webhook body is {"text": the
// detail's text}) and no other target did.
func (n *notifyEnv) expect(t *testing.T, typ, id string, want int) devstack.Event {
	t.Helper()
	var got []devstack.Event
	eventually(t, "events "+typ+" of "+id, func() bool {
		got = n.events(typ, id)
		return len(got) >= want
	})
	time.Sleep(300 * time.Millisecond) // no more than want arrive
	if got = n.events(typ, id); len(got) != want {
		t.Fatalf("%d %q events about %s, want %d", len(got), typ, id, want)
	}
	if want == 0 {
		return devstack.Event{}
	}
	for _, e := range got {
		if err := n.check.Check(e.DetailType, e.Detail); err != nil {
			t.Fatalf("schema: %v\n%s", err, e.Detail)
		}
		d := detailOf(t, e)
		var msgs []webhookMessage
		eventually(t, "webhook messages of "+d.ID, func() bool {
			msgs = n.inbox.with(d.Message.Text)
			return len(msgs) >= len(d.Notify)
		})
		time.Sleep(100 * time.Millisecond)
		msgs = n.inbox.with(d.Message.Text)
		targets := map[string]int{}
		for _, m := range msgs {
			targets[m.Target]++
		}
		for _, to := range d.Notify {
			if targets[to] != 1 {
				t.Errorf("%s %s: target %s got %d messages, want 1 (%v)", typ, d.ID, to, targets[to], targets)
			}
			delete(targets, to)
		}
		if len(targets) > 0 {
			t.Errorf("%s %s: targets it is not for got it: %v", typ, d.ID, targets)
		}
	}
	return got[len(got)-1]
}

// none checks, after the event log settles, that no event of typ is about id.
func (n *notifyEnv) none(t *testing.T, typ, id string) {
	t.Helper()
	if err := n.stack.SettleEvents(t.Context(), 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if got := n.events(typ, id); len(got) != 0 {
		t.Fatalf("%d %q events about %s, want none: %s", len(got), typ, id, got[0].Detail)
	}
}

func (n *notifyEnv) reap(t *testing.T) {
	t.Helper()
	if _, err := n.stack.Invoke(t.Context(), app.FnReaper, map[string]string{}); err != nil {
		t.Logf("reaper: %v", err)
	}
}

func (n *notifyEnv) profile(t *testing.T, notify ...string) string {
	t.Helper()
	id := uniq("nprof")
	body := map[string]any{"id": id, "name": "Notify " + id, "requires_approval": true, "allowed_names": []string{"**." + zone(id)},
		"max_validity_seconds": 3600, "renew_before_seconds": 60}
	if notify != nil {
		body["notify"] = notify
	}
	n.tg.must(t, http.StatusCreated, "alice", "POST", "/api/v1/profiles", body)
	return id
}

func (n *notifyEnv) cert(t *testing.T, profile string) (certID, approvalID, jobID string) {
	t.Helper()
	id := uniq("mc")
	cn := id + "." + zone(profile)
	r := n.tg.must(t, http.StatusCreated, "alice", "POST", "/api/v1/certificates", map[string]any{
		"id": id, "common_name": cn, "sans": []string{cn}, "profile_id": profile, "csr": newCSR(t, cn, cn),
	})
	return id, r.str("approval_id"), r.str("job_id")
}

func (n *notifyEnv) waitJob(t *testing.T, jobID string, want string) {
	t.Helper()
	eventually(t, "job "+jobID+" "+want, func() bool {
		return n.tg.must(t, http.StatusOK, "carol", "GET", "/api/v1/jobs/"+jobID, nil).str("status") == want
	})
}

// TestNotifications: each fact is one event and one message per target
// it is for, valid against its schema, and nothing is sent for what did
// not happen (a rejection issues nothing, an expiry or a decision stops
// the reminders, a transition that rolled back publishes nothing); a
// publish that fails is published again by the reaper, with the same id.
func TestNotifications(t *testing.T) {
	if stack == nil {
		t.Skip("needs the embedded stack")
	}
	n := startNotifyStack(t, false)

	t.Run("approved and issued", func(t *testing.T) {
		p := n.profile(t)
		cert, ar, job := n.cert(t, p)
		req := detailOf(t, n.expect(t, domain.EventApprovalRequested, ar, 1))
		if req.Approval.Subject == nil || req.Approval.Subject.PublicKeySHA256 == "" || len(req.Approval.Decide) != 2 ||
			req.Links["console"] != "https://certs.example.com/console/#/approvals/"+ar || len(req.Notify) != 1 || req.Notify[0] != "ops" {
			t.Fatalf("approval requested says too little: %+v", req)
		}
		for _, want := range []string{"Approval requested", cert, "alice asks", "certctl approvals approve " + ar, "#/approvals/" + ar, "expires"} {
			if !strings.Contains(req.Message.Text, want) {
				t.Errorf("message lacks %q:\n%s", want, req.Message.Text)
			}
		}
		n.tg.must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+ar+"/approve", map[string]string{"note": "ticket SEC-1"})
		decEvent := n.expect(t, domain.EventApprovalDecided, ar, 1)
		dec := detailOf(t, decEvent)
		if dec.Approval.State != "approved" || dec.Approval.DecidedBy != "bob" || dec.Approval.Note != "ticket SEC-1" {
			t.Fatalf("decision: %+v", dec.Approval)
		}
		// From the commit (the audit row's time) to the event log.
		t.Logf("publish latency: %s from the decision's commit to its delivery", decEvent.Received.Sub(dec.Time).Round(time.Millisecond))
		n.waitJob(t, job, "Completed")
		iss := detailOf(t, n.expect(t, domain.EventCertificateIssued, cert, 1))
		versions := n.tg.must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+cert+"/versions", nil)
		data, _ := versions.Body["data"].([]any)
		v, _ := data[0].(map[string]any)
		if iss.Certificate.PEMChain != v["pem_chain"] || iss.Certificate.SerialNumber != v["serial_number"] || iss.Certificate.JobID != job {
			t.Fatalf("issued event does not carry the issued version: %+v", iss.Certificate)
		}
		n.none(t, domain.EventApprovalExpired, ar)
	})

	t.Run("a quorum says the votes and what is still missing", func(t *testing.T) {
		dana := uniq("dana")
		n.tg.keys[dana] = n.tg.must(t, http.StatusCreated, "admin", "POST", "/api/v1/apikeys",
			map[string]any{"principal": dana, "roles": []string{"approver"}}).str("secret")
		p := uniq("nprof")
		n.tg.must(t, http.StatusCreated, "alice", "POST", "/api/v1/profiles", map[string]any{"id": p, "name": "Quorum " + p,
			"requires_approval": true, "allowed_names": []string{"**." + zone(p)}, "max_validity_seconds": 3600, "renew_before_seconds": 60,
			"required_approvals": 2})
		cert, ar, job := n.cert(t, p)
		req := detailOf(t, n.expect(t, domain.EventApprovalRequested, ar, 1))
		if a := req.Approval; a.RequiredApprovals != 2 || len(a.Votes) != 0 || a.Missing == nil || a.Missing.Approvals != 2 ||
			!strings.Contains(req.Message.Text, "Still missing: 2 approvals from approvers") {
			t.Fatalf("quorum requested: %+v\n%s", a, req.Message.Text)
		}
		if r := n.tg.must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+ar+"/approve", map[string]string{"note": "first"}); r.str("action") != domain.ActionVoted {
			t.Fatalf("first vote: %s", r.Raw)
		}
		v := detailOf(t, n.expect(t, domain.EventApprovalVoteRecorded, ar, 1))
		if a := v.Approval; v.Actor != "bob" || a.State != "pending" || len(a.Votes) != 1 || a.Votes[0].Actor != "bob" ||
			a.Missing == nil || a.Missing.Approvals != 1 || !strings.Contains(v.Message.Text, "Votes: 1 of 2 (bob).") {
			t.Fatalf("vote recorded: %+v\n%s", a, v.Message.Text)
		}
		n.none(t, domain.EventApprovalDecided, ar)
		if r := n.tg.must(t, http.StatusOK, dana, "POST", "/api/v1/approvals/"+ar+"/approve", map[string]string{"note": "second"}); r.str("action") != domain.ActionApproved {
			t.Fatalf("completing vote: %s", r.Raw)
		}
		dec := detailOf(t, n.expect(t, domain.EventApprovalDecided, ar, 1))
		if a := dec.Approval; a.State != "approved" || a.DecidedBy != dana || len(a.Votes) != 2 || a.Votes[1].Actor != dana || a.Missing != nil {
			t.Fatalf("decided: %+v", a)
		}
		// The completing vote is announced by the decision alone.
		n.expect(t, domain.EventApprovalVoteRecorded, ar, 1)
		n.waitJob(t, job, "Completed")
		n.expect(t, domain.EventCertificateIssued, cert, 1)
	})

	t.Run("rejected issues nothing", func(t *testing.T) {
		p := n.profile(t)
		cert, ar, job := n.cert(t, p)
		n.expect(t, domain.EventApprovalRequested, ar, 1)
		n.tg.must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+ar+"/reject", map[string]string{"note": "wrong key"})
		dec := detailOf(t, n.expect(t, domain.EventApprovalDecided, ar, 1))
		if dec.Approval.State != "rejected" || !strings.Contains(dec.Message.Text, "wrong key") {
			t.Fatalf("rejection: %+v", dec)
		}
		n.waitJob(t, job, "Cancelled")
		n.none(t, domain.EventCertificateIssued, cert)
		n.none(t, domain.EventRenewalFailed, cert)
	})

	t.Run("a profile names who is told", func(t *testing.T) {
		n.tg.must(t, http.StatusBadRequest, "alice", "POST", "/api/v1/profiles", map[string]any{
			"id": uniq("nprof"), "name": "x", "requires_approval": true, "allowed_names": []string{"x.example.com"}, "notify": []string{"nobody"},
		})
		p := n.profile(t, "team")
		_, ar, _ := n.cert(t, p)
		d := detailOf(t, n.expect(t, domain.EventApprovalRequested, ar, 1))
		if len(d.Notify) != 1 || d.Notify[0] != "team" {
			t.Fatalf("notify %v, want [team]", d.Notify)
		}
		// The pending gauges on /metrics: one request, waiting.
		time.Sleep(1100 * time.Millisecond)
		m := string(n.tg.must(t, http.StatusOK, "carol", "GET", "/api/v1/metrics", nil).Raw)
		if !strings.Contains(m, `certctl_approvals_pending{profile_id="`+p+`"} 1`+"\n") ||
			!strings.Contains(m, `certctl_oldest_pending_approval_seconds{profile_id="`+p+`"} `) {
			t.Fatalf("/metrics lacks the pending gauges of %s:\n%s", p, m)
		}
	})

	t.Run("a move between gates is announced and decided like any request", func(t *testing.T) {
		from := n.profile(t)
		id, first, job := n.cert(t, from)
		n.tg.must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+first+"/approve", map[string]string{"note": "ok"})
		n.waitJob(t, job, "Completed")
		// Another approval-tier profile over the same names, naming team.
		gated := uniq("nprof")
		n.tg.must(t, http.StatusCreated, "alice", "POST", "/api/v1/profiles", map[string]any{"id": gated, "name": "Notify " + gated,
			"requires_approval": true, "allowed_names": []string{"**." + zone(from)}, "max_validity_seconds": 3600, "renew_before_seconds": 60,
			"notify": []string{"team"}})
		cn := id + "." + zone(from)
		mv := n.tg.must(t, http.StatusAccepted, "alice", "PUT", "/api/v1/certificates/"+id, map[string]any{"profile_id": gated, "reason": "ticket MV-1"})
		ar := mv.str("approval_id")
		req := detailOf(t, n.expect(t, domain.EventApprovalRequested, ar, 1))
		if req.Approval.Kind != string(domain.KindCertificateMove) || req.Approval.Move == nil ||
			req.Approval.Move.FromProfileID != from || req.Approval.Move.ToProfileID != gated || req.Approval.Reason != "ticket MV-1" {
			t.Fatalf("move request says too little: %+v", req.Approval)
		}
		// The source names none (the default, ops), the target team: both told.
		if !slices.Equal(req.Notify, []string{"ops", "team"}) {
			t.Fatalf("move request told %v, want ops and team", req.Notify)
		}
		for _, want := range []string{"asks to move certificate " + id, "from profile " + from, "to profile " + gated, cn, "satisfy both policies"} {
			if !strings.Contains(req.Message.Text, want) {
				t.Errorf("move request message lacks %q:\n%s", want, req.Message.Text)
			}
		}
		n.tg.must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+ar+"/approve", map[string]string{"note": "ok"})
		if d := detailOf(t, n.expect(t, domain.EventApprovalDecided, ar, 1)); d.Approval.State != "approved" ||
			!strings.Contains(d.Message.Text, "Certificate "+id+" moved to profile "+gated) {
			t.Fatalf("move decision: %+v\n%s", d.Approval, d.Message.Text)
		}
		if got := n.tg.must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+id, nil).str("profile_id"); got != gated {
			t.Fatalf("moved to %s, want %s", got, gated)
		}
	})

	t.Run("a revoked certificate is not announced as expiring", func(t *testing.T) {
		p := n.profile(t)
		cert, ar, job := n.cert(t, p)
		n.tg.must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+ar+"/approve", map[string]string{"note": "ok"})
		n.waitJob(t, job, "Completed")
		n.tg.must(t, http.StatusOK, "alice", "POST", "/api/v1/certificates/"+cert+"/revoke", map[string]string{"reason": "keyCompromise"})
		if _, err := n.stack.Invoke(t.Context(), app.FnSweep, map[string]string{}); err != nil {
			t.Logf("sweep: %v", err)
		}
		n.none(t, domain.EventCertificateExpiring, cert)
	})

	t.Run("reminders and the escalation stop at the decision", func(t *testing.T) {
		p := n.profile(t)
		_, ar, _ := n.cert(t, p)
		created := time.Now()
		n.expect(t, domain.EventApprovalRequested, ar, 1)
		time.Sleep(time.Until(created.Add(notifyRemind + 200*time.Millisecond)))
		n.reap(t)
		rem := detailOf(t, n.expect(t, domain.EventApprovalReminder, ar, 1))
		if rem.Approval.Reminder != 1 || !strings.Contains(rem.Message.Text, "Reminder 1") {
			t.Fatalf("first reminder: %+v", rem.Approval)
		}
		n.reap(t) // nothing new is due: not sent twice
		n.expect(t, domain.EventApprovalReminder, ar, 1)
		time.Sleep(time.Until(created.Add(notifyEscalate + 200*time.Millisecond)))
		n.reap(t)
		esc := detailOf(t, n.expect(t, domain.EventApprovalEscalated, ar, 1))
		if strings.Join(esc.Notify, ",") != "ops,sec" {
			t.Fatalf("escalation goes to %v, want ops and sec", esc.Notify)
		}
		time.Sleep(time.Until(created.Add(2*notifyRemind + 200*time.Millisecond)))
		n.reap(t)
		n.expect(t, domain.EventApprovalReminder, ar, 2)
		n.tg.must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+ar+"/approve", map[string]string{"note": "late"})
		n.expect(t, domain.EventApprovalDecided, ar, 1)
		time.Sleep(time.Until(created.Add(3*notifyRemind + 200*time.Millisecond)))
		n.reap(t)
		n.expect(t, domain.EventApprovalReminder, ar, 2) // none after the decision
		n.expect(t, domain.EventApprovalEscalated, ar, 1)
	})

	t.Run("expiry, once, and no reminder after it", func(t *testing.T) {
		p := n.profile(t)
		cert, ar, job := n.cert(t, p)
		created := time.Now()
		n.expect(t, domain.EventApprovalRequested, ar, 1)
		time.Sleep(time.Until(created.Add(notifyTimeout + 500*time.Millisecond)))
		n.reap(t)
		n.waitJob(t, job, "Cancelled")
		exp := detailOf(t, n.expect(t, domain.EventApprovalExpired, ar, 1))
		if exp.Approval.State != "expired" {
			t.Fatalf("expiry: %+v", exp.Approval)
		}
		reminders := len(n.events(domain.EventApprovalReminder, ar))
		n.reap(t)
		n.expect(t, domain.EventApprovalReminder, ar, reminders)
		n.none(t, domain.EventApprovalDecided, ar)
		n.none(t, domain.EventCertificateIssued, cert)
	})

	t.Run("a job that fails", func(t *testing.T) {
		p := n.profile(t)
		cert, ar, job := n.cert(t, p)
		n.expect(t, domain.EventApprovalRequested, ar, 1)
		// Its execution is stopped by hand: its end fails the job and
		// expires the request, in one transaction with two events, one of
		// which PutEvents refuses: the reaper publishes it.
		n.inj.Script("EventBridge", "PutEvents", faults.PartialFailure, 1)
		_, err := sfn.NewFromConfig(n.stack.AWSConfig).StopExecution(t.Context(), &sfn.StopExecutionInput{
			ExecutionArn: aws.String(n.tg.must(t, http.StatusOK, "carol", "GET", "/api/v1/jobs/"+job, nil).str("execution_arn")),
			Error:        aws.String("Operator"),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.stack.DeliverExecutionEvents(t.Context()); err != nil {
			t.Fatal(err)
		}
		n.waitJob(t, job, "Failed")
		time.Sleep(1100 * time.Millisecond) // the grace period
		n.reap(t)
		f := detailOf(t, n.expect(t, domain.EventRenewalFailed, cert, 1))
		if !strings.Contains(f.Certificate.Error, "ABORTED") {
			t.Fatalf("failure: %+v", f.Certificate)
		}
		n.expect(t, domain.EventApprovalExpired, ar, 1)
	})

	t.Run("a certificate nearing its end without a newer version", func(t *testing.T) {
		p := n.profile(t)
		cert, ar, job := n.cert(t, p)
		n.tg.must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+ar+"/approve", map[string]string{"note": "ok"})
		n.waitJob(t, job, "Completed")
		n.expect(t, domain.EventCertificateIssued, cert, 1)
		// Valid an hour, the warning two hours ahead: the next sweep warns,
		// once for this version.
		sweep := func() {
			if _, err := n.stack.Invoke(t.Context(), app.FnSweep, map[string]string{}); err != nil {
				t.Logf("sweep: %v", err)
			}
		}
		sweep()
		w := detailOf(t, n.expect(t, domain.EventCertificateExpiring, cert, 1))
		sweep()
		n.expect(t, domain.EventCertificateExpiring, cert, 1)
		// A newer version: warned again, for it.
		r := n.tg.must(t, http.StatusAccepted, "alice", "POST", "/api/v1/certificates/"+cert+"/renew", nil)
		n.tg.must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+r.str("approval_id")+"/approve", map[string]string{"note": "ok"})
		n.waitJob(t, r.str("job_id"), "Completed")
		sweep()
		w2 := detailOf(t, n.expect(t, domain.EventCertificateExpiring, cert, 2))
		if w2.Certificate.SerialNumber == w.Certificate.SerialNumber {
			t.Fatalf("warned twice for serial %s", w.Certificate.SerialNumber)
		}
	})

	// The subtests below script faults of every call of an operation: each
	// waits for the issuance its approval sets off, so that no background
	// publish of one takes the next one's fault.
	t.Run("a rolled-back decision publishes nothing", func(t *testing.T) {
		p := n.profile(t)
		cert, ar, job := n.cert(t, p)
		n.expect(t, domain.EventApprovalRequested, ar, 1)
		// Every attempt of the decision's transaction fails: nothing
		// commits, so nothing may be published, now or by the reaper.
		n.inj.Script("DynamoDB", "TransactWriteItems", faults.ServerError, 20)
		r := n.tg.call(t, "bob", "POST", "/api/v1/approvals/"+ar+"/approve", map[string]string{"note": "x"})
		n.inj.Unscript()
		if r.Status < 500 {
			t.Fatalf("approve with the transaction failing: %d %s", r.Status, r.Raw)
		}
		time.Sleep(1100 * time.Millisecond)
		n.reap(t)
		n.none(t, domain.EventApprovalDecided, ar)
		if st := n.tg.must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+ar, nil).str("state"); st != "pending" {
			t.Fatalf("state %s after the rolled-back decision", st)
		}
		n.tg.must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+ar+"/approve", map[string]string{"note": "again"})
		n.expect(t, domain.EventApprovalDecided, ar, 1)
		n.waitJob(t, job, "Completed")
		n.expect(t, domain.EventCertificateIssued, cert, 1)
	})

	t.Run("a publish that fails is published by the reaper, once", func(t *testing.T) {
		p := n.profile(t)
		cert, ar, job := n.cert(t, p)
		n.expect(t, domain.EventApprovalRequested, ar, 1)
		n.inj.Script("EventBridge", "PutEvents", faults.ServerError, 20)
		n.tg.must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+ar+"/approve", map[string]string{"note": "x"})
		n.inj.Unscript()
		n.none(t, domain.EventApprovalDecided, ar)
		time.Sleep(1100 * time.Millisecond)
		n.reap(t)
		n.expect(t, domain.EventApprovalDecided, ar, 1)
		n.reap(t)
		n.expect(t, domain.EventApprovalDecided, ar, 1)
		// The issuance may have published while the faults were scripted:
		// then its event waits for the reaper too.
		n.waitJob(t, job, "Completed")
		time.Sleep(1100 * time.Millisecond)
		n.reap(t)
		n.expect(t, domain.EventCertificateIssued, cert, 1)
	})

	t.Run("a lost answer publishes twice with one id", func(t *testing.T) {
		p := n.profile(t)
		_, ar, _ := n.cert(t, p)
		n.expect(t, domain.EventApprovalRequested, ar, 1)
		// A rejection: an approval hands over before it publishes, and the
		// issuance it sets off could publish first and take the fault.
		n.inj.Script("EventBridge", "PutEvents", faults.LostResponse, 1)
		n.tg.must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+ar+"/reject", map[string]string{"note": "x"})
		time.Sleep(1100 * time.Millisecond)
		n.reap(t)
		if err := n.stack.SettleEvents(t.Context(), 300*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		got := n.events(domain.EventApprovalDecided, ar)
		if len(got) != 2 || got[0].EventID() != got[1].EventID() || got[0].ID == got[1].ID {
			t.Fatalf("want the event twice with one detail id (and two bus ids): %d events", len(got))
		}
	})
}

// Bypass decides at once: the Approval Decided event says bypassed, and
// no Approval Requested is sent for a request nobody has to decide.
func TestNotificationOfABypass(t *testing.T) {
	if stack == nil {
		t.Skip("needs the embedded stack")
	}
	n := startNotifyStack(t, true)
	p := n.profile(t)
	cert, ar, job := n.cert(t, p)
	d := detailOf(t, n.expect(t, domain.EventApprovalDecided, ar, 1))
	if d.Approval.State != "bypassed" || d.Approval.DecidedBy != domain.SystemBypass || !strings.Contains(d.Message.Text, "bypass") {
		t.Fatalf("bypass: %+v", d.Approval)
	}
	n.none(t, domain.EventApprovalRequested, ar)
	n.waitJob(t, job, "Completed")
	n.expect(t, domain.EventCertificateIssued, cert, 1)
}
