// Package bench holds the budgets `make bench` checks: AWS calls per API
// operation, each Lambda function's binary size and cold-start init time
// against a bare function (testdata/bare), and the state-machine path of an
// approved job. The benchmarks live in the _test files; this file and aslpath.go are
// the small helpers they share.
package bench

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/lambdacontext"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// NoFunction labels calls made outside any function invocation (a context
// without a lambdacontext), e.g. by a harness sharing the counted config.
const NoFunction = "-"

// Call is one AWS API operation made by one function.
type Call struct {
	Function  string // app function name (app.FnAPI, ...), or NoFunction
	Service   string // SDK service ID: "DynamoDB", "SFN", "KMS", ...
	Operation string // SDK operation name: "GetItem", "SendTaskSuccess", ...
}

// Op is the call's "Service.Operation" name.
func (c Call) Op() string { return c.Service + "." + c.Operation }

// Counter counts AWS SDK calls per function, service and operation. Install
// it with APIOption (devstack.Options.AWSAPIOptions or aws.Config.APIOptions).
// A call is counted once when the operation starts, whatever the number of
// retried HTTP attempts.
type Counter struct {
	mu     sync.Mutex
	labels map[string]string // invoked function ARN -> label
	counts map[Call]int
}

// NewCounter returns an empty counter.
func NewCounter() *Counter {
	return &Counter{labels: map[string]string{}, counts: map[Call]int{}}
}

// counterMiddlewareID is the ID of the counting middleware in a stack.
const counterMiddlewareID = "certctlBenchCountCalls"

// APIOption adds the counting middleware to an SDK operation's stack. It
// runs at the end of the Initialize step: newer service clients put the
// service ID and operation name on the context before the stack runs, older
// ones (sfn v1.45) in an Initialize middleware of their own, which must
// have run first.
func (c *Counter) APIOption(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc(counterMiddlewareID, func(
		ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler,
	) (middleware.InitializeOutput, middleware.Metadata, error) {
		c.add(ctx)
		return next.HandleInitialize(ctx, in)
	}), middleware.After)
}

// Label names functions by their ARN, e.g. with devstack's Stack.Functions
// (app function name -> ARN). Unlabelled functions are named by the
// function-name part of their ARN.
func (c *Counter) Label(functions map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, arn := range functions {
		c.labels[arn] = name
	}
}

func (c *Counter) add(ctx context.Context) {
	call := Call{
		Service:   awsmiddleware.GetServiceID(ctx),
		Operation: awsmiddleware.GetOperationName(ctx),
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	call.Function = c.functionOf(ctx)
	c.counts[call]++
}

// functionOf names the function whose invocation ctx belongs to. c.mu is held.
func (c *Counter) functionOf(ctx context.Context) string {
	lc, ok := lambdacontext.FromContext(ctx)
	if !ok || lc.InvokedFunctionArn == "" {
		return NoFunction
	}
	arn := lc.InvokedFunctionArn
	if name, ok := c.labels[arn]; ok {
		return name
	}
	// arn:aws:lambda:region:account:function:name[:qualifier]
	parts := strings.Split(arn, ":")
	if len(parts) >= 7 && parts[5] == "function" {
		return parts[6]
	}
	return arn
}

// Reset forgets every count.
func (c *Counter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts = map[Call]int{}
}

// Snapshot returns a copy of the counts so far.
func (c *Counter) Snapshot() Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(Counts, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// Counts is a snapshot of a Counter.
type Counts map[Call]int

// Get returns the number of calls fn made to service.operation.
func (cs Counts) Get(fn, service, operation string) int {
	return cs[Call{Function: fn, Service: service, Operation: operation}]
}

// Of returns fn's calls by "Service.Operation".
func (cs Counts) Of(fn string) map[string]int {
	out := map[string]int{}
	for c, n := range cs {
		if c.Function == fn {
			out[c.Op()] += n
		}
	}
	return out
}

// Total is the number of calls fn made.
func (cs Counts) Total(fn string) int {
	total := 0
	for c, n := range cs {
		if c.Function == fn {
			total += n
		}
	}
	return total
}

// Functions lists the functions that made calls, sorted.
func (cs Counts) Functions() []string {
	seen := map[string]bool{}
	for c := range cs {
		seen[c.Function] = true
	}
	out := make([]string, 0, len(seen))
	for f := range seen {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// Format renders fn's calls as "DynamoDB.GetItem×1 SFN.SendTaskSuccess×1",
// sorted by name; "none" when fn made no calls.
func (cs Counts) Format(fn string) string {
	ops := cs.Of(fn)
	if len(ops) == 0 {
		return "none"
	}
	names := make([]string, 0, len(ops))
	for op := range ops {
		names = append(names, op)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, op := range names {
		parts[i] = fmt.Sprintf("%s×%d", op, ops[op])
	}
	return strings.Join(parts, " ")
}

// Equal reports whether two snapshots hold the same counts.
func (cs Counts) Equal(other Counts) bool {
	if len(cs) != len(other) {
		return false
	}
	for k, v := range cs {
		if other[k] != v {
			return false
		}
	}
	return true
}
