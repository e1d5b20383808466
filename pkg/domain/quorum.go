package domain

import (
	"slices"
	"strings"
)

// SourceFactorPrefix names, in a move request's votes (their eligible
// factors and the factor each counts toward) and in what it still needs,
// the factors of the source profile's policy (CertificateMove.FromPolicy),
// apart from those of the request's own policy, the target's.
const SourceFactorPrefix = "from:"

// Quorum is what a request's votes must satisfy: each of its policies,
// the same votes counting toward every one of them (each vote at most
// once within a policy). Every request has its own policy; a
// certificate_move between two approval-tier profiles has the source's
// too, so that neither profile's rule is a way out of the other's: every
// voter must be admitted by both, and the votes must satisfy both. With
// one policy a Quorum is exactly that policy.
type Quorum []ApprovalPolicy

// Quorum is the request's quorum: its policy and, for a move between two
// approval-tier profiles, the source profile's, its factors named with
// SourceFactorPrefix.
func (a *Approval) Quorum() Quorum {
	q := Quorum{a.Policy()}
	if a.Move != nil && len(a.Move.FromPolicy) > 0 {
		q = append(q, a.Move.FromPolicy.prefixed(SourceFactorPrefix))
	}
	return q
}

// prefixed is the policy with its factors' names prefixed.
func (p ApprovalPolicy) prefixed(prefix string) ApprovalPolicy {
	out := p.Clone()
	for i := range out {
		out[i].Name = prefix + out[i].Name
	}
	return out
}

// Names are every factor's name, policy by policy.
func (q Quorum) Names() []string {
	var out []string
	for _, p := range q {
		out = append(out, p.Names()...)
	}
	return out
}

// Eligible names the factors whose pools admit actor, policy by policy;
// none unless some factor of every policy admits actor.
func (q Quorum) Eligible(actor Actor) []string {
	var out []string
	for _, p := range q {
		e := p.Eligible(actor)
		if len(e) == 0 {
			return nil
		}
		out = append(out, e...)
	}
	return out
}

// Refusing names the first policy none of whose factors admits actor
// (its index), or -1.
func (q Quorum) Refusing(actor Actor) int {
	return slices.IndexFunc(q, func(p ApprovalPolicy) bool { return len(p.Eligible(actor)) == 0 })
}

// Counts reports whether a vote eligible for the named factors, added to
// votes, would count toward some policy (see ApprovalPolicy.Counts).
func (q Quorum) Counts(votes []Vote, eligible []string) bool {
	return slices.ContainsFunc(q, func(p ApprovalPolicy) bool { return p.Counts(votes, eligible) })
}

// Satisfied reports whether votes satisfy every policy.
func (q Quorum) Satisfied(votes []Vote) bool {
	for _, p := range q {
		if !p.Tally(votes).Satisfied() {
			return false
		}
	}
	return len(q) > 0
}

// Total is the fewest votes that can satisfy the quorum: the largest
// policy's total (one vote may count toward every policy).
func (q Quorum) Total() int {
	n := 0
	for _, p := range q {
		n = max(n, p.Total())
	}
	return n
}

// Missing is what votes still need: at least as many approvals as the
// policy that needs most, from the factors of every policy that can still
// take votes.
func (q Quorum) Missing(votes []Vote) *Missing {
	out := &Missing{Factors: []MissingFactor{}}
	for _, p := range q {
		m := p.Missing(votes)
		out.Approvals = max(out.Approvals, m.Approvals)
		out.Factors = append(out.Factors, m.Factors...)
	}
	return out
}

// Factors names, per vote, the factors it counts toward in each policy's
// assignment of votes ("" for a vote that counts toward none).
func (q Quorum) Factors(votes []Vote) []string {
	names := make([][]string, len(votes))
	for _, p := range q {
		t := p.Tally(votes)
		for i, f := range t.Assigned {
			if f >= 0 {
				names[i] = append(names[i], p[f].Name)
			}
		}
	}
	out := make([]string, len(votes))
	for i, n := range names {
		out[i] = strings.Join(n, ", ")
	}
	return out
}

// Assign fills in each vote's Factor from the tallies.
func (q Quorum) Assign(votes []Vote) {
	for i, f := range q.Factors(votes) {
		votes[i].Factor = f
	}
}

// Satisfiable is ApprovalPolicy.Satisfiable for every policy of the
// quorum, without the requester, and, since every voter must be admitted
// by every policy, without the principals another policy whose pools are
// known in full (principals only) does not name.
func (q Quorum) Satisfiable(without string) error {
	for i, p := range q {
		excluded := []string{without}
		for j, other := range q {
			if j == i || !other.bounded() {
				continue
			}
			for _, f := range p {
				if !f.Approvers.bounded() {
					continue
				}
				for _, id := range f.Approvers.Principals {
					if len(other.Eligible(Actor{ID: id})) == 0 {
						excluded = append(excluded, id)
					}
				}
			}
		}
		if err := p.Satisfiable(excluded...); err != nil {
			if len(q) > 1 {
				return Invalidf("%s (every voter must be admitted by both profiles' policies)", PublicMessage(err))
			}
			return err
		}
	}
	return nil
}

// bounded reports a policy every factor of which has a pool known in full.
func (p ApprovalPolicy) bounded() bool {
	return len(p) > 0 && !slices.ContainsFunc(p, func(f ApprovalFactor) bool { return !f.Approvers.bounded() })
}
