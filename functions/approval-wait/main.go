// Command approval-wait is the certctl-serverless approval-wait Lambda function. All wiring
// lives in pkg/app so the local harness runs the same handler.
package main

import "github.com/certctl-serverless/certctl-serverless/pkg/app"

func main() { app.Main(app.FnApprovalWait) }
