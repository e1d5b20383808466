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

// A key the call site names, or a context that names it twice, appears
// once on the line.
func TestNoKeyTwice(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelInfo)
	ctx := With(With(context.Background(), "job_id", "job-outer"), "job_id", "job-inner", "approval_id", "ar-1")
	log.InfoContext(ctx, "explicit", "job_id", "job-explicit")
	log.InfoContext(ctx, "implicit")
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", buf.String())
	}
	for i, want := range []string{"job-explicit", "job-inner"} {
		if n := bytes.Count(lines[i], []byte(`"job_id"`)); n != 1 {
			t.Errorf("line %d has job_id %d times: %s", i, n, lines[i])
		}
		var line map[string]any
		if err := json.Unmarshal(lines[i], &line); err != nil {
			t.Fatal(err)
		}
		if line["job_id"] != want || line["approval_id"] != "ar-1" {
			t.Errorf("line %d: job_id %v approval_id %v, want %s ar-1", i, line["job_id"], line["approval_id"], want)
		}
	}
}
