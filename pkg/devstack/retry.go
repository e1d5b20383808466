package devstack

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/certctl-serverless/certctl-serverless/pkg/app"
	"github.com/certctl-serverless/certctl-serverless/statemachines"
)

// The emulator reports every Lambda function error to the state machine as
// States.TaskFailed, so a Retry that names the function's errorType
// (RetryableError, Runtime.ExitError, ...) never fires there, while AWS
// retries exactly those. The self-call transport therefore applies, for
// each function, the named retriers of the Task state that invokes it: it
// reads the errorType from the function's answer and invokes again as the
// first matching retrier says (MaxAttempts, BackoffRate, MaxDelaySeconds).
// Delays are compressed by retryTimeScale, because the emulator gives one
// Lambda task 30 s in all. Retriers with a wildcard (States.ALL,
// States.TaskFailed) are left to the emulator, which sees those.
const retryTimeScale = 10

var namedRetries = &retryPolicies{byFunction: map[string][]statemachines.Retrier{}}

type retryPolicies struct {
	mu         sync.Mutex
	byFunction map[string][]statemachines.Retrier // deployed function name -> retriers
}

// placeholderFunctions maps the ASL's function placeholders to app functions.
var placeholderFunctions = map[string]string{
	"ApprovalWaitFunctionArn": app.FnApprovalWait,
	"IssueFunctionArn":        app.FnIssue,
	"FinalizeFunctionArn":     app.FnFinalize,
}

// register records the retriers of every Task state of asl for the
// deployed functions in names (app function -> deployed name).
func (p *retryPolicies) register(asl string, names map[string]string) error {
	tasks, err := statemachines.Tasks(asl)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, task := range tasks {
		fn, ok := names[placeholderFunctions[task.Function]]
		if !ok {
			continue
		}
		if wildcard(task.Retry) {
			continue // the emulator retries these itself
		}
		p.byFunction[fn] = task.Retry
	}
	return nil
}

func (p *retryPolicies) unregister(names map[string]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range names {
		delete(p.byFunction, n)
	}
}

func wildcard(rs []statemachines.Retrier) bool {
	for _, r := range rs {
		for _, e := range r.ErrorEquals {
			if e == "States.ALL" || e == "States.TaskFailed" {
				return true
			}
		}
	}
	return false
}

// invoke sends the invocation r of function fn, retrying function errors
// that a named retrier of fn's Task state covers.
func (p *retryPolicies) invoke(r *http.Request, fn string, base http.RoundTripper) (*http.Response, error) {
	p.mu.Lock()
	retriers := p.byFunction[fn]
	p.mu.Unlock()
	if len(retriers) == 0 {
		return base.RoundTrip(r)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	used := make([]int, len(retriers))
	for {
		attempt := r.Clone(r.Context())
		attempt.Body = io.NopCloser(bytes.NewReader(body))
		attempt.ContentLength = int64(len(body))
		resp, err := base.RoundTrip(attempt)
		if err != nil || resp.Header.Get("X-Amz-Function-Error") == "" {
			return resp, err
		}
		payload, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(payload))
		var fe struct {
			Type string `json:"errorType"`
		}
		_ = json.Unmarshal(payload, &fe)
		i := firstRetrier(retriers, fe.Type)
		if i < 0 {
			return resp, nil
		}
		used[i]++
		if used[i] > maxAttempts(retriers[i]) {
			return resp, nil
		}
		t := time.NewTimer(retryDelay(retriers[i], used[i]) / retryTimeScale)
		select {
		case <-r.Context().Done():
			t.Stop()
			return nil, r.Context().Err()
		case <-t.C:
		}
	}
}

func firstRetrier(rs []statemachines.Retrier, errorType string) int {
	for i, r := range rs {
		if r.Retries(errorType) {
			return i
		}
	}
	return -1
}

// maxAttempts and retryDelay apply the States Language defaults (3 attempts,
// 1 s interval, backoff 2).
func maxAttempts(r statemachines.Retrier) int {
	if r.MaxAttempts != nil {
		return *r.MaxAttempts
	}
	return 3
}

func retryDelay(r statemachines.Retrier, attempt int) time.Duration {
	interval, rate := 1.0, 2.0
	if r.IntervalSeconds != nil {
		interval = float64(*r.IntervalSeconds)
	}
	if r.BackoffRate != nil {
		rate = *r.BackoffRate
	}
	d := interval * math.Pow(rate, float64(attempt-1))
	if r.MaxDelaySeconds != nil && d > float64(*r.MaxDelaySeconds) {
		d = float64(*r.MaxDelaySeconds)
	}
	return time.Duration(d * float64(time.Second))
}
