// Package faults injects, on a seeded schedule, the failures AWS produces
// and no emulator here does: transaction conflicts, throttling, server
// errors, answers lost after a request was applied, a function dying
// between two of its AWS calls, and duplicate task invocations. It is test
// harness: production code never imports it.
//
// Install Injector.APIOption on the functions' aws.Config
// (devstack.Options.AWSAPIOptions) and wrap their handlers with
// Injector.Wrap (devstack.Options.Handler).
package faults

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Kind is a kind of fault.
type Kind string

// The faults. Conflict, Throttle and ServerError happen before the request
// reaches AWS (nothing is applied); LostResponse after it was applied (the
// caller cannot tell); Die panics the handler before or after a call, as a
// crashed Lambda runtime; Duplicate runs a task invocation twice at once.
const (
	Conflict     Kind = "transaction_conflict"
	Throttle     Kind = "throttling"
	ServerError  Kind = "server_error"
	LostResponse Kind = "lost_response"
	Die          Kind = "handler_died"
	Duplicate    Kind = "duplicate_invocation"
	// PartialFailure makes PutEvents refuse some of its entries (they are
	// not put; the others are), as EventBridge does when throttled.
	PartialFailure Kind = "partial_failure"
)

// ExitErrorType is the errorType Lambda reports when a function's runtime
// process dies; Step Functions retries it by that name.
const ExitErrorType = "Runtime.ExitError"

// Injector decides, per AWS call and per task invocation, whether to inject
// a fault. All decisions come from one seeded generator.
type Injector struct {
	rate    float64
	enabled atomic.Bool

	mu     sync.Mutex
	rng    *rand.Rand
	counts map[Kind]int
	script []scripted
}

// scripted is a fault Script forces on the next calls of one operation.
type scripted struct {
	op   string // "Service.Operation"
	kind Kind
	left int
}

// Script forces kind on the next n calls (per attempt for Throttle and
// ServerError, per operation otherwise) of service.op, such as
// ("DynamoDB", "TransactWriteItems"), whatever the rate, while injection is
// enabled: a test's deterministic fault.
func (i *Injector) Script(service, op string, kind Kind, n int) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.script = append(i.script, scripted{op: service + "." + op, kind: kind, left: n})
}

// Unscript drops every fault Script forced that has not fired.
func (i *Injector) Unscript() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.script = nil
}

// scripted returns the fault scripted for op among kinds, using it up.
func (i *Injector) scripted(op string, kinds ...Kind) Kind {
	if !i.enabled.Load() {
		return ""
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	for n := range i.script {
		sc := &i.script[n]
		if sc.op == op && sc.left > 0 && slices.Contains(kinds, sc.kind) {
			sc.left--
			i.counts[sc.kind]++
			return sc.kind
		}
	}
	return ""
}

// New returns an injector that gives each eligible call a fault with
// probability rate. It starts disabled.
func New(seed uint64, rate float64) *Injector {
	return &Injector{rate: rate, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), counts: map[Kind]int{}}
}

// Enable turns injection on or off (off while a test sets up or checks).
func (i *Injector) Enable(on bool) { i.enabled.Store(on) }

// Counts returns how many faults of each kind were injected.
func (i *Injector) Counts() map[Kind]int {
	i.mu.Lock()
	defer i.mu.Unlock()
	out := make(map[Kind]int, len(i.counts))
	for k, v := range i.counts {
		out[k] = v
	}
	return out
}

// Total is the number of faults injected.
func (i *Injector) Total() int {
	n := 0
	for _, v := range i.Counts() {
		n += v
	}
	return n
}

// String summarises the counts, e.g. "conflict=3 throttling=5".
func (i *Injector) String() string {
	c := i.Counts()
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for n, k := range keys {
		parts[n] = fmt.Sprintf("%s=%d", k, c[Kind(k)])
	}
	return strings.Join(parts, " ")
}

// pick returns the fault to inject among kinds, or "" for none.
func (i *Injector) pick(kinds ...Kind) Kind {
	if !i.enabled.Load() || len(kinds) == 0 {
		return ""
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.rng.Float64() >= i.rate {
		return ""
	}
	k := kinds[i.rng.IntN(len(kinds))]
	i.counts[k]++
	return k
}

func (i *Injector) intn(n int) int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.rng.IntN(n)
}

// targets are the operations that get faults, per service: every DynamoDB
// operation, the Step Functions calls that start and resume executions,
// and the CA's KMS Sign.
func targeted(service, op string) bool {
	switch service {
	case "DynamoDB":
		return true
	case "SFN":
		return op == "StartExecution" || op == "SendTaskSuccess"
	case "KMS":
		return op == "Sign"
	case "EventBridge":
		return op == "PutEvents"
	}
	return false
}

// APIOption adds the fault middlewares to an SDK client's stack: one per
// operation (conflicts, lost answers, deaths) and one per HTTP attempt
// (throttling and server errors, which the SDK retries as it would on AWS).
func (i *Injector) APIOption(st *middleware.Stack) error {
	if err := st.Initialize.Add(middleware.InitializeMiddlewareFunc("faultsPerOperation", i.perOperation), middleware.After); err != nil {
		return err
	}
	return st.Deserialize.Add(middleware.DeserializeMiddlewareFunc("faultsPerAttempt", i.perAttempt), middleware.Before)
}

func (i *Injector) perOperation(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	service, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
	if !targeted(service, op) {
		return next.HandleInitialize(ctx, in)
	}
	kinds := []Kind{LostResponse, Die}
	tx, isTx := in.Parameters.(*dynamodb.TransactWriteItemsInput)
	if isTx {
		// Conflicts are the transaction fault AWS produces most under load.
		kinds = append(kinds, Conflict, Conflict)
	}
	if singleWrite(in.Parameters) {
		// A write to an item a transaction is writing fails the same way.
		kinds = append(kinds, Conflict)
	}
	put, isPut := in.Parameters.(*eventbridge.PutEventsInput)
	if isPut {
		kinds = append(kinds, PartialFailure)
	}
	kind := i.scripted(service+"."+op, append(kinds, Conflict, PartialFailure)...)
	if kind == "" {
		kind = i.pick(kinds...)
	}
	switch kind {
	case PartialFailure:
		if isPut && len(put.Entries) > 0 {
			return i.partialPut(ctx, in, next, put)
		}
	case Conflict:
		if isTx {
			return middleware.InitializeOutput{}, middleware.Metadata{}, conflict(len(tx.TransactItems), i.intn(max(1, len(tx.TransactItems))))
		}
		if singleWrite(in.Parameters) {
			return middleware.InitializeOutput{}, middleware.Metadata{}, httpError(http.StatusBadRequest,
				&ddbtypes.TransactionConflictException{Message: aws.String("Transaction is ongoing for the item (fault injected)")})
		}
	case Die:
		if i.intn(2) == 0 {
			panic(died{service + "." + op + " (before)"})
		}
		out, md, err := next.HandleInitialize(ctx, in)
		if err == nil {
			panic(died{service + "." + op + " (after)"})
		}
		return out, md, err
	case LostResponse:
		out, md, err := next.HandleInitialize(ctx, in)
		if err != nil {
			return out, md, err
		}
		return middleware.InitializeOutput{}, md, &lostResponse{op: service + "." + op}
	}
	return next.HandleInitialize(ctx, in)
}

func (i *Injector) perAttempt(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	service, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
	if !targeted(service, op) {
		return next.HandleDeserialize(ctx, in)
	}
	kind := i.scripted(service+"."+op, Throttle, ServerError)
	if kind == "" {
		kind = i.pick(Throttle, ServerError)
	}
	switch kind {
	case Throttle:
		return middleware.DeserializeOutput{}, middleware.Metadata{}, throttled(service)
	case ServerError:
		return middleware.DeserializeOutput{}, middleware.Metadata{}, httpError(http.StatusInternalServerError,
			&smithy.GenericAPIError{Code: "InternalServerError", Message: "fault injected: internal server error", Fault: smithy.FaultServer})
	}
	return next.HandleDeserialize(ctx, in)
}

// singleWrite reports a single-item DynamoDB write.
func singleWrite(params any) bool {
	switch params.(type) {
	case *dynamodb.UpdateItemInput, *dynamodb.PutItemInput, *dynamodb.DeleteItemInput:
		return true
	}
	return false
}

// conflict is DynamoDB's answer when another transaction holds an item:
// one reason per item, TransactionConflict on one of them.
func conflict(items, which int) error {
	reasons := make([]ddbtypes.CancellationReason, items)
	for n := range reasons {
		reasons[n].Code = aws.String("None")
	}
	if items > 0 {
		reasons[which].Code = aws.String("TransactionConflict")
		reasons[which].Message = aws.String("Transaction is ongoing for the item")
	}
	return httpError(http.StatusBadRequest, &ddbtypes.TransactionCanceledException{
		Message:             aws.String("Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict] (fault injected)"),
		CancellationReasons: reasons,
	})
}

// throttled is the service's throttling error, which the SDK retries.
func throttled(service string) error {
	var err error
	switch service {
	case "DynamoDB":
		err = &ddbtypes.ProvisionedThroughputExceededException{Message: aws.String("fault injected: throughput exceeded")}
	default:
		err = &smithy.GenericAPIError{Code: "ThrottlingException", Message: "fault injected: rate exceeded", Fault: smithy.FaultClient}
	}
	return httpError(http.StatusBadRequest, err)
}

// httpError wraps an API error as the SDK's deserializers do, so retry
// classification and error inspection see what AWS would produce.
func httpError(status int, err error) error {
	return &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: http.Header{}}},
			Err:      err,
		},
		RequestID: "fault-injected",
	}
}

// lostResponse is a request that was applied but whose answer never came
// back (a timeout). The SDK must not retry it: the caller cannot know.
type lostResponse struct{ op string }

func (e *lostResponse) Error() string {
	return "fault injected: " + e.op + " was applied but its answer was lost (timeout)"
}
func (e *lostResponse) RetryableError() bool { return false }

// died is the panic value of a handler killed between two AWS calls.
type died struct{ where string }

// IsLostResponse reports whether err is an injected lost answer.
func IsLostResponse(err error) bool {
	var lr *lostResponse
	return errors.As(err, &lr)
}

// Wrap returns h (any handler lambda.NewHandler accepts) as a handler that
// reports an injected death as Lambda reports a crashed runtime
// (Runtime.ExitError) and, when duplicate is set, sometimes runs an
// invocation twice at once, as at-least-once delivery may.
func (i *Injector) Wrap(h any, duplicate bool) lambda.Handler {
	return &wrapped{inj: i, inner: lambda.NewHandler(h), duplicate: duplicate}
}

type wrapped struct {
	inj       *Injector
	inner     lambda.Handler
	duplicate bool
}

func (w *wrapped) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if w.duplicate && w.inj.pick(Duplicate) == Duplicate {
		var wg sync.WaitGroup
		var out [2][]byte
		var errs [2]error
		for n := range 2 {
			wg.Go(func() { out[n], errs[n] = w.once(ctx, payload) })
		}
		wg.Wait()
		n := w.inj.intn(2)
		return out[n], errs[n]
	}
	return w.once(ctx, payload)
}

func (w *wrapped) once(ctx context.Context, payload []byte) (out []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			d, ok := v.(died)
			if !ok {
				panic(v)
			}
			out, err = nil, messages.InvokeResponse_Error{Type: ExitErrorType, Message: "fault injected: runtime exited during " + d.where}
		}
	}()
	return w.inner.Invoke(ctx, payload)
}

// partialPut sends PutEvents without one of its entries (chosen at random)
// and answers as EventBridge does when it refuses an entry: the others
// have their event ids, the refused one an error code.
func (i *Injector) partialPut(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler, put *eventbridge.PutEventsInput) (middleware.InitializeOutput, middleware.Metadata, error) {
	refused := i.intn(len(put.Entries))
	kept := *put
	kept.Entries = append(slices.Clone(put.Entries[:refused]), put.Entries[refused+1:]...)
	failedEntry := ebtypes.PutEventsResultEntry{ErrorCode: aws.String("ThrottlingException"), ErrorMessage: aws.String("fault injected: entry refused")}
	if len(kept.Entries) == 0 {
		return middleware.InitializeOutput{Result: &eventbridge.PutEventsOutput{FailedEntryCount: 1, Entries: []ebtypes.PutEventsResultEntry{failedEntry}}},
			middleware.Metadata{}, nil
	}
	in.Parameters = &kept
	out, md, err := next.HandleInitialize(ctx, in)
	if err != nil {
		return out, md, err
	}
	res, ok := out.Result.(*eventbridge.PutEventsOutput)
	if !ok || len(res.Entries) != len(kept.Entries) {
		return out, md, err
	}
	merged := *res
	merged.Entries = append(append(slices.Clone(res.Entries[:refused]), failedEntry), res.Entries[refused:]...)
	merged.FailedEntryCount = res.FailedEntryCount + 1
	out.Result = &merged
	return out, md, nil
}

// IsDeath reports whether a recovered panic value is an injected death
// (a caller that runs the workflow without a handler Wrap recovers it).
func IsDeath(v any) bool {
	_, ok := v.(died)
	return ok
}
