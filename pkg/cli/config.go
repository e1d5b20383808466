package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/spf13/cobra"

	"github.com/certctl-serverless/certctl-serverless/pkg/client"
)

// The config file holds named contexts, as kubectl's does: where an API
// is and how to authenticate to it. It is JSON, at
// <user config dir>/certctl/config.json (os.UserConfigDir: ~/.config on
// Linux, ~/Library/Application Support on macOS, %AppData% on Windows),
// or wherever --config or CERTCTL_CONFIG say. It never holds a key, only
// the name of a file that does.

// Auth modes of a context.
const (
	authAPIKey = "api-key"
	authSigV4  = "sigv4"
)

// Context is one named connection.
type Context struct {
	Endpoint   string `json:"endpoint,omitempty"`
	Auth       string `json:"auth,omitempty"` // api-key (default) or sigv4
	Region     string `json:"region,omitempty"`
	APIKeyFile string `json:"api-key-file,omitempty"`
}

// Config is the config file.
type Config struct {
	CurrentContext string             `json:"current-context,omitempty"`
	Contexts       map[string]Context `json:"contexts,omitempty"`
}

// configPath is the config file's path, "" when no config directory is known.
func (r *runner) configPath() string {
	if p := firstOf(r.g.config, r.env(EnvConfig)); p != "" {
		return p
	}
	dir := userConfigDir(r.env)
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "certctl", "config.json")
}

// userConfigDir is os.UserConfigDir read through the runner's environment,
// so tests choose it.
func userConfigDir(env func(string) string) string {
	switch runtime.GOOS {
	case "windows":
		return env("AppData")
	case "darwin", "ios":
		if h := env("HOME"); h != "" {
			return filepath.Join(h, "Library", "Application Support")
		}
	default:
		if x := env("XDG_CONFIG_HOME"); filepath.IsAbs(x) {
			return x
		}
		if h := env("HOME"); h != "" {
			return filepath.Join(h, ".config")
		}
	}
	return ""
}

// loadConfig reads the config file; a missing file is an empty config.
func (r *runner) loadConfig() (*Config, string, error) {
	path := r.configPath()
	cfg := &Config{Contexts: map[string]Context{}}
	if path == "" {
		return cfg, "", nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, path, nil
	}
	if err != nil {
		return nil, path, fmt.Errorf("reading the config file: %w", err)
	}
	if err := json.Unmarshal(b, cfg); err != nil {
		return nil, path, fmt.Errorf("the config file %s is not valid: %w", path, err)
	}
	if cfg.Contexts == nil {
		cfg.Contexts = map[string]Context{}
	}
	return cfg, path, nil
}

func saveConfig(path string, cfg *Config) error {
	if path == "" {
		return errors.New("no config directory is known here: set " + EnvConfig + " or --config to a file")
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// currentContext is the context in use: --context, CERTCTL_CONTEXT, or the
// file's current one (none at all is fine: flags and environment suffice).
func (r *runner) currentContext() (string, Context, error) {
	cfg, path, err := r.loadConfig()
	if err != nil {
		return "", Context{}, err
	}
	name := firstOf(r.g.context, r.env(EnvContext))
	if name == "" {
		name = cfg.CurrentContext
		if name == "" {
			return "", Context{}, nil
		}
	}
	c, ok := cfg.Contexts[name]
	if !ok {
		return "", Context{}, r.usageErr("no context %q in %s (see certctl config get-contexts)", name, orDash(path))
	}
	return name, c, nil
}

func (r *runner) contextNames() []string {
	cfg, _, err := r.loadConfig()
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(cfg.Contexts))
	for n := range cfg.Contexts {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// loadSigV4 is the SigV4 signer with the standard AWS chain, and region
// for endpoints whose host names none.
func loadSigV4(ctx context.Context, region string) (client.Auth, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	return client.LoadSigV4(ctx, opts...)
}

func (r *runner) configCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Named contexts: endpoint, auth mode, region, key file",
		Long: `Contexts name an API and how to authenticate to it, as kubectl's do. They live
in a JSON file: certctl/config.json in the user config directory
($XDG_CONFIG_HOME or ~/.config on Linux, ~/Library/Application Support on macOS,
%AppData% on Windows), or the file --config or CERTCTL_CONFIG name. The file
holds no key, only the path of a file that does (written 0600 by you).
Flags and environment variables win over the context.`,
		Example: `  certctl config set-context local --endpoint http://127.0.0.1:8080 --api-key-file .local/alice.key
  certctl config set-context prod --endpoint https://abc123.execute-api.eu-west-1.amazonaws.com/prod --auth sigv4
  certctl config use-context local
  certctl config get-contexts`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			return unknownCommand(cmd, args[0])
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return r.usageErr("config: missing subcommand (one of set-context, use-context, get-contexts, current-context, view, delete-context)")
		},
	}
	var c Context
	set := r.leaf("set-context NAME", "Create or change a context; flags not given keep their values", "", 1, 1,
		func(r *runner, cmd *cobra.Command, args []string) error {
			cfg, path, err := r.loadConfig()
			if err != nil {
				return err
			}
			cur := cfg.Contexts[args[0]]
			f := cmd.Flags()
			if f.Changed("endpoint") {
				cur.Endpoint = r.g.endpoint
			}
			if f.Changed("region") {
				cur.Region = r.g.region
			}
			if f.Changed("api-key-file") {
				cur.APIKeyFile = r.g.apiKeyFile
				if cur.APIKeyFile != "" {
					if cur.APIKeyFile, err = filepath.Abs(cur.APIKeyFile); err != nil {
						return err
					}
				}
			}
			if f.Changed("auth") {
				if c.Auth != authAPIKey && c.Auth != authSigV4 {
					return r.usageErr("--auth %q: want api-key or sigv4", c.Auth)
				}
				cur.Auth = c.Auth
			}
			if strings.TrimSpace(args[0]) == "" {
				return r.usageErr("a context needs a name")
			}
			cfg.Contexts[args[0]] = cur
			if cfg.CurrentContext == "" {
				cfg.CurrentContext = args[0]
			}
			if err := saveConfig(path, cfg); err != nil {
				return err
			}
			fmt.Fprintf(r.stderr, "context %s saved in %s\n", args[0], path)
			return nil
		})
	set.Flags().StringVar(&c.Auth, "auth", authAPIKey, "how to authenticate: api-key or sigv4")
	r.completeFlag(set.Flags(), "auth", func() []string { return []string{authAPIKey, authSigV4} })
	set.Example = "  certctl config set-context local --endpoint http://127.0.0.1:8080 --api-key-file .local/alice.key"

	use := r.leaf("use-context NAME", "Make a context the current one", "", 1, 1,
		func(r *runner, cmd *cobra.Command, args []string) error {
			cfg, path, err := r.loadConfig()
			if err != nil {
				return err
			}
			if _, ok := cfg.Contexts[args[0]]; !ok {
				return fmt.Errorf("no context %q (see certctl config get-contexts)", args[0])
			}
			cfg.CurrentContext = args[0]
			if err := saveConfig(path, cfg); err != nil {
				return err
			}
			fmt.Fprintf(r.stderr, "switched to context %s\n", args[0])
			return nil
		})
	use.ValidArgsFunction = r.completeContexts

	del := r.leaf("delete-context NAME", "Remove a context", "", 1, 1,
		func(r *runner, cmd *cobra.Command, args []string) error {
			cfg, path, err := r.loadConfig()
			if err != nil {
				return err
			}
			if _, ok := cfg.Contexts[args[0]]; !ok {
				return fmt.Errorf("no context %q", args[0])
			}
			delete(cfg.Contexts, args[0])
			if cfg.CurrentContext == args[0] {
				cfg.CurrentContext = ""
			}
			return saveConfig(path, cfg)
		})
	del.ValidArgsFunction = r.completeContexts

	get := r.leaf("get-contexts", "List the contexts; * marks the current one", "", 0, 0,
		func(r *runner, cmd *cobra.Command, _ []string) error {
			cfg, _, err := r.loadConfig()
			if err != nil {
				return err
			}
			if r.structured() {
				return r.printValue(cfg)
			}
			rows := [][]string{}
			for _, n := range r.contextNames() {
				c := cfg.Contexts[n]
				cur := ""
				if n == cfg.CurrentContext {
					cur = "*"
				}
				rows = append(rows, []string{cur, n, c.Endpoint, firstOf(c.Auth, authAPIKey), c.Region, c.APIKeyFile})
			}
			if len(rows) == 0 {
				fmt.Fprintln(r.stderr, "no contexts: certctl config set-context NAME --endpoint URL ...")
				return nil
			}
			r.table([]string{"CURRENT", "NAME", "ENDPOINT", "AUTH", "REGION", "KEY FILE"}, rows)
			return nil
		})

	current := r.leaf("current-context", "Print the current context's name", "", 0, 0,
		func(r *runner, cmd *cobra.Command, _ []string) error {
			name, _, err := r.currentContext()
			if err != nil {
				return err
			}
			if name == "" {
				return errors.New("no current context (certctl config use-context NAME)")
			}
			fmt.Fprintln(r.stdout, name)
			return nil
		})

	view := r.leaf("view", "Print the config file and where it is", "", 0, 0,
		func(r *runner, cmd *cobra.Command, _ []string) error {
			cfg, path, err := r.loadConfig()
			if err != nil {
				return err
			}
			fmt.Fprintf(r.stderr, "# %s\n", orDash(path))
			if r.g.output == "table" {
				return r.printJSON(cfg)
			}
			return r.printValue(cfg)
		})
	cmd.AddCommand(set, use, get, current, view, del)
	return cmd
}
