package cli

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/certctl-serverless/certctl-serverless/pkg/client"
)

// globals are the flags every command accepts.
type globals struct {
	endpoint, apiKey, apiKeyFile, output, context, region, config string
	sigv4                                                         bool
}

func (g *globals) register(fs *pflag.FlagSet, r *runner) {
	fs.StringVar(&g.endpoint, "endpoint", "", "the API's base `URL`, e.g. http://127.0.0.1:8080 or a stack's KeyApiUrl/IamApiUrl with its stage (default $"+EnvEndpoint+", then the context's)")
	fs.StringVar(&g.apiKeyFile, "api-key-file", "", "read the API key from `FILE` (default $"+EnvAPIKeyFile+", $"+EnvAPIKey+", then the context's key file)")
	fs.StringVar(&g.apiKey, "api-key", "", "an API key")
	_ = fs.MarkDeprecated("api-key", "a key on the command line lands in shell history and process lists; use --api-key-file or "+EnvAPIKey)
	fs.BoolVar(&g.sigv4, "sigv4", false, "sign with AWS credentials (standard AWS chain) instead of a key, for a stack's IamApiUrl")
	fs.StringVar(&g.region, "region", "", "AWS `REGION` to sign for when the endpoint's host names none (default: the AWS configuration's)")
	fs.StringVarP(&g.output, "output", "o", "table", "output `FORMAT`: table, json, yaml, or jsonpath=TEMPLATE (e.g. jsonpath={.data[*].id})")
	fs.StringVar(&g.context, "context", "", "use the config file's context `NAME` instead of the current one (default $"+EnvContext+")")
	fs.StringVar(&g.config, "config", "", "the config `FILE` (default $"+EnvConfig+", else certctl/config.json in the user config directory)")
	_ = cobra.MarkFlagFilename(fs, "api-key-file")
	_ = cobra.MarkFlagFilename(fs, "config", "json")
	r.completeFlag(fs, "output", func() []string { return []string{"table", "json", "yaml", "jsonpath="} })
	r.completeFlag(fs, "context", r.contextNames)
}

// validateOutput checks -o before anything is sent.
func (g *globals) validateOutput() error {
	switch {
	case g.output == "table", g.output == "json", g.output == "yaml":
		return nil
	case strings.HasPrefix(g.output, "jsonpath="):
		if _, err := parseJSONPath(strings.TrimPrefix(g.output, "jsonpath=")); err != nil {
			return &usageError{msg: "-o " + g.output + ": " + err.Error()}
		}
		return nil
	}
	return &usageError{msg: fmt.Sprintf("-o %q: want table, json, yaml or jsonpath=TEMPLATE", g.output)}
}

// settings is where to connect and how to authenticate, resolved from the
// flags, the environment and the config file's context, in that order.
type settings struct {
	endpoint, key, keySource, region, context string
	sigv4                                     bool
}

func (r *runner) settings() (settings, error) {
	var s settings
	ctxName, ctx, err := r.currentContext()
	if err != nil {
		return s, err
	}
	s.context = ctxName
	s.endpoint = firstOf(r.g.endpoint, r.env(EnvEndpoint), ctx.Endpoint)
	s.region = firstOf(r.g.region, ctx.Region)
	keyFile := firstOf(r.g.apiKeyFile, r.env(EnvAPIKeyFile))
	switch {
	case keyFile != "":
		s.keySource = keyFile
	case r.g.apiKey != "":
		s.key, s.keySource = r.g.apiKey, "--api-key"
	case r.env(EnvAPIKey) != "":
		s.key, s.keySource = r.env(EnvAPIKey), EnvAPIKey
	case ctx.Auth != authSigV4 && ctx.APIKeyFile != "":
		keyFile, s.keySource = ctx.APIKeyFile, "context "+ctxName+"'s key file "+ctx.APIKeyFile
	}
	if keyFile != "" {
		if s.key, err = readKeyFile(keyFile); err != nil {
			return s, err
		}
	}
	s.sigv4 = r.g.sigv4 || (ctx.Auth == authSigV4 && s.key == "")
	return s, nil
}

// readKeyFile reads an API key: the file's first line, trimmed.
func readKeyFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the API key: %w", err)
	}
	key, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if key = strings.TrimSpace(key); key == "" {
		return "", fmt.Errorf("the API key file %s is empty", path)
	}
	return key, nil
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// client builds the API client from the settings.
func (r *runner) client() (*client.Client, error) {
	s, err := r.settings()
	if err != nil {
		return nil, err
	}
	return r.clientFor(s)
}

// publicClient is a client for the routes relying parties use without a
// key (an issuer's CRL and CA certificate): credentials when configured,
// none otherwise.
func (r *runner) publicClient() (*client.Client, error) {
	s, err := r.settings()
	if err != nil {
		return nil, err
	}
	if !s.sigv4 && s.key == "" {
		if err := r.checkEndpoint(s.endpoint); err != nil {
			return nil, err
		}
		return client.New(s.endpoint, nil, nil), nil
	}
	return r.clientFor(s)
}

func (r *runner) checkEndpoint(endpoint string) error {
	if endpoint == "" {
		return r.usageErr("no endpoint: set --endpoint or %s (e.g. http://127.0.0.1:8080), or a context: certctl config set-context", EnvEndpoint)
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return r.usageErr("endpoint %q is not an http(s) URL", endpoint)
	}
	return nil
}

func (r *runner) clientFor(s settings) (*client.Client, error) {
	if err := r.checkEndpoint(s.endpoint); err != nil {
		return nil, err
	}
	var (
		auth client.Auth
		err  error
	)
	switch {
	case s.sigv4:
		if auth, err = loadSigV4(r.ctx, s.region); err != nil {
			return nil, err
		}
	case s.key != "":
		auth = client.APIKey(s.key)
	default:
		return nil, r.usageErr("no credentials: set --api-key-file or %s, or use --sigv4 (or a context with either)", EnvAPIKey)
	}
	return client.New(s.endpoint, auth, nil), nil
}

// listFlag collects a repeatable flag; with commas set, each value may also
// be a comma-separated list.
type listFlag struct {
	vals   []string
	commas bool
}

func (l *listFlag) String() string { return strings.Join(l.vals, ",") }
func (l *listFlag) Type() string   { return "strings" }

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

func (f *durationFlag) Type() string { return "duration" }

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

func addPageFlags(fs *pflag.FlagSet) *pageFlags {
	p := &pageFlags{}
	fs.IntVar(&p.limit, "limit", 100, "show at most `N` items; 0 shows all")
	fs.StringVar(&p.token, "page-token", "", "continue a listing where an earlier one stopped (`TOKEN`)")
	return p
}
