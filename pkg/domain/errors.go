package domain

import (
	"errors"
	"fmt"
)

// Sentinel errors that the API maps to status codes. Wrap them with context
// using fmt.Errorf("...: %w", ErrX) or the helpers below.
var (
	ErrInvalid      = errors.New("invalid request")     // 400
	ErrUnauthorized = errors.New("unauthenticated")     // 401
	ErrForbidden    = errors.New("forbidden")           // 403
	ErrNotFound     = errors.New("not found")           // 404
	ErrConflict     = errors.New("conflict")            // 409
	ErrUnavailable  = errors.New("service unavailable") // 503
)

// ErrSameActor is returned when the requester tries to decide their own
// request. The message text is a contract: log greps look for it.
var ErrSameActor = fmt.Errorf("%w: two-person integrity: the requester cannot decide their own request", ErrForbidden)

// Invalidf returns a validation error naming what is wrong.
func Invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// NotFoundf returns a not-found error.
func NotFoundf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotFound, fmt.Sprintf(format, args...))
}

// Conflictf returns a conflict error.
func Conflictf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConflict, fmt.Sprintf(format, args...))
}

// Forbiddenf returns a permission error.
func Forbiddenf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrForbidden, fmt.Sprintf(format, args...))
}
