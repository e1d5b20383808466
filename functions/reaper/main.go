// Command reaper is the certctl-serverless reaper Lambda function. It only wires:
// the handler and the clients it uses are built by pkg/function/reaper,
// as the local harness builds them.
package main

import (
	"github.com/certctl-serverless/certctl-serverless/pkg/function/reaper"
	"github.com/certctl-serverless/certctl-serverless/pkg/lambdafn"
)

func main() { lambdafn.Main(reaper.Name, reaper.New) }
