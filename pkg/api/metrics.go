package api

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// serveMetrics renders the decision metrics in Prometheus text format. The
// values live in DynamoDB, so every Lambda instance reports the same totals.
func (a *API) serveMetrics(w http.ResponseWriter, r *http.Request) {
	series, err := a.reads.ListDecisionMetrics(r.Context(), domain.KindCertIssuance)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	edits, err := a.reads.ListDecisionMetrics(r.Context(), domain.KindProfileEdit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	gauges, err := a.reads.PendingGauges(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	moves, err := a.reads.ListDecisionMetrics(r.Context(), domain.KindCertificateMove)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(RenderMetrics(series) +
		renderKindMetrics("certctl_profile_edit_decisions_total", "Decisions on gated profile changes by outcome and profile.", edits) +
		renderKindMetrics("certctl_certificate_move_decisions_total", "Decisions on gated certificate moves by outcome and target profile.", moves) +
		RenderPending(gauges, time.Now())))
}

// RenderPending formats the pending-approval gauges: how many requests
// each profile has pending (counters kept in the requests' own
// transactions) and the age of its oldest, at now.
func RenderPending(gauges []domain.PendingGauge, now time.Time) string {
	var b strings.Builder
	b.WriteString("# HELP certctl_approvals_pending Approval requests pending, by profile.\n")
	b.WriteString("# TYPE certctl_approvals_pending gauge\n")
	for _, g := range gauges {
		fmt.Fprintf(&b, "certctl_approvals_pending{profile_id=\"%s\"} %d\n", labelValue(g.ProfileID), max(g.Count, 0))
	}
	b.WriteString("# HELP certctl_oldest_pending_approval_seconds Age of the oldest pending approval request, by profile.\n")
	b.WriteString("# TYPE certctl_oldest_pending_approval_seconds gauge\n")
	for _, g := range gauges {
		if g.Oldest != nil && g.Count > 0 {
			fmt.Fprintf(&b, "certctl_oldest_pending_approval_seconds{profile_id=\"%s\"} %s\n", labelValue(g.ProfileID),
				strconv.FormatFloat(max(now.Sub(*g.Oldest), 0).Seconds(), 'f', 0, 64))
		}
	}
	return b.String()
}

// renderKindMetrics counts the decisions of one other kind of request
// apart from certificate decisions, so the contract metric counts only
// what certctl counts.
func renderKindMetrics(name, help string, series []domain.DecisionMetric) string {
	sort.Slice(series, func(i, j int) bool {
		return series[i].Outcome+"\x00"+series[i].ProfileID < series[j].Outcome+"\x00"+series[j].ProfileID
	})
	var b strings.Builder
	fmt.Fprintf(&b, "# HELP %s %s\n", name, help)
	fmt.Fprintf(&b, "# TYPE %s counter\n", name)
	for _, m := range series {
		fmt.Fprintf(&b, "%s{%s} %d\n", name, seriesLabels(m), m.Count)
	}
	return b.String()
}

// RenderMetrics formats certificate decision series as Prometheus text exposition.
func RenderMetrics(series []domain.DecisionMetric) string {
	sort.Slice(series, func(i, j int) bool {
		if series[i].Outcome != series[j].Outcome {
			return series[i].Outcome < series[j].Outcome
		}
		return series[i].ProfileID < series[j].ProfileID
	})
	var b strings.Builder
	b.WriteString("# HELP certctl_approval_decisions_total Approval decisions by outcome and profile.\n")
	b.WriteString("# TYPE certctl_approval_decisions_total counter\n")
	for _, m := range series {
		fmt.Fprintf(&b, "certctl_approval_decisions_total{%s} %d\n", seriesLabels(m), m.Count)
	}
	// The histogram is exposed per (outcome, profile) series; Prometheus sums
	// across labels when asked for the overall distribution.
	b.WriteString("# HELP certctl_approval_pending_age_seconds Seconds a request was pending when it was decided.\n")
	b.WriteString("# TYPE certctl_approval_pending_age_seconds histogram\n")
	for _, m := range series {
		labels := seriesLabels(m)
		var cum int64
		for i, bound := range domain.PendingAgeBuckets {
			cum += m.Buckets[i]
			fmt.Fprintf(&b, "certctl_approval_pending_age_seconds_bucket{%s,le=\"%d\"} %d\n", labels, bound, cum)
		}
		cum += m.Buckets[len(domain.PendingAgeBuckets)]
		fmt.Fprintf(&b, "certctl_approval_pending_age_seconds_bucket{%s,le=\"+Inf\"} %d\n", labels, cum)
		fmt.Fprintf(&b, "certctl_approval_pending_age_seconds_sum{%s} %s\n", labels, strconv.FormatFloat(m.SumSecs, 'f', -1, 64))
		fmt.Fprintf(&b, "certctl_approval_pending_age_seconds_count{%s} %d\n", labels, m.Count)
	}
	return b.String()
}

// seriesLabels is a decision series' label pairs, without the braces.
func seriesLabels(m domain.DecisionMetric) string {
	return `outcome="` + labelValue(m.Outcome) + `",profile_id="` + labelValue(m.ProfileID) + `"`
}

// labelValue escapes a label value as the text exposition format says:
// backslash, double quote and line feed, and nothing else (Go's %q would
// also escape other bytes, which Prometheus reads literally).
func labelValue(v string) string {
	return labelEscaper.Replace(v)
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
