package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Function names: the folders under functions/, the asset folders under
// the assets dir (bin/<name>/bootstrap) and the suffix of each deployed
// Lambda's name. Kept in step with pkg/app.FunctionNames by a test.
const (
	FnAPI          = "api"
	FnAuthorizer   = "authorizer"
	FnApprovalWait = "approval-wait"
	FnIssue        = "issue"
	FnFinalize     = "finalize"
	FnSweep        = "sweep"
	FnReaper       = "reaper"
	FnDigest       = "digest"
)

// FunctionNames lists every function, in deployment order.
var FunctionNames = []string{FnAPI, FnAuthorizer, FnApprovalWait, FnIssue, FnFinalize, FnSweep, FnReaper, FnDigest}

// Environment variable names read by pkg/config. Kept in step by a test.
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
	EnvDigestKeyID     = "CERTCTL_DIGEST_KMS_KEY_ID"
	EnvPublicURL       = "CERTCTL_PUBLIC_URL"
	EnvCRLFunction     = "CERTCTL_CRL_FUNCTION"
)

// ASLFile is the state machine definition, relative to the repository root.
const ASLFile = "statemachines/renewal.asl.json"

// CAIssuerID is the id of the KMS-backed CA this stack creates.
const CAIssuerID = "default"

// AuthorizerCacheTTL is how long API Gateway caches an API key's authorizer
// decision. A revoked key keeps working for at most this long.
const AuthorizerCacheTTL = 30 * time.Second

// Props configures the stack. Every field has a CDK context key of the same
// name in lowerCamelCase (see contextKeys); zero values mean the defaults.
type Props struct {
	Stage                   string        // stage name; names resources certctl-<stage>-*
	Production              bool          // marks a production stage: bypass alarm, bypass guard
	Bypass                  bool          // CERTCTL_APPROVAL_BYPASS
	AllowBypassInProduction bool          // explicit override for Bypass in a production stage
	ApprovalTimeout         time.Duration // CERTCTL_JOB_AWAITING_APPROVAL_TIMEOUT
	SweepRate               time.Duration // sweep schedule cadence
	ReaperRate              time.Duration // reaper schedule cadence
	DigestRate              time.Duration // audit digest schedule cadence
	CRLRate                 time.Duration // CRL refresh schedule cadence (the issue function's refresh_crl)
	PublicURL               string        // CERTCTL_PUBLIC_URL: the base URL certificates name the CRL and CA under (default: the key API's URL)
	Architecture            string        // arm64 or x86_64
	AssetsDir               string        // holds <name>/bootstrap for every function
	RepoRoot                string        // holds statemachines/renewal.asl.json
	LogLevel                string        // CERTCTL_LOG_LEVEL
	LogRetentionDays        int           // retention of every log group
	ReservedConcurrency     bool          // reserve concurrency for sweep, reaper and issue (off by default: small accounts refuse it)
	IssueConcurrency        int           // reserved (and so maximum) concurrency of issue
	APIThrottleRate         float64       // stage-wide steady-state requests per second
	APIThrottleBurst        int           // stage-wide burst
	APIExecutionLogs        bool          // API Gateway execution logs (unmanaged log group, no retention)
	APIGatewayAccountRole   bool          // set the region's API Gateway CloudWatch Logs role (needed for access logs)
	AlarmEmail              string        // subscribe this address to the alarm topic
	AlarmTopic              bool          // create an SNS topic for alarm actions (implied by AlarmEmail)
	IAMPrincipals           string        // CERTCTL_IAM_PRINCIPALS (api only): JSON array mapping IAM callers to roles

	CallerRoles    map[string][]string // IAM roles the stack creates for callers: name → certctl roles; sessions need a source identity
	StateTableName string              // use this existing state table (a point-in-time restore) instead of creating one
	AuditTableName string              // the same for the audit table; both or neither

	AlarmPendingApprovalAge time.Duration // alarm when the oldest pending approval is older (default: half the approval timeout)
	AlarmHandoffQueue       int           // alarm when this many decisions wait for redelivery after two reaper runs
	AlarmStartQueue         int           // alarm when this many job starts wait for a retry after two reaper runs
	AlarmAPI5xx             int           // alarm when an API answers this many 5XX in five minutes

	// Notifications (see notify.go and README "Notifications").
	Notify        *NotifyConfig // the `notify` context: targets, default, escalation
	ConsoleURL    string        // CERTCTL_CONSOLE_URL
	RemindAfter   time.Duration // CERTCTL_APPROVAL_REMIND_AFTER
	EscalateAfter time.Duration // CERTCTL_APPROVAL_ESCALATE_AFTER
	ExpiryWarning time.Duration // CERTCTL_EXPIRY_WARNING

	iamRules []iamRule // IAMPrincipals, parsed
}

// Defaults.
const (
	DefaultStage             = "dev"
	DefaultApprovalTimeout   = 168 * time.Hour
	DefaultSweepRate         = time.Hour
	DefaultReaperRate        = 10 * time.Minute
	DefaultDigestRate        = time.Hour
	DefaultCRLRate           = 15 * time.Minute
	DefaultArchitecture      = "arm64"
	DefaultAssetsDir         = "bin"
	DefaultLogLevel          = "INFO"
	DefaultLogRetentionDays  = 90
	DefaultIssueConcurrency  = 5
	DefaultAPIThrottleRate   = 50
	DefaultAPIThrottleBurst  = 100
	DefaultAlarmHandoffQueue = 1
	DefaultAlarmStartQueue   = 1
	DefaultAlarmAPI5xx       = 1
)

// contextKeys are the CDK context keys the app reads, e.g. `cdk deploy -c stage=prod`
// (all but "nag", read by main, go into Props). README.md documents each.
var contextKeys = []string{
	"stage", "production", "bypass", "allowBypassInProduction", "approvalTimeout",
	"sweepRate", "reaperRate", "digestRate", "crlRate", "publicUrl", "architecture", "assetsDir", "logLevel",
	"logRetentionDays", "reservedConcurrency", "issueConcurrency", "apiThrottleRate",
	"apiThrottleBurst", "apiExecutionLogs", "apiGatewayAccountRole", "alarmEmail", "alarmTopic", "iamPrincipals",
	"alarmPendingApprovalAge", "alarmHandoffQueue", "alarmStartQueue", "alarmApi5xx", "stateTableName", "auditTableName", "callerRoles", "nag",
	"notify", "consoleUrl", "remindAfter", "escalateAfter", "expiryWarning",
}

// DefaultProps returns the defaults, with RepoRoot found from the working
// directory.
func DefaultProps() Props {
	return Props{
		Stage:                 DefaultStage,
		ApprovalTimeout:       DefaultApprovalTimeout,
		SweepRate:             DefaultSweepRate,
		ReaperRate:            DefaultReaperRate,
		DigestRate:            DefaultDigestRate,
		CRLRate:               DefaultCRLRate,
		Architecture:          DefaultArchitecture,
		LogLevel:              DefaultLogLevel,
		LogRetentionDays:      DefaultLogRetentionDays,
		AlarmHandoffQueue:     DefaultAlarmHandoffQueue,
		AlarmStartQueue:       DefaultAlarmStartQueue,
		AlarmAPI5xx:           DefaultAlarmAPI5xx,
		IssueConcurrency:      DefaultIssueConcurrency,
		APIGatewayAccountRole: true,
		APIThrottleRate:       DefaultAPIThrottleRate,
		APIThrottleBurst:      DefaultAPIThrottleBurst,
		RemindAfter:           DefaultRemindAfter,
		EscalateAfter:         DefaultEscalateAfter,
		ExpiryWarning:         DefaultExpiryWarning,
	}
}

// PropsFromContext reads Props from a context lookup (app.Node().TryGetContext).
// Values arrive as strings from `-c key=value` and as JSON values from cdk.json.
func PropsFromContext(get func(key string) any) (Props, error) {
	p := DefaultProps()
	str := func(key string) (string, bool) {
		v := get(key)
		if v == nil {
			return "", false
		}
		s := strings.TrimSpace(fmt.Sprint(v))
		return s, s != ""
	}
	var errs []error
	boolean := func(key string, dst *bool) {
		if s, ok := str(key); ok {
			b, err := parseBool(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("context %s=%q: want true or false", key, s))
				return
			}
			*dst = b
		}
	}
	duration := func(key string, dst *time.Duration) {
		if s, ok := str(key); ok {
			d, err := time.ParseDuration(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("context %s=%q: want a Go duration such as 168h, 1h or 10m", key, s))
				return
			}
			*dst = d
		}
	}
	integer := func(key string, dst *int) {
		if s, ok := str(key); ok {
			n, err := strconv.Atoi(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("context %s=%q: want an integer", key, s))
				return
			}
			*dst = n
		}
	}
	if s, ok := str("stage"); ok {
		p.Stage = s
	}
	boolean("production", &p.Production)
	boolean("bypass", &p.Bypass)
	boolean("allowBypassInProduction", &p.AllowBypassInProduction)
	duration("approvalTimeout", &p.ApprovalTimeout)
	duration("sweepRate", &p.SweepRate)
	duration("reaperRate", &p.ReaperRate)
	duration("digestRate", &p.DigestRate)
	duration("crlRate", &p.CRLRate)
	if s, ok := str("publicUrl"); ok {
		p.PublicURL = s
	}
	if s, ok := str("architecture"); ok {
		p.Architecture = s
	}
	if s, ok := str("assetsDir"); ok {
		p.AssetsDir = s
	}
	if s, ok := str("logLevel"); ok {
		p.LogLevel = s
	}
	integer("logRetentionDays", &p.LogRetentionDays)
	boolean("reservedConcurrency", &p.ReservedConcurrency)
	integer("issueConcurrency", &p.IssueConcurrency)
	if s, ok := str("apiThrottleRate"); ok {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("context apiThrottleRate=%q: want a number", s))
		}
		p.APIThrottleRate = f
	}
	integer("apiThrottleBurst", &p.APIThrottleBurst)
	boolean("apiExecutionLogs", &p.APIExecutionLogs)
	boolean("apiGatewayAccountRole", &p.APIGatewayAccountRole)
	if s, ok := str("alarmEmail"); ok {
		p.AlarmEmail = s
	}
	boolean("alarmTopic", &p.AlarmTopic)
	duration("alarmPendingApprovalAge", &p.AlarmPendingApprovalAge)
	if s, ok := str("stateTableName"); ok {
		p.StateTableName = s
	}
	if s, ok := str("auditTableName"); ok {
		p.AuditTableName = s
	}
	integer("alarmHandoffQueue", &p.AlarmHandoffQueue)
	integer("alarmStartQueue", &p.AlarmStartQueue)
	integer("alarmApi5xx", &p.AlarmAPI5xx)
	// From -c it is a JSON string; from cdk.json it may be the array itself.
	switch v := get("iamPrincipals").(type) {
	case nil:
	case string:
		p.IAMPrincipals = strings.TrimSpace(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("context iamPrincipals: %w", err))
		}
		p.IAMPrincipals = string(b)
	}
	// From -c it is a JSON string; from cdk.json it may be the object itself.
	if v := get("callerRoles"); v != nil {
		raw, ok := v.(string)
		if !ok {
			b, _ := json.Marshal(v)
			raw = string(b)
		}
		if strings.TrimSpace(raw) != "" {
			if err := json.Unmarshal([]byte(raw), &p.CallerRoles); err != nil {
				errs = append(errs, fmt.Errorf(`context callerRoles: want a JSON object such as {"approvers":["approver"]}: %w`, err))
			}
		}
	}
	duration("remindAfter", &p.RemindAfter)
	duration("escalateAfter", &p.EscalateAfter)
	duration("expiryWarning", &p.ExpiryWarning)
	if s, ok := str("consoleUrl"); ok {
		p.ConsoleURL = s
	}
	notify, err := ParseNotify(get("notify"))
	if err != nil {
		errs = append(errs, err)
	}
	p.Notify = notify
	if err := errors.Join(errs...); err != nil {
		return Props{}, err
	}
	return p, nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off":
		return false, nil
	}
	return false, errors.New("not a boolean")
}

var stageRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,19}$`)

// ErrBypassInProduction is returned when bypass is requested in a production
// stage without the explicit override.
var ErrBypassInProduction = errors.New("refusing to synthesize: bypass=true in a production stage " +
	"auto-approves every gated issuance (decided_by=system-bypass); pass -c allowBypassInProduction=true " +
	"if that is really intended")

// Normalize fills defaults, resolves paths and validates p. It returns the
// first problems found, all at once.
func (p Props) Normalize() (Props, error) {
	var errs []error
	if p.Stage == "" {
		p.Stage = DefaultStage
	}
	if !stageRE.MatchString(p.Stage) {
		errs = append(errs, fmt.Errorf("stage %q: want 1-20 characters of a-z, 0-9 and -, starting with a letter", p.Stage))
	}
	if p.Bypass && p.Production && !p.AllowBypassInProduction {
		errs = append(errs, ErrBypassInProduction)
	}
	if p.ApprovalTimeout == 0 {
		p.ApprovalTimeout = DefaultApprovalTimeout
	}
	// The same bounds as pkg/config: Step Functions caps a task's timeout at one year.
	if p.ApprovalTimeout < time.Second || p.ApprovalTimeout > 365*24*time.Hour {
		errs = append(errs, fmt.Errorf("approvalTimeout %s: want between 1s and 8760h", p.ApprovalTimeout))
	}
	if p.SweepRate == 0 {
		p.SweepRate = DefaultSweepRate
	}
	if p.ReaperRate == 0 {
		p.ReaperRate = DefaultReaperRate
	}
	if p.DigestRate == 0 {
		p.DigestRate = DefaultDigestRate
	}
	if p.CRLRate == 0 {
		p.CRLRate = DefaultCRLRate
	}
	if p.PublicURL != "" {
		u, err := url.Parse(p.PublicURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			errs = append(errs, fmt.Errorf("publicUrl %q: want an https URL such as https://pki.example.com/prod (no query or fragment)", p.PublicURL))
		}
		p.PublicURL = strings.TrimRight(p.PublicURL, "/")
	}
	for name, d := range map[string]time.Duration{"sweepRate": p.SweepRate, "reaperRate": p.ReaperRate, "crlRate": p.CRLRate, "digestRate": p.DigestRate} {
		if d < time.Minute || d%time.Minute != 0 {
			errs = append(errs, fmt.Errorf("%s %s: want a whole number of minutes, at least 1m", name, d))
		}
	}
	// The alarm on digests that stopped looks at two cadences, and an
	// alarm evaluates at most one day.
	if p.DigestRate > 12*time.Hour {
		errs = append(errs, fmt.Errorf("digestRate %s: want at most 12h (a digest bounds what truncation can hide)", p.DigestRate))
	}
	switch strings.ToLower(p.Architecture) {
	case "", "arm64", "aarch64":
		p.Architecture = "arm64"
	case "x86_64", "amd64", "x86-64":
		p.Architecture = "x86_64"
	default:
		errs = append(errs, fmt.Errorf("architecture %q: want arm64 or x86_64", p.Architecture))
	}
	if p.LogLevel == "" {
		p.LogLevel = DefaultLogLevel
	}
	switch strings.ToUpper(p.LogLevel) {
	case "DEBUG", "INFO", "WARN", "ERROR":
		p.LogLevel = strings.ToUpper(p.LogLevel)
	default:
		errs = append(errs, fmt.Errorf("logLevel %q: want debug, info, warn or error", p.LogLevel))
	}
	if p.LogRetentionDays == 0 {
		p.LogRetentionDays = DefaultLogRetentionDays
	}
	if _, ok := retentionEnum[p.LogRetentionDays]; !ok {
		errs = append(errs, fmt.Errorf("logRetentionDays %d: want one of CloudWatch's values (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)", p.LogRetentionDays))
	}
	if p.IssueConcurrency == 0 {
		p.IssueConcurrency = DefaultIssueConcurrency
	}
	if p.IssueConcurrency < 1 {
		errs = append(errs, fmt.Errorf("issueConcurrency %d: want at least 1", p.IssueConcurrency))
	}
	if p.APIThrottleRate == 0 {
		p.APIThrottleRate = DefaultAPIThrottleRate
	}
	if p.APIThrottleBurst == 0 {
		p.APIThrottleBurst = DefaultAPIThrottleBurst
	}
	if p.APIThrottleRate < 0 || p.APIThrottleBurst < 0 {
		errs = append(errs, errors.New("apiThrottleRate and apiThrottleBurst must be positive"))
	}
	if err := p.checkCallerRoles(); err != nil {
		errs = append(errs, err)
	} else if len(p.CallerRoles) > 0 {
		merged, err := p.withCallerRoleRules()
		if err != nil {
			errs = append(errs, err)
		}
		p.IAMPrincipals = merged
	}
	if p.IAMPrincipals != "" {
		rules, err := parseIAMPrincipals(p.IAMPrincipals)
		if err != nil {
			errs = append(errs, err)
		}
		p.iamRules = rules
	}
	// State and audit rows are written together: restore both tables to the
	// same moment, and use both.
	if (p.StateTableName == "") != (p.AuditTableName == "") {
		errs = append(errs, errors.New("stateTableName and auditTableName: give both (tables restored to the same moment) or neither"))
	}
	for name, v := range map[string]string{"stateTableName": p.StateTableName, "auditTableName": p.AuditTableName} {
		if v != "" && !tableNameRE.MatchString(v) {
			errs = append(errs, fmt.Errorf("%s %q: not a DynamoDB table name", name, v))
		}
	}
	if p.AlarmPendingApprovalAge == 0 {
		p.AlarmPendingApprovalAge = (p.ApprovalTimeout / 2).Truncate(time.Minute)
	}
	// The reaper expires requests at the approval timeout, so an age at or
	// past it can never be seen.
	if p.AlarmPendingApprovalAge < time.Minute || p.AlarmPendingApprovalAge >= p.ApprovalTimeout {
		errs = append(errs, fmt.Errorf("alarmPendingApprovalAge %s: want at least 1m and below approvalTimeout (%s), "+
			"which expires every request older than that", p.AlarmPendingApprovalAge, p.ApprovalTimeout))
	}
	for name, n := range map[string]int{"alarmHandoffQueue": p.AlarmHandoffQueue, "alarmStartQueue": p.AlarmStartQueue, "alarmApi5xx": p.AlarmAPI5xx} {
		if n < 1 {
			errs = append(errs, fmt.Errorf("%s %d: want at least 1", name, n))
		}
	}
	for name, d := range map[string]*time.Duration{"remindAfter": &p.RemindAfter, "escalateAfter": &p.EscalateAfter, "expiryWarning": &p.ExpiryWarning} {
		def := map[string]time.Duration{"remindAfter": DefaultRemindAfter, "escalateAfter": DefaultEscalateAfter, "expiryWarning": DefaultExpiryWarning}[name]
		if *d == 0 {
			*d = def
		}
		if *d < time.Minute || *d > 366*24*time.Hour {
			errs = append(errs, fmt.Errorf("%s %s: want between 1m and 8784h", name, *d))
		}
	}
	if p.ConsoleURL != "" {
		u, err := url.Parse(p.ConsoleURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			errs = append(errs, fmt.Errorf("consoleUrl %q: want an https URL without query, fragment or credentials", p.ConsoleURL))
		}
	}
	if p.Notify != nil {
		if err := p.Notify.check(); err != nil {
			errs = append(errs, err)
		}
	}
	if p.AlarmEmail != "" {
		p.AlarmTopic = true
		if !strings.Contains(p.AlarmEmail, "@") {
			errs = append(errs, fmt.Errorf("alarmEmail %q: not an email address", p.AlarmEmail))
		}
	}

	if p.RepoRoot == "" {
		root, err := FindRepoRoot()
		if err != nil {
			errs = append(errs, err)
		}
		p.RepoRoot = root
	}
	if p.AssetsDir == "" {
		p.AssetsDir = DefaultAssetsDir
	}
	if !filepath.IsAbs(p.AssetsDir) && p.RepoRoot != "" {
		p.AssetsDir = filepath.Join(p.RepoRoot, p.AssetsDir)
	}
	if p.RepoRoot != "" {
		if _, err := os.Stat(filepath.Join(p.RepoRoot, ASLFile)); err != nil {
			errs = append(errs, fmt.Errorf("state machine definition: %w", err))
		}
		var missing []string
		for _, fn := range FunctionNames {
			if _, err := os.Stat(filepath.Join(p.AssetsDir, fn, "bootstrap")); err != nil {
				missing = append(missing, filepath.Join(p.AssetsDir, fn, "bootstrap"))
			}
		}
		if len(missing) > 0 {
			errs = append(errs, fmt.Errorf("function assets missing (run `make build`, or pass -c assetsDir=<dir holding <name>/bootstrap>): %s",
				strings.Join(missing, ", ")))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Props{}, err
	}
	return p, nil
}

// FindRepoRoot walks up from the working directory to the folder holding
// the state machine definition.
func FindRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, ASLFile)); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no %s in %s or any parent: run from the repository", ASLFile, dir)
		}
	}
}

// ScheduleExpression renders a cadence as an EventBridge Scheduler rate().
func ScheduleExpression(d time.Duration) string {
	m := int(d / time.Minute)
	switch {
	case m%(24*60) == 0:
		return plural(m/(24*60), "day")
	case m%60 == 0:
		return plural(m/60, "hour")
	default:
		return plural(m, "minute")
	}
}

func plural(n int, unit string) string {
	if n != 1 {
		unit += "s"
	}
	return fmt.Sprintf("rate(%d %s)", n, unit)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
