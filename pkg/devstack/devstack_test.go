package devstack

import (
	"context"
	"net"
	"reflect"
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
	if !reflect.DeepEqual(got, s.Config) || !got.Bypass || got.Stage != "dev" || got.ApprovalTimeout != config.DefaultApprovalTimeout ||
		!strings.HasPrefix(got.CAKeyID, "arn:aws:kms:") || !strings.HasPrefix(got.StateMachineARN, "arn:aws:states:") ||
		got.StateTable == "" || got.AuditTable == "" {
		t.Errorf("handler config %+v, stack config %+v", got, s.Config)
	}
	if err := got.Require(config.EnvStateTable, config.EnvAuditTable, config.EnvStateMachineARN, config.EnvCAKeyID); err != nil {
		t.Error(err)
	}
}

// Connections that were dialled but never used (browsers pre-connect; pooled
// clients leave them behind) must not make Close slow or report an error.
func TestCloseWithUnusedConnections(t *testing.T) {
	s := startStack(t, Options{Handler: fakes{}.build})
	for _, addr := range []string{strings.TrimPrefix(s.URL, "http://"), strings.TrimPrefix(s.functions.url, "http://")} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("Close took %s", d)
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
