package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/certctl-serverless/certctl-serverless/pkg/app"
	"github.com/certctl-serverless/certctl-serverless/pkg/config"
	"github.com/certctl-serverless/certctl-serverless/pkg/devstack"
	"github.com/certctl-serverless/certctl-serverless/pkg/devstack/iamrecord"
)

// iamRecordEnv names the file the suite writes its IAM recording to: every
// AWS call each function made, and every invocation by the state machine
// and the schedules, for the infra module's conformance test
// (CERTCTL_IAM_CALLS there). Unset, nothing is recorded.
const iamRecordEnv = "CERTCTL_IAM_RECORD"

// iamRecording is the suite's recorder; nil when not recording.
var iamRecording *iamRecorder

type iamRecorder struct {
	path string
	rec  *iamrecord.Recorder

	mu        sync.Mutex
	scheduled map[string]bool // function names or ARNs a schedule has invoked
}

// startIAMRecording begins recording if iamRecordEnv is set.
func startIAMRecording(path string) {
	if path == "" {
		return
	}
	r := &iamRecorder{path: path, rec: iamrecord.New(), scheduled: map[string]bool{}}
	devstack.ObserveInvocations(func(inv devstack.Invocation) {
		switch inv.By {
		case devstack.InvokerScheduler:
			r.rec.Invoked(iamrecord.PrincipalScheduler, inv.Function)
			r.mu.Lock()
			r.scheduled[inv.Function] = true
			r.mu.Unlock()
		default:
			r.rec.Invoked(iamrecord.PrincipalStateMachine, inv.Function)
		}
	})
	iamRecording = r
}

// instrument makes a stack's functions record their calls: the recorder on
// every function's aws.Config, and each config labelled with its function
// for the calls a cold start makes outside any invocation.
func (r *iamRecorder) instrument(opts *devstack.Options) {
	if r == nil {
		return
	}
	opts.AWSAPIOptions = append(opts.AWSAPIOptions, r.rec.APIOption)
	build := opts.Handler
	if build == nil {
		build = app.Handler
	}
	opts.Handler = func(ctx context.Context, name string, cfg config.Config, awsCfg aws.Config) (any, error) {
		awsCfg.APIOptions = append(slices.Clip(awsCfg.APIOptions), iamrecord.ColdStart(name))
		return build(ctx, name, cfg, awsCfg)
	}
}

// register records which resources a started stack has.
func (r *iamRecorder) register(ctx context.Context, s *devstack.Stack) error {
	if r == nil {
		return nil
	}
	arns, err := s.ResourceARNs(ctx)
	if err != nil {
		return fmt.Errorf("iam recording: %w", err)
	}
	r.rec.AddStack(iamrecord.Stack{
		Prefix:       s.Prefix,
		StateTable:   arns.StateTable,
		AuditTable:   arns.AuditTable,
		CAKey:        arns.CAKey,
		DigestKey:    arns.DigestKey,
		StateMachine: arns.StateMachine,
		EventBus:     arns.EventBus,
		Functions:    arns.Functions,
		Stage:        s.Config.Stage,
	})
	return nil
}

// finish runs the schedules once and writes the recording, whatever the
// tests' outcome: a partial recording still shows refused calls.
func (r *iamRecorder) finish() error {
	if r == nil {
		return nil
	}
	err := r.runSchedules()
	devstack.ObserveInvocations(nil)
	if werr := r.rec.WriteFile(r.path); werr != nil {
		return errors.Join(err, werr)
	}
	return err
}

// runSchedules starts a stack whose tickers invoke sweep, reaper and digest, as
// EventBridge Scheduler does, and waits for one run of each. The suite's
// own sweep and reaper tests call the workflow in-process with a moved
// clock, so only this shows the schedules' roles at work.
func (r *iamRecorder) runSchedules() error {
	s, _, err := startStack(func(c *config.Config) {}, func(o *devstack.Options) {
		o.SweepInterval, o.ReaperInterval, o.CRLInterval, o.DigestInterval = 100*time.Millisecond, 100*time.Millisecond, 100*time.Millisecond, 100*time.Millisecond
	})
	if err != nil {
		return fmt.Errorf("iam recording: schedules: %w", err)
	}
	defer s.Close()
	deadline := time.Now().Add(30 * time.Second)
	for !r.wasScheduled(s.Functions[app.FnSweep]) || !r.wasScheduled(s.Functions[app.FnReaper]) || !r.wasScheduled(s.Functions[app.FnIssue]) || !r.wasScheduled(s.Functions[app.FnDigest]) {
		if time.Now().After(deadline) {
			return errors.New("iam recording: the schedules did not run sweep, reaper, the CRL refresh and the digest within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

func (r *iamRecorder) wasScheduled(function string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.scheduled[function]
}
