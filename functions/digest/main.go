// Command digest is the certctl-serverless digest Lambda function. It only
// wires: the handler and the clients it uses are built by
// pkg/function/digest, as the local harness builds them.
package main

import (
	"github.com/certctl-serverless/certctl-serverless/pkg/function/digest"
	"github.com/certctl-serverless/certctl-serverless/pkg/lambdafn"
)

func main() { lambdafn.Main(digest.Name, digest.New) }
