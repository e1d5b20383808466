package domain

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func pool(principals ...string) *ApproverPool { return &ApproverPool{Principals: principals} }

func vote(actor string, eligible ...string) Vote { return Vote{Actor: actor, Eligible: eligible} }

// A first-fit assignment puts dana on the first factor she may count
// toward and then has no place for bob; the maximum matching moves dana to
// security and counts both.
func TestTallyIsAMaximumMatchingNotFirstFit(t *testing.T) {
	p := ApprovalPolicy{
		{Name: "owners", Approvers: pool("dana", "bob"), Count: 1},
		{Name: "security", Approvers: pool("dana"), Count: 1},
	}
	votes := []Vote{vote("dana", p.Eligible(Actor{ID: "dana"})...)}
	if got := votes[0].Eligible; !slices.Equal(got, []string{"owners", "security"}) {
		t.Fatalf("dana's eligibility: %v", got)
	}
	first := p.Tally(votes)
	if first.Satisfied() || first.Counted != 1 || first.Assigned[0] != 0 {
		t.Fatalf("after dana: %+v", first)
	}
	if !p.Counts(votes, p.Eligible(Actor{ID: "bob"})) {
		t.Fatal("bob's vote must count: dana can move to security")
	}
	votes = append(votes, vote("bob", p.Eligible(Actor{ID: "bob"})...))
	tally := p.Tally(votes)
	if !tally.Satisfied() || tally.Counted != 2 || tally.Assigned[0] != 1 || tally.Assigned[1] != 0 {
		t.Fatalf("after bob: %+v, want dana on security and bob on owners", tally)
	}
	p.Assign(votes)
	if votes[0].Factor != "security" || votes[1].Factor != "owners" {
		t.Fatalf("assigned: %+v", votes)
	}
	// One actor in both pools counts once: dana alone never satisfies both.
	if p.Counts([]Vote{vote("dana", "owners", "security")}, []string{"owners", "security"}) != true {
		t.Fatal("a second voter in both pools counts")
	}
	if tl := p.Tally([]Vote{vote("dana", "owners", "security")}); tl.Satisfied() {
		t.Fatal("one actor satisfied two factors")
	}
}

// randomInstance is a policy of up to 4 factors and up to 9 votes with
// random eligibility.
func randomInstance(rng *rand.Rand) (ApprovalPolicy, []Vote) {
	nf := 1 + rng.IntN(4)
	var p ApprovalPolicy
	for i := range nf {
		p = append(p, ApprovalFactor{Name: fmt.Sprintf("f%d", i), Count: 1 + rng.IntN(3)})
	}
	var votes []Vote
	for v := range rng.IntN(10) {
		var el []string
		for _, f := range p {
			if rng.IntN(3) == 0 {
				el = append(el, f.Name)
			}
		}
		votes = append(votes, vote(fmt.Sprintf("v%d", v), el...))
	}
	return p, votes
}

// The matching is maximum: its size is what Hall's theorem (with
// capacities) says the largest matching is, computed independently, and
// the assignment it gives is valid.
func TestTallyAgreesWithHall(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		p, votes := randomInstance(rng)
		tally := p.Tally(votes)
		_, deficit := p.hallDeficit(votes)
		if want := p.Total() - deficit; tally.Counted != want {
			t.Fatalf("policy %+v votes %+v: counted %d, Hall says %d", p, votes, tally.Counted, want)
		}
		if tally.Satisfied() != (deficit == 0) {
			t.Fatalf("satisfied %v with deficit %d", tally.Satisfied(), deficit)
		}
		load := make([]int, len(p))
		for i, f := range tally.Assigned {
			if f < 0 {
				continue
			}
			if !slices.Contains(votes[i].Eligible, p[f].Name) {
				t.Fatalf("vote %d counts toward %s, which it is not eligible for", i, p[f].Name)
			}
			load[f]++
		}
		for i := range p {
			if load[i] > p[i].Count || load[i] != tally.PerFactor[i] {
				t.Fatalf("factor %s: %d assigned (tally says %d), count %d", p[i].Name, load[i], tally.PerFactor[i], p[i].Count)
			}
		}
	}
}

// A vote that does not count now never counts later, whatever votes come
// after it (the span property of the matroid of matchable voters): so
// refusing it loses nothing.
func TestAVoteThatDoesNotCountNeverWill(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	checked := 0
	for range 5000 {
		p, votes := randomInstance(rng)
		if len(votes) < 2 {
			continue
		}
		x := votes[len(votes)-1]
		base := votes[:len(votes)-1]
		if p.Counts(base, x.Eligible) {
			continue
		}
		checked++
		_, more := randomInstance(rng)
		for _, y := range more {
			y.Eligible = slices.DeleteFunc(slices.Clone(y.Eligible), func(n string) bool { return !slices.Contains(p.Names(), n) })
			with := p.Tally(append(slices.Clone(votes), y)).Counted
			without := p.Tally(append(slices.Clone(base), y)).Counted
			if with != without {
				t.Fatalf("policy %+v: %+v did not count after %+v, but counts once %+v votes", p, x, base, y)
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d instances had a vote that does not count", checked)
	}
}

func TestMissing(t *testing.T) {
	p := ApprovalPolicy{
		{Name: "security", Approvers: pool("dana"), Count: 1},
		{Name: "owners", Approvers: &ApproverPool{Roles: []Role{RoleApprover}}, Count: 2},
	}
	m := p.Missing(nil)
	if m.Approvals != 3 || len(m.Factors) != 2 || m.Factors[0].Votes != 1 || m.Factors[1].Votes != 2 {
		t.Fatalf("nothing voted: %+v", m)
	}
	// bob (an approver) counts toward owners; owners can take one more.
	m = p.Missing([]Vote{vote("bob", "owners")})
	if m.Approvals != 2 || len(m.Factors) != 2 || m.Factors[1].Name != "owners" || m.Factors[1].Votes != 1 {
		t.Fatalf("after bob: %+v", m)
	}
	// owners is full: only security can still take a vote.
	m = p.Missing([]Vote{vote("bob", "owners"), vote("erin", "owners")})
	if m.Approvals != 1 || len(m.Factors) != 1 || m.Factors[0].Name != "security" {
		t.Fatalf("owners full: %+v", m)
	}
	if m = p.Missing([]Vote{vote("bob", "owners"), vote("erin", "owners"), vote("dana", "security", "owners")}); m.Approvals != 0 || len(m.Factors) != 0 {
		t.Fatalf("satisfied: %+v", m)
	}
	// Either factor can take the one missing vote: both are listed.
	q := ApprovalPolicy{{Name: "a", Approvers: pool("x", "y"), Count: 1}, {Name: "b", Approvers: pool("x", "z"), Count: 1}}
	if m = q.Missing([]Vote{vote("x", "a", "b")}); m.Approvals != 1 || len(m.Factors) != 2 {
		t.Fatalf("x may count toward a or b, so either may still take a vote: %+v", m)
	}
}

func TestPolicyValidation(t *testing.T) {
	ok := ApprovalPolicy{{Name: "security", Approvers: pool("dana"), Count: 1}, {Name: "owners", Count: 2}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]ApprovalPolicy{
		"at least one factor":              {},
		"must match":                       {{Name: "Security", Count: 1}},
		"names must be unique":             {{Name: "a", Count: 1}, {Name: "a", Count: 1}},
		"count must be between 1 and 10":   {{Name: "a", Count: 0}},
		"needs 11 approvals in all":        {{Name: "a", Count: 6}, {Name: "b", Count: 5}},
		"cannot decide requests":           {{Name: "a", Count: 1, Approvers: &ApproverPool{Roles: []Role{RoleViewer}}}},
		"approval_policy[1].count must be": {{Name: "a", Count: 1}, {Name: "b", Count: -1}},
	}
	for want, p := range cases {
		err := p.Validate()
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: got %v, want %q", p, err, want)
		}
	}
}

func TestSatisfiable(t *testing.T) {
	for _, tc := range []struct {
		name    string
		p       ApprovalPolicy
		without string
		want    string // "" for satisfiable
	}{
		{"two from two", SimplePolicy(pool("bob", "dana"), 2), "", ""},
		{"two from one", SimplePolicy(pool("bob"), 2), "", "factor approvers needs 2 distinct approvers, but the principals named there are 1 (bob): 1 short"},
		{"two from two, one of them the requester", SimplePolicy(pool("bob", "dana"), 2), "bob", "other than the requester bob"},
		{"roles always find people", SimplePolicy(&ApproverPool{Principals: []string{"bob"}, Roles: []Role{RoleApprover}}, 5), "", ""},
		{"anyone", SimplePolicy(nil, 10), "", ""},
		{"an IAM role admits its sessions", SimplePolicy(pool("iam:aws:123456789012:role/approvers"), 3), "", ""},
		{"an IAM role ARN, before it is made canonical", SimplePolicy(pool("arn:aws:iam::123456789012:role/team/Approvers"), 3), "", ""},
		{"an IAM role session is one person", SimplePolicy(pool("iam:aws:123456789012:role/sso/alice"), 2), "", "1 short"},
		{"one person in two factors counts once", ApprovalPolicy{{Name: "a", Approvers: pool("dana"), Count: 1}, {Name: "b", Approvers: pool("dana"), Count: 1}}, "",
			"factors a, b need 2 distinct approvers, but the principals named there are 1 (dana)"},
		{"the bounded factors fill, the open one finds people", ApprovalPolicy{{Name: "a", Approvers: pool("dana", "bob"), Count: 2}, {Name: "b", Count: 3}}, "", ""},
	} {
		err := tc.p.Satisfiable(tc.without)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestProfilePolicyValidation(t *testing.T) {
	policy := ApprovalPolicy{{Name: "security", Approvers: pool("dana"), Count: 1}, {Name: "owners", Count: 1}}
	cases := map[string]func(*Profile){
		"required_approvals must be between 1 and 10": func(p *Profile) { p.RequiredApprovals = 11 },
		"required_approvals (3) must equal":           func(p *Profile) { p.ApprovalPolicy, p.RequiredApprovals = policy, 3 },
		"send \"approvers\": {}":                      func(p *Profile) { p.ApprovalPolicy, p.RequiredApprovals, p.Approvers = policy, 2, pool("bob") },
		"cannot be satisfied":                         func(p *Profile) { p.Approvers, p.RequiredApprovals = pool("bob"), 2 },
	}
	for want, mutate := range cases {
		p := validProfile()
		mutate(p)
		if err := p.Validate(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v", want, err)
		}
	}
	p := validProfile()
	if p.RequiredApprovals != 1 || !slices.EqualFunc(p.Policy(), SimplePolicy(nil, 1), func(a, b ApprovalFactor) bool { return a.Name == b.Name && a.Count == b.Count }) {
		t.Fatalf("default policy: %d %+v", p.RequiredApprovals, p.Policy())
	}
}

// The input's policy sets required_approvals to its total when that is
// left out; [] clears the policy and keeps the total; an update that
// changes nothing changes nothing.
func TestProfileInputPolicy(t *testing.T) {
	policy := ApprovalPolicy{{Name: "security", Approvers: pool("dana"), Count: 1}, {Name: "owners", Approvers: &ApproverPool{}, Count: 2}}
	p := ProfileInput{ID: "p", Name: Ptr("p"), AllowedNames: &[]NamePattern{"a.example.com"}, ApprovalPolicy: &policy}.Profile()
	if err := p.Validate(); err != nil || p.RequiredApprovals != 3 || p.ApprovalPolicy[1].Approvers != nil {
		t.Fatalf("%+v %v", p, err)
	}
	if d := ProfileDiff(p, func() *Profile { q := *p; p.Input().ApplyTo(&q); return &q }()); len(d) != 0 {
		t.Fatalf("a no-op update changes %v", d)
	}
	q := *p
	ProfileInput{ApprovalPolicy: &ApprovalPolicy{}}.ApplyTo(&q)
	if q.ApprovalPolicy != nil || q.RequiredApprovals != 3 || q.Validate() != nil {
		t.Fatalf("cleared: %+v", q)
	}
	if !p.PolicyChanges(&q) {
		t.Fatal("clearing the policy is a policy change")
	}
	d := ProfileDiff(p, &q)
	if _, ok := d["approval_policy"]; !ok || len(d) != 1 {
		t.Fatalf("diff: %v", d)
	}
}
