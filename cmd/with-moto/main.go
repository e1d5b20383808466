// Command with-moto runs a command with DynamoDB, KMS, SSM and Secrets
// Manager on a private moto server: the strict test tier. It starts moto on
// a free port, sets the SDK's standard per-service endpoint variables
// (AWS_ENDPOINT_URL_DYNAMODB, _KMS, _SSM, _SECRETSMANAGER) for the command,
// and stops moto when the command ends, exiting with its status.
//
//	go run ./cmd/with-moto -- go test ./e2e/...
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/certctl-serverless/certctl-serverless/pkg/devstack/motoserver"
)

// strictServices go to moto; Step Functions, Lambda, API Gateway and
// EventBridge stay on the embedded emulator.
var strictServices = []string{"DYNAMODB", "KMS", "SSM", "SECRETSMANAGER"}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: with-moto -- COMMAND [ARG]...")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := motoserver.Start(ctx, os.Getenv("MOTO_LOG"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "with-moto:", err)
		return 1
	}
	defer srv.Close()
	fmt.Fprintln(os.Stderr, "with-moto: DynamoDB, KMS, SSM and Secrets Manager on moto at", srv.URL)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = os.Environ()
	for _, service := range strictServices {
		cmd.Env = append(cmd.Env, "AWS_ENDPOINT_URL_"+service+"="+srv.URL)
	}
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	}
	fmt.Fprintln(os.Stderr, "with-moto:", err)
	return 1
}
