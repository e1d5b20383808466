// Command finalize is the certctl-serverless finalize Lambda function. It only wires:
// the handler and the clients it uses are built by pkg/function/finalize,
// as the local harness builds them.
package main

import (
	"github.com/certctl-serverless/certctl-serverless/pkg/function/finalize"
	"github.com/certctl-serverless/certctl-serverless/pkg/lambdafn"
)

func main() { lambdafn.Main(finalize.Name, finalize.New) }
