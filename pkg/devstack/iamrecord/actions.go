package iamrecord

import (
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// authorization is one (action, resource) IAM checks for a request; a
// request may need several (a transaction needs one per item).
type authorization struct {
	action string
	target target
}

// authorizations maps an SDK operation's typed input to what IAM checks.
// Operations not listed here are recorded as service:Operation on "*", so
// a role granting them only on specific resources fails the check until
// this mapping learns them: a wrong pass would be worse.
func authorizations(params any, serviceID, operation string) []authorization {
	table := func(action string, name *string, index *string) authorization {
		return authorization{"dynamodb:" + action, target{kind: targetTable, name: aws.ToString(name), index: aws.ToString(index)}}
	}
	key := func(action string, id *string) []authorization {
		return []authorization{{"kms:" + action, target{kind: targetKey, name: aws.ToString(id)}}}
	}
	switch in := params.(type) {
	// DynamoDB: item and query actions are checked on the table, or on
	// <table>/index/<name> for a query of a GSI.
	case *dynamodb.GetItemInput:
		return []authorization{table("GetItem", in.TableName, nil)}
	case *dynamodb.PutItemInput:
		return []authorization{table("PutItem", in.TableName, nil)}
	case *dynamodb.UpdateItemInput:
		return []authorization{table("UpdateItem", in.TableName, nil)}
	case *dynamodb.DeleteItemInput:
		return []authorization{table("DeleteItem", in.TableName, nil)}
	case *dynamodb.QueryInput:
		return []authorization{table("Query", in.TableName, in.IndexName)}
	case *dynamodb.ScanInput:
		return []authorization{table("Scan", in.TableName, in.IndexName)}
	case *dynamodb.TransactWriteItemsInput:
		// TransactWriteItems is not an IAM action: each item needs its own.
		var out []authorization
		for _, it := range in.TransactItems {
			switch {
			case it.Put != nil:
				out = append(out, table("PutItem", it.Put.TableName, nil))
			case it.Update != nil:
				out = append(out, table("UpdateItem", it.Update.TableName, nil))
			case it.Delete != nil:
				out = append(out, table("DeleteItem", it.Delete.TableName, nil))
			case it.ConditionCheck != nil:
				out = append(out, table("ConditionCheckItem", it.ConditionCheck.TableName, nil))
			}
		}
		return out
	case *dynamodb.TransactGetItemsInput:
		var out []authorization
		for _, it := range in.TransactItems {
			if it.Get != nil {
				out = append(out, table("GetItem", it.Get.TableName, nil))
			}
		}
		return out
	case *dynamodb.BatchGetItemInput:
		return perTable("BatchGetItem", keys(in.RequestItems))
	case *dynamodb.BatchWriteItemInput:
		return perTable("BatchWriteItem", keys(in.RequestItems))

	case *kms.SignInput:
		return key("Sign", in.KeyId)
	case *kms.VerifyInput:
		return key("Verify", in.KeyId)
	case *kms.GetPublicKeyInput:
		return key("GetPublicKey", in.KeyId)
	case *kms.DescribeKeyInput:
		return key("DescribeKey", in.KeyId)

	// Step Functions authorizes a task response against the state machine
	// whose task the token belongs to.
	case *sfn.StartExecutionInput:
		return []authorization{{"states:StartExecution", target{kind: targetARN, name: aws.ToString(in.StateMachineArn)}}}
	case *sfn.SendTaskSuccessInput:
		return []authorization{{"states:SendTaskSuccess", target{kind: targetTaskToken}}}
	case *sfn.SendTaskFailureInput:
		return []authorization{{"states:SendTaskFailure", target{kind: targetTaskToken}}}
	case *sfn.SendTaskHeartbeatInput:
		return []authorization{{"states:SendTaskHeartbeat", target{kind: targetTaskToken}}}
	case *sfn.DescribeExecutionInput:
		return []authorization{{"states:DescribeExecution", target{kind: targetARN, name: aws.ToString(in.ExecutionArn)}}}
	case *sfn.StopExecutionInput:
		return []authorization{{"states:StopExecution", target{kind: targetARN, name: aws.ToString(in.ExecutionArn)}}}

	// EventBridge authorizes PutEvents per entry, on the entry's bus.
	case *eventbridge.PutEventsInput:
		var out []authorization
		for _, e := range in.Entries {
			out = append(out, authorization{"events:PutEvents", target{kind: targetBus, name: aws.ToString(e.EventBusName)}})
		}
		return out

	case *lambda.InvokeInput:
		return []authorization{{"lambda:InvokeFunction", target{kind: targetFunction, name: aws.ToString(in.FunctionName)}}}

	// Delivery targets: checked on the parameter's or the secret's ARN.
	case *ssm.PutParameterInput:
		return []authorization{{"ssm:PutParameter", target{kind: targetParameter, name: aws.ToString(in.Name)}}}
	case *secretsmanager.PutSecretValueInput:
		return []authorization{{"secretsmanager:PutSecretValue", target{kind: targetSecret, name: aws.ToString(in.SecretId)}}}
	case *secretsmanager.CreateSecretInput:
		return []authorization{{"secretsmanager:CreateSecret", target{kind: targetSecret, name: aws.ToString(in.Name)}}}
	}
	return []authorization{{iamPrefix(serviceID) + ":" + operation, target{kind: targetAny}}}
}

func perTable(action string, tables []string) []authorization {
	out := make([]authorization, 0, len(tables))
	for _, t := range tables {
		out = append(out, authorization{"dynamodb:" + action, target{kind: targetTable, name: t}})
	}
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// iamPrefix is the IAM service prefix of an SDK service ID where they differ.
func iamPrefix(serviceID string) string {
	if p, ok := map[string]string{"SFN": "states", "Secrets Manager": "secretsmanager", "EventBridge": "events"}[serviceID]; ok {
		return p
	}
	return strings.ToLower(strings.ReplaceAll(serviceID, " ", ""))
}
