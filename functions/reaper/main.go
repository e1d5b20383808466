// Command reaper is the certctl-serverless reaper Lambda function. All wiring
// lives in pkg/app so the local harness runs the same handler.
package main

import "github.com/certctl-serverless/certctl-serverless/pkg/app"

func main() { app.Main(app.FnReaper) }
