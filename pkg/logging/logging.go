// Package logging is the functions' log/slog setup: JSON lines on stdout,
// each stamped with what correlates it — the Lambda request id, the API
// Gateway request id and the job — taken from the context, so no call site
// has to remember to pass them.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// ParseLevel reads a CERTCTL_LOG_LEVEL value: DEBUG, INFO, WARN or ERROR
// (any case); empty means INFO.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if strings.TrimSpace(s) == "" {
		return slog.LevelInfo, nil
	}
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "DEBUG", "INFO", "WARN", "ERROR":
		err := l.UnmarshalText([]byte(strings.ToUpper(strings.TrimSpace(s))))
		return l, err
	}
	return l, fmt.Errorf("want DEBUG, INFO, WARN or ERROR, not %q", s)
}

// New returns the JSON logger of a function, at level.
func New(w io.Writer, level slog.Level, attrs ...any) *slog.Logger {
	return slog.New(&handler{next: slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})}).With(attrs...)
}

type ctxKey struct{}

// With returns ctx carrying attrs that every log line written with it will
// show, e.g. With(ctx, "job_id", id).
func With(ctx context.Context, attrs ...any) context.Context {
	prev, _ := ctx.Value(ctxKey{}).([]any)
	return context.WithValue(ctx, ctxKey{}, append(append([]any(nil), prev...), attrs...))
}

// handler adds the context's correlation to every record.
type handler struct{ next slog.Handler }

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle adds the context's attributes that the record does not already
// have (a call site that names a job explicitly wins; a key is never
// written twice on one line).
func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	var have map[string]bool
	seen := func(key string) bool {
		if have == nil {
			have = map[string]bool{}
			r.Attrs(func(a slog.Attr) bool { have[a.Key] = true; return true })
		}
		if have[key] {
			return true
		}
		have[key] = true
		return false
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" && !seen("aws_request_id") {
		r.AddAttrs(slog.String("aws_request_id", lc.AwsRequestID))
	}
	attrs, _ := ctx.Value(ctxKey{}).([]any)
	for _, a := range argsToAttrs(attrs) {
		if !seen(a.Key) {
			r.AddAttrs(a)
		}
	}
	return h.next.Handle(ctx, r)
}

// argsToAttrs reads With's key-value pairs, later ones replacing earlier
// ones of the same key.
func argsToAttrs(args []any) []slog.Attr {
	var rec slog.Record
	rec.Add(args...)
	var out []slog.Attr
	index := map[string]int{}
	rec.Attrs(func(a slog.Attr) bool {
		if i, ok := index[a.Key]; ok {
			out[i] = a
		} else {
			index[a.Key] = len(out)
			out = append(out, a)
		}
		return true
	})
	return out
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &handler{next: h.next.WithAttrs(attrs)}
}

func (h *handler) WithGroup(name string) slog.Handler { return &handler{next: h.next.WithGroup(name)} }
