package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/certctl-serverless/certctl-serverless/pkg/client"
)

// Output rules, the same for every command: -o table (the default) prints
// lists as aligned tables and single objects as FIELD  VALUE lines; -o json
// prints the API's objects, lists in the API's own {"data",
// "next_page_token"} shape. Hints and progress go to stderr, so stdout stays
// clean for pipes.

func (r *runner) jsonOutput() bool { return r.g.output == "json" }

func (r *runner) printJSON(v any) error {
	enc := json.NewEncoder(r.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// listing fetches up to the --limit items from --page-token on and prints
// them: a table with one row per item, or JSON.
func listing[T any](r *runner, pf *pageFlags, fetch func(context.Context, client.PageRequest) ([]T, string, error), header []string, row func(T) []string) error {
	if pf.limit < 0 {
		return &usageError{msg: r.cmd.name + ": --limit must be 0 or more"}
	}
	items, next, err := client.Collect(r.ctx, client.PageRequest{Token: pf.token}, pf.limit, fetch)
	if err != nil {
		return err
	}
	if r.jsonOutput() {
		return r.printJSON(struct {
			Data          []T    `json:"data"`
			NextPageToken string `json:"next_page_token,omitempty"`
		}{items, next})
	}
	if len(items) == 0 {
		fmt.Fprintln(r.stderr, "no results")
		return nil
	}
	rows := make([][]string, len(items))
	for i, it := range items {
		rows[i] = row(it)
	}
	r.table(header, rows)
	if next != "" {
		fmt.Fprintf(r.stderr, "more results: add --page-token %s (or --limit 0 for all)\n", next)
	}
	return nil
}

func (r *runner) table(header []string, rows [][]string) {
	tw := tabwriter.NewWriter(r.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, row := range rows {
		for i := range row {
			row[i] = orDash(oneLine(row[i]))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	_ = tw.Flush()
}

// field is one line of a single object's view.
type field struct{ name, value string }

// describe prints fields as aligned "name  value" lines, leaving out empty ones.
func (r *runner) describe(fields ...field) {
	tw := tabwriter.NewWriter(r.stdout, 0, 0, 2, ' ', 0)
	for _, f := range fields {
		if f.value != "" {
			fmt.Fprintf(tw, "%s\t%s\n", f.name, oneLine(f.value))
		}
	}
	_ = tw.Flush()
}

// show prints v as JSON, or as the fields view.
func (r *runner) show(v any, fields func() []field) error {
	if r.jsonOutput() {
		return r.printJSON(v)
	}
	r.describe(fields()...)
	return nil
}

// oneLine keeps a table cell on its line, and shows what the server sent
// as text: no control character or bidirectional override reaches the
// terminal, where it could move the cursor or make one name look like
// another.
func oneLine(s string) string {
	return visible(strings.Join(strings.Fields(s), " "))
}

// visible escapes every rune that is not printable text (\x1b, \u202e).
func visible(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		case r == '\n' || r == '\t' || (unicode.IsPrint(r) && !unicode.Is(unicode.Bidi_Control, r)):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func fmtTimeP(t *time.Time) string {
	if t == nil {
		return ""
	}
	return fmtTime(*t)
}

func fmtDate(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

// fmtSeconds shows a duration in the largest whole unit: 90d, 36h, 45m.
func fmtSeconds(s int64) string {
	switch {
	case s == 0:
		return ""
	case s%86400 == 0:
		return fmt.Sprintf("%dd", s/86400)
	case s%3600 == 0:
		return fmt.Sprintf("%dh", s/3600)
	}
	return (time.Duration(s) * time.Second).String()
}

// fmtAge is how long ago t was, roughly, as tables show ages.
func (r *runner) fmtAge(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := r.now().Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", max(0, int(d.Seconds())))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func join[T ~string](vals []T) string {
	s := make([]string, len(vals))
	for i, v := range vals {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}
