package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

func body(s string) *http.Request {
	r, _ := http.NewRequest("POST", "/", strings.NewReader(s))
	r.Header.Set("Content-Type", "application/json")
	return r
}

func TestDecode(t *testing.T) {
	var in domain.CertificateInput
	if err := decode(body(`{"common_name":"a.example.com","sans":["b.example.com"]}`), &in); err != nil || in.SANs[0] != "b.example.com" {
		t.Fatalf("valid body: %v %+v", err, in)
	}
	for name, s := range map[string]string{
		"empty":         ``,
		"unknown field": `{"common_name":"a","bogus":1}`,
		"trailing":      `{"common_name":"a"} {"x":1}`,
		"wrong type":    `{"sans":"not-a-list"}`,
		"not json":      `{nope`,
		"array":         `[1,2]`,
		"too large":     `{"csr":"` + strings.Repeat("a", maxBody) + `"}`,
		// The object ends before the limit; the body does not.
		"too large after the object": `{"common_name":"a"}` + strings.Repeat(" ", maxBody),
		"duplicate key":              `{"common_name":"a","common_name":"b"}`,
		"duplicate nested key":       `{"approvers":{"roles":["approver"],"roles":[]}}`,
		"case-folded name":           `{"Common_Name":"a"}`,
		"escape sequence":            `{"common_name":"a\u001b[2Jb"}`,
		"NUL":                        `{"common_name":"a\u0000"}`,
		"bidi override":              `{"common_name":"a\u202eb"}`,
		"control in a key":           `{"common\u0007_name":"a"}`,
		"invalid UTF-8":              "{\"common_name\":\"a\xff\"}",
	} {
		var in domain.CertificateInput
		if err := decode(body(s), &in); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("%s: want a 400, got %v", name, err)
		}
	}
	var opt struct{ Note string }
	if err := decodeOptional(body(""), &opt); err != nil {
		t.Fatalf("optional empty body: %v", err)
	}
	var note struct {
		Note string `json:"note"`
	}
	if err := decode(body(`{"note":"line one\nline two\twith a tab"}`), &note); err != nil {
		t.Fatalf("free text keeps new lines and tabs: %v", err)
	}
}

func TestDecodeNeedsJSONMediaType(t *testing.T) {
	for _, ct := range []string{"", "application/x-www-form-urlencoded", "text/plain", "application/json; charset=latin1"} {
		r := body(`{"note":"x"}`)
		r.Header.Set("Content-Type", ct)
		var v struct {
			Note string `json:"note"`
		}
		if err := decode(r, &v); statusOf(err) != http.StatusUnsupportedMediaType {
			t.Errorf("Content-Type %q: %v, want 415", ct, err)
		}
	}
	r := body(`{"note":"x"}`)
	r.Header.Set("Content-Type", "application/json; charset=UTF-8")
	var v struct {
		Note string `json:"note"`
	}
	if err := decode(r, &v); err != nil {
		t.Fatal(err)
	}
}

// FuzzDecode: whatever the body, decoding never panics and every refusal is a 400.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{``, `{}`, `{"name":"x","requires_approval":true}`, `{"approvers":{"principals":["a"],"roles":["approver"]}}`, `{"a":`, `null`, `"str"`, `{"max_validity_seconds":1e309}`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var p domain.ProfileInput
		if err := decode(body(s), &p); err != nil && !errors.Is(err, domain.ErrInvalid) && !errors.Is(err, domain.ErrUnsupportedMedia) {
			t.Fatalf("profile body %q: non-400 error %v", s, err)
		}
		var c domain.CertificateInput
		if err := decode(body(s), &c); err != nil && !errors.Is(err, domain.ErrInvalid) {
			t.Fatalf("certificate body %q: non-400 error %v", s, err)
		}
	})
}

func TestRenderMetrics(t *testing.T) {
	m := domain.DecisionMetric{Outcome: "approved", ProfileID: "p1", Count: 3, SumSecs: 400.5, Buckets: []int64{1, 1, 0, 0, 0, 0, 1}}
	out := RenderMetrics([]domain.DecisionMetric{m})
	for _, want := range []string{
		"# TYPE certctl_approval_decisions_total counter",
		`certctl_approval_decisions_total{outcome="approved",profile_id="p1"} 3`,
		"# TYPE certctl_approval_pending_age_seconds histogram",
		`certctl_approval_pending_age_seconds_bucket{outcome="approved",profile_id="p1",le="60"} 1`,
		`certctl_approval_pending_age_seconds_bucket{outcome="approved",profile_id="p1",le="300"} 2`,
		`certctl_approval_pending_age_seconds_bucket{outcome="approved",profile_id="p1",le="86400"} 2`,
		`certctl_approval_pending_age_seconds_bucket{outcome="approved",profile_id="p1",le="+Inf"} 3`,
		`certctl_approval_pending_age_seconds_sum{outcome="approved",profile_id="p1"} 400.5`,
		`certctl_approval_pending_age_seconds_count{outcome="approved",profile_id="p1"} 3`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

// Invisible and directional characters (categories Cf, Zl, Zp) are refused
// in every string field, names and notes alike; ordinary text, accents and
// other scripts are not.
func TestDecodeRefusesInvisibleCharacters(t *testing.T) {
	for _, r := range []rune{
		0x200b,  // zero width space
		0x200c,  // zero width non-joiner
		0x200d,  // zero width joiner
		0x2060,  // word joiner
		0xfeff,  // byte order mark
		0x00ad,  // soft hyphen
		0x061c,  // Arabic letter mark
		0x200e,  // left-to-right mark
		0x202a,  // left-to-right embedding
		0x2066,  // left-to-right isolate
		0x2028,  // line separator (Zl)
		0x2029,  // paragraph separator (Zp)
		0xe0001, // language tag
	} {
		for field, doc := range map[string]string{
			"name":     `{"common_name":"web` + string(r) + `.example.com"}`,
			"list":     `{"sans":["a` + string(r) + `.example.com"]}`,
			"note":     `{"note":"looks fine` + string(r) + `"}`,
			"in a map": `{"approvers":{"principals":["bob` + string(r) + `"]}}`,
		} {
			var in map[string]any
			err := decode(body(doc), &in)
			if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(domain.PublicMessage(err), fmt.Sprintf("%U", r)) {
				t.Errorf("%U in %s: %v", r, field, err)
			}
		}
	}
	var note struct {
		Note string `json:"note"`
	}
	if err := decode(body(`{"note":"Grüße, 東京, مرحبا — ok"}`), &note); err != nil {
		t.Fatalf("ordinary text: %v", err)
	}
}
