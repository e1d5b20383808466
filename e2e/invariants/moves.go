package invariants

// checkMoves: a move is never a way around a gate (invariant 9).
//
//   - move-respects-gate: every move into, out of or between approval-tier
//     profiles applied a certificate_move request that was approved by
//     someone other than its requester; a move between profiles that need
//     no approval names no request;
//   - one-pending-move: a certificate names a pending move request only
//     while that request is pending, and a pending request's certificate
//     names it;
//   - move-requests-counted: a certificate's move_requests is the number of
//     its move requests stored (its deletion waits for that many, whatever
//     the index lists), and no move request outlives its certificate.
func (c *checker) checkMoves() {
	approvedBy := map[string]string{} // approval id -> decider, from the audit trail
	requested := map[string]string{}  // approval id -> requester
	for _, row := range c.s.Audit {
		switch row.S("action") {
		case "approval_approved":
			approvedBy[row.S("resource_id")] = row.S("actor")
		case "approval_certificate_move_requested":
			requested[row.S("resource_id")] = row.S("actor")
		}
	}
	for _, row := range c.s.Audit {
		if row.S("action") != "certificate.moved" || !c.sc.cert(row.S("resource_id")) {
			continue
		}
		d := row.Details()
		fromGated, _ := d["from_gated"].(bool)
		toGated, _ := d["to_gated"].(bool)
		id, _ := d["approval_id"].(string)
		switch {
		case (fromGated || toGated) && id == "":
			c.fail("move-respects-gate", "certificate %s moved from %v to %v (gated: %v, %v) without a request", row.S("resource_id"), d["from"], d["to"], fromGated, toGated)
		case id != "" && approvedBy[id] == "":
			c.fail("move-respects-gate", "certificate %s moved under request %s, which no approval_approved row records", row.S("resource_id"), id)
		case id != "" && approvedBy[id] == requested[id]:
			c.fail("move-respects-gate", "certificate %s moved under request %s, approved by its requester %s", row.S("resource_id"), id, approvedBy[id])
		case id != "" && row.S("actor") != approvedBy[id]:
			c.fail("move-respects-gate", "certificate %s moved under request %s by %s, not its approver %s", row.S("resource_id"), id, row.S("actor"), approvedBy[id])
		}
	}
	for id, cert := range c.s.Certs {
		if !c.sc.cert(id) {
			continue
		}
		if m := cert.S("pending_move_approval_id"); m != "" {
			a, ok := c.s.Approvals[m]
			if !ok || a.S("state") != "pending" || a.S("certificate_id") != id {
				c.fail("one-pending-move", "certificate %s names move request %s, which is not its pending request (state %q)", id, m, a.S("state"))
			}
		}
	}
	moves := map[string]int{}
	for _, a := range c.s.Approvals {
		if a.S("kind") == "certificate_move" {
			moves[a.S("certificate_id")]++
		}
	}
	for id, n := range moves {
		if !c.sc.cert(id) {
			continue
		}
		cert, ok := c.s.Certs[id]
		switch {
		case !ok:
			c.fail("move-requests-counted", "%d move requests of certificate %s outlive it", n, id)
		case int(cert.N("move_requests")) != n:
			c.fail("move-requests-counted", "certificate %s counts %d move requests, %d are stored", id, int(cert.N("move_requests")), n)
		}
	}
	for id, cert := range c.s.Certs {
		if c.sc.cert(id) && moves[id] == 0 && cert.N("move_requests") != 0 {
			c.fail("move-requests-counted", "certificate %s counts %v move requests, none is stored", id, cert.N("move_requests"))
		}
	}
	for id, a := range c.approvals {
		if a.S("kind") != "certificate_move" || a.S("state") != "pending" {
			continue
		}
		if cert, ok := c.s.Certs[a.S("certificate_id")]; !ok || cert.S("pending_move_approval_id") != id {
			c.fail("one-pending-move", "move request %s is pending but certificate %s does not name it", id, a.S("certificate_id"))
		}
	}
}

// checkProfileCounts: profile-count: a profile's certificate_count is the
// number of certificates that use it (creates, moves and deletes keep it
// in the same transactions), so a profile in use can never be deleted.
func (c *checker) checkProfileCounts() {
	using := map[string]int{}
	for _, cert := range c.s.Certs {
		using[cert.S("profile_id")]++
	}
	for id, p := range c.s.Profiles {
		if !c.sc.profile(id) {
			continue
		}
		if got := int(p.N("certificate_count")); got != using[id] {
			c.fail("profile-count", "profile %s counts %d certificates, %d use it", id, got, using[id])
		}
	}
	for id, n := range using {
		if _, ok := c.s.Profiles[id]; !ok && c.sc.profile(id) && n > 0 {
			c.fail("profile-count", "%d certificates use profile %s, which does not exist", n, id)
		}
	}
}
