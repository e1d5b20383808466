package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

func TestEveryLineCarriesItsCorrelation(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelInfo, "function", "issue")
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1"})
	ctx = With(With(ctx, "api_request_id", "api-9"), "job_id", "job-7")
	log.InfoContext(ctx, "certificate issued", "serial_number", "01")
	log.DebugContext(ctx, "not shown")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("one JSON line expected: %q", buf.String())
	}
	for k, want := range map[string]string{"function": "issue", "aws_request_id": "req-1", "api_request_id": "api-9", "job_id": "job-7", "serial_number": "01", "msg": "certificate issued"} {
		if line[k] != want {
			t.Errorf("%s = %v, want %s", k, line[k], want)
		}
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{"": slog.LevelInfo, "debug": slog.LevelDebug, "WARN": slog.LevelWarn, " error ": slog.LevelError} {
		if got, err := ParseLevel(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"verbose", "INFO+2", "warning"} {
		if _, err := ParseLevel(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
