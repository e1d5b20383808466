package devstack

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/certctl-serverless/certctl-serverless/pkg/app"
	"github.com/certctl-serverless/certctl-serverless/pkg/config"
)

// The handlers get an aws.Config on the emulator, with the caller's
// APIOptions, and the complete configuration.
func TestHandlerConfig(t *testing.T) {
	var mu sync.Mutex
	ops := map[string]int{}
	count := func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("count", func(
			ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler,
		) (middleware.InitializeOutput, middleware.Metadata, error) {
			mu.Lock()
			ops[middleware.GetOperationName(ctx)]++
			mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	}
	var got config.Config
	s := startStack(t, Options{
		Config:        config.Config{Bypass: true, Stage: "dev"},
		AWSAPIOptions: []func(*middleware.Stack) error{count},
		Handler: func(ctx context.Context, name string, cfg config.Config, awsCfg aws.Config) (any, error) {
			if name != app.FnSweep {
				return fakes{}.build(ctx, name, cfg, awsCfg)
			}
			got = cfg
			ddb := dynamodb.NewFromConfig(awsCfg)
			return func(ctx context.Context) (string, error) {
				out, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(cfg.StateTable)})
				if err != nil {
					return "", err
				}
				return string(out.Table.TableStatus), nil
			}, nil
		},
	})
	out, err := s.Invoke(t.Context(), app.FnSweep, struct{}{})
	if err != nil || string(out) != `"ACTIVE"` {
		t.Fatalf("Invoke = %s, %v", out, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if ops["DescribeTable"] != 1 {
		t.Errorf("counted operations %v, want one DescribeTable", ops)
	}
	if got != s.Config || !got.Bypass || got.Stage != "dev" || got.ApprovalTimeout != config.DefaultApprovalTimeout ||
		!strings.HasPrefix(got.CAKeyID, "arn:aws:kms:") || !strings.HasPrefix(got.StateMachineARN, "arn:aws:states:") ||
		got.StateTable == "" || got.AuditTable == "" {
		t.Errorf("handler config %+v, stack config %+v", got, s.Config)
	}
	if err := got.Require(config.EnvStateTable, config.EnvAuditTable, config.EnvStateMachineARN, config.EnvCAKeyID); err != nil {
		t.Error(err)
	}
}

// Connections that were dialled but never used (browsers pre-connect; pooled
// clients leave them behind) must not make Close fail or leave them open:
// Close returns without error, has closed each such connection (a read on
// it ends, not waits), and the addresses no longer accept connections.
func TestCloseWithUnusedConnections(t *testing.T) {
	s := startStack(t, Options{Handler: fakes{}.build})
	addrs := []string{strings.TrimPrefix(s.URL, "http://"), strings.TrimPrefix(s.functions.url, "http://")}
	var conns []net.Conn
	for _, addr := range addrs {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for i, c := range conns {
		// A connection opened before Close is not served after it: a
		// request on it gets no answer, only the end of the connection.
		// (The deadline only keeps a regression from hanging the suite.)
		_ = c.SetDeadline(time.Now().Add(time.Minute))
		_, _ = c.Write([]byte("GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"))
		got, err := io.ReadAll(c)
		var ne net.Error
		switch {
		case len(got) > 0:
			t.Errorf("%s: a connection opened before Close was served after it: %q", addrs[i], got)
		case errors.As(err, &ne) && ne.Timeout():
			t.Errorf("%s: the connection is still open after Close", addrs[i])
		}
	}
	for _, addr := range addrs {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Close", addr)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
}

func TestStartFailsFastOnBusyAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Start(t.Context(), Options{Addr: ln.Addr().String(), Handler: fakes{}.build})
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Start on a busy address: err = %v", err)
	}
}
