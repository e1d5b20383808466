package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// errHelpFlag is what flag.Parse returns for -h and --help.
var errHelpFlag = flag.ErrHelp

// globals are the flags every command accepts.
type globals struct {
	endpoint, apiKey, output string
	sigv4                    bool
}

var globalNames = map[string]bool{"endpoint": true, "api-key": true, "sigv4": true, "o": true, "output": true}

// register binds the globals to fs with their current values as defaults,
// so a command's flags can override what the environment and the flags
// before the command set.
func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.endpoint, "endpoint", g.endpoint, "API base URL")
	fs.StringVar(&g.apiKey, "api-key", g.apiKey, "API key")
	fs.BoolVar(&g.sigv4, "sigv4", g.sigv4, "sign with AWS credentials")
	fs.StringVar(&g.output, "o", g.output, "output format: table or json")
	fs.StringVar(&g.output, "output", g.output, "output format: table or json")
}

// newFlagSet returns a flag set that reports errors instead of printing
// them: the runner decides what goes where.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// flags returns the current command's flag set, with the globals.
func (r *runner) flags() *flag.FlagSet {
	fs := newFlagSet("certctl " + r.cmd.name)
	r.g.register(fs)
	return fs
}

// parse parses flags and positional arguments in any order (the standard
// package stops at the first argument, and `certctl certs get web -o json`
// should work) and checks the number of positional arguments.
func (r *runner) parse(fs *flag.FlagSet, args []string, minArgs, maxArgs int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, errHelpFlag) {
				fmt.Fprint(r.stdout, r.usage(fs))
				return nil, errHelped
			}
			return nil, r.usageErr(fs, "%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	switch {
	case len(pos) < minArgs:
		return nil, r.usageErr(fs, "missing argument %s", strings.Fields(r.cmd.args)[len(pos)])
	case len(pos) > maxArgs:
		return nil, r.usageErr(fs, "unexpected argument %q", pos[maxArgs])
	case r.g.output != "table" && r.g.output != "json":
		return nil, r.usageErr(fs, "-o %q: want table or json", r.g.output)
	}
	return pos, nil
}

func (r *runner) usageErr(fs *flag.FlagSet, format string, args ...any) error {
	return &usageError{msg: r.cmd.name + ": " + fmt.Sprintf(format, args...), usage: r.usage(fs)}
}

// required reports the first of the named string flags left empty.
func (r *runner) required(fs *flag.FlagSet, names ...string) error {
	for _, n := range names {
		if f := fs.Lookup(n); f != nil && f.Value.String() == "" {
			return r.usageErr(fs, "--%s is required", n)
		}
	}
	return nil
}

// usage is the current command's help: synopsis, description, its own
// flags (the globals are described once, in `certctl help`).
func (r *runner) usage(fs *flag.FlagSet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: certctl %s %s\n\n%s\n", r.cmd.name, r.cmd.args, wrap(r.cmd.about, 78))
	var own []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if !globalNames[f.Name] {
			own = append(own, f)
		}
	})
	if len(own) > 0 {
		b.WriteString("\nflags:\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, f := range own {
			name, use := flag.UnquoteUsage(f)
			if name == "value" {
				name = "VALUE"
			}
			if _, isBool := f.Value.(interface{ IsBoolFlag() bool }); isBool {
				name = ""
			}
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
				use += " (default " + f.DefValue + ")"
			}
			fmt.Fprintf(tw, "  --%s %s\t%s\n", f.Name, name, use)
		}
		_ = tw.Flush()
	}
	b.WriteString("\nglobal flags: --endpoint URL, --api-key KEY, --sigv4, -o table|json (see 'certctl help')\n")
	return b.String()
}

func wrap(s string, width int) string {
	var b strings.Builder
	col := 0
	for _, w := range strings.Fields(s) {
		if col > 0 && col+1+len(w) > width {
			b.WriteByte('\n')
			col = 0
		} else if col > 0 {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += len(w)
	}
	return b.String()
}

// listFlag collects a repeatable flag; with commas set, each value may also
// be a comma-separated list.
type listFlag struct {
	vals   []string
	commas bool
}

func (l *listFlag) String() string { return strings.Join(l.vals, ",") }

func (l *listFlag) Set(s string) error {
	parts := []string{s}
	if l.commas {
		parts = strings.Split(s, ",")
	}
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			l.vals = append(l.vals, p)
		}
	}
	return nil
}

// durationFlag is a positive duration: a Go duration (720h, 90m) or whole
// days (90d), since certificate lifetimes are thought of in days.
type durationFlag struct {
	d   time.Duration
	set bool
}

func (f *durationFlag) String() string {
	if !f.set {
		return ""
	}
	return fmtSeconds(int64(f.d.Seconds()))
}

func (f *durationFlag) Set(s string) error {
	d, err := parseDuration(s)
	f.d, f.set = d, err == nil
	return err
}

func parseDuration(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("want a positive duration such as 2160h or 90d")
	}
	return d, nil
}

// pageFlags are the listing flags every list command takes.
type pageFlags struct {
	limit int
	token string
}

func addPageFlags(fs *flag.FlagSet) *pageFlags {
	p := &pageFlags{}
	fs.IntVar(&p.limit, "limit", 100, "show at most `N` items; 0 shows all")
	fs.StringVar(&p.token, "page-token", "", "continue a listing where an earlier one stopped (`TOKEN`)")
	return p
}
