package devstack

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/app"
)

var placeholder = regexp.MustCompile(`\$\{[A-Za-z0-9_]+\}`)

// Partition is the AWS partition of the emulated account; the ASL's
// ${Partition} placeholder (the stack substitutes AWS::Partition) becomes it.
const Partition = "aws"

// Definition returns the ASL with its ${...} placeholders replaced, failing
// on any placeholder it does not know, so a renamed one cannot slip through.
func Definition(asl string, functionARNs map[string]string) (string, error) {
	subst := map[string]string{
		"${Partition}":               Partition,
		"${ApprovalWaitFunctionArn}": functionARNs[app.FnApprovalWait],
		"${IssueFunctionArn}":        functionARNs[app.FnIssue],
		"${FinalizeFunctionArn}":     functionARNs[app.FnFinalize],
	}
	var unknown []string
	out := placeholder.ReplaceAllStringFunc(asl, func(p string) string {
		if v := subst[p]; v != "" {
			return v
		}
		unknown = append(unknown, p)
		return p
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("devstack: state machine: no value for %s", strings.Join(unknown, ", "))
	}
	return out, nil
}

// createStateMachine creates the state machine from asl, the embedded
// statemachines/renewal.asl.json unless a test supplies another.
func (s *Stack) createStateMachine(ctx context.Context, asl string) error {
	def, err := Definition(asl, s.Functions)
	if err != nil {
		return err
	}
	out, err := sfn.NewFromConfig(s.AWSConfig).CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String(s.Prefix + "-renewal"),
		Type:       sfntypes.StateMachineTypeStandard,
		Definition: aws.String(def),
		RoleArn:    aws.String("arn:aws:iam::" + AccountID + ":role/" + s.Prefix + "-renewal"),
	})
	if err != nil {
		return fmt.Errorf("devstack: create state machine: %w", err)
	}
	s.Config.StateMachineARN = aws.ToString(out.StateMachineArn)
	return nil
}

// stopExecutions aborts this stack's running executions (best effort).
func (s *Stack) stopExecutions(ctx context.Context) {
	client := sfn.NewFromConfig(s.AWSConfig)
	out, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{
		StateMachineArn: aws.String(s.Config.StateMachineARN),
		StatusFilter:    sfntypes.ExecutionStatusRunning,
		MaxResults:      1000,
	})
	if err != nil {
		return
	}
	for _, e := range out.Executions {
		_, _ = client.StopExecution(ctx, &sfn.StopExecutionInput{
			ExecutionArn: e.ExecutionArn,
			Error:        aws.String("LocalStackClosed"),
			Cause:        aws.String("the local stack was shut down"),
		})
	}
}
