// Command sweep is the certctl-serverless sweep Lambda function. It only wires:
// the handler and the clients it uses are built by pkg/function/sweep,
// as the local harness builds them.
package main

import (
	"github.com/certctl-serverless/certctl-serverless/pkg/function/sweep"
	"github.com/certctl-serverless/certctl-serverless/pkg/lambdafn"
)

func main() { lambdafn.Main(sweep.Name, sweep.New) }
