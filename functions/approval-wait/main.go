// Command approval-wait is the certctl-serverless approval-wait Lambda function. It only wires:
// the handler and the clients it uses are built by pkg/function/approvalwait,
// as the local harness builds them.
package main

import (
	"github.com/certctl-serverless/certctl-serverless/pkg/function/approvalwait"
	"github.com/certctl-serverless/certctl-serverless/pkg/lambdafn"
)

func main() { lambdafn.Main(approvalwait.Name, approvalwait.New) }
