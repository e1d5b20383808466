package workflow

import (
	"errors"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// ErrorTypeRetryable is the errorType Lambda reports for a *RetryableError
// (aws-lambda-go names it after the Go type). The state machine retries
// tasks that fail with it; a test checks statemachines/renewal.asl.json.
const ErrorTypeRetryable = "RetryableError"

// RetryableError marks a failure worth retrying (throttling, a transient
// AWS error, a lost answer). The state machine retries errors of this name;
// anything else is permanent and fails the job at once.
type RetryableError struct{ Err error }

func (e *RetryableError) Error() string { return e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// retryable wraps err as a RetryableError unless retrying cannot help.
func retryable(err error) error {
	if err == nil || isPermanent(err) {
		return err
	}
	return &RetryableError{Err: err}
}

// isPermanent reports errors that retrying cannot fix.
func isPermanent(err error) bool {
	for _, e := range []error{domain.ErrInvalid, domain.ErrForbidden, domain.ErrNotFound, domain.ErrConflict} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
