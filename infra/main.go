// Command infra is the certctl-serverless CDK app (cdk.json at the
// repository root runs it). Configuration comes from CDK context, e.g.
//
//	cdk deploy -c stage=prod -c production=true -c alarmEmail=ops@example.com
//
// See infra/README.md for every context key.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

func main() {
	os.Exit(run())
}

func run() int {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	props, err := PropsFromContext(func(k string) any { return app.Node().TryGetContext(jsii.String(k)) })
	if err == nil {
		_, err = NewStack(app, props, nil)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "certctl-serverless infra:", err)
		return 1
	}
	nag := true
	if v := app.Node().TryGetContext(jsii.String("nag")); v != nil {
		if b, perr := parseBool(fmt.Sprint(v)); perr == nil {
			nag = b
		}
	}
	if nag {
		ApplyNag(app)
	}
	app.Synth(nil)
	return 0
}
