// Package iamrecord records, during a local run, every AWS request the
// functions make, as IAM would authorize it: which role, which IAM action,
// which resource ARN. Nothing local evaluates IAM policies, so the infra
// module checks a recording against the synthesized roles instead
// (infra/conformance_test.go). Harness code only: production never imports it.
//
// Install Recorder.APIOption on every function's aws.Config, ColdStart on
// each one's own, report Step Functions and scheduler invocations with
// Invoked, register each stack's resources with AddStack, and write the
// Recording with WriteFile.
package iamrecord

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/aws/aws-lambda-go/lambdacontext"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// Format names the file format; the evaluator refuses any other.
const Format = "certctl-iam-recording/1"

// Principals: whose role a call needs.
const (
	// PrincipalFunction is a function's execution role; Call.Function names it.
	PrincipalFunction = "function"
	// PrincipalStateMachine is the state machine's role.
	PrincipalStateMachine = "state-machine"
	// PrincipalScheduler is the schedule role of the function in Call.Function.
	PrincipalScheduler = "scheduler"
)

// Call is one authorized request, deduplicated.
type Call struct {
	Principal string `json:"principal"`
	Function  string `json:"function,omitempty"` // app function name (api, issue, ...)
	Action    string `json:"action"`             // IAM action, e.g. dynamodb:PutItem
	Resource  string `json:"resource"`           // ARN; "*" when the recorder cannot tell
}

// Stack is one local stack's resources, as the emulators named them.
type Stack struct {
	Prefix       string            `json:"prefix"`
	StateTable   string            `json:"state_table"`
	AuditTable   string            `json:"audit_table"`
	CAKey        string            `json:"ca_key"`
	DigestKey    string            `json:"digest_key"`
	StateMachine string            `json:"state_machine"`
	EventBus     string            `json:"event_bus"` // the bus's ARN
	Functions    map[string]string `json:"functions"` // app function name -> ARN
	// Stage names the stack's delivery targets (parameters under
	// /certctl/<stage>/, secrets under certctl/<stage>/).
	Stage string `json:"stage,omitempty"`
}

// StackCalls is a stack and the calls made on its behalf.
type StackCalls struct {
	Stack
	Calls []Call `json:"calls"`
}

// Unattributed is a request no registered stack could account for. The
// evaluator fails on these: an unchecked call is not a passed one.
type Unattributed struct {
	Principal string `json:"principal"`
	Caller    string `json:"caller,omitempty"`
	Action    string `json:"action"`
	Target    string `json:"target"`
	Reason    string `json:"reason"`
}

// Recording is the file's content.
type Recording struct {
	Format       string         `json:"format"`
	Stacks       []StackCalls   `json:"stacks"`
	Unattributed []Unattributed `json:"unattributed,omitempty"`
}

// Recorder collects calls. Resources are resolved only when the recording
// is taken: a stack's first calls (creating its CA at start) come before
// the harness can register it, and a table's ARN depends on which emulator
// serves DynamoDB.
type Recorder struct {
	mu     sync.Mutex
	stacks []Stack
	raw    map[rawCall]struct{}
}

// New returns an empty Recorder.
func New() *Recorder { return &Recorder{raw: map[rawCall]struct{}{}} }

// rawCall is a request as seen, before its resource is resolved.
type rawCall struct {
	principal string
	caller    string // invoked function ARN, or an app function name (cold start)
	action    string
	target    target
}

type targetKind int

const (
	targetAny       targetKind = iota // unknown resource: needs a grant on "*"
	targetARN                         // name is the resource ARN
	targetTable                       // name is a table name or ARN; index is a GSI
	targetKey                         // name is a KMS key id or ARN
	targetTaskToken                   // the state machine whose task the token belongs to
	targetFunction                    // name is a deployed function name or ARN
	targetBus                         // name is an event bus name or ARN
	targetParameter                   // name is an SSM parameter name
	targetSecret                      // name is a Secrets Manager secret name
)

type target struct {
	kind  targetKind
	name  string
	index string
}

func (t target) String() string {
	switch t.kind {
	case targetTable:
		if t.index != "" {
			return "table " + t.name + " index " + t.index
		}
		return "table " + t.name
	case targetKey:
		return "key " + t.name
	case targetTaskToken:
		return "a task token"
	case targetFunction:
		return "function " + t.name
	case targetBus:
		return "event bus " + t.name
	case targetARN:
		return t.name
	case targetParameter:
		return "parameter " + t.name
	case targetSecret:
		return "secret " + t.name
	}
	return "*"
}

const (
	recordMiddlewareID    = "certctlIAMRecord"
	coldStartMiddlewareID = "certctlIAMColdStart"
)

// APIOption adds the recording middleware to an SDK operation's stack. It
// runs at the end of the Initialize step: the typed input is final, every
// client has put its service and operation names on the context, and the
// SDK has validated the input (a request it refuses never reaches IAM).
func (r *Recorder) APIOption(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc(recordMiddlewareID, func(
		ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler,
	) (middleware.InitializeOutput, middleware.Metadata, error) {
		r.record(callerOf(ctx), in.Parameters, awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx))
		return next.HandleInitialize(ctx, in)
	}), middleware.After)
}

type coldStartKey struct{}

// ColdStart names the function whose aws.Config this option is added to,
// for calls made outside an invocation: a Lambda's initialization (the
// issue function reads its CA key at cold start) runs with its role too,
// but has no invocation context to tell whose it is.
func ColdStart(function string) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc(coldStartMiddlewareID, func(
			ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler,
		) (middleware.InitializeOutput, middleware.Metadata, error) {
			return next.HandleInitialize(context.WithValue(ctx, coldStartKey{}, function), in)
		}), middleware.Before)
	}
}

// callerOf is the invoked function's ARN, or the cold-start label, or "".
func callerOf(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.InvokedFunctionArn != "" {
		return lc.InvokedFunctionArn
	}
	name, _ := ctx.Value(coldStartKey{}).(string)
	return name
}

func (r *Recorder) record(caller string, params any, serviceID, operation string) {
	for _, a := range authorizations(params, serviceID, operation) {
		r.add(rawCall{principal: PrincipalFunction, caller: caller, action: a.action, target: a.target})
	}
}

// Invoked records a function invocation made by the state machine or a
// schedule (PrincipalStateMachine or PrincipalScheduler); function is the
// deployed name or ARN the invoker used.
func (r *Recorder) Invoked(principal, function string) {
	r.add(rawCall{principal: principal, action: "lambda:InvokeFunction", target: target{kind: targetFunction, name: function}})
}

func (r *Recorder) add(c rawCall) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.raw[c] = struct{}{}
}

// AddStack registers a stack whose calls are to be recorded.
func (r *Recorder) AddStack(s Stack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stacks = append(r.stacks, s)
}

// Recording resolves every call against the registered stacks.
func (r *Recorder) Recording() Recording {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := Recording{Format: Format}
	byStack := make([]map[Call]bool, len(r.stacks))
	for i := range byStack {
		byStack[i] = map[Call]bool{}
	}
	for raw := range r.raw {
		i, call, reason := resolve(r.stacks, raw)
		if reason != "" {
			rec.Unattributed = append(rec.Unattributed, Unattributed{
				Principal: raw.principal, Caller: raw.caller, Action: raw.action, Target: raw.target.String(), Reason: reason,
			})
			continue
		}
		byStack[i][call] = true
	}
	for i, s := range r.stacks {
		sc := StackCalls{Stack: s, Calls: []Call{}}
		for c := range byStack[i] {
			sc.Calls = append(sc.Calls, c)
		}
		sort.Slice(sc.Calls, func(a, b int) bool { return callLess(sc.Calls[a], sc.Calls[b]) })
		rec.Stacks = append(rec.Stacks, sc)
	}
	sort.Slice(rec.Unattributed, func(a, b int) bool {
		x, y := rec.Unattributed[a], rec.Unattributed[b]
		return x.Principal+x.Caller+x.Action+x.Target < y.Principal+y.Caller+y.Action+y.Target
	})
	return rec
}

func callLess(a, b Call) bool {
	if a.Principal != b.Principal {
		return a.Principal < b.Principal
	}
	if a.Function != b.Function {
		return a.Function < b.Function
	}
	if a.Action != b.Action {
		return a.Action < b.Action
	}
	return a.Resource < b.Resource
}

// WriteFile writes the recording as indented JSON, replacing path
// atomically so a reader never sees half a file.
func (r *Recorder) WriteFile(path string) error {
	b, err := json.MarshalIndent(r.Recording(), "", "  ")
	if err != nil {
		return fmt.Errorf("iamrecord: encode: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("iamrecord: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("iamrecord: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("iamrecord: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("iamrecord: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("iamrecord: write %s: %w", path, err)
	}
	return nil
}
