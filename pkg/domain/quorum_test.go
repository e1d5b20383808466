package domain

import (
	"strings"
	"testing"
)

// A move between two approval-tier profiles is decided under both
// policies: a voter must be admitted by both, one vote may count toward
// each, and the votes must satisfy both.
func TestQuorumOfAMoveBetweenGates(t *testing.T) {
	a := &Approval{
		ApprovalPolicy: SimplePolicy(pool("bob", "carol"), 1),
		Move:           &CertificateMove{FromPolicy: SimplePolicy(pool("carol", "dana"), 2)},
	}
	q := a.Quorum()
	if len(q) != 2 || q[1][0].Name != SourceFactorPrefix+DefaultFactorName || a.Move.FromPolicy[0].Name != DefaultFactorName {
		t.Fatalf("quorum %+v (the stored source policy keeps its names: %+v)", q, a.Move.FromPolicy)
	}
	if e := q.Eligible(Actor{ID: "bob"}); e != nil || q.Refusing(Actor{ID: "bob"}) != 1 {
		t.Fatalf("bob is outside the source's pool: %v", e)
	}
	if e := q.Eligible(Actor{ID: "dana"}); e != nil || q.Refusing(Actor{ID: "dana"}) != 0 {
		t.Fatalf("dana is outside the target's pool: %v", e)
	}
	carol := Vote{Actor: "carol", Eligible: q.Eligible(Actor{ID: "carol"})}
	if len(carol.Eligible) != 2 || q.Total() != 2 {
		t.Fatalf("carol %v, total %d", carol.Eligible, q.Total())
	}
	votes := []Vote{carol}
	if q.Satisfied(votes) || !q[0].Tally(votes).Satisfied() {
		t.Fatal("one vote satisfies the target's policy but not the source's two")
	}
	if m := q.Missing(votes); m.Approvals != 1 || len(m.Factors) != 1 || m.Factors[0].Name != "from:approvers" {
		t.Fatalf("missing %+v", m)
	}
	q.Assign(votes)
	if votes[0].Factor != "approvers, from:approvers" {
		t.Fatalf("factor %q", votes[0].Factor)
	}
	// The source needs two people both pools name; only carol is: no vote
	// can ever satisfy it, which the request is refused for.
	err := q.Satisfiable("olivia")
	if err == nil || !strings.Contains(err.Error(), "both profiles' policies") {
		t.Fatalf("satisfiable: %v", err)
	}
	a.ApprovalPolicy = SimplePolicy(pool("carol", "dana", "erin"), 1)
	if err := a.Quorum().Satisfiable("olivia"); err != nil {
		t.Fatalf("carol and dana are in both: %v", err)
	}
	if err := a.Quorum().Satisfiable("carol"); err == nil {
		t.Fatal("without the requester carol only dana is in both")
	}
	// Any other request's quorum is its policy.
	if q := (&Approval{ApproverPool: pool("bob")}).Quorum(); len(q) != 1 || q.Total() != 1 {
		t.Fatalf("plain request: %+v", q)
	}
}
