package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Approval policies. A request is approved when its votes satisfy its
// policy: every factor has Count votes from its pool, each voter counting
// toward at most one factor. Which vote counts toward which factor is a
// bipartite matching of voters to the factors' slots; a maximum matching
// (augmenting paths, so a max flow over at most MaxRequiredApprovals
// slots) decides, never a first-fit assignment, which can refuse a set of
// votes that satisfies the policy.

// MaxRequiredApprovals bounds the approvals one request may need.
const MaxRequiredApprovals = 10

// DefaultFactorName names the one factor of the simple form: a profile's
// required_approvals over its approvers pool.
const DefaultFactorName = "approvers"

// ApprovalFactor is one factor of a policy: a named approver pool and how
// many distinct actors of it must approve. An absent or empty pool admits
// every approver.
type ApprovalFactor struct {
	Name      string        `json:"name"`
	Approvers *ApproverPool `json:"approvers,omitempty"`
	Count     int           `json:"count"`
}

// ApprovalPolicy is the general form of a profile's approval rule: every
// factor must be satisfied.
type ApprovalPolicy []ApprovalFactor

// SimplePolicy is the policy of the simple form: count approvals from pool.
func SimplePolicy(pool *ApproverPool, count int) ApprovalPolicy {
	return ApprovalPolicy{{Name: DefaultFactorName, Approvers: pool, Count: max(count, 1)}}
}

// Total is how many votes satisfy the policy.
func (p ApprovalPolicy) Total() int {
	n := 0
	for _, f := range p {
		n += f.Count
	}
	return n
}

// Names are the factors' names, in order.
func (p ApprovalPolicy) Names() []string {
	out := make([]string, len(p))
	for i, f := range p {
		out[i] = f.Name
	}
	return out
}

// Eligible names the factors whose pools admit actor, in the policy's order.
func (p ApprovalPolicy) Eligible(actor Actor) []string {
	var out []string
	for _, f := range p {
		if f.Approvers.Allows(actor) {
			out = append(out, f.Name)
		}
	}
	return out
}

// Clone copies the policy and its pools.
func (p ApprovalPolicy) Clone() ApprovalPolicy {
	if p == nil {
		return nil
	}
	out := make(ApprovalPolicy, len(p))
	for i, f := range p {
		out[i] = ApprovalFactor{Name: f.Name, Count: f.Count, Approvers: f.Approvers.Clone()}
	}
	return out
}

// Clone copies a pool; nil stays nil.
func (pool *ApproverPool) Clone() *ApproverPool {
	if pool == nil {
		return nil
	}
	return &ApproverPool{Principals: slices.Clone(pool.Principals), Roles: slices.Clone(pool.Roles)}
}

// empty reports a pool that limits nothing.
func (pool *ApproverPool) empty() bool {
	return pool == nil || (len(pool.Principals) == 0 && len(pool.Roles) == 0)
}

// validate checks a pool's shape: only roles that can decide, and a
// bounded number of principals.
func (pool *ApproverPool) validate(field string) error {
	if pool == nil {
		return nil
	}
	for _, r := range pool.Roles {
		// Only these roles may call approve; a pool of others is a pool
		// no one can ever satisfy.
		if r != RoleApprover && r != RoleAdmin {
			return Invalidf("%s.roles: %q cannot decide requests; use approver or admin", field, r)
		}
	}
	if len(pool.Principals) > 100 {
		return Invalidf("%s.principals: at most 100", field)
	}
	return nil
}

// Validate checks the policy's shape: at least one factor, each named
// like an id, names unique, counts at least 1, at most
// MaxRequiredApprovals votes in all, pools of roles that can decide.
func (p ApprovalPolicy) Validate() error {
	if len(p) == 0 {
		return Invalidf("approval_policy must have at least one factor")
	}
	seen := map[string]bool{}
	for i, f := range p {
		field := fmt.Sprintf("approval_policy[%d]", i)
		if !validID(f.Name) {
			return Invalidf("%s.name %q must match %s", field, f.Name, idRule)
		}
		if seen[f.Name] {
			return Invalidf("%s.name %q: factor names must be unique", field, f.Name)
		}
		seen[f.Name] = true
		if f.Count < 1 || f.Count > MaxRequiredApprovals {
			return Invalidf("%s.count must be between 1 and %d", field, MaxRequiredApprovals)
		}
		if err := f.Approvers.validate(field + ".approvers"); err != nil {
			return err
		}
	}
	if total := p.Total(); total > MaxRequiredApprovals {
		return Invalidf("approval_policy needs %d approvals in all; at most %d", total, MaxRequiredApprovals)
	}
	return nil
}

// Satisfiable reports, as a validation error naming the factors and the
// principals, a policy that no set of votes can ever satisfy, as far as
// that can be known: a factor whose pool names only principals (no
// roles, no IAM role that admits its sessions) can only ever count those
// principals, and each counts once across all factors. Factors that admit
// a role can always find more people, so they never make a policy
// impossible. without, if not "", is left out of every pool: the
// requester, who can never vote on their own request (and, after it, any
// principal known not to be able to vote for another reason).
func (p ApprovalPolicy) Satisfiable(without ...string) error {
	var bounded ApprovalPolicy
	var people []string
	for _, f := range p {
		if !f.Approvers.bounded() {
			continue
		}
		bounded = append(bounded, f)
		for _, id := range f.Approvers.Principals {
			if !slices.Contains(without, id) && !slices.Contains(people, id) {
				people = append(people, id)
			}
		}
	}
	if len(bounded) == 0 {
		return nil
	}
	votes := make([]Vote, len(people))
	for i, id := range people {
		votes[i] = Vote{Actor: id, Eligible: bounded.Eligible(Actor{ID: id})}
	}
	if t := bounded.Tally(votes); t.Satisfied() {
		return nil
	}
	// Name the factors that cannot be filled together (Hall's condition:
	// the subset that needs most more people than its pools name).
	worst, short := bounded.hallDeficit(votes)
	var names, who []string
	need := 0
	for i, f := range bounded {
		if worst&(1<<i) != 0 {
			names = append(names, f.Name)
			need += f.Count
		}
	}
	for _, v := range votes {
		if slices.ContainsFunc(v.Eligible, func(n string) bool { return slices.Contains(names, n) }) {
			who = append(who, v.Actor)
		}
	}
	sfx := ""
	if len(without) > 0 && without[0] != "" && slices.ContainsFunc(bounded, func(f ApprovalFactor) bool { return f.Approvers.Allows(Actor{ID: without[0]}) }) {
		sfx = fmt.Sprintf(" other than the requester %s", without[0])
	}
	subject := "factor " + names[0] + " needs"
	if len(names) > 1 {
		subject = "factors " + strings.Join(names, ", ") + " need"
	}
	return Invalidf("approval policy cannot be satisfied: %s %d distinct approvers%s, but the principals named there are %d (%s): %d short",
		subject, need, sfx, len(who), strings.Join(who, ", "), short)
}

// bounded reports a pool whose members are known in full: principals
// only, none of them an IAM role (a role admits the sessions of its
// people, whose number is not known) nor an ARN not yet in canonical form
// (what it names is known once it is).
func (pool *ApproverPool) bounded() bool {
	if pool.empty() || len(pool.Roles) > 0 {
		return false
	}
	for _, id := range pool.Principals {
		if strings.HasPrefix(id, "arn:") {
			return false
		}
		if _, after, ok := strings.Cut(id, ":role/"); ok && strings.HasPrefix(id, "iam:") && !strings.Contains(after, "/") {
			return false
		}
	}
	return true
}

// Vote is one approval of a request by one actor.
type Vote struct {
	Actor     string    `json:"actor"`
	ActorType ActorType `json:"actor_type"`
	At        time.Time `json:"at"`
	Note      string    `json:"note,omitempty"`
	// Eligible names the factors whose pools admitted the voter when the
	// vote was cast: what the vote can count toward.
	Eligible []string `json:"eligible"`
	// Factor is the factor the vote counts toward in the request's
	// assignment of votes (computed when the request is read, not stored:
	// a later vote may move it to another factor it is eligible for).
	Factor string `json:"factor,omitempty"`
}

// Tally is how a request's votes meet its policy: a maximum assignment of
// votes to factors.
type Tally struct {
	Required int
	// Counted is how many votes count: the size of a maximum matching.
	Counted int
	// Assigned is, per vote, the index of the factor it counts toward, or
	// -1 (a vote that counts toward nothing).
	Assigned []int
	// PerFactor is how many votes count toward each factor.
	PerFactor []int
}

// Satisfied reports whether the votes satisfy the policy.
func (t Tally) Satisfied() bool { return t.Counted >= t.Required }

// Missing is what a pending request still needs: how many more approvals,
// and the factors a further vote can still count toward.
type Missing struct {
	Approvals int             `json:"approvals"`
	Factors   []MissingFactor `json:"factors"`
}

// String says in words what is missing: "1 approval from security (up
// to 1) or owners (up to 2)".
func (m *Missing) String() string {
	if m == nil || m.Approvals == 0 {
		return "nothing"
	}
	parts := make([]string, len(m.Factors))
	for i, f := range m.Factors {
		parts[i] = fmt.Sprintf("%s (up to %d)", f.Name, f.Votes)
	}
	plural := "s"
	if m.Approvals == 1 {
		plural = ""
	}
	return fmt.Sprintf("%d approval%s from %s", m.Approvals, plural, strings.Join(parts, " or "))
}

// MissingFactor is a factor that can still take votes: up to Votes more
// votes of actors its pool admits would count.
type MissingFactor struct {
	Name      string        `json:"name"`
	Approvers *ApproverPool `json:"approvers,omitempty"`
	Votes     int           `json:"votes"`
}

// matcher is a maximum matching of voters to factors of capacity Count,
// grown by augmenting paths: Ford-Fulkerson on the flow network source →
// factor (Count) → voter (1, if eligible) → sink (1), searched depth
// first. Adding a voter grows the matching by one exactly when an
// augmenting path from it exists.
type matcher struct {
	count  []int
	load   []int
	elig   [][]bool // voter × factor
	assign []int    // voter → factor, or -1
}

func newMatcher(p ApprovalPolicy) *matcher {
	m := &matcher{count: make([]int, len(p)), load: make([]int, len(p))}
	for i, f := range p {
		m.count[i] = f.Count
	}
	return m
}

// add appends a voter eligible for the factors marked and reports whether
// the matching grew (the voter counts).
func (m *matcher) add(eligible []bool) bool {
	m.elig = append(m.elig, eligible)
	m.assign = append(m.assign, -1)
	return m.augment(len(m.assign)-1, make([]bool, len(m.count)))
}

// augment looks for an augmenting path from voter v: a factor it is
// eligible for with room, or one whose voter can move elsewhere.
func (m *matcher) augment(v int, seen []bool) bool {
	for f := range m.count {
		if !m.elig[v][f] || seen[f] {
			continue
		}
		seen[f] = true
		if m.load[f] < m.count[f] {
			m.assign[v] = f
			m.load[f]++
			return true
		}
		for u := range m.assign {
			if u != v && m.assign[u] == f && m.augment(u, seen) {
				m.assign[v] = f // u moved to another factor; v takes its place
				return true
			}
		}
	}
	return false
}

func (m *matcher) clone() *matcher {
	return &matcher{count: m.count, load: slices.Clone(m.load), elig: slices.Clone(m.elig), assign: slices.Clone(m.assign)}
}

func (p ApprovalPolicy) eligibility(v Vote) []bool {
	e := make([]bool, len(p))
	for i, f := range p {
		e[i] = slices.Contains(v.Eligible, f.Name)
	}
	return e
}

func (p ApprovalPolicy) match(votes []Vote) *matcher {
	m := newMatcher(p)
	for _, v := range votes {
		m.add(p.eligibility(v))
	}
	return m
}

// Tally assigns the votes, in order, to the factors they are eligible for,
// maximally.
func (p ApprovalPolicy) Tally(votes []Vote) Tally {
	m := p.match(votes)
	t := Tally{Required: p.Total(), Assigned: m.assign, PerFactor: m.load}
	for _, f := range m.assign {
		if f >= 0 {
			t.Counted++
		}
	}
	return t
}

// Counts reports whether a vote eligible for the named factors, added to
// votes, would count: whether it grows the matching. A vote that does not
// can never matter later either (the voters that can be matched form a
// matroid: a vote in the span of the others stays there as votes are
// added), so refusing it loses nothing.
func (p ApprovalPolicy) Counts(votes []Vote, eligible []string) bool {
	return p.match(votes).add(p.eligibility(Vote{Eligible: eligible}))
}

// Missing says what votes still needs: how many approvals, and for each
// factor how many more votes from actors its pool admits (and no other's)
// would count. A factor already filled in every maximum assignment is
// left out.
func (p ApprovalPolicy) Missing(votes []Vote) *Missing {
	m := p.match(votes)
	out := &Missing{Factors: []MissingFactor{}}
	counted := 0
	for _, f := range m.assign {
		if f >= 0 {
			counted++
		}
	}
	out.Approvals = max(p.Total()-counted, 0)
	for i, f := range p {
		if out.Approvals == 0 {
			break
		}
		only := make([]bool, len(p))
		only[i] = true
		trial, open := m.clone(), 0
		for open < f.Count && trial.add(only) {
			open++
		}
		if open > 0 {
			out.Factors = append(out.Factors, MissingFactor{Name: f.Name, Approvers: f.Approvers, Votes: open})
		}
	}
	return out
}

// Assign fills in each vote's Factor from the tally.
func (p ApprovalPolicy) Assign(votes []Vote) {
	t := p.Tally(votes)
	for i := range votes {
		votes[i].Factor = ""
		if f := t.Assigned[i]; f >= 0 {
			votes[i].Factor = p[f].Name
		}
	}
}

// hallDeficit returns the subset of factors (a bit set) whose demand most
// exceeds the voters eligible for any of them, and by how much. Hall's
// theorem (with capacities): the policy is satisfiable iff no subset has
// a deficit, and the largest matching is Total minus the largest deficit.
func (p ApprovalPolicy) hallDeficit(votes []Vote) (worst uint, deficit int) {
	for set := uint(1); set < 1<<len(p); set++ {
		need, names := 0, []string{}
		for i, f := range p {
			if set&(1<<i) != 0 {
				need += f.Count
				names = append(names, f.Name)
			}
		}
		have := 0
		for _, v := range votes {
			if slices.ContainsFunc(v.Eligible, func(n string) bool { return slices.Contains(names, n) }) {
				have++
			}
		}
		if need-have > deficit {
			worst, deficit = set, need-have
		}
	}
	return worst, deficit
}
