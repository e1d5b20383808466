package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/app"
)

// startTicker invokes fn with payload (an EventBridge Scheduler-like {}
// when nil) every interval, standing in for the schedules, which never
// fire in the emulator. Invocations are synchronous, so a slow run delays
// the next tick instead of overlapping it.
func (s *Stack) startTicker(fn string, every time.Duration, payload json.RawMessage) {
	if payload == nil {
		payload = json.RawMessage(`{}`)
	}
	if every <= 0 {
		return
	}
	s.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.ctx.Done():
				return
			case <-t.C:
			}
			start := time.Now()
			out, err := s.Invoke(s.ctx, fn, payload)
			if s.ctx.Err() != nil {
				return
			}
			observeInvocation(InvokerScheduler, s.Functions[fn]) // once it returned, so its calls are seen first
			if err != nil {
				s.logger.Warn("scheduled invocation failed", "function", fn, "error", err)
				continue
			}
			s.logger.Info("scheduled invocation", "function", fn,
				"duration_ms", time.Since(start).Milliseconds(), "result", json.RawMessage(out))
		}
	})
}

// The emulator ends every execution after 5 minutes (kumo's
// executionTimeoutCap, not configurable) with States.Runtime, which no Catch
// can match. An approval routinely takes longer than that, while AWS lets a
// Standard execution wait up to a year. The redriver restarts such an
// execution from the start with the same input, which is what AWS would do
// for a retried AwaitApproval: approval-wait runs again, stores the new task
// token, and if the decision was recorded meanwhile it sends it itself. The
// approval timeout keeps counting from the first start. The job's stored
// execution_arn keeps pointing at the first execution.
const (
	redrivePollInterval = 5 * time.Second
	capErrorCode        = "States.Runtime"
	capCauseMarker      = "execution cap"
)

type redriveState struct {
	mu     sync.Mutex
	seen   map[string]bool          // failed executions already examined
	origin map[string]redriveOrigin // re-driven execution -> its chain
}

func newRedriveState() *redriveState {
	return &redriveState{seen: map[string]bool{}, origin: map[string]redriveOrigin{}}
}

type redriveOrigin struct {
	name  string    // the first execution's name (the job id)
	start time.Time // the first execution's start
	n     int       // how many times the chain was re-driven
}

func (s *Stack) startRedriver(every time.Duration) {
	s.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.ctx.Done():
				return
			case <-t.C:
			}
			if _, err := s.redriveCapped(s.ctx); err != nil && s.ctx.Err() == nil {
				s.logger.Warn("redriver: scan failed", "error", err)
			}
		}
	})
}

// redriveCapped restarts every execution the emulator's cap killed since the
// last call and reports how many it restarted. Every other execution that
// ended ABORTED, FAILED or TIMED_OUT is reported to the finalize function
// as the stack's EventBridge rule reports it on AWS (the emulator emits no
// Step Functions events), a couple of seconds after it ended, as EventBridge
// delivers.
func (s *Stack) redriveCapped(ctx context.Context) (int, error) {
	client := sfn.NewFromConfig(s.AWSConfig)
	var ended []sfntypes.ExecutionListItem
	for _, status := range []sfntypes.ExecutionStatus{sfntypes.ExecutionStatusFailed, sfntypes.ExecutionStatusAborted, sfntypes.ExecutionStatusTimedOut} {
		list, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{
			StateMachineArn: aws.String(s.Config.StateMachineARN),
			StatusFilter:    status,
			MaxResults:      1000,
		})
		if err != nil {
			return 0, err
		}
		ended = append(ended, list.Executions...)
	}
	s.redrive.mu.Lock()
	defer s.redrive.mu.Unlock()
	restarted := 0
	for _, item := range ended {
		arn := aws.ToString(item.ExecutionArn)
		if s.redrive.seen[arn] {
			continue
		}
		if stop := aws.ToTime(item.StopDate); !stop.IsZero() && time.Since(stop) < eventDelay {
			continue // not yet: look again on the next poll
		}
		d, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: item.ExecutionArn})
		if err != nil {
			return restarted, err
		}
		s.redrive.seen[arn] = true
		if !killedByCap(aws.ToString(d.Error), aws.ToString(d.Cause)) {
			s.reportEnded(ctx, d)
			continue
		}
		if _, err := s.restartCapped(ctx, client, d); err != nil {
			s.logger.Warn("redriver: restart failed", "execution", arn, "error", err)
			continue
		}
		restarted++
	}
	return restarted, nil
}

// DeliverExecutionEvents waits until every execution that has ended can be
// reported, then reports it (and restarts those the emulator's cap ended),
// without waiting for the next poll: tests that check the tables at rest
// call it first.
func (s *Stack) DeliverExecutionEvents(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(eventDelay):
	}
	_, err := s.redriveCapped(ctx)
	return err
}

// eventDelay is how long after an execution ended its status change is
// delivered.
const eventDelay = 2 * time.Second

// reportEnded invokes the finalize function with the EventBridge event of
// an execution's end. The caller holds s.redrive.mu.
func (s *Stack) reportEnded(ctx context.Context, d *sfn.DescribeExecutionOutput) {
	name := aws.ToString(d.Name)
	if o, ok := s.redrive.origin[aws.ToString(d.ExecutionArn)]; ok {
		name = o.name // a re-driven execution stands for the job's own
	}
	event := map[string]any{
		"version": "0", "source": "aws.states", "detail-type": app.ExecutionStatusChange,
		"account": AccountID, "region": Region, "resources": []string{aws.ToString(d.ExecutionArn)},
		"detail": map[string]any{
			"executionArn": aws.ToString(d.ExecutionArn), "stateMachineArn": s.Config.StateMachineARN,
			"name": name, "status": string(d.Status),
		},
	}
	if _, err := s.Invoke(ctx, app.FnFinalize, event); err != nil && ctx.Err() == nil {
		s.logger.Warn("could not deliver an execution status change", "execution", aws.ToString(d.ExecutionArn), "error", err)
	}
}

// restartCapped starts the successor of an execution the cap ended and
// returns its ARN. The caller holds s.redrive.mu.
func (s *Stack) restartCapped(ctx context.Context, client *sfn.Client, d *sfn.DescribeExecutionOutput) (string, error) {
	arn := aws.ToString(d.ExecutionArn)
	o, ok := s.redrive.origin[arn]
	if !ok {
		o = redriveOrigin{name: aws.ToString(d.Name), start: aws.ToTime(d.StartDate)}
	}
	o.n++
	out, err := client.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(s.Config.StateMachineARN),
		Name:            aws.String(fmt.Sprintf("%s-redrive-%d", o.name, o.n)),
		Input:           aws.String(remainingTimeout(aws.ToString(d.Input), o.start, time.Now())),
	})
	if err != nil {
		return "", err
	}
	next := aws.ToString(out.ExecutionArn)
	s.redrive.origin[next] = o
	s.logger.Info("redriver: the emulator's 5-minute execution cap ended an execution; restarted it (AWS has no such cap)",
		"execution", arn, "restarted_as", next)
	return next, nil
}

// killedByCap recognises kumo's own cap, which it reports as States.Runtime
// with a cause naming it, distinct from a definition's TimeoutSeconds.
func killedByCap(code, cause string) bool {
	return code == capErrorCode && strings.Contains(cause, capCauseMarker)
}

// remainingTimeout lowers the input's timeout_seconds (read by the
// AwaitApproval state's TimeoutSecondsPath) by the time already spent since
// the first start, to at least 1 s, so the backstop timeout still fires when
// it would have on AWS. Other inputs are returned unchanged.
func remainingTimeout(input string, firstStart, now time.Time) string {
	dec := json.NewDecoder(strings.NewReader(input))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil {
		return input
	}
	n, ok := m["timeout_seconds"].(json.Number)
	if !ok {
		return input
	}
	total, err := n.Float64()
	if err != nil {
		return input
	}
	m["timeout_seconds"] = int64(max(1, math.Ceil(total-now.Sub(firstStart).Seconds())))
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(m) != nil {
		return input
	}
	return strings.TrimSpace(buf.String())
}
