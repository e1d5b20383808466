package statemachines_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
	"github.com/certctl-serverless/certctl-serverless/statemachines"
)

// lambdaErrorType is the errorType aws-lambda-go reports for a handler's
// error: the name of its type, without the pointer.
func lambdaErrorType(err error) string {
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// transient are the errors a Lambda task must retry: the four AWS
// recommends for every Lambda task, throttling, a crashed or timed-out
// runtime, and the functions' own RetryableError.
var transient = []string{
	"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
	"Lambda.ClientExecutionTimeoutException", "Lambda.TooManyRequestsException",
	"Runtime.ExitError", "Sandbox.Timedout", workflow.ErrorTypeRetryable,
}

func TestRetryableErrorTypeIsWhatLambdaReports(t *testing.T) {
	if got := lambdaErrorType(&workflow.RetryableError{Err: errors.New("x")}); got != workflow.ErrorTypeRetryable {
		t.Fatalf("Lambda reports %q, the state machine retries %q", got, workflow.ErrorTypeRetryable)
	}
}

func TestEveryLambdaTaskRetriesTransientErrors(t *testing.T) {
	tasks, err := statemachines.Tasks(statemachines.RenewalASL)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, task := range tasks {
		names[task.State] = true
		for _, e := range transient {
			if !slices.ContainsFunc(task.Retry, func(r statemachines.Retrier) bool { return r.Retries(e) }) {
				t.Errorf("%s does not retry %s", task.State, e)
			}
		}
		// Business refusals are permanent: the functions report them under
		// their own type names, which no retrier may catch by a wildcard,
		// except on the finalize tasks, which are idempotent bookkeeping.
		if task.Function != "FinalizeFunctionArn" && slices.ContainsFunc(task.Retry, func(r statemachines.Retrier) bool { return r.Retries("errorString") }) {
			t.Errorf("%s retries every error, permanent refusals included", task.State)
		}
	}
	for _, want := range []string{"AwaitApproval", "Issue", "ResolveTimeout", "RecordFailure"} {
		if !names[want] {
			t.Errorf("no Lambda task state %s", want)
		}
	}
}

func TestTaskStatesAreFoundOrRefused(t *testing.T) {
	if _, err := statemachines.Tasks(`{"States":{"X":{"Type":"Task","Parameters":{"FunctionName":"arn:aws:lambda:x"}}}}`); err == nil {
		t.Fatal("a hard-coded function ARN must be refused")
	}
}

// The definition names no partition: every service integration is
// arn:${Partition}:states:::…, which the stack fills with AWS::Partition
// (aws, aws-cn, aws-us-gov, …) and the local harness with "aws".
func TestNoHardCodedPartition(t *testing.T) {
	if strings.Contains(statemachines.RenewalASL, "arn:aws") {
		t.Fatal("the ASL hard-codes the aws partition; use arn:${Partition}:…")
	}
	tasks, err := statemachines.Tasks(statemachines.RenewalASL)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		if !strings.HasPrefix(task.Resource, "arn:${Partition}:states:::lambda:invoke") {
			t.Errorf("%s: resource %q", task.State, task.Resource)
		}
	}
}
