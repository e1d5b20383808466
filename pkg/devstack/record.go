package devstack

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// In AWS, Step Functions and EventBridge Scheduler invoke functions with
// their own roles, which need lambda:InvokeFunction. Nothing local checks
// those roles, so a harness that checks them itself (the e2e suite's IAM
// recording) learns of every such invocation here.

// Invoker is the AWS service whose role an invocation needs.
type Invoker string

const (
	// InvokerStateMachine is the state machine's role (a Lambda task).
	InvokerStateMachine Invoker = "state-machine"
	// InvokerScheduler is the schedule's role (the sweep, reaper and digest
	// tickers stand in for EventBridge Scheduler).
	InvokerScheduler Invoker = "scheduler"
)

// Invocation is one function invocation made on the stack's behalf.
type Invocation struct {
	By Invoker
	// Function is the deployed function name or ARN, as the invoker named it.
	Function string
}

var invocationObserver atomic.Pointer[func(Invocation)]

// ObserveInvocations has f told of every invocation made by a state machine
// or a schedule of any stack in this process; nil stops. The observer must
// be quick: it runs on the invocation's path.
func ObserveInvocations(f func(Invocation)) {
	if f == nil {
		invocationObserver.Store(nil)
		return
	}
	invocationObserver.Store(&f)
}

func observeInvocation(by Invoker, function string) {
	if f := invocationObserver.Load(); f != nil {
		(*f)(Invocation{By: by, Function: function})
	}
}

// ResourceARNs are the ARNs of a stack's resources as the emulators report
// them (DynamoDB and KMS may run on moto, whose account differs).
type ResourceARNs struct {
	StateTable, AuditTable string
	CAKey, DigestKey       string
	StateMachine           string
	EventBus               string
	Functions              map[string]string // app function name -> ARN
}

// ResourceARNs reads the tables' ARNs from DynamoDB and returns them with
// the ARNs the stack already knows.
func (s *Stack) ResourceARNs(ctx context.Context) (ResourceARNs, error) {
	out := ResourceARNs{CAKey: s.Config.CAKeyID, DigestKey: s.Config.DigestKeyID, StateMachine: s.Config.StateMachineARN, Functions: map[string]string{},
		EventBus: "arn:aws:events:" + Region + ":" + AccountID + ":event-bus/" + s.Config.EventBus}
	for name, arn := range s.Functions {
		out.Functions[name] = arn
	}
	ddb := dynamodb.NewFromConfig(s.AWSConfig)
	for _, t := range []struct {
		name string
		arn  *string
	}{{s.Config.StateTable, &out.StateTable}, {s.Config.AuditTable, &out.AuditTable}} {
		d, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(t.name)})
		if err != nil {
			return ResourceARNs{}, fmt.Errorf("devstack: describe table %s: %w", t.name, err)
		}
		if d.Table == nil || aws.ToString(d.Table.TableArn) == "" {
			return ResourceARNs{}, fmt.Errorf("devstack: describe table %s: no ARN in the answer", t.name)
		}
		*t.arn = aws.ToString(d.Table.TableArn)
	}
	return out, nil
}
