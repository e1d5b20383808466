// Package config reads the functions' settings from the environment and
// fails fast, with a message naming the variable, when a value is malformed.
package config

import (
	"fmt"
	"net/url"
	"os"
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
	EnvDigestKeyID     = "CERTCTL_DIGEST_KMS_KEY_ID"
	EnvPublicURL       = "CERTCTL_PUBLIC_URL"
	EnvCRLFunction     = "CERTCTL_CRL_FUNCTION"
)

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
	return c, nil
}

// Require returns an error naming the first empty setting among names.
func (c Config) Require(names ...string) error {
	values := map[string]string{
		EnvStateTable:      c.StateTable,
		EnvAuditTable:      c.AuditTable,
		EnvStateMachineARN: c.StateMachineARN,
		EnvCAKeyID:         c.CAKeyID,
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
