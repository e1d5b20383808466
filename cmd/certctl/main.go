// Command certctl is the command-line client of certctl-serverless: it
// drives the HTTPS API (profiles, certificates, approvals, jobs, keys) and
// holds bootstrap-key, which creates the first admin key straight in
// DynamoDB. Everything lives in pkg/cli; this file only connects it to the
// process.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/certctl-serverless/certctl-serverless/pkg/cli"
)

func main() {
	// Ctrl-C cancels the request or the wait in flight instead of killing
	// the process mid-write.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.Run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
