package invariants

import (
	"slices"
	"strings"
	"time"
)

// The checks of votes read the request's snapshotted policy and its
// votes as stored and decide, with their own arithmetic (Hall's theorem,
// not the matching the workflow runs), whether the votes satisfy the
// policy and whether every vote counts.

// factor is one factor of a stored policy.
type factor struct {
	name       string
	count      int
	principals []string
	roles      []string
}

// admits reports whether a factor whose pool names principals only (and
// so can be checked without the voter's roles) admits actor; pools that
// name roles, or nothing, are taken as admitting.
func (f factor) admits(actor string) bool {
	if len(f.roles) > 0 || len(f.principals) == 0 {
		return true
	}
	for _, p := range f.principals {
		if p == actor || (strings.Contains(p, ":role/") && strings.HasPrefix(actor, p+"/")) {
			return true
		}
	}
	return false
}

type vote struct {
	actor    string
	at       time.Time
	eligible []string
}

func policyOf(a Item) []factor { return factorsOf(a.Items("approval_policy"), "") }

func factorsOf(items []Item, prefix string) []factor {
	var out []factor
	for _, f := range items {
		pool := f.M("approvers")
		out = append(out, factor{name: prefix + f.S("name"), count: int(f.N("count")), principals: pool.Strings("principals"), roles: pool.Strings("roles")})
	}
	return out
}

// policiesOf is every policy a request's votes must satisfy: its own and,
// for a move between approval-tier profiles, the source profile's (stored
// as move.from_policy; in votes its factors carry the prefix "from:").
func policiesOf(a Item) [][]factor {
	out := [][]factor{policyOf(a)}
	if from := a.M("move").Items("from_policy"); len(from) > 0 {
		out = append(out, factorsOf(from, "from:"))
	}
	return out
}

func votesOf(a Item) []vote {
	var out []vote
	for _, v := range a.Items("votes") {
		at, _ := time.Parse(time.RFC3339Nano, v.S("at"))
		out = append(out, vote{actor: v.S("actor"), at: at, eligible: v.Strings("eligible")})
	}
	return out
}

// matched is how many of votes a maximum assignment to the factors
// counts: the total the policy needs less the largest shortfall of any
// set of factors (their counts beyond the votes eligible for any of them).
func matched(policy []factor, votes []vote) (counted, total int) {
	for _, f := range policy {
		total += f.count
	}
	shortfall := 0
	for set := 1; set < 1<<len(policy); set++ {
		need, names := 0, []string{}
		for i, f := range policy {
			if set&(1<<i) != 0 {
				need += f.count
				names = append(names, f.name)
			}
		}
		have := 0
		for _, v := range votes {
			if slices.ContainsFunc(v.eligible, func(n string) bool { return slices.Contains(names, n) }) {
				have++
			}
		}
		shortfall = max(shortfall, need-have)
	}
	return total - shortfall, total
}

// oneActor reports whether a and b were one person to two-person
// integrity at time at: the same id, or one could act as the other (it
// had minted one of the other's keys: the other's stored controllers name
// it, since the first apikey.created row that made it so; without such a
// row, since always).
func (c *checker) oneActor(a, b string, at time.Time) bool {
	return a == b || c.controlled(a, b, at) || c.controlled(b, a, at)
}

// controlled reports whether controller could act as principal at time at.
func (c *checker) controlled(principal, controller string, at time.Time) bool {
	if !slices.Contains(c.s.Principals[principal].Strings("controllers"), controller) {
		return false
	}
	since, known := time.Time{}, false
	for _, m := range c.mints {
		if m.principal == principal && slices.Contains(m.controllers, controller) && (!known || m.at.Before(since)) {
			since, known = m.at, true
		}
	}
	return !known || !at.Before(since)
}

// mint is one apikey.created row for another principal: from its time
// on, the controllers it names could act as the principal.
type mint struct {
	principal   string
	controllers []string
	at          time.Time
}

// indexMints reads the apikey.created rows that name controllers.
func (c *checker) indexMints() {
	c.mints = nil
	for _, row := range c.s.Audit {
		if row.S("action") != "apikey.created" {
			continue
		}
		d := row.Details()
		principal, _ := d["principal"].(string)
		list, _ := d["controllers"].([]any)
		at, err := time.Parse(time.RFC3339Nano, row.S("ts"))
		if principal == "" || len(list) == 0 || err != nil {
			continue
		}
		m := mint{principal: principal, at: at}
		for _, x := range list {
			if s, ok := x.(string); ok {
				m.controllers = append(m.controllers, s)
			}
		}
		c.mints = append(c.mints, m)
	}
}

// breakGlass reports a vote an admin may cast on a profile edit outside
// its pools (the workflow makes it eligible for every factor, so a pool no
// one can satisfy never locks a profile): a profile_edit vote eligible for
// every factor, by a voter whose stored principal holds admin (an IAM
// caller, whose roles come from the mapping and are not stored, is taken
// on trust, as pools that name roles are).
func (c *checker) breakGlass(a Item, v vote, policy []factor) bool {
	if a.S("kind") != "profile_edit" || len(v.eligible) != len(policy) {
		return false
	}
	p, stored := c.s.Principals[v.actor]
	return !stored || slices.Contains(p.Strings("roles"), "admin")
}

// checkVotes: the votes of every request that has a policy. No vote by
// the requester (or anyone who can act as the requester, or as whom the
// requester can act), no actor twice (counting those who can act as each
// other as one), none after the decision, each eligible
// only for factors of the policy whose pools admit it (for a move between
// approval-tier profiles, for factors of both policies); every vote
// counts; an approved request's votes satisfy its policies exactly, the
// last of them its decision; any other request's votes do not (the vote
// that satisfies a quorum is the approval); one approval_vote row per vote.
func (c *checker) checkVotes() {
	c.indexMints()
	for id, a := range c.approvals {
		if !a.Has("approval_policy") {
			continue // stored before policies: one approval, no votes
		}
		policies, votes := policiesOf(a), votesOf(a)
		state := a.S("state")
		decidedAt, decided := time.Time{}, false
		if t, err := time.Parse(time.RFC3339Nano, a.S("decided_at")); err == nil {
			decidedAt, decided = t, true
		}
		for i, v := range votes {
			if c.oneActor(v.actor, a.S("requested_by"), v.at) {
				c.fail("vote-requester", "approval %s has a vote by %s, who is (or can act as) its requester %s", id, v.actor, a.S("requested_by"))
			}
			for _, earlier := range votes[:i] {
				if c.oneActor(v.actor, earlier.actor, v.at) {
					c.fail("vote-twice", "approval %s has votes by %s and %s, who are one person", id, earlier.actor, v.actor)
				}
			}
			if decided && v.at.After(decidedAt) {
				c.fail("vote-after-decision", "approval %s has a vote by %s at %s, after its decision at %s", id, v.actor, v.at, decidedAt)
			}
			if len(v.eligible) == 0 {
				c.fail("vote-eligibility", "approval %s: the vote by %s is eligible for no factor", id, v.actor)
			}
			for _, name := range v.eligible {
				var f *factor
				for _, policy := range policies {
					if i := slices.IndexFunc(policy, func(f factor) bool { return f.name == name }); i >= 0 {
						f = &policy[i]
					}
				}
				switch {
				case f == nil:
					c.fail("vote-eligibility", "approval %s: the vote by %s names factor %q, which its policy lacks", id, v.actor, name)
				case !f.admits(v.actor) && !c.breakGlass(a, v, policies[0]):
					c.fail("vote-eligibility", "approval %s: the vote by %s counts toward factor %s, whose pool does not name it", id, v.actor, name)
				}
			}
			for _, policy := range policies[1:] {
				if !slices.ContainsFunc(policy, func(f factor) bool { return slices.Contains(v.eligible, f.name) }) {
					c.fail("vote-eligibility", "approval %s: the vote by %s is eligible for none of the source profile's factors: a move between gates needs voters both policies admit", id, v.actor)
				}
			}
		}
		if state == "bypassed" && len(votes) > 0 {
			c.fail("vote-after-decision", "approval %s was bypassed but has %d votes", id, len(votes))
		}
		// Every vote counts: when cast, it grew the votes counted toward
		// some policy (a vote that counts can never stop counting, so for
		// one policy this is all votes counting in the end).
		for i, v := range votes {
			grew := false
			for _, policy := range policies {
				before, _ := matched(policy, votes[:i])
				after, _ := matched(policy, votes[:i+1])
				grew = grew || after > before
			}
			if !grew {
				c.fail("quorum", "approval %s: the vote by %s counts toward none of its policies", id, v.actor)
			}
		}
		satisfied := func(votes []vote) bool {
			for _, policy := range policies {
				if counted, total := matched(policy, votes); counted < total {
					return false
				}
			}
			return len(policies[0]) > 0
		}
		switch {
		case state == "approved" && !satisfied(votes):
			counted, total := matched(policies[0], votes)
			c.fail("quorum", "approval %s is approved with %d votes counting of the %d its policy needs (%d votes, %d policies)", id, counted, total, len(votes), len(policies))
		case state == "approved" && len(votes) > 0 && satisfied(votes[:len(votes)-1]):
			c.fail("quorum", "approval %s is approved by more votes than its policies need: they were satisfied before its last vote", id)
		case state == "approved" && len(votes) > 0 && (votes[len(votes)-1].actor != a.S("decided_by") || !votes[len(votes)-1].at.Equal(decidedAt)):
			c.fail("quorum", "approval %s was approved by %s, not by its last vote", id, a.S("decided_by"))
		case state != "approved" && state != "bypassed" && satisfied(votes):
			c.fail("quorum", "approval %s is %s although its votes satisfy its policy", id, state)
		}
		rows := c.audit["approval_vote|"+id]
		if len(rows) != len(votes) {
			c.fail("audit-one-to-one", "approval %s has %d votes and %d approval_vote rows", id, len(votes), len(rows))
		}
		for _, v := range votes {
			if n := len(slices.DeleteFunc(slices.Clone(rows), func(r Item) bool { return r.S("actor") != v.actor })); n != 1 {
				c.fail("audit-one-to-one", "approval %s: %d approval_vote rows for the vote by %s, want 1", id, n, v.actor)
			}
		}
	}
}
