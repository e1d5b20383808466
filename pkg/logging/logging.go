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

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		r.AddAttrs(slog.String("aws_request_id", lc.AwsRequestID))
	}
	if attrs, ok := ctx.Value(ctxKey{}).([]any); ok {
		r.Add(attrs...)
	}
	return h.next.Handle(ctx, r)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &handler{next: h.next.WithAttrs(attrs)}
}

func (h *handler) WithGroup(name string) slog.Handler { return &handler{next: h.next.WithGroup(name)} }
