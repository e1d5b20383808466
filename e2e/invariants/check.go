package invariants

import (
	"fmt"
	"sort"
	"strings"
)

// Violation is one broken invariant.
type Violation struct {
	Rule   string
	Detail string
}

func (v Violation) String() string { return v.Rule + ": " + v.Detail }

// Scope limits the checks to some certificates and profiles (a scenario's
// own); the zero Scope checks everything.
type Scope struct {
	Certs    map[string]bool
	Profiles map[string]bool
}

func (sc Scope) all() bool { return sc.Certs == nil && sc.Profiles == nil }

func (sc Scope) cert(id string) bool    { return sc.all() || sc.Certs[id] }
func (sc Scope) profile(id string) bool { return sc.all() || sc.Profiles[id] }

// Options selects the checks that only hold once the system is at rest.
type Options struct {
	// Quiescent: nothing is in flight any more, every execution ended and
	// every queue was drained (and each CRL made again since its last
	// revocation).
	Quiescent bool
	// Lint runs zlint over every issued leaf and every stored CRL in scope.
	Lint bool
	// Delivered, when not nil, is every event the stack's bus delivered
	// (its event log): the outbox rules run against it.
	Delivered []Delivered
}

// Delivered is one delivered event: the detail's id and its detail-type.
type Delivered struct {
	ID, DetailType string
}

var terminalJob = map[string]bool{"Completed": true, "Failed": true, "Cancelled": true}

// Check runs every check on the snapshot and returns what it found broken.
func Check(s *Snapshot, sc Scope, opt Options) []Violation {
	c := &checker{s: s, sc: sc}
	c.index()
	c.checkApprovals()
	c.checkVotes()
	c.checkJobsAndCertificates(opt.Quiescent)
	c.checkVersions()
	c.checkAudit()
	c.checkChain()
	c.checkMetrics()
	c.checkIssuedEqualsApproved()
	c.checkGovernedNeedApproval()
	if opt.Delivered != nil {
		c.checkOutbox(opt.Delivered, opt.Quiescent)
	}
	c.checkRevocations(opt.Quiescent)
	c.checkMoves()
	c.checkDeliveries()
	c.checkProfileCounts()
	if opt.Lint {
		c.checkLint()
	}
	sort.Slice(c.out, func(i, j int) bool { return c.out[i].String() < c.out[j].String() })
	return c.out
}

type checker struct {
	s   *Snapshot
	sc  Scope
	out []Violation

	jobs      map[string]Item // in scope
	approvals map[string]Item // in scope
	versions  map[string][]Item
	audit     map[string][]Item // action + "|" + resource id
	mints     []mint            // apikey.created rows naming controllers
}

func (c *checker) fail(rule, format string, args ...any) {
	c.out = append(c.out, Violation{Rule: rule, Detail: fmt.Sprintf(format, args...)})
}

func (c *checker) index() {
	c.jobs, c.approvals, c.versions, c.audit = map[string]Item{}, map[string]Item{}, map[string][]Item{}, map[string][]Item{}
	for id, j := range c.s.Jobs {
		if c.sc.cert(j.S("certificate_id")) {
			c.jobs[id] = j
		}
	}
	for id, a := range c.s.Approvals {
		inScope := c.sc.cert(a.S("certificate_id"))
		if a.S("kind") == "profile_edit" {
			inScope = c.sc.profile(a.S("profile_id"))
		}
		if inScope {
			c.approvals[id] = a
		}
	}
	for _, v := range c.s.Versions {
		if c.sc.cert(v.S("certificate_id")) {
			c.versions[v.S("job_id")] = append(c.versions[v.S("job_id")], v)
		}
	}
	for _, a := range c.s.Audit {
		c.audit[a.S("action")+"|"+a.S("resource_id")] = append(c.audit[a.S("action")+"|"+a.S("resource_id")], a)
	}
}

// checkApprovals: invariants 1, 4, 6 and 7 seen from each request.
func (c *checker) checkApprovals() {
	for id, a := range c.approvals {
		state := a.S("state")
		decided := a.Has("decided_by") || a.Has("decided_at")
		switch {
		case state == "pending" && decided:
			c.fail("decision-fields", "approval %s is pending but has decided_by/decided_at", id)
		case state != "pending" && (!a.Has("decided_by") || !a.Has("decided_at")):
			c.fail("decision-fields", "approval %s is %s without decided_by/decided_at", id, state)
		}
		if state == "pending" && a.S("pending_pk") != "PENDING" {
			c.fail("pending-index", "pending approval %s is not in the pending index (pending_pk=%q)", id, a.S("pending_pk"))
		}
		if state != "pending" && a.S("pending_pk") != "" && a.S("pending_pk") != "HANDOFF" {
			c.fail("pending-index", "decided approval %s is still in partition %q", id, a.S("pending_pk"))
		}
		if by := a.S("decided_by"); by != "" && by == a.S("requested_by") {
			c.fail("two-person", "approval %s was decided by its requester %s", id, by)
		}
		if a.S("kind") != "cert_issuance" {
			continue
		}
		job, ok := c.s.Jobs[a.S("job_id")]
		if !ok {
			c.fail("approval-job", "approval %s names job %s, which does not exist", id, a.S("job_id"))
			continue
		}
		st := job.S("status")
		allowed := map[string][]string{
			"pending":  {"AwaitingApproval"},
			"approved": {"Pending", "Running", "Completed", "Failed"},
			"bypassed": {"Pending", "Running", "Completed", "Failed"},
			"rejected": {"Cancelled"},
			"expired":  {"Cancelled", "Failed"},
		}[state]
		if !contains(allowed, st) {
			c.fail("approval-job", "approval %s is %s but its job %s is %s", id, state, job.S("id"), st)
		}
		if (state == "rejected" || state == "expired") && len(c.versions[job.S("id")]) > 0 {
			c.fail("never-issued-after-denial", "approval %s is %s but job %s issued a certificate", id, state, job.S("id"))
		}
	}
}

// checkJobsAndCertificates: invariant 3, and that nothing is left in flight
// without something that will finish it.
func (c *checker) checkJobsAndCertificates(quiescent bool) {
	inFlight := map[string][]string{}
	for id, j := range c.jobs {
		if !terminalJob[j.S("status")] {
			inFlight[j.S("certificate_id")] = append(inFlight[j.S("certificate_id")], id)
			if !c.driven(j) {
				c.fail("in-flight-has-execution", "job %s is %s with no running execution, queued start or queued hand-off", id, j.S("status"))
			}
			if quiescent {
				c.fail("quiescent", "job %s is still %s", id, j.S("status"))
			}
		} else if j.S("pending_pk") != "" {
			c.fail("start-queue", "job %s is %s but still in the %q queue", id, j.S("status"), j.S("pending_pk"))
		}
		if j.B("requires_approval") && j.S("approval_id") == "" {
			c.fail("approval-job", "gated job %s has no approval request", id)
		}
		if quiescent {
			if st := c.s.Executions[id]; st == "RUNNING" {
				c.fail("execution-ends", "execution of job %s is still running", id)
			}
		}
	}
	for id, cert := range c.s.Certs {
		if !c.sc.cert(id) {
			continue
		}
		cur, flying := cert.S("current_job_id"), inFlight[id]
		switch {
		case len(flying) > 1:
			c.fail("one-in-flight", "certificate %s has %d jobs in flight: %v", id, len(flying), flying)
		case len(flying) == 1 && cur != flying[0]:
			c.fail("one-in-flight", "certificate %s has job %s in flight but current_job_id=%q", id, flying[0], cur)
		case len(flying) == 0 && cur != "":
			c.fail("current-job-released", "certificate %s still holds current_job_id %s after that job ended", id, cur)
		}
		if cur == "" && cert.S("status") == "RenewalInProgress" {
			c.fail("current-job-released", "certificate %s is RenewalInProgress with no job in flight", id)
		}
		retired := cert.S("status") == "Revoked" || cert.S("status") == "Archived"
		if cert.Has("renew_at") && cur == "" && !retired && cert.S("due_pk") != "DUE" {
			c.fail("due-index", "issued certificate %s with no job in flight is not in the due index", id)
		}
		if retired && cert.S("due_pk") != "" {
			c.fail("due-index", "%s certificate %s is still in the due index: the sweep would try to renew it", cert.S("status"), id)
		}
	}
	if quiescent {
		for id, a := range c.approvals {
			if a.S("state") == "pending" {
				c.fail("quiescent", "approval %s is still pending", id)
			}
			if a.S("pending_pk") == "HANDOFF" {
				c.fail("quiescent", "approval %s still waits in the hand-off queue", id)
			}
		}
	}
}

// driven reports whether something will move a job in flight on: its
// execution runs, or its start or its decision's hand-off is queued.
func (c *checker) driven(j Item) bool {
	id := j.S("id")
	for name, st := range c.s.Executions {
		if st == "RUNNING" && (name == id || strings.HasPrefix(name, id+"-redrive-")) {
			return true
		}
	}
	if j.S("pending_pk") == "START" {
		return true
	}
	if a, ok := c.s.Approvals[j.S("approval_id")]; ok && a.S("pending_pk") == "HANDOFF" {
		return true
	}
	return false
}

// checkVersions: invariants 2, 3 and 8's first half: a version only for a
// completed job, one per job, and a gated job only after approval.
func (c *checker) checkVersions() {
	for jobID, vs := range c.versions {
		if len(vs) > 1 {
			c.fail("one-version-per-job", "job %s has %d versions", jobID, len(vs))
		}
		j, ok := c.s.Jobs[jobID]
		if !ok {
			c.fail("issued-only-approved", "version of job %s, which does not exist", jobID)
			continue
		}
		if j.S("status") != "Completed" {
			c.fail("one-version-per-job", "job %s is %s but has a version", jobID, j.S("status"))
		}
		if j.B("requires_approval") {
			a, ok := c.s.Approvals[j.S("approval_id")]
			if !ok || (a.S("state") != "approved" && a.S("state") != "bypassed") {
				c.fail("issued-only-approved", "job %s issued with approval %s in state %q", jobID, j.S("approval_id"), a.S("state"))
			}
		} else if j.S("approval_id") != "" {
			c.fail("issued-only-approved", "ungated job %s names approval %s", jobID, j.S("approval_id"))
		}
	}
	for id, j := range c.jobs {
		if j.S("status") == "Completed" && len(c.versions[id]) != 1 {
			c.fail("one-version-per-job", "completed job %s has %d versions", id, len(c.versions[id]))
		}
	}
}

// checkAudit: invariant 5, one audit row per transition, no more, no less.
func (c *checker) checkAudit() {
	one := func(action, resource, why string) {
		if n := len(c.audit[action+"|"+resource]); n != 1 {
			c.fail("audit-one-to-one", "%s: %d %s rows for %s, want 1", why, n, action, resource)
		}
	}
	none := func(action, resource, why string) {
		if n := len(c.audit[action+"|"+resource]); n != 0 {
			c.fail("audit-one-to-one", "%s: %d %s rows for %s, want 0", why, n, action, resource)
		}
	}
	decisions := map[string]string{"approved": "approval_approved", "rejected": "approval_rejected", "expired": "approval_expired", "bypassed": "approval_bypassed"}
	for id, a := range c.approvals {
		state := a.S("state")
		switch {
		case a.S("kind") == "profile_edit":
			one("approval_profile_edit_requested", id, "profile edit "+state)
		case a.S("kind") == "certificate_move":
			one("approval_certificate_move_requested", id, "move "+state)
		case state == "bypassed":
			none("approval_requested", id, "bypassed request")
		default:
			one("approval_requested", id, "request "+state)
		}
		for st, action := range decisions {
			if st == state {
				one(action, id, "request "+state)
			} else {
				none(action, id, "request "+state)
			}
		}
	}
	for id, j := range c.jobs {
		st := j.S("status")
		one("renewal_triggered", id, "job "+st)
		if st == "Completed" {
			one("renewal_job_completed", id, "job "+st)
		} else {
			none("renewal_job_completed", id, "job "+st)
		}
		if st == "Failed" {
			one("renewal_job_failed", id, "job "+st)
		} else {
			none("renewal_job_failed", id, "job "+st)
		}
	}
	for id := range c.s.Certs {
		if c.sc.cert(id) {
			one("certificate.created", id, "certificate")
		}
	}
}

// notifiable maps the audit actions whose transitions publish an event
// to the event's detail-type (and approval_vote, see checkOutbox).
var notifiable = map[string]string{
	"approval_requested": "Approval Requested", "approval_profile_edit_requested": "Approval Requested",
	"approval_certificate_move_requested": "Approval Requested",
	"approval_approved":                   "Approval Decided", "approval_rejected": "Approval Decided", "approval_bypassed": "Approval Decided",
	"approval_expired": "Approval Expired", "approval_reminder_sent": "Approval Reminder", "approval_escalated": "Approval Escalated",
	"renewal_job_completed": "Certificate Issued", "renewal_job_failed": "Renewal Failed", "certificate.expiring": "Certificate Expiring",
}

// checkOutbox: every committed notifiable transition (its audit row) has
// its event delivered or still queued in the outbox, of the right type; no
// event is delivered for a transition that did not commit; an outbox item
// always belongs to a committed row; at rest the outbox is empty.
func (c *checker) checkOutbox(delivered []Delivered, quiescent bool) {
	byID := map[string][]Delivered{}
	for _, d := range delivered {
		byID[d.ID] = append(byID[d.ID], d)
	}
	rows := map[string]Item{}
	for _, a := range c.s.Audit {
		rows[a.S("id")] = a
		want, ok := notifiable[a.S("action")]
		if a.S("action") == "approval_vote" {
			// A vote that leaves its request pending is announced; the
			// one that completes the policy is in its decision's event.
			completes, _ := a.Details()["completes"].(bool)
			want, ok = "Approval Vote Recorded", !completes
		}
		id := a.S("id")
		got := byID[id]
		_, queued := c.s.Outbox[id]
		if !ok {
			if len(got) > 0 || queued {
				c.fail("outbox", "%s row %s (%s) announces nothing, yet has an event", a.S("action"), id, a.S("resource_id"))
			}
			continue
		}
		switch {
		case len(got) == 0 && !queued:
			c.fail("outbox", "%s row %s (%s) was committed but its event was neither published nor queued", a.S("action"), id, a.S("resource_id"))
		case len(got) > 0 && got[0].DetailType != want:
			c.fail("outbox", "%s row %s published as %q, want %q", a.S("action"), id, got[0].DetailType, want)
		}
		if queued && quiescent {
			c.fail("quiescent", "event %s (%s) is still in the outbox", id, a.S("action"))
		}
	}
	for id, ds := range byID {
		if _, ok := rows[id]; !ok {
			c.fail("outbox", "event %s (%s) was published but no transition with that id committed", id, ds[0].DetailType)
		}
	}
	for id := range c.s.Outbox {
		if _, ok := rows[id]; !ok {
			c.fail("outbox", "outbox item %s has no committed audit row", id)
		}
	}
}

// checkMetrics: the decision counters equal the decisions: those of the
// requests stored, and those of requests deleted with their certificate,
// read from their decision's audit row; and each profile's pending counter
// equals its requests still pending (a request carries parent_pk while
// counted).
func (c *checker) checkMetrics() {
	want := map[string]int{}
	pending := map[string]int{}
	for _, a := range c.s.Approvals {
		if !c.sc.profile(a.S("profile_id")) {
			continue
		}
		if st := a.S("state"); st != "pending" {
			want[a.S("kind")+"#"+st+"#"+a.S("profile_id")]++
		} else if strings.HasPrefix(a.S("parent_pk"), "PENDING#") {
			pending[a.S("profile_id")]++
		}
		// A decided move request moves to its certificate's partition.
		if a.S("state") != "pending" && strings.HasPrefix(a.S("parent_pk"), "PENDING#") {
			c.fail("pending-index", "decided approval %s is still in its profile's pending partition", a.S("id"))
		}
	}
	for key, m := range c.s.Metrics {
		profile, ok := strings.CutPrefix(key, "pending#")
		if !ok || !c.sc.profile(profile) {
			continue
		}
		if got := int(m.N("count")); got != pending[profile] {
			c.fail("metrics", "pending counter of profile %s is %d, %d requests pending", profile, got, pending[profile])
		}
		delete(pending, profile)
	}
	for profile, n := range pending {
		c.fail("metrics", "no pending counter for profile %s, %d requests pending", profile, n)
	}
	outcomes := map[string]string{"approval_approved": "approved", "approval_rejected": "rejected", "approval_expired": "expired", "approval_bypassed": "bypassed"}
	for _, row := range c.s.Audit {
		outcome, ok := outcomes[row.S("action")]
		if !ok {
			continue
		}
		if _, stored := c.s.Approvals[row.S("resource_id")]; stored {
			continue
		}
		d := row.Details()
		kind, _ := d["kind"].(string)
		if kind == "" {
			kind = "cert_issuance"
		}
		profile, _ := d["profile_id"].(string)
		if c.sc.profile(profile) {
			want[kind+"#"+outcome+"#"+profile]++
		}
	}
	seen := map[string]bool{}
	for key, m := range c.s.Metrics {
		if strings.HasPrefix(key, "pending#") || !c.sc.profile(m.S("profile_id")) {
			continue
		}
		seen[key] = true
		got := int(m.N("count"))
		if got != want[key] {
			c.fail("metrics", "counter %s is %d, %d decisions recorded", key, got, want[key])
		}
		buckets := 0
		for name := range m {
			if strings.HasPrefix(name, "b_") {
				buckets += int(m.N(name))
			}
		}
		if buckets != got {
			c.fail("metrics", "histogram %s has %d observations for %d decisions", key, buckets, got)
		}
	}
	for key, n := range want {
		if !seen[key] {
			c.fail("metrics", "no counter for %s, %d decisions recorded", key, n)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
