// Command certctl-local runs the whole service on this machine: the embedded
// AWS emulator, the real function handlers, the renewal state machine and an
// API Gateway-like front, with demo API keys. `make dev` runs it. No Docker,
// no AWS account; all state is in memory and ends with the process.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/app"
	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/devstack"
	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Settings of the local harness only; the functions' settings come from
// config.FromEnv like on Lambda.
const (
	envAddr           = "CERTCTL_LOCAL_ADDR"
	envReaperInterval = "CERTCTL_REAPER_INTERVAL"
	envSweepInterval  = "CERTCTL_SWEEP_INTERVAL"
	envDigestInterval = "CERTCTL_DIGEST_INTERVAL"
	envCRLInterval    = "CERTCTL_CRL_INTERVAL"
	credentialsFile   = ".local/credentials.json"
)

type settings struct {
	cfg           config.Config
	addr          string
	reaper, sweep time.Duration
	digest        time.Duration
	crl           time.Duration
	// webhook, when set, receives every message as the deployed stack's
	// webhook targets send it (CERTCTL_NOTIFY_WEBHOOK_URL).
	webhook string
}

// localTarget is the notification target local mode routes every event to
// when a webhook URL is given.
const localTarget = "local"

func main() {
	s, err := readSettings(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "certctl-local: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, s, os.Stdout, newLogger(s.cfg.LogLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "certctl-local: %v\n", err)
		os.Exit(1)
	}
}

func readSettings(getenv func(string) string) (settings, error) {
	var s settings
	var err error
	if s.cfg, err = config.Parse(getenv); err != nil {
		return s, err
	}
	if s.addr = strings.TrimSpace(getenv(envAddr)); s.addr == "" {
		s.addr = "127.0.0.1:8080"
	}
	if s.reaper, err = config.ParseDuration(envReaperInterval, getenv(envReaperInterval), 10*time.Minute); err != nil {
		return s, err
	}
	if s.sweep, err = config.ParseDuration(envSweepInterval, getenv(envSweepInterval), time.Hour); err != nil {
		return s, err
	}
	if s.webhook, err = webhookURL(getenv(config.EnvNotifyWebhookURL)); err != nil {
		return s, err
	}
	if s.webhook != "" {
		// One target, "local", told of everything, as a stage's default and
		// escalation target would be.
		c := &s.cfg
		if !slices.Contains(c.NotifyTargets, localTarget) {
			c.NotifyTargets = append(c.NotifyTargets, localTarget)
			slices.Sort(c.NotifyTargets)
		}
		if len(c.NotifyDefault) == 0 {
			c.NotifyDefault = []string{localTarget}
		}
		if !slices.Contains(c.NotifyEscalation, localTarget) {
			c.NotifyEscalation = append(c.NotifyEscalation, localTarget)
		}
	}
	if s.digest, err = config.ParseDuration(envDigestInterval, getenv(envDigestInterval), time.Hour); err != nil {
		return s, err
	}
	if s.crl, err = config.ParseDuration(envCRLInterval, getenv(envCRLInterval), 15*time.Minute); err != nil {
		return s, err
	}
	return s, nil
}

// webhookURL checks CERTCTL_NOTIFY_WEBHOOK_URL: an absolute http(s) URL.
// Unlike a deployed stack's (HTTPS only, its secret part in Secrets
// Manager), plain http is fine here: a local listener is the usual target.
func webhookURL(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s=%q: want an absolute http or https URL", config.EnvNotifyWebhookURL, v)
	}
	return v, nil
}

func newLogger(level string) *slog.Logger {
	l := slog.LevelInfo
	if level != "" {
		_ = l.UnmarshalText([]byte(level)) // an unknown level keeps info
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

func run(ctx context.Context, s settings, out io.Writer, log *slog.Logger) error {
	if s.cfg.Bypass {
		log.Warn("approval bypass is ON (" + config.EnvBypass + "): approval-tier requests are approved at once as " +
			domain.SystemBypass + ", without a second person")
	}
	stack, err := devstack.Start(ctx, devstack.Options{
		Addr:           s.addr,
		Config:         s.cfg,
		ReaperInterval: s.reaper,
		SweepInterval:  s.sweep,
		DigestInterval: s.digest,
		CRLInterval:    s.crl,
		Logger:         log,
		Webhooks:       webhooks(s.webhook),
	})
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			err = fmt.Errorf("%w (set %s to another address, e.g. 127.0.0.1:8081)", err, envAddr)
		}
		return err
	}
	defer func() {
		if err := stack.Close(); err != nil {
			log.Warn("shutdown was not clean", "error", err)
		}
	}()

	keys, err := stack.SeedDemoKeys(ctx)
	if err != nil {
		return err
	}
	credPath, err := writeCredentials(credentialsFile, keys)
	if err != nil {
		return err
	}
	printBanner(out, stack, s, keys, credPath)

	<-ctx.Done()
	log.Info("shutting down")
	return nil
}

// writeCredentials writes the keys as {"alice":"…",…}, readable only by the
// user: the directory is 0700 and the file 0600, replaced atomically.
func writeCredentials(path string, keys map[string]string) (string, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("credentials: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil { // MkdirAll keeps an existing dir's mode
		return "", fmt.Errorf("credentials: %w", err)
	}
	b, err := json.MarshalIndent(keys, "", "  ")
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, ".credentials-*.json") // created 0600
	if err != nil {
		return "", fmt.Errorf("credentials: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", fmt.Errorf("credentials: %w", err)
	}
	if abs, err := filepath.Abs(path); err == nil {
		return abs, nil
	}
	return path, nil
}

func webhooks(url string) map[string]string {
	if url == "" {
		return nil
	}
	return map[string]string{localTarget: url}
}

func printBanner(out io.Writer, stack *devstack.Stack, s settings, keys map[string]string, credPath string) {
	bypass := "off"
	if s.cfg.Bypass {
		bypass = "ON (approvals are skipped)"
	}
	fmt.Fprintf(out, "\ncertctl-serverless is running locally (embedded AWS emulator: no Docker, no AWS account).\n\n")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  API\t%s/api/v1\n", stack.URL)
	fmt.Fprintf(tw, "  Console\t%s/console/ (sign in with a key below)\n", stack.URL)
	fmt.Fprintf(tw, "  Health\t%s/health\n", stack.URL)
	fmt.Fprintf(tw, "  Approval timeout\t%s\n", s.cfg.ApprovalTimeout)
	fmt.Fprintf(tw, "  Approval bypass\t%s\n", bypass)
	if s.webhook != "" {
		fmt.Fprintf(tw, "  Notifications\tevery message to %s (and the log)\n", redactURL(s.webhook))
	} else {
		fmt.Fprintf(tw, "  Notifications\tin the log (set %s to post them to a webhook)\n", config.EnvNotifyWebhookURL)
	}
	fmt.Fprintf(tw, "  Reaper / sweep / CRL / audit digest\tevery %s / every %s / every %s / every %s\n", s.reaper, s.sweep, s.crl, s.digest)
	fmt.Fprintf(tw, "  Audit digest now\tAWS_ENDPOINT_URL=%s AWS_REGION=%s AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test certctl audit digest --function %s\n", stack.EmulatorURL, devstack.Region, stack.FunctionName(app.FnDigest))
	_ = tw.Flush()
	fmt.Fprintf(out, "\nAPI keys (new on every start; also in %s):\n", credPath)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, u := range devstack.DemoUsers {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", u.Name, domain.JoinRoles(u.Roles), keys[u.Name])
	}
	_ = tw.Flush()
	fmt.Fprintf(out, "\nTry:\n  curl -s -H \"X-Api-Key: %s\" %s/api/v1/profiles\n", keys["carol"], stack.URL)
	fmt.Fprintf(out, "\nStop with Ctrl-C. Everything lives in memory and is gone when this process exits.\n\n")
}

// redactURL shows a webhook URL without its path and query, which often
// are its secret (a Slack webhook's path is).
func redactURL(v string) string {
	u, err := url.Parse(v)
	if err != nil {
		return "(a webhook)"
	}
	if u.Path != "" && u.Path != "/" {
		return u.Scheme + "://" + u.Host + "/…"
	}
	return u.Scheme + "://" + u.Host
}
