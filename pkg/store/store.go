// Package store is the DynamoDB adapter: one state table (single-table
// design) and one append-only audit table. Every state change is a
// conditional write or a transaction that carries its audit row.
package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// DB is the subset of the DynamoDB API the store uses.
type DB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store reads and writes certctl-serverless state.
type Store struct {
	db         DB
	stateTable string
	auditTable string
}

// New returns a Store over the two tables.
func New(db DB, stateTable, auditTable string) *Store {
	return &Store{db: db, stateTable: stateTable, auditTable: auditTable}
}

// get reads one item with a strongly consistent read; a missing item is
// domain.ErrNotFound.
func (st *Store) get(ctx context.Context, k itemKey, what string) (map[string]types.AttributeValue, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(st.stateTable),
		Key:            k.av(),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, transient(fmt.Errorf("store: get %s: %w", what, err))
	}
	if len(out.Item) == 0 {
		return nil, domain.NotFoundf("%s", what)
	}
	return out.Item, nil
}

// conflictRetries bounds how often a transaction cancelled only by
// TransactionConflict (another transaction held one of its items) is sent
// again. Nothing of a cancelled transaction was written, so resending the
// same request is safe; the SDK does not retry it by itself. Items every
// request of a kind touches (a profile's certificate count, the governance
// version, a profile's decision counters) make such conflicts routine when
// requests arrive together, so the budget is sized for bursts: with the
// backoff below, 16 concurrent creations on one profile all succeed under
// the contention model the tests apply (e2e/contention_test.go).
const conflictRetries = 10

// Backoff between resends: full jitter over an exponential ceiling.
const (
	conflictBackoffBase = 20 * time.Millisecond
	conflictBackoffCap  = time.Second
)

// transact runs a TransactWriteItems call. A cancellation whose reasons are
// all conditional-check failures becomes workflow.ErrChanged; one caused by
// conflicting transactions is resent a few times and then also reported as
// workflow.ErrChanged, so callers re-read and reclassify instead of failing.
func (st *Store) transact(ctx context.Context, items []types.TransactWriteItem) error {
	for attempt := 0; ; attempt++ {
		// A new input each time: the SDK fills in ClientRequestToken (and
		// keeps it across its own retries of one call, which is what the
		// token is for). A resend after a definitive cancellation is a new
		// request and must not reuse the token of the cancelled one.
		in := &dynamodb.TransactWriteItemsInput{TransactItems: items}
		_, err := st.db.TransactWriteItems(ctx, in)
		if err == nil {
			return nil
		}
		var inProgress *types.TransactionInProgressException
		if errors.As(err, &inProgress) {
			// An earlier send with this token (an SDK retry after a lost
			// answer) is still running: it may yet commit. commit() reads
			// the audit row to learn which.
			return fmt.Errorf("%w: %w", errOutcomeUnknown, domain.Unavailable("a DynamoDB transaction is still in progress; retry", err))
		}
		var cancelled *types.TransactionCanceledException
		if !errors.As(err, &cancelled) {
			return transient(fmt.Errorf("store: transaction: %w", err))
		}
		switch cancellation(cancelled) {
		case cancelledByCondition:
			return fmt.Errorf("%w: %v", workflow.ErrChanged, err)
		case cancelledByConflict:
			if attempt < conflictRetries && sleepJittered(ctx, attempt) {
				continue
			}
			return fmt.Errorf("%w: still conflicting after %d attempts: %v", workflow.ErrChanged, attempt+1, err)
		case cancelledByThrottle:
			return domain.Unavailable("a dependency (DynamoDB) is throttling; retry", fmt.Errorf("store: transaction throttled: %w", err))
		default:
			return transient(fmt.Errorf("store: transaction cancelled: %w", err))
		}
	}
}

type cancelReason int

const (
	cancelledByCondition cancelReason = iota
	cancelledByConflict
	cancelledByThrottle // the table's or the account's capacity: retry later
	cancelledOtherwise  // validation, item collection size: not a race
)

// cancellation classifies a cancelled transaction by its reasons. A failed
// condition wins over a conflict: resending cannot make it hold.
func cancellation(e *types.TransactionCanceledException) cancelReason {
	conflict, throttled, other := false, false, false
	for _, r := range e.CancellationReasons {
		switch aws.ToString(r.Code) {
		case "", "None":
		case "ConditionalCheckFailed":
			return cancelledByCondition
		case "TransactionConflict":
			conflict = true
		case "ThrottlingError", "ProvisionedThroughputExceeded":
			throttled = true
		default:
			other = true
		}
	}
	switch {
	case other:
		return cancelledOtherwise
	case throttled:
		return cancelledByThrottle
	case conflict:
		return cancelledByConflict
	}
	return cancelledByCondition
}

// sleepJittered waits a random time up to an exponentially growing
// ceiling (full jitter); false if ctx ended first.
func sleepJittered(ctx context.Context, attempt int) bool {
	ceiling := min(conflictBackoffCap, conflictBackoffBase<<attempt)
	t := time.NewTimer(time.Duration(rand.Int64N(int64(ceiling)) + 1))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// write runs one conditional single-item write. A TransactionConflict
// (the item is part of a transaction in progress) is retried like the SDK
// retries throttling; a failed condition is workflow.ErrChanged.
func (st *Store) write(ctx context.Context, what string, call func() error) error {
	for attempt := 0; ; attempt++ {
		err := call()
		var conflict *types.TransactionConflictException
		switch {
		case err == nil:
			return nil
		case isConditionFailed(err):
			return fmt.Errorf("%w: %s", workflow.ErrChanged, what)
		case errors.As(err, &conflict) && attempt < conflictRetries && sleepJittered(ctx, attempt):
			continue
		case errors.As(err, &conflict):
			return fmt.Errorf("%w: %s: still conflicting: %v", workflow.ErrChanged, what, err)
		}
		return transient(fmt.Errorf("store: %s: %w", what, err))
	}
}

// transient marks errors a caller may retry later (throttling, AWS 5xx,
// a network failure) as domain.ErrUnavailable, so the API answers 503 and
// workflow tasks are retried; other errors pass through unchanged.
func transient(err error) error {
	var re interface{ HTTPStatusCode() int }
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &re) && (re.HTTPStatusCode() >= 500 || re.HTTPStatusCode() == 429 || re.HTTPStatusCode() == 0):
		// 0: no response at all (the request could not be sent).
	case errors.As(err, &apiErr) && isThrottle(apiErr.ErrorCode()):
	case errors.As(err, &re), errors.As(err, &apiErr):
		return err // a definitive answer from AWS
	}
	return domain.Unavailable("a dependency (DynamoDB) is unavailable; retry", err)
}

func isThrottle(code string) bool {
	_, ok := retry.DefaultThrottleErrorCodes[code]
	return ok
}

// commit runs items and the audit rows as one transaction: a state change
// and its audit trail succeed or fail together. When the outcome is unknown
// (the request may have been applied, but the answer was lost), the first
// audit row, whose key is unique to this transaction, tells what happened.
func (st *Store) commit(ctx context.Context, items []types.TransactWriteItem, audits ...*domain.AuditEvent) error {
	var marker *itemKey
	for _, ev := range audits {
		row, err := auditItemOf(ev)
		if err != nil {
			return err
		}
		a, err := st.auditPut(row)
		if err != nil {
			return err
		}
		if marker == nil {
			marker = &row.itemKey
		}
		items = append(items, a)
	}
	err := st.transact(ctx, items)
	if err == nil || marker == nil || !outcomeUnknown(err) {
		return err
	}
	if st.committed(ctx, *marker) {
		return nil
	}
	return err
}

// commitTxn commits a transaction whose items were built without error.
func (st *Store) commitTxn(ctx context.Context, t *txn, audits ...*domain.AuditEvent) error {
	if t.err != nil {
		return t.err
	}
	return st.commit(ctx, t.items, audits...)
}

// auditPut is the transaction item that appends one audit row. The row's
// key is new (time + ULID), and the condition makes the write append-only.
func (st *Store) auditPut(row *auditItem) (types.TransactWriteItem, error) {
	item, err := marshalItem(row)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return txPut(st.auditTable, item, isNew())
}

// errOutcomeUnknown marks an answer that says the transaction may still be
// applied (TransactionInProgressException).
var errOutcomeUnknown = errors.New("store: transaction outcome unknown")

// outcomeUnknown reports errors after which the transaction may or may not
// have been applied: anything but a definitive answer from DynamoDB.
func outcomeUnknown(err error) bool {
	if errors.Is(err, errOutcomeUnknown) {
		return true
	}
	if errors.Is(err, workflow.ErrChanged) {
		return false
	}
	var re interface{ HTTPStatusCode() int }
	return !errors.As(err, &re) || re.HTTPStatusCode() >= 500
}

// committed reads the audit row that only the transaction writes. It runs
// even when ctx has ended (often the reason the outcome is unknown).
func (st *Store) committed(ctx context.Context, row itemKey) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(st.auditTable),
		Key:            row.av(),
		ConsistentRead: aws.Bool(true),
	})
	return err == nil && len(out.Item) > 0
}
