// Command issue is the certctl-serverless issue Lambda function. It only wires:
// the handler and the clients it uses are built by pkg/function/issue,
// as the local harness builds them.
package main

import (
	"github.com/certctl-serverless/certctl-serverless/pkg/function/issue"
	"github.com/certctl-serverless/certctl-serverless/pkg/lambdafn"
)

func main() { lambdafn.Main(issue.Name, issue.New) }
