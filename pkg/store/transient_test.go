package store

import (
	"errors"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Which AWS failures a caller may retry (503, RetryableError) and which are
// a definitive answer.
func TestTransient(t *testing.T) {
	respErr := func(status int, cause error) error {
		return &smithy.OperationError{ServiceID: "DynamoDB", OperationName: "GetItem", Err: &awshttp.ResponseError{
			ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: cause},
		}}
	}
	api := func(code string) error { return &smithy.GenericAPIError{Code: code, Message: code} }
	for name, tc := range map[string]struct {
		err       error
		retryable bool
	}{
		"no response (connection refused)": {respErr(0, errors.New("dial tcp: connection refused")), true},
		"500":                              {respErr(500, api("InternalServerError")), true},
		"503":                              {respErr(503, api("ServiceUnavailable")), true},
		"429":                              {respErr(429, api("Throttling")), true},
		"throttle code on a 400":           {respErr(400, api("ProvisionedThroughputExceededException")), true},
		"validation":                       {respErr(400, api("ValidationException")), false},
		"access denied":                    {respErr(400, api("AccessDeniedException")), false},
		"resource not found":               {respErr(400, api("ResourceNotFoundException")), false},
		"no HTTP at all (a local failure)": {errors.New("marshal: bad value"), true},
	} {
		got := errors.Is(transient(tc.err), domain.ErrUnavailable)
		if got != tc.retryable {
			t.Errorf("%s: retryable = %v, want %v", name, got, tc.retryable)
		}
	}
}

// A cancelled transaction is classified by its reasons: a failed condition
// is a change to re-read, a conflict is resent, throttling is retried later
// (503), anything else is a definitive answer.
func TestCancellation(t *testing.T) {
	cancelled := func(codes ...string) *types.TransactionCanceledException {
		e := &types.TransactionCanceledException{}
		for _, c := range codes {
			e.CancellationReasons = append(e.CancellationReasons, types.CancellationReason{Code: aws.String(c)})
		}
		return e
	}
	for name, tc := range map[string]struct {
		e    *types.TransactionCanceledException
		want cancelReason
	}{
		"condition":                     {cancelled("None", "ConditionalCheckFailed"), cancelledByCondition},
		"condition beats conflict":      {cancelled("TransactionConflict", "ConditionalCheckFailed"), cancelledByCondition},
		"conflict":                      {cancelled("None", "TransactionConflict"), cancelledByConflict},
		"throttled":                     {cancelled("ThrottlingError", "None"), cancelledByThrottle},
		"provisioned throughput":        {cancelled("None", "ProvisionedThroughputExceeded"), cancelledByThrottle},
		"throttled and conflict":        {cancelled("ThrottlingError", "TransactionConflict"), cancelledByThrottle},
		"validation":                    {cancelled("ValidationError"), cancelledOtherwise},
		"item collection size":          {cancelled("None", "ItemCollectionSizeLimitExceeded"), cancelledOtherwise},
		"no reasons (nothing to retry)": {cancelled(), cancelledByCondition},
	} {
		if got := cancellation(tc.e); got != tc.want {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
}
