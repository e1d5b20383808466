// Package cli is the certctl command line: `certctl <noun> <verb> [flags]
// [args]` on cobra, calling the API through pkg/client and printing
// tables, JSON, YAML or a JSONPath selection. Run is the whole program and
// touches no process state but the files it is told to read or write, so
// tests drive it in-process with their own environment and streams.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1 // the API refused, or the network or a job failed
	exitUsage = 2 // the command line is wrong
)

// Environment variables read for the global flags' defaults.
const (
	EnvEndpoint   = "CERTCTL_ENDPOINT"
	EnvAPIKey     = "CERTCTL_API_KEY"
	EnvAPIKeyFile = "CERTCTL_API_KEY_FILE"
	EnvContext    = "CERTCTL_CONTEXT"
	EnvConfig     = "CERTCTL_CONFIG"
)

// runner is one invocation: its streams, environment and global flags.
type runner struct {
	ctx            context.Context
	env            func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
	now            func() time.Time
	g              globals
	cmd            *cobra.Command // the command being run
	completions    map[*pflag.Flag]cobra.CompletionFunc
}

// Run runs certctl with args (without the program name) and returns the
// exit status: 0 success, 1 an API, network or job failure, 2 bad usage.
func Run(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if env == nil {
		env = func(string) string { return "" }
	}
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	r := &runner{ctx: ctx, env: env, stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now,
		completions: map[*pflag.Flag]cobra.CompletionFunc{}}
	root := r.rootCommand()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if cmd != nil {
		r.cmd = cmd
	}
	return r.exit(err)
}

// usageError is a bad command line: one line saying what is wrong; the
// command it concerns names the help to read.
type usageError struct {
	msg string
}

func (e *usageError) Error() string { return e.msg }

func (r *runner) exit(err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(r.stderr, "certctl: %s\n", visible(ue.msg))
		fmt.Fprintf(r.stderr, "Run '%s --help' for usage.\n", r.commandPath())
		return exitUsage
	default:
		fmt.Fprintf(r.stderr, "certctl: %s\n", visible(friendly(r, err)))
		return exitError
	}
}

// commandPath names the command a usage error concerns, for the hint.
func (r *runner) commandPath() string {
	if r.cmd == nil {
		return "certctl"
	}
	return r.cmd.CommandPath()
}

// name is a command's path without the program's name: "approvals approve".
func name(cmd *cobra.Command) string {
	return strings.TrimPrefix(cmd.CommandPath(), "certctl ")
}

// usageErr is a usage error about the current command.
func (r *runner) usageErr(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

const rootLong = `certctl drives a certctl-serverless deployment over its HTTPS API: profiles,
certificates, two-person approvals, jobs, the audit trail and API keys.

Where to connect comes from flags, then the environment, then the current
context of the config file (see 'certctl config --help'):
  --endpoint, CERTCTL_ENDPOINT          the API's base URL
  --api-key-file, CERTCTL_API_KEY_FILE  a file holding an API key
  CERTCTL_API_KEY                       an API key
  --sigv4                               sign with AWS credentials instead

Output: -o table (default), json, yaml, or jsonpath={.items[*].id} style
templates on the JSON; hints and progress go to stderr.
Exit status: 0 success; 1 the API refused, the network failed, or a waited-for
job failed; 2 bad usage.`

const rootExample = `  # local mode (make dev): a context, then use it
  certctl config set-context local --endpoint http://127.0.0.1:8080 --api-key-file .local/alice.key
  certctl config use-context local
  certctl certs list
  certctl approvals list --state pending -o json
  certctl certs create --cn web.example.com --profile prod-web --new-key --key-out web.key --wait`

func (r *runner) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "certctl",
		Short:         "certctl drives a certctl-serverless deployment over its HTTPS API",
		Long:          rootLong,
		Example:       rootExample,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Loading the context reads the config file; it happens for every
		// command but `config` ones, which read and write it themselves.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			r.cmd = cmd
			return r.g.validateOutput()
		},
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cmd, args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			var names []string
			for _, c := range cmd.Commands() {
				if c.IsAvailableCommand() {
					names = append(names, c.Name())
				}
			}
			return r.usageErr("missing command (one of %s)", strings.Join(names, ", "))
		},
	}
	root.SetIn(r.stdin)
	root.SetOut(r.stdout)
	root.SetErr(r.stderr)
	root.SetContext(r.ctx)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		r.cmd = cmd
		return flagError(cmd, err)
	})
	root.CompletionOptions.HiddenDefaultCmd = false
	r.g.register(root.PersistentFlags(), r)

	for _, g := range groups {
		root.AddCommand(r.group(g))
	}
	root.AddCommand(r.auditCommand(), r.metricsCommand(), r.bootstrapCommand(), r.versionCommand(), r.configCommand())
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Short = "Print a shell completion script: bash, zsh, fish or powershell"
		}
	}
	r.registerCompletions(root)
	diagnosticsToStderr(root, r.stderr)
	return root
}

// diagnosticsToStderr sends what the flag parser says on its own (the
// warning for a deprecated flag such as --api-key) to stderr. Cobra would
// print it on the command's output, stdout, where it would break
// `certctl … -o json | jq`. Stdout carries only the command's result.
func diagnosticsToStderr(c *cobra.Command, stderr io.Writer) {
	c.Flags().SetOutput(stderr)
	c.PersistentFlags().SetOutput(stderr)
	for _, sub := range c.Commands() {
		diagnosticsToStderr(sub, stderr)
	}
}

// group is one noun and its verbs.
type group struct {
	name, short string
	aliases     []string
	verbs       func(r *runner) []*cobra.Command
}

var groups = []group{
	{"profiles", "Certificate policy: names, validity, key algorithms, approval tier", []string{"profile"}, profileCommands},
	{"certs", "Certificates: create from a CSR or a new key, renew, fetch the chain", []string{"cert", "certificate", "certificates"}, certCommands},
	{"approvals", "Two-person approval requests: list, show, decide", []string{"approval"}, approvalCommands},
	{"jobs", "Issuance and renewal jobs", []string{"job"}, jobCommands},
	{"issuers", "The CA and its certificate", []string{"issuer"}, issuerCommands},
	{"keys", "API keys: create, list, revoke", []string{"key", "apikeys"}, keyCommands},
	{"principals", "Roles of a principal (admin)", []string{"principal"}, principalCommands},
}

// group builds a noun: run alone it is a usage error naming its verbs; an
// unknown verb is one too, with the nearest verbs suggested.
func (r *runner) group(g group) *cobra.Command {
	cmd := &cobra.Command{
		Use:     g.name,
		Short:   g.short,
		Aliases: g.aliases,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			return unknownCommand(cmd, args[0])
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			var verbs []string
			for _, c := range cmd.Commands() {
				if c.IsAvailableCommand() {
					verbs = append(verbs, c.Name())
				}
			}
			return r.usageErr("%s: missing subcommand (one of %s)", g.name, strings.Join(verbs, ", "))
		},
	}
	cmd.AddCommand(g.verbs(r)...)
	return cmd
}

// unknownCommand is the error for a word that names no command, with the
// nearest names ("did you mean").
func unknownCommand(cmd *cobra.Command, word string) error {
	cmd.SuggestionsMinimumDistance = 2
	msg := fmt.Sprintf("unknown command %q", word)
	if cmd.HasParent() {
		msg = fmt.Sprintf("%s: unknown subcommand %q", name(cmd), word)
	}
	if s := cmd.SuggestionsFor(word); len(s) > 0 {
		msg += "; did you mean " + quoteJoin(s) + "?"
	}
	return &usageError{msg: msg}
}

// flagError turns pflag's errors into one-line usage errors, suggesting
// the nearest flag for a misspelt one.
func flagError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	var name string
	switch {
	case strings.HasPrefix(msg, "unknown flag: --"):
		name = strings.TrimPrefix(msg, "unknown flag: --")
	case strings.HasPrefix(msg, "unknown shorthand flag: "):
		return &usageError{msg: msg}
	}
	if name != "" {
		if s := nearestFlag(cmd, name); s != "" {
			msg += "; did you mean --" + s + "?"
		}
	}
	return &usageError{msg: msg}
}

// nearestFlag is the flag of cmd closest to name, if close enough to be a typo.
func nearestFlag(cmd *cobra.Command, name string) string {
	best, bestD := "", 3
	visit := func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		if d := levenshtein(name, f.Name); d < bestD || (d == bestD && best == "") && d <= 2 {
			best, bestD = f.Name, d
		} else if strings.HasPrefix(f.Name, name) && best == "" {
			best = f.Name
		}
	}
	cmd.Flags().VisitAll(visit)
	cmd.InheritedFlags().VisitAll(visit)
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func quoteJoin(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + w + "'"
	}
	return strings.Join(q, " or ")
}

// leaf builds a verb: use is "verb ARGS...", the number of positional
// arguments is checked with messages naming the missing one.
func (r *runner) leaf(use, short, long string, minArgs, maxArgs int, run func(r *runner, cmd *cobra.Command, args []string) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args: func(cmd *cobra.Command, args []string) error {
			r.cmd = cmd
			names := strings.Fields(use)[1:]
			switch {
			case len(args) < minArgs:
				missing := "argument"
				if len(args) < len(names) {
					missing = strings.Trim(names[len(args)], "[]")
				}
				return r.usageErr("%s: missing argument %s", name(cmd), missing)
			case len(args) > maxArgs:
				return r.usageErr("%s: unexpected argument %q", name(cmd), args[maxArgs])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			r.cmd = cmd
			return run(r, cmd, args)
		},
	}
	if long == "" {
		cmd.Long = short
	}
	return cmd
}

// required reports the first of the named flags left empty.
func (r *runner) required(cmd *cobra.Command, names ...string) error {
	for _, n := range names {
		if f := cmd.Flags().Lookup(n); f != nil && f.Value.String() == "" {
			return r.usageErr("%s: --%s is required", name(cmd), n)
		}
	}
	return nil
}
