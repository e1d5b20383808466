// Command api is the certctl-serverless api Lambda function. It only wires:
// the handler and the clients it uses are built by pkg/function/api,
// as the local harness builds them.
package main

import (
	"github.com/certctl-serverless/certctl-serverless/pkg/function/api"
	"github.com/certctl-serverless/certctl-serverless/pkg/lambdafn"
)

func main() { lambdafn.Main(api.Name, api.New) }
