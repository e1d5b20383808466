// Command sweep is the certctl-serverless sweep Lambda function. All wiring
// lives in pkg/app so the local harness runs the same handler.
package main

import "github.com/certctl-serverless/certctl-serverless/pkg/app"

func main() { app.Main(app.FnSweep) }
