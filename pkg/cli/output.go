package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/certctl-serverless/certctl-serverless/pkg/client"
)

// Output rules, the same for every command: -o table (the default) prints
// lists as aligned tables (trimmed to a terminal's width) and single
// objects as FIELD  VALUE lines; -o json prints the API's objects, lists in
// the API's own {"data", "next_page_token"} shape; -o yaml the same as
// YAML; -o jsonpath=TEMPLATE what the template selects from that JSON.
// Hints and progress go to stderr, so stdout stays clean for pipes.

// structured reports an output other than tables.
func (r *runner) structured() bool { return r.g.output != "table" }

// printJSON prints v as indented JSON, whatever -o says.
func (r *runner) printJSON(v any) error {
	enc := json.NewEncoder(r.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printValue prints v as -o asks: JSON, YAML or a JSONPath selection.
func (r *runner) printValue(v any) error {
	switch {
	case r.g.output == "yaml":
		tree, err := toTree(v)
		if err != nil {
			return err
		}
		_, err = io.WriteString(r.stdout, toYAML(tree))
		return err
	case strings.HasPrefix(r.g.output, "jsonpath="):
		tree, err := toTree(v)
		if err != nil {
			return err
		}
		path, err := parseJSONPath(strings.TrimPrefix(r.g.output, "jsonpath="))
		if err != nil {
			return err
		}
		out, err := path.eval(tree)
		if err != nil {
			return err
		}
		_, err = io.WriteString(r.stdout, out+"\n")
		return err
	}
	return r.printJSON(v)
}

// toTree turns v into the generic JSON value the YAML and JSONPath
// printers read.
func toTree(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var tree any
	return tree, dec.Decode(&tree)
}

// listing fetches up to the --limit items from --page-token on and prints
// them: a table with one row per item, or JSON.
func listing[T any](r *runner, pf *pageFlags, fetch func(context.Context, client.PageRequest) ([]T, string, error), header []string, row func(T) []string) error {
	if pf.limit < 0 {
		return r.usageErr("%s: --limit must be 0 or more", name(r.cmd))
	}
	items, next, err := client.Collect(r.ctx, client.PageRequest{Token: pf.token}, pf.limit, fetch)
	if err != nil {
		return err
	}
	if r.structured() {
		return r.printValue(struct {
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

// table prints aligned columns; on a terminal, lines wider than it are
// cut (with …) rather than wrapped, which would break the columns.
func (r *runner) table(header []string, rows [][]string) {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, row := range rows {
		for i := range row {
			row[i] = orDash(oneLine(row[i]))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	_ = tw.Flush()
	width := terminalWidth(r.stdout, r.env)
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		_, _ = io.WriteString(r.stdout, trimLine(line, width))
	}
}

// trimLine cuts line to width runes (0: no limit), keeping its new line.
func trimLine(line string, width int) string {
	body, nl := strings.CutSuffix(line, "\n")
	if width <= 0 || utf8.RuneCountInString(body) <= width {
		return line
	}
	runes := []rune(body)
	out := strings.TrimRight(string(runes[:width-1]), " ") + "…"
	if nl {
		out += "\n"
	}
	return out
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
	if r.structured() {
		return r.printValue(v)
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
