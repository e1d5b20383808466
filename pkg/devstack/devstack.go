// Package devstack runs the whole service in-process on the embedded AWS
// emulator github.com/sivchari/kumo: the same tables, the same state-machine
// file and the real function handlers (or test fakes), behind a local HTTP
// front that speaks to the functions exactly as API Gateway REST does.
//
// Everything that works around an emulator gap lives in this package and
// nowhere else: production code never imports the emulator.
package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go/middleware"
	"github.com/sivchari/kumo"

	"github.com/certctl-serverless/certctl-serverless/pkg/app"
	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/devstack/kumocompat"
	"github.com/certctl-serverless/certctl-serverless/statemachines"
)

// Emulator facts. kumo reports every resource under this account and region.
const (
	Region    = "us-east-1"
	AccountID = "000000000000"
	// DefaultStage is the API stage name used when Config.Stage is empty.
	DefaultStage = "local"
)

// HandlerFunc builds the handler of one function; app.Handler is the real one.
type HandlerFunc func(ctx context.Context, name string, cfg config.Config, awsCfg aws.Config) (any, error)

// Options configures Start.
type Options struct {
	// Addr is the front's listen address; "" means "127.0.0.1:0".
	Addr string
	// Config carries the settings read from the environment (Bypass,
	// ApprovalTimeout, Stage, LogLevel). Start fills in the table names,
	// state-machine ARN, and the CA and digest keys.
	Config config.Config
	// ReaperInterval, SweepInterval and DigestInterval drive the
	// scheduled functions; 0 starts no ticker (tests invoke the functions
	// themselves).
	ReaperInterval time.Duration
	SweepInterval  time.Duration
	DigestInterval time.Duration
	// CRLInterval drives the scheduled CRL refresh (the issue function's
	// refresh_crl action); 0 starts no ticker.
	CRLInterval time.Duration
	// Handler builds each function's handler; nil means app.Handler.
	Handler HandlerFunc
	// AWSAPIOptions are appended to the handlers' aws.Config.APIOptions,
	// e.g. to count AWS calls per operation.
	AWSAPIOptions []func(*middleware.Stack) error
	// StateMachineASL replaces the state machine definition; "" means the
	// embedded statemachines/renewal.asl.json, the one CDK deploys.
	StateMachineASL string
	// Logger receives the harness's logs; nil means slog.Default().
	Logger *slog.Logger
	// Webhooks maps notification target names to the URLs their webhook
	// posts to, through a rule and an API destination as on AWS. Every
	// event is also logged (Stack.Events and the log, at INFO).
	Webhooks map[string]string
}

// Stack is a running local deployment. Like the emulator's Lambda, it runs
// one invocation of a given function at a time; different functions run
// concurrently.
type Stack struct {
	// URL is the front's base URL: the API is at URL+"/api/v1/...".
	URL string
	// EmulatorURL is the embedded emulator's endpoint.
	EmulatorURL string
	// AWSConfig points at the emulator (static credentials, us-east-1).
	AWSConfig aws.Config
	// Config is the complete configuration the functions run with.
	Config config.Config
	// Functions maps each app function name (app.FnAPI, ...) to its ARN.
	Functions map[string]string
	// Prefix starts every resource name of this stack. The emulator's state
	// is process-global, so each stack gets a random one.
	Prefix string

	logger    *slog.Logger
	emu       *kumo.Server
	lambda    *lambda.Client
	names     map[string]string // app function name -> deployed name
	functions *functionServer
	front     *http.Server
	apiID     string
	stage     string

	ctx       context.Context // canceled by Close; parent of background work
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
	redrive   *redriveState
	eventLog  eventLog
}

// Start provisions a stack into a fresh embedded emulator and starts the
// front. On error, everything started so far is stopped again.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Handler == nil {
		opts.Handler = app.Handler
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	asl := opts.StateMachineASL
	if asl == "" {
		asl = statemachines.RenewalASL
	}
	suffix, err := randomHex(4)
	if err != nil {
		return nil, err
	}
	ln, err := listenFront(opts.Addr)
	if err != nil {
		return nil, err
	}

	// Before the emulator exists, so none of its goroutines can be using
	// the default transport while it is swapped.
	installTransport()

	s := &Stack{
		Prefix:    "certctl-" + suffix,
		Functions: map[string]string{},
		names:     map[string]string{},
		logger:    opts.Logger.With("component", "devstack"),
		apiID:     "local" + suffix,
		redrive:   newRedriveState(),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			_ = ln.Close() // not served yet, so Close does not own it
			_ = s.Close()
		}
	}()

	s.emu = kumo.NewServer()
	s.EmulatorURL = s.emu.URL
	emulatorTargets.add(s.emu.URL)
	s.AWSConfig = emulatorConfig(s.emu.URL, nil)
	s.lambda = lambda.NewFromConfig(s.AWSConfig)

	s.Config = opts.Config
	if s.Config.ConsoleURL == "" {
		// Messages link to the local front's console, as a deployed
		// stage's link to its own.
		s.Config.ConsoleURL = "http://" + ln.Addr().String() + "/console/"
	}
	if s.Config.Stage == "" {
		s.Config.Stage = DefaultStage
	}
	if s.Config.ApprovalTimeout == 0 {
		s.Config.ApprovalTimeout = config.DefaultApprovalTimeout
	}
	s.stage = s.Config.Stage
	if s.Config.PublicURL == "" {
		// What the stack's own URL is in AWS: certificates name the CRL
		// and the CA certificate under it.
		s.Config.PublicURL = "http://" + ln.Addr().String()
	}

	if err := s.createTables(ctx); err != nil {
		return nil, err
	}
	if err := s.createKeys(ctx); err != nil {
		return nil, err
	}
	if s.functions, err = startFunctionServer(s.ctx, s.logger); err != nil {
		return nil, err
	}
	s.functions.onEvent = s.serveEvents
	if err := s.createEventBus(ctx, opts.Webhooks); err != nil {
		return nil, err
	}
	if err := s.createFunctions(ctx); err != nil {
		return nil, err
	}
	if s.Config.CRLFunction == "" {
		s.Config.CRLFunction = s.names[app.FnIssue]
	}
	if err := s.createStateMachine(ctx, asl); err != nil {
		return nil, err
	}
	if err := namedRetries.register(asl, s.names); err != nil {
		return nil, err
	}

	// The configuration is complete only now, so handlers are built last,
	// each with its own aws.Config, as each Lambda has its own.
	for _, name := range app.FunctionNames {
		h, err := opts.Handler(ctx, name, s.Config, emulatorConfig(s.emu.URL, opts.AWSAPIOptions))
		if err != nil {
			return nil, fmt.Errorf("devstack: build handler %q: %w", name, err)
		}
		s.functions.set(name, s.Functions[name], h)
	}

	if _, err := s.Invoke(ctx, app.FnIssue, map[string]string{"action": "ensure_ca"}); err != nil {
		s.logger.Warn("could not create the CA certificate at start; the first issuance will try again", "error", err)
	}

	s.serveFrontOn(ln)
	s.startTicker(app.FnReaper, opts.ReaperInterval, nil)
	s.startTicker(app.FnSweep, opts.SweepInterval, nil)
	s.startTicker(app.FnIssue, opts.CRLInterval, json.RawMessage(`{"action":"refresh_crl","issuer_id":"default"}`))
	s.startTicker(app.FnDigest, opts.DigestInterval, nil)
	s.startRedriver(redrivePollInterval)

	s.logger.Info("local stack ready", "url", s.URL, "emulator", s.EmulatorURL, "prefix", s.Prefix,
		"state_machine", s.Config.StateMachineARN)
	return s, nil
}

// Close stops the front (gracefully, briefly), the tickers, the stack's
// executions, the function server and the emulator. It is safe to call more
// than once.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		within := func(d time.Duration, f func(context.Context)) {
			ctx, cancel := context.WithTimeout(context.Background(), d)
			defer cancel()
			f(ctx)
		}
		if s.front != nil {
			// Graceful for requests in flight; connections a client opened
			// but never used (browsers pre-connect) would hold Shutdown for
			// 5 s, so past the deadline the rest are simply closed.
			within(time.Second, func(ctx context.Context) {
				if err := s.front.Shutdown(ctx); err != nil {
					_ = s.front.Close()
				}
			})
		}
		s.cancel() // tickers, the redriver and running handlers
		s.wg.Wait()
		if s.emu != nil && s.Config.StateMachineARN != "" {
			// Executions outlive a closed server (emulator state is global):
			// stop ours so they never call into a closed function server.
			within(2*time.Second, s.stopExecutions)
		}
		if s.functions != nil {
			within(2*time.Second, func(ctx context.Context) {
				if err := s.functions.shutdown(ctx); err != nil {
					errs = append(errs, fmt.Errorf("functions: %w", err))
				}
			})
		}
		namedRetries.unregister(s.names)
		if s.emu != nil {
			emulatorTargets.remove(s.emu.URL)
			s.emu.Close()
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// FunctionName returns the deployed name of an app function (app.FnAPI, ...).
func (s *Stack) FunctionName(fn string) string {
	if n, ok := s.names[fn]; ok {
		return n
	}
	return fn
}

// FunctionError is a function's own failure, as Lambda reports it with
// X-Amz-Function-Error: the payload's errorType and errorMessage.
type FunctionError struct {
	Function string
	Type     string
	Message  string
	Payload  json.RawMessage
}

func (e *FunctionError) Error() string {
	if e.Type == "" {
		return fmt.Sprintf("function %s failed: %s", e.Function, e.Message)
	}
	return fmt.Sprintf("function %s failed: %s: %s", e.Function, e.Type, e.Message)
}

// Invoke calls a function synchronously through the emulator's Lambda Invoke
// API. fn is an app function name (or a deployed name or ARN); payload is
// marshalled unless it already is JSON ([]byte or json.RawMessage). A
// function error is returned as *FunctionError.
func (s *Stack) Invoke(ctx context.Context, fn string, payload any) (json.RawMessage, error) {
	var body []byte
	switch p := payload.(type) {
	case json.RawMessage:
		body = p
	case []byte:
		body = p
	default:
		var err error
		if body, err = json.Marshal(payload); err != nil {
			return nil, fmt.Errorf("devstack: marshal payload for %s: %w", fn, err)
		}
	}
	out, err := s.lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(s.FunctionName(fn)), Payload: body})
	if err != nil {
		return nil, fmt.Errorf("devstack: invoke %s: %w", fn, err)
	}
	if out.FunctionError != nil {
		fe := &FunctionError{Function: fn, Payload: out.Payload}
		var p struct {
			Type    string `json:"errorType"`
			Message string `json:"errorMessage"`
		}
		if json.Unmarshal(out.Payload, &p) == nil && (p.Type != "" || p.Message != "") {
			fe.Type, fe.Message = p.Type, p.Message
		} else {
			fe.Message = strings.TrimSpace(string(out.Payload))
		}
		return out.Payload, fe
	}
	return out.Payload, nil
}

// emulatorConfig is an aws.Config for the emulator. Each call gets its own
// APIOptions slice so appending to one config never aliases another.
//
// The SDK's standard per-service endpoint variables apply as they do in
// Lambda: with AWS_ENDPOINT_URL_DYNAMODB, _KMS, _SSM or _SECRETSMANAGER set,
// those services go to that endpoint (moto's server, for the strict tier)
// while Step Functions and Lambda stay on the emulator.
func emulatorConfig(endpoint string, apiOptions []func(*middleware.Stack) error) aws.Config {
	cfg := aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("certctl-local", "certctl-local", ""),
		BaseEndpoint: aws.String(endpoint),
		APIOptions:   append([]func(*middleware.Stack) error{kumocompat.DynamoDB}, apiOptions...),
	}
	if env, err := awsconfig.NewEnvConfig(); err == nil {
		cfg.ConfigSources = []any{env}
	}
	return cfg
}

// StrictEndpoints returns the DynamoDB and KMS endpoints set through the
// SDK's per-service variables, empty when they stay on the emulator.
func StrictEndpoints() (dynamoDB, kms string) {
	return os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"), os.Getenv("AWS_ENDPOINT_URL_KMS")
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("devstack: random: %w", err)
	}
	return hex.EncodeToString(b), nil
}
