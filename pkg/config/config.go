// Package config reads the functions' settings from the environment and
// fails fast, with a message naming the variable, when a value is malformed.
package config

import (
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/logging"
)

// Environment variable names. CERTCTL_APPROVAL_BYPASS and
// CERTCTL_JOB_AWAITING_APPROVAL_TIMEOUT are inherited from certctl.
const (
	EnvStateTable      = "CERTCTL_STATE_TABLE"
	EnvAuditTable      = "CERTCTL_AUDIT_TABLE"
	EnvStateMachineARN = "CERTCTL_STATE_MACHINE_ARN"
	EnvCAKeyID         = "CERTCTL_CA_KMS_KEY_ID"
	EnvBypass          = "CERTCTL_APPROVAL_BYPASS"
	EnvApprovalTimeout = "CERTCTL_JOB_AWAITING_APPROVAL_TIMEOUT"
	EnvStage           = "CERTCTL_STAGE"
	EnvLogLevel        = "CERTCTL_LOG_LEVEL"
	EnvIAMPrincipals   = "CERTCTL_IAM_PRINCIPALS"
	EnvHandoffGrace    = "CERTCTL_HANDOFF_GRACE"

	// Notifications (see README "Notifications").
	EnvEventBus         = "CERTCTL_EVENT_BUS"
	EnvRemindAfter      = "CERTCTL_APPROVAL_REMIND_AFTER"
	EnvEscalateAfter    = "CERTCTL_APPROVAL_ESCALATE_AFTER"
	EnvExpiryWarning    = "CERTCTL_EXPIRY_WARNING"
	EnvConsoleURL       = "CERTCTL_CONSOLE_URL"
	EnvNotifyTargets    = "CERTCTL_NOTIFY_TARGETS"
	EnvNotifyDefault    = "CERTCTL_NOTIFY_DEFAULT"
	EnvNotifyEscalation = "CERTCTL_NOTIFY_ESCALATION"
	EnvNotifyWebhookURL = "CERTCTL_NOTIFY_WEBHOOK_URL" // local mode only (make dev)
	EnvDigestKeyID      = "CERTCTL_DIGEST_KMS_KEY_ID"
	EnvPublicURL        = "CERTCTL_PUBLIC_URL"
	EnvCRLFunction      = "CERTCTL_CRL_FUNCTION"
)

// maxNotifyTargetsConfig bounds each list of target names.
const maxNotifyTargetsConfig = 50

// Config is every function's view of its settings; each function uses the
// subset it needs.
type Config struct {
	StateTable      string
	AuditTable      string
	StateMachineARN string
	CAKeyID         string
	// DigestKeyID is the KMS key that signs audit digests: the digest
	// function signs with it (nothing else may), the api serves its
	// public half.
	DigestKeyID     string
	Bypass          bool
	ApprovalTimeout time.Duration
	Stage           string
	LogLevel        string
	// IAMPrincipals maps SigV4 callers to principals and roles (JSON; see
	// package identity). Empty: IAM callers are identified but hold no roles.
	IAMPrincipals string
	// HandoffGrace is how long the reaper leaves a queued decision
	// hand-off or execution start to the request that queued it.
	HandoffGrace time.Duration

	// EventBus is the EventBridge bus (name or ARN) events are published on.
	EventBus string
	// RemindAfter is how old a pending request is at its first reminder,
	// and the interval between reminders; EscalateAfter, how old it is
	// when it is escalated (once). At or past the approval timeout, none
	// is ever sent.
	RemindAfter   time.Duration
	EscalateAfter time.Duration
	// ExpiryWarning is how long before its not_after a certificate whose
	// current version has not been replaced is announced as expiring.
	ExpiryWarning time.Duration
	// ConsoleURL is the web console's base URL; messages link to
	// <ConsoleURL>#/approvals/<id>. Empty: no link.
	ConsoleURL string
	// NotifyTargets are the notification targets the stack routes to (a
	// profile's notify may name only these); NotifyDefault those told when
	// a profile names none; NotifyEscalation those an escalation goes to
	// as well.
	NotifyTargets    []string
	NotifyDefault    []string
	NotifyEscalation []string
	// PublicURL is the API's public base URL, stage included (the issue
	// function names the CRL and the CA certificate under it in every
	// certificate); empty: certificates carry no such URLs.
	PublicURL string
	// CRLFunction is the function the api function invokes, without
	// waiting, to make a CRL again after a revocation (the issue function,
	// which holds the CA key); empty: the scheduled refresh does it.
	CRLFunction string
}

// DefaultApprovalTimeout is certctl's default: seven days.
const DefaultApprovalTimeout = 168 * time.Hour

// DefaultHandoffGrace leaves a request a minute to finish its own hand-off.
const DefaultHandoffGrace = time.Minute

// Notification defaults: a reminder a day, an escalation after three days,
// an expiry warning two weeks before a certificate ends.
const (
	DefaultRemindAfter   = 24 * time.Hour
	DefaultEscalateAfter = 72 * time.Hour
	DefaultExpiryWarning = 14 * 24 * time.Hour
)

// FromEnv reads the configuration from the process environment.
func FromEnv() (Config, error) { return Parse(os.Getenv) }

// Parse reads the configuration through getenv, so tests can supply values.
func Parse(getenv func(string) string) (Config, error) {
	c := Config{
		StateTable:      getenv(EnvStateTable),
		AuditTable:      getenv(EnvAuditTable),
		StateMachineARN: getenv(EnvStateMachineARN),
		CAKeyID:         getenv(EnvCAKeyID),
		DigestKeyID:     getenv(EnvDigestKeyID),
		Stage:           getenv(EnvStage),
		LogLevel:        getenv(EnvLogLevel),
		IAMPrincipals:   getenv(EnvIAMPrincipals),
		EventBus:        strings.TrimSpace(getenv(EnvEventBus)),
		CRLFunction:     strings.TrimSpace(getenv(EnvCRLFunction)),
	}
	var err error
	if _, err := logging.ParseLevel(c.LogLevel); err != nil {
		return Config{}, fmt.Errorf("%s: %w", EnvLogLevel, err)
	}
	if c.Bypass, err = ParseBool(EnvBypass, getenv(EnvBypass), false); err != nil {
		return Config{}, err
	}
	if c.ApprovalTimeout, err = ParseDuration(EnvApprovalTimeout, getenv(EnvApprovalTimeout), DefaultApprovalTimeout); err != nil {
		return Config{}, err
	}
	if c.ApprovalTimeout < time.Second {
		return Config{}, fmt.Errorf("%s=%s: must be at least 1s", EnvApprovalTimeout, c.ApprovalTimeout)
	}
	if c.HandoffGrace, err = ParseDuration(EnvHandoffGrace, getenv(EnvHandoffGrace), DefaultHandoffGrace); err != nil {
		return Config{}, err
	}
	if c.HandoffGrace < time.Second || c.HandoffGrace > time.Hour {
		return Config{}, fmt.Errorf("%s=%s: must be between 1s and 1h", EnvHandoffGrace, c.HandoffGrace)
	}
	if c.PublicURL, err = ParsePublicURL(EnvPublicURL, getenv(EnvPublicURL)); err != nil {
		return Config{}, err
	}
	// Step Functions caps a task's timeout at one year.
	if c.ApprovalTimeout > 365*24*time.Hour {
		return Config{}, fmt.Errorf("%s=%s: must be at most 8760h (one year)", EnvApprovalTimeout, c.ApprovalTimeout)
	}
	if err := c.parseNotifications(getenv); err != nil {
		return Config{}, err
	}
	return c, nil
}

// parseNotifications reads and checks the notification settings.
func (c *Config) parseNotifications(getenv func(string) string) error {
	var err error
	for _, d := range []struct {
		name string
		dst  *time.Duration
		def  time.Duration
		min  time.Duration
	}{
		{EnvRemindAfter, &c.RemindAfter, DefaultRemindAfter, time.Second},
		{EnvEscalateAfter, &c.EscalateAfter, DefaultEscalateAfter, time.Second},
		{EnvExpiryWarning, &c.ExpiryWarning, DefaultExpiryWarning, time.Minute},
	} {
		if *d.dst, err = ParseDuration(d.name, getenv(d.name), d.def); err != nil {
			return err
		}
		if *d.dst < d.min || *d.dst > 366*24*time.Hour {
			return fmt.Errorf("%s=%s: must be between %s and 8784h", d.name, *d.dst, d.min)
		}
	}
	if c.ConsoleURL, err = ParseBaseURL(EnvConsoleURL, getenv(EnvConsoleURL)); err != nil {
		return err
	}
	if c.NotifyTargets, err = parseNames(EnvNotifyTargets, getenv(EnvNotifyTargets)); err != nil {
		return err
	}
	if c.NotifyDefault, err = parseNames(EnvNotifyDefault, getenv(EnvNotifyDefault)); err != nil {
		return err
	}
	if c.NotifyEscalation, err = parseNames(EnvNotifyEscalation, getenv(EnvNotifyEscalation)); err != nil {
		return err
	}
	for name, list := range map[string][]string{EnvNotifyDefault: c.NotifyDefault, EnvNotifyEscalation: c.NotifyEscalation} {
		for _, t := range list {
			if !slices.Contains(c.NotifyTargets, t) {
				return fmt.Errorf("%s: %q is not among %s (%s)", name, t, EnvNotifyTargets, strings.Join(c.NotifyTargets, ","))
			}
		}
	}
	return nil
}

// parseNames reads a comma-separated list of target names: each like an
// id (a-z, 0-9, '.', '_', '-'), sorted and without repeats.
func parseNames(name, v string) ([]string, error) {
	var out []string
	for _, t := range strings.Split(v, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if !targetName(t) {
			return nil, fmt.Errorf("%s: %q is not a target name (want 1-63 of a-z, 0-9, '.', '_', '-', starting with a letter or digit)", name, t)
		}
		out = append(out, t)
	}
	if len(out) > maxNotifyTargetsConfig {
		return nil, fmt.Errorf("%s: at most %d targets", name, maxNotifyTargetsConfig)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// targetName reports a target name: an id, ^[a-z0-9][a-z0-9._-]{0,62}$.
// Written out: a {0,62} repeat would compile to a large regexp program at
// every cold start of every function.
func targetName(t string) bool {
	if t == "" || len(t) > 63 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// ParseBaseURL accepts an absolute http(s) URL without query or fragment
// (https, or http to a loopback host) and returns it with one trailing
// slash; empty stays empty.
func ParseBaseURL(name, v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%s=%q: want an absolute URL such as https://certs.example.com/console/, without query, fragment or credentials", name, v)
	}
	host := u.Hostname()
	loopback := host == "localhost" || host == "127.0.0.1" || host == "::1"
	if u.Scheme != "https" && !(u.Scheme == "http" && loopback) {
		return "", fmt.Errorf("%s=%q: want https (http only for a loopback host)", name, v)
	}
	return strings.TrimRight(u.String(), "/") + "/", nil
}

// Require returns an error naming the first empty setting among names.
func (c Config) Require(names ...string) error {
	values := map[string]string{
		EnvStateTable:      c.StateTable,
		EnvAuditTable:      c.AuditTable,
		EnvStateMachineARN: c.StateMachineARN,
		EnvCAKeyID:         c.CAKeyID,
		EnvEventBus:        c.EventBus,
		EnvDigestKeyID:     c.DigestKeyID,
	}
	for _, n := range names {
		if values[n] == "" {
			return fmt.Errorf("%s is required", n)
		}
	}
	return nil
}

// ParsePublicURL accepts an absolute http or https URL with no query,
// fragment or credentials, and returns it without a trailing slash; empty
// stays empty.
func ParsePublicURL(name, v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	switch {
	case err != nil:
		return "", fmt.Errorf("%s=%q: not a URL: %w", name, v, err)
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
		return "", fmt.Errorf("%s=%q: want an absolute http(s) URL such as https://abc.execute-api.eu-west-1.amazonaws.com/prod", name, v)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return "", fmt.Errorf("%s=%q: no query, fragment or credentials", name, v)
	}
	return strings.TrimRight(v, "/"), nil
}

// ParseBool accepts true/false/1/0/yes/no/on/off (any case); empty means def.
func ParseBool(name, v string, def bool) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "":
		return def, nil
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("%s=%q: want true or false", name, v)
}

// ParseDuration accepts a Go duration such as 168h or 30m; empty means def.
func ParseDuration(name, v string, def time.Duration) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		if _, numErr := strconv.Atoi(v); numErr == nil {
			return 0, fmt.Errorf("%s=%q: missing unit, write e.g. %ss or %sh", name, v, v, v)
		}
		return 0, fmt.Errorf("%s=%q: not a Go duration (e.g. 168h, 30m): %w", name, v, err)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%s=%q: must be positive", name, v)
	}
	return d, nil
}
