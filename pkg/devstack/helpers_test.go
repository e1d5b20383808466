package devstack

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/certctl-serverless/certctl-serverless/pkg/config"
)

// fakes maps function names to fake handlers; missing names get a stub that
// answers {"fake": name}, so a test only writes the functions it exercises.
type fakes map[string]any

func (f fakes) build(_ context.Context, name string, _ config.Config, _ aws.Config) (any, error) {
	if h, ok := f[name]; ok {
		return h, nil
	}
	return func(context.Context, json.RawMessage) (map[string]string, error) {
		return map[string]string{"fake": name}, nil
	}, nil
}

// startStack starts a stack with fake handlers and closes it with the test.
func startStack(t *testing.T, opts Options) *Stack {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
