// Package cli is the certctl command line: it parses `certctl <noun> <verb>
// [flags] [args]`, calls the API through pkg/client and prints tables or
// JSON. Run is the whole program and touches no process state, so tests
// drive it in-process with their own environment and streams.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/client"
)

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1 // the API refused, or the network or a job failed
	exitUsage = 2 // the command line is wrong
)

// Environment variables read for the global flags' defaults.
const (
	EnvEndpoint = "CERTCTL_ENDPOINT"
	EnvAPIKey   = "CERTCTL_API_KEY"
)

// command is one `noun verb` (or a single word such as `audit`).
type command struct {
	name  string // "approvals approve"
	args  string // synopsis after the name
	about string
	run   func(r *runner, args []string) error
}

func (c command) noun() string { n, _, _ := strings.Cut(c.name, " "); return n }
func (c command) verb() string { _, v, _ := strings.Cut(c.name, " "); return v }

// commands is built by a function rather than held in a variable: the help
// command reads the table, and a variable would be an initialisation cycle.
func commands() []command {
	var all []command
	for _, group := range [][]command{profileCommands(), certCommands(), approvalCommands(),
		jobCommands(), issuerCommands(), auditCommands(), keyCommands(), bootstrapCommands()} {
		all = append(all, group...)
	}
	return all
}

// nouns lists the command groups in help order, with what they are about.
var nouns = [][2]string{
	{"profiles", "certificate policy: validity, key algorithms, approval tier"},
	{"certs", "certificates: create from a CSR, renew, fetch the chain"},
	{"approvals", "two-person approval requests: list, show, decide"},
	{"jobs", "issuance and renewal jobs"},
	{"issuers", "the CA and its certificate"},
	{"audit", "the append-only audit trail (auditor, admin)"},
	{"metrics", "approval decision metrics, Prometheus text"},
	{"keys", "API keys: create, list, revoke"},
	{"principals", "roles of a principal (admin)"},
	{"bootstrap-key", "create a key straight in DynamoDB, with AWS credentials for the stack"},
}

// aliases accept the spellings people reach for first.
var aliases = map[string]string{
	"profile": "profiles", "cert": "certs", "certificate": "certs", "certificates": "certs",
	"approval": "approvals", "job": "jobs", "issuer": "issuers", "key": "keys", "apikeys": "keys",
	"principal": "principals", "show": "get", "describe": "get",
}

// runner is one invocation: its streams, environment and global flags.
type runner struct {
	ctx            context.Context
	env            func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
	now            func() time.Time
	g              globals
	cmd            command // the command being run, for its usage text
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
	r := &runner{ctx: ctx, env: env, stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now}
	return r.exit(r.main(args))
}

// usageError is a bad command line: a one-line hint and the usage to show.
type usageError struct {
	msg, usage string
}

func (e *usageError) Error() string { return e.msg }

// errHelped means usage was asked for and printed: success.
var errHelped = errors.New("help printed")

func (r *runner) exit(err error) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, errHelped):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(r.stderr, "certctl: %s\n", ue.msg)
		if ue.usage != "" {
			fmt.Fprint(r.stderr, "\n", ue.usage)
		}
		return exitUsage
	default:
		fmt.Fprintf(r.stderr, "certctl: %s\n", visible(err.Error()))
		return exitError
	}
}

func (r *runner) main(args []string) error {
	r.g = globals{endpoint: r.env(EnvEndpoint), apiKey: r.env(EnvAPIKey), output: "table"}
	fs := newFlagSet("certctl")
	r.g.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, errHelpFlag) {
			fmt.Fprint(r.stdout, r.overview())
			return errHelped
		}
		return &usageError{msg: err.Error(), usage: r.overview()}
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return &usageError{msg: "missing command", usage: commandList() + "\nRun 'certctl help' for the global flags.\n"}
	}
	if rest[0] == "help" {
		return r.help(rest[1:])
	}
	noun := canonical(rest[0])
	var group []command
	for _, c := range commands() {
		if c.noun() == noun {
			group = append(group, c)
		}
	}
	switch {
	case len(group) == 0:
		return &usageError{msg: fmt.Sprintf("unknown command %q", rest[0]), usage: commandList() + "\nRun 'certctl help' for the global flags.\n"}
	case len(group) == 1 && group[0].verb() == "":
		r.cmd = group[0]
		return r.cmd.run(r, rest[1:])
	case len(rest) == 1:
		return &usageError{msg: noun + ": missing subcommand", usage: nounUsage(noun, group)}
	case rest[1] == "-h" || rest[1] == "--help" || rest[1] == "help":
		fmt.Fprint(r.stdout, nounUsage(noun, group))
		return errHelped
	}
	verb := canonical(rest[1])
	for _, c := range group {
		if c.verb() == verb || c.verb() == "show" && verb == "get" {
			r.cmd = c
			return c.run(r, rest[2:])
		}
	}
	return &usageError{msg: fmt.Sprintf("%s: unknown subcommand %q", noun, rest[1]), usage: nounUsage(noun, group)}
}

func canonical(word string) string {
	if a, ok := aliases[word]; ok {
		return a
	}
	return word
}

// help prints the overview, a group's usage, or (by running it with -h) a
// command's usage.
func (r *runner) help(topic []string) error {
	if len(topic) == 0 {
		fmt.Fprint(r.stdout, r.overview())
		return errHelped
	}
	return r.main(append(topic, "-h"))
}

func (r *runner) overview() string {
	var b strings.Builder
	b.WriteString("certctl drives a certctl-serverless deployment over its HTTPS API.\n\n")
	b.WriteString(commandList())
	b.WriteString(globalHelp)
	b.WriteString("\nRun 'certctl <command> -h' for a command's flags.\n")
	b.WriteString("Exit status: 0 success; 1 the API refused, the network failed, or a waited-for job failed; 2 bad usage.\n")
	return b.String()
}

// commandList is the synopsis and the commands, one line per group.
func commandList() string {
	var b strings.Builder
	b.WriteString("usage: certctl [global flags] <command> [<subcommand>] [flags] [args]\n\ncommands:\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	all := commands()
	for _, n := range nouns {
		var verbs []string
		for _, c := range all {
			if c.noun() == n[0] && c.verb() != "" {
				verbs = append(verbs, c.verb())
			}
		}
		fmt.Fprintf(tw, "  %s %s\t%s\n", n[0], strings.Join(verbs, "|"), n[1])
	}
	_ = tw.Flush()
	return b.String()
}

const globalHelp = `
global flags (accepted before or after the command):
  --endpoint URL   the API's base URL, e.g. http://127.0.0.1:8080 or a stack's
                   KeyApiUrl/IamApiUrl with its stage (default $CERTCTL_ENDPOINT)
  --api-key KEY    an API key, sent as X-Api-Key (default $CERTCTL_API_KEY)
  --sigv4          sign with AWS credentials (standard AWS chain) instead of a key,
                   for a stack's IamApiUrl
  -o table|json    output: table (default; a single object as FIELD  VALUE lines)
                   or json (the API's objects; lists as {"data","next_page_token"})
`

func nounUsage(noun string, group []command) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: certctl %s <subcommand> [flags] [args]\n\nsubcommands:\n", noun)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, c := range group {
		fmt.Fprintf(tw, "  %s\t%s\n", c.verb(), firstSentence(c.about))
	}
	_ = tw.Flush()
	fmt.Fprintf(&b, "\nRun 'certctl %s <subcommand> -h' for its flags.\n", noun)
	return b.String()
}

func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

// client builds the API client from the global flags.
func (r *runner) client(fsUsage string) (*client.Client, error) {
	if r.g.endpoint == "" {
		return nil, &usageError{msg: "no endpoint: set --endpoint or " + EnvEndpoint + " (e.g. http://127.0.0.1:8080)", usage: fsUsage}
	}
	u, err := url.Parse(r.g.endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &usageError{msg: fmt.Sprintf("endpoint %q is not an http(s) URL", r.g.endpoint), usage: fsUsage}
	}
	var auth client.Auth
	switch {
	case r.g.sigv4:
		if auth, err = client.LoadSigV4(r.ctx); err != nil {
			return nil, err
		}
	case r.g.apiKey != "":
		auth = client.APIKey(r.g.apiKey)
	default:
		return nil, &usageError{msg: "no credentials: set --api-key or " + EnvAPIKey + ", or use --sigv4", usage: fsUsage}
	}
	return client.New(r.g.endpoint, auth, nil), nil
}

// idAndClient parses a command whose only argument is an id, with no flags
// of its own, and returns the id and a client.
func (r *runner) idAndClient(args []string) (string, *client.Client, error) {
	fs := r.flags()
	pos, err := r.parse(fs, args, 1, 1)
	if err != nil {
		return "", nil, err
	}
	c, err := r.client(r.usage(fs))
	if err != nil {
		return "", nil, err
	}
	return pos[0], c, nil
}
