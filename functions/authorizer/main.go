// Command authorizer is the certctl-serverless authorizer Lambda function. It only wires:
// the handler and the clients it uses are built by pkg/function/authorizer,
// as the local harness builds them.
package main

import (
	"github.com/certctl-serverless/certctl-serverless/pkg/function/authorizer"
	"github.com/certctl-serverless/certctl-serverless/pkg/lambdafn"
)

func main() { lambdafn.Main(authorizer.Name, authorizer.New) }
