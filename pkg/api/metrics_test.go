package api

import (
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// The exposition parses with Prometheus' own parser, and a label value
// that needs escaping (a backslash, a quote, a new line, and a byte Go's
// %q would have escaped differently) reads back as it was.
func TestMetricsParseWithPrometheus(t *testing.T) {
	hostile := "p\\1 \"quoted\"\nnext é\t"
	series := []domain.DecisionMetric{
		{Outcome: "approved", ProfileID: "p1", Count: 3, SumSecs: 400.5, Buckets: []int64{1, 1, 0, 0, 0, 0, 1}},
		{Outcome: "rejected", ProfileID: hostile, Count: 1, SumSecs: 30, Buckets: []int64{1, 0, 0, 0, 0, 0, 0}},
	}
	edits := []domain.DecisionMetric{{Outcome: "expired", ProfileID: hostile, Count: 2}}
	text := RenderMetrics(series) + renderKindMetrics("certctl_profile_edit_decisions_total", "Decisions on gated profile changes.", edits)

	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("Prometheus cannot parse /metrics: %v\n%s", err, text)
	}
	decisions := families["certctl_approval_decisions_total"]
	if decisions == nil || len(decisions.Metric) != 2 {
		t.Fatalf("decisions: %v", decisions)
	}
	found := false
	for _, m := range decisions.Metric {
		for _, l := range m.Label {
			if l.GetName() == "profile_id" && l.GetValue() == hostile {
				found = m.GetCounter().GetValue() == 1
			}
		}
	}
	if !found {
		t.Fatalf("the escaped profile id did not read back: %v", decisions.Metric)
	}
	hist := families["certctl_approval_pending_age_seconds"]
	if hist == nil || len(hist.Metric) != 2 {
		t.Fatalf("histogram: %v", hist)
	}
	h := hist.Metric[0].GetHistogram()
	if h.GetSampleCount() != 3 || h.GetSampleSum() != 400.5 || len(h.Bucket) != len(domain.PendingAgeBuckets)+1 {
		t.Fatalf("histogram series: %v", h)
	}
	edit := families["certctl_profile_edit_decisions_total"]
	if edit == nil || len(edit.Metric) != 1 || edit.Metric[0].GetCounter().GetValue() != 2 {
		t.Fatalf("edit decisions: %v", edit)
	}
}

func TestLabelValueEscaping(t *testing.T) {
	for in, want := range map[string]string{
		`plain`:      `plain`,
		`a\b`:        `a\\b`,
		`say "x"`:    `say \"x\"`,
		"two\nlines": `two\nlines`,
		"tab\tand é": "tab\tand é", // only the three characters are escaped
	} {
		if got := labelValue(in); got != want {
			t.Errorf("labelValue(%q) = %q, want %q", in, got, want)
		}
	}
}
