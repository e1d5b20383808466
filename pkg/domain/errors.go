package domain

import (
	"errors"
	"fmt"
)

// Kind says what went wrong in terms a caller can act on. The API maps it
// to a status; nothing else about an error decides a status.
type Kind uint8

// Kinds. The zero kind is an internal error: nothing a caller did.
const (
	KindInternal         Kind = iota // 500: a bug or a broken dependency
	KindInvalid                      // 400: the request is wrong; it says how
	KindUnauthenticated              // 401: no identity
	KindForbidden                    // 403: the identity may not do this
	KindNotFound                     // 404
	KindConflict                     // 409: the state does not allow it now
	KindUnavailable                  // 503: a dependency is failing; retry later
	KindUnsupportedMedia             // 415: the body is not JSON
)

// Error is the one error type: a kind, a message safe to show whoever made
// the request, and the internal cause, for the log only. Wrapping an Error
// with fmt.Errorf("context: %w", err) adds context for the log and keeps
// the kind and the public message.
type Error struct {
	Kind   Kind
	Public string
	Cause  error
}

func (e *Error) Error() string {
	switch {
	case e.Cause == nil:
		return e.Public
	case e.Public == "":
		return e.Cause.Error()
	}
	return e.Public + ": " + e.Cause.Error()
}

func (e *Error) Unwrap() error { return e.Cause }

// Is lets errors.Is(err, ErrConflict) ask an error's kind: a sentinel (an
// Error with a kind only) matches every Error of its kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Public == "" && t.Cause == nil && t.Kind == e.Kind
}

// Sentinels of each kind, for errors.Is.
var (
	ErrInvalid          = &Error{Kind: KindInvalid}
	ErrUnauthorized     = &Error{Kind: KindUnauthenticated}
	ErrForbidden        = &Error{Kind: KindForbidden}
	ErrNotFound         = &Error{Kind: KindNotFound}
	ErrConflict         = &Error{Kind: KindConflict}
	ErrUnavailable      = &Error{Kind: KindUnavailable}
	ErrUnsupportedMedia = &Error{Kind: KindUnsupportedMedia}
)

// ErrSameActor is returned when the requester tries to decide their own
// request. The message text is a contract: log greps look for it.
var ErrSameActor = &Error{Kind: KindForbidden, Public: "two-person integrity: the requester cannot decide their own request"}

// KindOf returns the kind of the first Error in err's chain; an error that
// is none is internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// PublicMessage returns what may be shown about err: the public message of
// the first Error in its chain that has one, or "" for an internal error.
func PublicMessage(err error) string {
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return ""
		}
		if e.Public != "" {
			return e.Public
		}
		err = e.Cause
	}
	return ""
}

func newf(kind Kind, format string, args []any) *Error {
	return &Error{Kind: kind, Public: fmt.Sprintf(format, args...)}
}

// Invalidf returns a validation error naming what is wrong.
func Invalidf(format string, args ...any) error { return newf(KindInvalid, format, args) }

// NotFoundf returns a not-found error.
func NotFoundf(format string, args ...any) error { return newf(KindNotFound, format, args) }

// Conflictf returns a conflict error.
func Conflictf(format string, args ...any) error { return newf(KindConflict, format, args) }

// Forbiddenf returns a permission error.
func Forbiddenf(format string, args ...any) error { return newf(KindForbidden, format, args) }

// Unavailable marks cause as a failing dependency the caller may retry,
// with a public message that names no internals.
func Unavailable(public string, cause error) error {
	return &Error{Kind: KindUnavailable, Public: public, Cause: cause}
}

// Unauthenticated is a request whose identity could not be established.
func Unauthenticated(public string, cause error) error {
	return &Error{Kind: KindUnauthenticated, Public: public, Cause: cause}
}
