package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"runtime/debug"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/uuid"

	lambdago "github.com/aws/aws-lambda-go/lambda"

	"github.com/certctl-serverless/certctl-serverless/pkg/app"
)

// functionTimeout bounds one invocation, like a Lambda function's Timeout.
// It matches kumo's Step Functions client timeout (30 s), past which the
// task fails anyway.
const functionTimeout = 30 * time.Second

// functionServer is the in-process "Lambda runtime": one HTTP listener, one
// path per function, registered with kumo as each function's InvokeEndpoint.
// kumo POSTs the raw payload and reads back the raw result; it forwards an
// X-Amz-Function-Error response header to the Invoke caller (the status code
// of our response is ignored), so that header is how a function error is
// signalled.
type functionServer struct {
	url    string
	srv    *http.Server
	logger *slog.Logger
	base   context.Context // canceled by Stack.Close: in-flight handlers stop

	mu       sync.RWMutex
	handlers map[string]deployedFunction
	onEvent  http.HandlerFunc // the stack's event log (POST /events)
	closed   bool             // set by shutdown, under mu
	inflight sync.WaitGroup   // running invocations; Add only under mu while !closed
}

type deployedFunction struct {
	arn     string
	handler lambdago.Handler
}

func startFunctionServer(base context.Context, logger *slog.Logger) (*functionServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("devstack: function server: %w", err)
	}
	fs := &functionServer{
		url:      "http://" + ln.Addr().String(),
		logger:   logger,
		base:     base,
		handlers: map[string]deployedFunction{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /fn/{name}", fs.serveInvoke)
	mux.HandleFunc("POST /events", func(w http.ResponseWriter, r *http.Request) {
		if fs.onEvent == nil {
			http.Error(w, "no event log", http.StatusServiceUnavailable)
			return
		}
		fs.onEvent(w, r)
	})
	fs.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = fs.srv.Serve(ln) }()
	return fs, nil
}

func (fs *functionServer) endpoint(name string) string { return fs.url + "/fn/" + name }

func (fs *functionServer) set(name, arn string, h any) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.handlers[name] = deployedFunction{arn: arn, handler: lambdago.NewHandler(h)}
}

// shutdown closes the server at once rather than gracefully: by now the
// stack's context is canceled, so running handlers are already aborting and
// nobody waits for their answers; and a graceful Shutdown would wait up to
// 5 s for connections a client dialled but never used (kumo's pooled
// clients leave such connections behind). It then waits for the running
// handlers, so none outlives Close.
func (fs *functionServer) shutdown(ctx context.Context) error {
	fs.mu.Lock()
	fs.closed = true
	fs.mu.Unlock()
	err := fs.srv.Close()
	done := make(chan struct{})
	go func() { fs.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return err
	case <-ctx.Done():
		return errors.Join(err, errors.New("a function handler ignored cancellation and is still running"))
	}
}

func (fs *functionServer) serveInvoke(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	fs.mu.Lock()
	if fs.closed {
		fs.mu.Unlock()
		http.Error(w, "stack closed", http.StatusServiceUnavailable)
		return
	}
	fs.inflight.Add(1)
	fn, ok := fs.handlers[name]
	fs.mu.Unlock()
	defer fs.inflight.Done()
	payload, err := io.ReadAll(r.Body)
	if err == nil && !ok {
		err = fmt.Errorf("function %q has no handler yet", name)
	}
	if err != nil {
		writeFunctionError(w, &messages.InvokeResponse_Error{Type: "Runtime.Unavailable", Message: err.Error()})
		return
	}

	// Like Lambda, the invocation is not tied to the caller's connection:
	// a client that gives up does not cancel the function.
	requestID := uuid.NewString()
	ctx, cancel := context.WithTimeout(fs.base, functionTimeout)
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: requestID, InvokedFunctionArn: fn.arn})

	start := time.Now()
	out, invokeErr, stack := invokeHandler(ctx, fn.handler, payload)
	log := fs.logger.With("function", name, "request_id", requestID, "duration_ms", time.Since(start).Milliseconds())
	if stack != nil {
		log.Error("function panicked", "panic", invokeErr.Message, "stack", string(stack))
	}
	if invokeErr != nil {
		log.Info("function returned an error", "error_type", invokeErr.Type, "error", invokeErr.Message)
		writeFunctionError(w, invokeErr)
		return
	}
	log.Debug("function invoked")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// invokeHandler runs one invocation the way aws-lambda-go's runtime loop
// does: errors and panics become the {"errorMessage","errorType"} payload.
// A panic also returns its stack, for the log.
func invokeHandler(ctx context.Context, h lambdago.Handler, payload []byte) (out []byte, fnErr *messages.InvokeResponse_Error, stack []byte) {
	defer func() {
		if v := recover(); v != nil {
			fnErr = &messages.InvokeResponse_Error{Type: typeName(v), Message: fmt.Sprint(v)}
			stack = debug.Stack()
		}
	}()
	out, err := h.Invoke(ctx, payload)
	if err != nil {
		var ive messages.InvokeResponse_Error
		if errors.As(err, &ive) {
			return nil, &ive, nil
		}
		return nil, &messages.InvokeResponse_Error{Type: typeName(err), Message: err.Error()}, nil
	}
	return out, nil, nil
}

// typeName is aws-lambda-go's errorType: the error's type name without '*'.
func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

func writeFunctionError(w http.ResponseWriter, e *messages.InvokeResponse_Error) {
	body, _ := json.Marshal(e)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Function-Error", "Unhandled")
	_, _ = w.Write(body)
}

// createFunctions registers one Lambda function per app function, each
// backed by the function server through kumo's InvokeEndpoint extension.
func (s *Stack) createFunctions(ctx context.Context) error {
	for _, name := range app.FunctionNames {
		deployed := s.Prefix + "-" + name
		out, err := s.lambda.CreateFunction(ctx, &awslambda.CreateFunctionInput{
			FunctionName:  aws.String(deployed),
			Role:          aws.String("arn:aws:iam::" + AccountID + ":role/" + s.Prefix + "-" + name),
			Runtime:       lambdatypes.RuntimeProvidedal2023,
			Handler:       aws.String("bootstrap"),
			Architectures: []lambdatypes.Architecture{lambdatypes.ArchitectureArm64},
			Timeout:       aws.Int32(int32(functionTimeout / time.Second)),
			Code:          &lambdatypes.FunctionCode{ZipFile: []byte("local")},
		}, withInvokeEndpoint(s.functions.endpoint(name)))
		if err != nil {
			return fmt.Errorf("devstack: create function %s: %w", deployed, err)
		}
		s.names[name] = deployed
		s.Functions[name] = aws.ToString(out.FunctionArn)
	}
	return nil
}

// withInvokeEndpoint adds kumo's non-AWS InvokeEndpoint field to the
// serialized CreateFunction body; the SDK has no field for it.
func withInvokeEndpoint(endpoint string) func(*awslambda.Options) {
	inject := middleware.BuildMiddlewareFunc("devstackInvokeEndpoint", func(
		ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler,
	) (middleware.BuildOutput, middleware.Metadata, error) {
		req, ok := in.Request.(*smithyhttp.Request)
		if !ok || req.GetStream() == nil {
			return next.HandleBuild(ctx, in)
		}
		raw, err := io.ReadAll(req.GetStream())
		if err != nil {
			return middleware.BuildOutput{}, middleware.Metadata{}, err
		}
		body := map[string]any{}
		if err := json.Unmarshal(raw, &body); err != nil {
			return middleware.BuildOutput{}, middleware.Metadata{}, fmt.Errorf("inject InvokeEndpoint: %w", err)
		}
		body["InvokeEndpoint"] = endpoint
		raw, _ = json.Marshal(body)
		// SetStream also sets Content-Length from the new body.
		if in.Request, err = req.SetStream(bytes.NewReader(raw)); err != nil {
			return middleware.BuildOutput{}, middleware.Metadata{}, err
		}
		return next.HandleBuild(ctx, in)
	})
	return func(o *awslambda.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Build.Add(inject, middleware.Before)
		})
	}
}
