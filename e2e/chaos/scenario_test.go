package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/certctl-serverless/certctl-serverless/e2e/invariants"
	"github.com/certctl-serverless/certctl-serverless/pkg/app"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/stepfn"
)

// scenario is one random sequence of operations on its own profile and
// certificates.
type scenario struct {
	sys  *system
	rng  *rand.Rand
	name string
	log  []string

	certs    map[string]bool
	profiles map[string]bool
	// mu guards log and problems: a scenario's concurrent calls note too.
	mu sync.Mutex
	// problems are harness-level failures: an answer the API must never
	// give, or a job that never settled.
	problems []string
}

// sweepGate makes sweep scenarios exclusive: a sweep renews every due
// certificate, and only sweep scenarios make theirs due.
var sweepGate sync.RWMutex

func (sc *scenario) note(format string, args ...any) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.log = append(sc.log, fmt.Sprintf(format, args...))
}

func (sc *scenario) problem(format string, args ...any) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.problems = append(sc.problems, fmt.Sprintf(format, args...))
}

// run plays the scenario and returns the violations found in its scope.
func (sc *scenario) run(ctx context.Context) []invariants.Violation {
	sc.certs, sc.profiles = map[string]bool{}, map[string]bool{}
	kinds := []func(context.Context){sc.decide, sc.decide, sc.ungated, sc.renewal, sc.profileEdit, sc.quorum, sc.quorum,
		sc.revocation, sc.retirement, sc.move, sc.delivery}
	if sc.rng.IntN(6) == 0 {
		sweepGate.Lock()
		defer sweepGate.Unlock()
		sc.sweep(ctx)
	} else {
		sweepGate.RLock()
		defer sweepGate.RUnlock()
		kinds[sc.rng.IntN(len(kinds))](ctx)
	}
	sc.settle(ctx)
	sc.digest(ctx)
	snap, err := invariants.Take(ctx, sc.sys.source())
	if err != nil {
		return []invariants.Violation{{Rule: "harness", Detail: sc.name + ": snapshot: " + err.Error()}}
	}
	out := invariants.Check(snap, invariants.Scope{Certs: sc.certs, Profiles: sc.profiles}, invariants.Options{Lint: true})
	for _, p := range sc.problems {
		out = append(out, invariants.Violation{Rule: "api", Detail: p})
	}
	for i := range out {
		out[i].Detail = sc.name + ": " + out[i].Detail
	}
	return out
}

// retry repeats an API call while its answer is transient (the function
// died, AWS failed, the server was busy), as a careful client would.
func (sc *scenario) retry(ctx context.Context, f func() reply) reply {
	var r reply
	for attempt := 0; attempt < 8; attempt++ {
		r = f()
		if !transient(r) {
			return r
		}
		time.Sleep(time.Duration(50+sc.rng.IntN(200)) * time.Millisecond)
	}
	return r
}

// zone is the DNS zone a scenario's profile may issue in, its own.
func zone(profile string) string { return profile + ".example.com" }

func (sc *scenario) newProfile(ctx context.Context, gated, dueSoon bool) string {
	var extra map[string]any
	if dueSoon {
		// Valid for an hour, renewed a second after issuance.
		extra = map[string]any{"max_validity_seconds": 3600, "renew_before_seconds": 3599}
	}
	return sc.newProfileWith(ctx, gated, extra)
}

// newProfileWith creates a profile allowed to issue in its own zone, with
// extra fields (which may replace allowed_names).
func (sc *scenario) newProfileWith(ctx context.Context, gated bool, extra map[string]any) string {
	id := randomID("chaos")
	body := map[string]any{"id": id, "name": "chaos " + id, "requires_approval": gated, "allowed_names": []string{"**." + zone(id)}}
	for k, v := range extra {
		body[k] = v
	}
	sc.profiles[id] = true
	sc.note("profile %s gated=%v", id, gated)
	r := sc.retry(ctx, func() reply { return sc.sys.call(ctx, "alice", "POST", "/api/v1/profiles", body) })
	switch {
	case r.Status == http.StatusCreated:
	case r.Status == http.StatusAccepted:
		// A profile that needs no approval is a request someone else approves.
		sc.decideOnce(ctx, "bob", "approve", r.str("approval_id"))
	case r.Status == http.StatusConflict && sc.profileExists(ctx, id): // an attempt whose answer was lost
	default:
		sc.problem("create profile: %d %s", r.Status, trim(r.Raw))
	}
	return id
}

func (sc *scenario) profileExists(ctx context.Context, id string) bool {
	_, err := sc.sys.store.GetProfile(ctx, id)
	return err == nil
}

func (sc *scenario) newCert(ctx context.Context, profile string) string {
	id := randomID("mc")
	cn := id + "." + zone(profile)
	body := map[string]any{"id": id, "common_name": cn, "sans": []string{"www." + cn}, "profile_id": profile, "csr": newCSR(cn, cn, "www."+cn)}
	r := sc.retry(ctx, func() reply { return sc.sys.call(ctx, "alice", "POST", "/api/v1/certificates", body) })
	switch {
	case r.Status == http.StatusCreated:
	case r.Status == http.StatusConflict && sc.exists(ctx, id):
	default:
		if !sc.exists(ctx, id) {
			sc.note("certificate %s not created: %d %s", id, r.Status, trim(r.Raw))
			return ""
		}
	}
	sc.certs[id] = true
	sc.note("certificate %s", id)
	return id
}

func (sc *scenario) exists(ctx context.Context, certID string) bool {
	_, err := sc.sys.store.GetCertificate(ctx, certID)
	return err == nil
}

// currentApproval waits for the certificate's job in flight to have an
// approval request and returns its id ("" if the job needs none or ended).
func (sc *scenario) currentApproval(ctx context.Context, certID string) string {
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		c, err := sc.sys.store.GetCertificate(ctx, certID)
		if err != nil || c.CurrentJobID == "" {
			continue
		}
		j, err := sc.sys.store.GetJob(ctx, c.CurrentJobID)
		if err == nil {
			return j.ApprovalID
		}
	}
	return ""
}

// decideOnce sends one decision and checks the answer is one the contract allows.
func (sc *scenario) decideOnce(ctx context.Context, who, action, approvalID string) reply {
	if approvalID == "" {
		return reply{} // the job ended (a fault) before its request could be seen
	}
	body := map[string]string{"note": "chaos " + action}
	r := sc.retry(ctx, func() reply {
		return sc.sys.call(ctx, who, "POST", "/api/v1/approvals/"+approvalID+"/"+action, body)
	})
	switch r.Status {
	case http.StatusOK, http.StatusConflict:
	case http.StatusForbidden:
		if a, err := sc.sys.store.GetApproval(ctx, approvalID); err != nil || a.RequestedBy != who {
			sc.problem("%s %s %s: 403 %s", who, action, approvalID, trim(r.Raw))
		}
	default:
		if !transient(r) {
			sc.problem("%s %s %s: %d %s", who, action, approvalID, r.Status, trim(r.Raw))
		}
	}
	sc.note("%s %s %s -> %d", who, action, approvalID, r.Status)
	return r
}

// decideRandomly decides a pending request one of the ways people do.
func (sc *scenario) decideRandomly(ctx context.Context, approvalID string) {
	if approvalID == "" {
		return
	}
	if sc.rng.IntN(3) == 0 {
		time.Sleep(time.Duration(sc.rng.IntN(400)) * time.Millisecond) // let the token arrive, or not
	}
	switch sc.rng.IntN(6) {
	case 0, 1:
		sc.decideOnce(ctx, "bob", "approve", approvalID)
	case 2:
		sc.decideOnce(ctx, "admin", "reject", approvalID)
	case 3: // racing deciders: exactly one may win
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := 0; i < 4; i++ {
			who, action := "bob", "approve"
			if i%2 == 1 {
				who, action = "admin", "reject"
			}
			wg.Go(func() {
				r := sc.sys.call(ctx, who, "POST", "/api/v1/approvals/"+approvalID+"/"+action, map[string]string{"note": "race"})
				if r.Status == http.StatusOK {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if wins > 1 {
			sc.problem("approval %s: %d concurrent decisions won", approvalID, wins)
		}
		sc.note("race on %s: %d winners", approvalID, wins)
	case 4: // alice tries first (the requester, unless the sweep asked), then someone else approves
		if r := sc.decideOnce(ctx, "alice", "approve", approvalID); r.Status == http.StatusOK {
			if a, err := sc.sys.store.GetApproval(ctx, approvalID); err != nil || a.RequestedBy == "alice" {
				sc.problem("the requester approved their own request %s", approvalID)
			}
		}
		sc.decideOnce(ctx, "bob", "approve", approvalID)
	default:
		sc.note("leaving %s to expire", approvalID)
	}
}

func (sc *scenario) decide(ctx context.Context) {
	cert := sc.newCert(ctx, sc.newProfile(ctx, true, false))
	if cert != "" {
		sc.decideRandomly(ctx, sc.currentApproval(ctx, cert))
	}
}

func (sc *scenario) ungated(ctx context.Context) {
	sc.newCert(ctx, sc.newProfile(ctx, false, false))
}

func (sc *scenario) renewal(ctx context.Context) {
	gated := sc.rng.IntN(2) == 0
	cert := sc.newCert(ctx, sc.newProfile(ctx, gated, false))
	if cert == "" {
		return
	}
	if gated {
		sc.decideOnce(ctx, "bob", "approve", sc.currentApproval(ctx, cert))
	}
	sc.settle(ctx)
	r := sc.retry(ctx, func() reply { return sc.sys.call(ctx, "alice", "POST", "/api/v1/certificates/"+cert+"/renew", nil) })
	sc.note("renew %s -> %d", cert, r.Status)
	if r.Status != http.StatusAccepted && r.Status != http.StatusConflict && !transient(r) {
		sc.problem("renew %s: %d %s", cert, r.Status, trim(r.Raw))
	}
	if gated {
		sc.decideRandomly(ctx, sc.currentApproval(ctx, cert))
	}
}

func (sc *scenario) profileEdit(ctx context.Context) {
	profile := sc.newProfile(ctx, true, false)
	body := map[string]any{"name": "edited " + profile, "requires_approval": true}
	r := sc.retry(ctx, func() reply { return sc.sys.call(ctx, "alice", "PUT", "/api/v1/profiles/"+profile, body) })
	sc.note("edit %s -> %d", profile, r.Status)
	if r.Status == http.StatusAccepted {
		sc.decideRandomly(ctx, r.str("approval_id"))
	}
}

// quorum creates a profile whose requests need several votes (two or
// three approvals, or one from each of two pools), a certificate under it,
// and has people vote on it the ways they do: all at once (the requester
// and a second vote by one of them among them), one after another, some
// then a rejection, some then nothing (it expires). Sometimes the
// profile's own edit is voted on as well.
func (sc *scenario) quorum(ctx context.Context) {
	policies := []map[string]any{
		{"required_approvals": 2},
		{"required_approvals": 3},
		{"approval_policy": []map[string]any{
			{"name": "security", "approvers": map[string]any{"principals": []string{"quinn"}}, "count": 1},
			{"name": "owners", "approvers": map[string]any{"roles": []string{"approver"}}, "count": 1},
		}},
		{"approval_policy": []map[string]any{
			{"name": "owners", "approvers": map[string]any{"principals": []string{"quinn", "bob"}}, "count": 1},
			{"name": "security", "approvers": map[string]any{"principals": []string{"quinn"}}, "count": 1},
		}},
	}
	pick := sc.rng.IntN(len(policies))
	policy := policies[pick]
	// Who is in none of the pools: a 403 for them is the contract.
	outside := map[string]bool{}
	if pick == 3 {
		outside = map[string]bool{"admin": true, "riley": true, "sam": true}
	}
	profile := sc.newProfileWith(ctx, true, policy)
	sc.note("quorum policy %v", policy)
	if cert := sc.newCert(ctx, profile); cert != "" {
		sc.voteRandomly(ctx, sc.currentApproval(ctx, cert), outside)
	}
	if sc.rng.IntN(3) == 0 {
		body := map[string]any{"name": "edited " + profile}
		r := sc.retry(ctx, func() reply { return sc.sys.call(ctx, "alice", "PUT", "/api/v1/profiles/"+profile, body) })
		sc.note("edit %s -> %d", profile, r.Status)
		if r.Status == http.StatusAccepted {
			sc.voteRandomly(ctx, r.str("approval_id"), outside)
		}
	}
}

// voteRandomly votes on a request under a quorum. Every answer must be
// one the contract allows: 200, 409, or 403 for the requester and for
// those outside every pool; and of the answers, at most one approves.
func (sc *scenario) voteRandomly(ctx context.Context, approvalID string, outside map[string]bool) {
	if approvalID == "" {
		return
	}
	voters := append([]string{"bob", "admin"}, quorumVoters...)
	sc.rng.Shuffle(len(voters), func(i, j int) { voters[i], voters[j] = voters[j], voters[i] })
	var mu sync.Mutex
	approvals := 0
	// judge checks one answer; the caller holds mu.
	judge := func(who string, r reply) {
		switch {
		case r.Status == http.StatusOK && r.str("action") == "approved":
			approvals++
		case r.Status == http.StatusOK, r.Status == http.StatusConflict, transient(r):
		case r.Status == http.StatusForbidden && (who == "alice" || outside[who]):
		default:
			sc.problem("%s votes on %s: %d %s", who, approvalID, r.Status, trim(r.Raw))
		}
	}
	vote := func(who string) {
		r := sc.retry(ctx, func() reply {
			return sc.sys.call(ctx, who, "POST", "/api/v1/approvals/"+approvalID+"/approve", map[string]string{"note": "chaos vote"})
		})
		mu.Lock()
		defer mu.Unlock()
		sc.note("%s votes on %s -> %d %s", who, approvalID, r.Status, r.str("action"))
		judge(who, r)
	}
	switch sc.rng.IntN(4) {
	case 0: // everyone at once, with the requester and one voter twice among them
		var wg sync.WaitGroup
		for _, who := range append(voters, "alice", voters[0]) {
			wg.Go(func() { vote(who) })
		}
		wg.Wait()
		sc.note("votes at once on %s: %d approved", approvalID, approvals)
	case 1: // one after another, the requester and a second vote among them
		vote("alice")
		for i, who := range voters {
			vote(who)
			if i == 0 {
				vote(who)
			}
		}
	case 2: // some votes, then a rejection
		vote(voters[0])
		r := sc.retry(ctx, func() reply {
			return sc.sys.call(ctx, voters[1], "POST", "/api/v1/approvals/"+approvalID+"/reject", map[string]string{"note": "chaos reject"})
		})
		sc.note("%s rejects %s -> %d", voters[1], approvalID, r.Status)
		judge(voters[1], r)
		vote(voters[2])
	default: // one vote, then it is left to expire
		vote(voters[0])
		sc.note("leaving %s to expire after one vote", approvalID)
	}
	if approvals > 1 {
		sc.problem("approval %s: %d votes were answered as the approval", approvalID, approvals)
	}
}

// sweep makes a certificate due and lets the (sometimes duplicated)
// scheduled sweep renew it.
func (sc *scenario) sweep(ctx context.Context) {
	gated := sc.rng.IntN(2) == 0
	cert := sc.newCert(ctx, sc.newProfile(ctx, gated, true))
	if cert == "" {
		return
	}
	if gated {
		sc.decideOnce(ctx, "bob", "approve", sc.currentApproval(ctx, cert))
	}
	sc.settle(ctx)
	time.Sleep(1200 * time.Millisecond) // now due
	runs := 1 + sc.rng.IntN(2)
	var wg sync.WaitGroup
	for range runs {
		wg.Go(func() {
			_, err := sc.sys.stack.Invoke(ctx, app.FnSweep, map[string]string{"source": "chaos"})
			sc.note("sweep -> %v", err)
		})
	}
	wg.Wait()
	if gated {
		sc.decideRandomly(ctx, sc.currentApproval(ctx, cert))
	}
}

// digest sometimes signs a digest of the audit chain, at times twice at
// once (the schedule and an auditor), under the same faults (KMS Sign
// among them). A failed digest is only noted: the next one covers it. The
// checker then verifies the chain against every digest stored.
func (sc *scenario) digest(ctx context.Context) {
	if sc.rng.IntN(2) == 0 {
		return
	}
	var wg sync.WaitGroup
	for range 1 + sc.rng.IntN(2) {
		wg.Go(func() {
			_, err := sc.sys.stack.Invoke(ctx, app.FnDigest, map[string]string{"action": domain.DigestActionWrite})
			sc.note("digest -> %v", err)
		})
	}
	wg.Wait()
}

// issuedCert creates a certificate on a new profile (gated or not) and,
// if gated, has bob approve it; it waits until the job ended.
func (sc *scenario) issuedCert(ctx context.Context, gated bool, extra map[string]any) (cert, profile string) {
	profile = sc.newProfileWith(ctx, gated, extra)
	cert = sc.newCert(ctx, profile)
	if cert != "" && gated {
		sc.decideOnce(ctx, "bob", "approve", sc.currentApproval(ctx, cert))
	}
	sc.settle(ctx)
	return cert, profile
}

// expect records a problem unless the answer is one of ok, or transient.
func (sc *scenario) expect(what string, r reply, ok ...int) {
	for _, s := range ok {
		if r.Status == s {
			return
		}
	}
	if !transient(r) {
		sc.problem("%s: %d %s", what, r.Status, trim(r.Raw))
	}
}

// revocation revokes a certificate (whole, or its current serial),
// sometimes while a gated renewal waits for its decision, which is then
// decided after the revocation: the renewal must not issue.
func (sc *scenario) revocation(ctx context.Context) {
	gated := sc.rng.IntN(2) == 0
	cert, _ := sc.issuedCert(ctx, gated, nil)
	if cert == "" {
		return
	}
	renewal := ""
	if gated && sc.rng.IntN(2) == 0 {
		r := sc.retry(ctx, func() reply { return sc.sys.call(ctx, "alice", "POST", "/api/v1/certificates/"+cert+"/renew", nil) })
		sc.expect("renew "+cert, r, http.StatusAccepted, http.StatusConflict)
		renewal = sc.currentApproval(ctx, cert)
	}
	body := map[string]any{"reason": []string{"keyCompromise", "superseded", "cessationOfOperation"}[sc.rng.IntN(3)]}
	if c, err := sc.sys.store.GetCertificate(ctx, cert); err == nil && c.SerialNumber != "" && sc.rng.IntN(3) == 0 {
		body["serial"] = c.SerialNumber
	}
	r := sc.retry(ctx, func() reply { return sc.sys.call(ctx, "alice", "POST", "/api/v1/certificates/"+cert+"/revoke", body) })
	sc.note("revoke %s %v -> %d", cert, body, r.Status)
	// 409: already revoked by an attempt whose answer was lost; 404: a
	// serial the certificate never got (its issuance failed).
	sc.expect("revoke "+cert, r, http.StatusOK, http.StatusConflict, http.StatusNotFound)
	if renewal != "" {
		sc.decideRandomly(ctx, renewal)
	}
}

// retirement archives a certificate and deletes it, call after call.
func (sc *scenario) retirement(ctx context.Context) {
	cert, _ := sc.issuedCert(ctx, sc.rng.IntN(2) == 0, nil)
	if cert == "" {
		return
	}
	r := sc.retry(ctx, func() reply { return sc.sys.call(ctx, "alice", "POST", "/api/v1/certificates/"+cert+"/archive", nil) })
	sc.note("archive %s -> %d", cert, r.Status)
	sc.expect("archive "+cert, r, http.StatusOK, http.StatusConflict)
	// A version still valid and unrevoked keeps the certificate from
	// being deleted (it could never be revoked after): revoke first.
	r = sc.retry(ctx, func() reply {
		return sc.sys.call(ctx, "alice", "POST", "/api/v1/certificates/"+cert+"/revoke", map[string]any{"reason": "cessationOfOperation"})
	})
	sc.note("revoke %s -> %d", cert, r.Status)
	sc.expect("revoke "+cert, r, http.StatusOK, http.StatusConflict)
	for range 20 {
		r = sc.retry(ctx, func() reply { return sc.sys.call(ctx, "admin", "DELETE", "/api/v1/certificates/"+cert, nil) })
		sc.note("delete %s -> %d", cert, r.Status)
		switch {
		case r.Status == http.StatusAccepted:
			continue
		case r.Status == http.StatusConflict:
			if c, err := sc.sys.store.GetCertificate(ctx, cert); err == nil && c.Status == domain.CertArchived {
				sc.problem("delete of archived %s: 409 %s", cert, trim(r.Raw))
			}
		case r.Status != http.StatusNoContent && r.Status != http.StatusNotFound:
			sc.expect("delete "+cert, r)
		}
		return
	}
}

// move moves a certificate to a profile that needs no approval (applied
// at once) or into an approval-tier one (a request, decided randomly);
// sometimes out of a quorum into another gate (voted on under both).
func (sc *scenario) move(ctx context.Context) {
	if sc.rng.IntN(3) == 0 {
		sc.moveBetweenQuorums(ctx)
		return
	}
	cert, from := sc.issuedCert(ctx, false, nil)
	if cert == "" {
		return
	}
	gated := sc.rng.IntN(2) == 0
	to := sc.newProfileWith(ctx, gated, map[string]any{"allowed_names": []string{"**." + zone(from)}})
	r := sc.retry(ctx, func() reply {
		return sc.sys.call(ctx, "alice", "PUT", "/api/v1/certificates/"+cert, map[string]any{"profile_id": to})
	})
	sc.note("move %s to %s (gated %v) -> %d", cert, to, gated, r.Status)
	switch {
	case r.Status == http.StatusAccepted:
		sc.decideRandomly(ctx, r.str("approval_id"))
	case r.Status == http.StatusOK && gated:
		sc.problem("move of %s into approval-tier %s applied at once", cert, to)
	default:
		sc.expect("move "+cert, r, http.StatusOK, http.StatusConflict)
	}
}

// moveBetweenQuorums moves a certificate out of a profile that needs two
// approvals into an approval-tier profile that needs one: the request is
// voted on under both policies, in one of the ways voteRandomly votes.
func (sc *scenario) moveBetweenQuorums(ctx context.Context) {
	from := sc.newProfileWith(ctx, true, map[string]any{"required_approvals": 2})
	cert := sc.newCert(ctx, from)
	if cert == "" {
		return
	}
	issuance := sc.currentApproval(ctx, cert)
	sc.decideOnce(ctx, "bob", "approve", issuance)
	sc.decideOnce(ctx, "admin", "approve", issuance)
	sc.settle(ctx)
	to := sc.newProfileWith(ctx, true, map[string]any{"allowed_names": []string{"**." + zone(from)}})
	r := sc.retry(ctx, func() reply {
		return sc.sys.call(ctx, "alice", "PUT", "/api/v1/certificates/"+cert, map[string]any{"profile_id": to})
	})
	sc.note("move %s out of quorum %s to %s -> %d", cert, from, to, r.Status)
	if r.Status == http.StatusAccepted {
		sc.voteRandomly(ctx, r.str("approval_id"), nil)
		return
	}
	// 409: the issuance did not complete (a fault), or a job is in flight.
	sc.expect("move "+cert, r, http.StatusConflict)
}

// delivery issues (and sometimes renews) a certificate whose profile
// publishes each version to a parameter and a secret.
func (sc *scenario) delivery(ctx context.Context) {
	stage := sc.sys.stack.Config.Stage
	id := randomID("d")
	cert, _ := sc.issuedCert(ctx, sc.rng.IntN(2) == 0, map[string]any{"delivery": map[string]any{
		"ssm_parameter": "/certctl/" + stage + "/" + id + "/{certificate_id}", "secret": "certctl/" + stage + "/" + id + "/{certificate_id}"}})
	if cert == "" || sc.rng.IntN(2) == 0 {
		return
	}
	r := sc.retry(ctx, func() reply { return sc.sys.call(ctx, "alice", "POST", "/api/v1/certificates/"+cert+"/renew", nil) })
	sc.expect("renew "+cert, r, http.StatusAccepted, http.StatusConflict)
	sc.decideOnce(ctx, "bob", "approve", sc.currentApproval(ctx, cert))
}

// settle waits until every job of the scenario's certificates has ended and
// its execution has stopped. A scenario that does not settle is a finding.
func (sc *scenario) settle(ctx context.Context) {
	deadline := time.Now().Add(90 * time.Second)
	for {
		busy := sc.busy(ctx)
		if busy == "" {
			return
		}
		if time.Now().After(deadline) {
			sc.problem("did not settle within 90 s: %s", busy)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// busy names something of the scenario still in flight, or "".
func (sc *scenario) busy(ctx context.Context) string {
	client := sfn.NewFromConfig(sc.sys.stack.AWSConfig)
	exec := stepfn.New(client, sc.sys.stack.Config.StateMachineARN)
	for cert := range sc.certs {
		jobs, _, err := sc.sys.store.ListJobs(ctx, domain.JobFilter{CertificateID: cert}, domain.PageRequest{Limit: 50})
		if err != nil {
			return err.Error()
		}
		for _, j := range jobs {
			if !j.Status.Terminal() {
				return "job " + j.ID + " " + string(j.Status)
			}
			out, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(exec.ExecutionARN(j.ID))})
			var missing *sfntypes.ExecutionDoesNotExist
			switch {
			case errors.As(err, &missing):
			case err != nil:
				return err.Error()
			case out.Status == sfntypes.ExecutionStatusRunning:
				return "execution " + j.ID + " running"
			}
		}
	}
	for p := range sc.profiles {
		prof, err := sc.sys.store.GetProfile(ctx, p)
		if err == nil && prof.PendingEditID != "" {
			if a, err := sc.sys.store.GetApproval(ctx, prof.PendingEditID); err == nil && a.State == domain.ApprovalPending {
				return "profile edit " + a.ID + " pending"
			}
		}
	}
	return ""
}
