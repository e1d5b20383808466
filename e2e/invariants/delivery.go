package invariants

// checkDeliveries: delivery is queued with the issuance and ends recorded.
//
//   - delivery-queued: a queued delivery names a completed job of its
//     certificate that issued the version it names, in the delivery queue,
//     and the job shows it pending or retrying with the same attempts; a
//     job whose delivery is pending or retrying has its queue item (a
//     certificate being deleted, archived first, may have lost either);
//   - delivery-audited: every ended delivery, and every retrying one, has
//     exactly one audit row of its outcome naming its job (written in the
//     same transaction: delivered, superseded, dropped, or the first
//     failure).
func (c *checker) checkDeliveries() {
	queued := map[string]Item{} // job id
	for _, d := range c.s.Deliveries {
		certID, jobID := d.S("certificate_id"), d.S("job_id")
		if !c.sc.cert(certID) {
			continue
		}
		queued[jobID] = d
		if d.S("pending_pk") != "DELIVERY" {
			c.fail("delivery-queued", "delivery of job %s is not in the delivery queue (pending_pk=%q)", jobID, d.S("pending_pk"))
		}
		if c.deleting(certID) {
			continue
		}
		job, ok := c.s.Jobs[jobID]
		if !ok {
			c.fail("delivery-queued", "delivery of %s names job %s, which does not exist", certID, jobID)
			continue
		}
		st := job.M("delivery")
		switch {
		case job.S("status") != "Completed" || job.S("certificate_id") != certID:
			c.fail("delivery-queued", "delivery of %s names job %s, which is %s for %s", certID, jobID, job.S("status"), job.S("certificate_id"))
		case len(c.versions[jobID]) != 1 || c.versions[jobID][0].S("serial_number") != d.S("serial_number"):
			c.fail("delivery-queued", "delivery of job %s names serial %s, which the job did not issue", jobID, d.S("serial_number"))
		case st == nil || (st.S("status") != "pending" && st.S("status") != "retrying"):
			c.fail("delivery-queued", "job %s has a queued delivery but shows delivery %v", jobID, st)
		case st.N("attempts") != d.N("attempts"):
			c.fail("delivery-queued", "job %s shows %v delivery attempts, its queue item %v", jobID, st.N("attempts"), d.N("attempts"))
		}
	}
	rows := map[string]map[string]int{} // action -> job id -> rows
	for _, row := range c.s.Audit {
		switch a := row.S("action"); a {
		case "certificate.delivered", "certificate.delivery_superseded", "certificate.delivery_dropped", "certificate.delivery_failed":
			if rows[a] == nil {
				rows[a] = map[string]int{}
			}
			job, _ := row.Details()["job_id"].(string)
			rows[a][job]++
		}
	}
	for id, job := range c.jobs {
		st := job.M("delivery")
		if st == nil {
			continue
		}
		status := st.S("status")
		if _, ok := queued[id]; !ok && (status == "pending" || status == "retrying") && !c.deleting(job.S("certificate_id")) {
			c.fail("delivery-queued", "job %s shows delivery %s but nothing is queued", id, status)
		}
		action := map[string]string{"delivered": "certificate.delivered", "superseded": "certificate.delivery_superseded",
			"dropped": "certificate.delivery_dropped", "retrying": "certificate.delivery_failed"}[status]
		if action == "" {
			continue
		}
		if n := rows[action][id]; n != 1 {
			c.fail("delivery-audited", "job %s's delivery is %s with %d %s rows, want 1", id, status, n, action)
		}
	}
}

// deleting reports whether a certificate is gone or archived: its records
// are deleted in batches, so its jobs and queue items may part.
func (c *checker) deleting(certID string) bool {
	cert, ok := c.s.Certs[certID]
	return !ok || cert.S("status") == "Archived"
}
