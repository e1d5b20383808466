// Package store is the DynamoDB adapter: one state table (single-table
// design) and one append-only audit table. Every state change is a
// conditional write or a transaction that carries its audit row.
package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
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
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store reads and writes certctl-serverless state.
type Store struct {
	db         DB
	stateTable string
	auditTable string

	// chainRetries counts transactions resent because another one moved
	// a chain head first (ChainRetries).
	chainRetries atomic.Int64
	// unchained is set only by WithoutChain, which only the benchmarks'
	// build has: rows appended without links, the chain's cost baseline.
	unchained bool
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
		err := st.transactOnce(ctx, items)
		var c *conflicted
		switch {
		case !errors.As(err, &c):
			return err
		case attempt < conflictRetries && sleepJittered(ctx, attempt):
			continue
		}
		return fmt.Errorf("%w: still conflicting after %d attempts: %v", workflow.ErrChanged, attempt+1, c.err)
	}
}

// transactOnce sends a TransactWriteItems call once and classifies a
// cancellation: conditions that failed (*conditionFailed), another
// transaction holding an item (*conflicted), throttling (503).
func (st *Store) transactOnce(ctx context.Context, items []types.TransactWriteItem) error {
	// A new input each time: the SDK fills in ClientRequestToken (and
	// keeps it across its own retries of one call, which is what the
	// token is for). A resend after a definitive cancellation, or of a
	// transaction linked again on moved chain heads, is a new request and
	// must not reuse the token of the cancelled one.
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
		return &conditionFailed{reasons: cancelled.CancellationReasons, err: err}
	case cancelledByConflict:
		return &conflicted{err: err}
	case cancelledByThrottle:
		return domain.Unavailable("a dependency (DynamoDB) is throttling; retry", fmt.Errorf("store: transaction throttled: %w", err))
	}
	return transient(fmt.Errorf("store: transaction cancelled: %w", err))
}

// conflicted is a transaction cancelled only because another transaction
// held one of its items: nothing was written, and a later send may pass.
type conflicted struct{ err error }

func (e *conflicted) Error() string {
	return workflow.ErrChanged.Error() + ": conflicting: " + e.err.Error()
}
func (e *conflicted) Unwrap() []error { return []error{workflow.ErrChanged, e.err} }

// conditionFailed is a transaction cancelled because conditions failed.
// It is workflow.ErrChanged to every caller; commit also reads which
// items failed (and, where the request asked, what they held), to tell a
// lost race for a chain head from a changed transition.
type conditionFailed struct {
	reasons []types.CancellationReason
	err     error
}

func (e *conditionFailed) Error() string   { return workflow.ErrChanged.Error() + ": " + e.err.Error() }
func (e *conditionFailed) Unwrap() []error { return []error{workflow.ErrChanged, e.err} }

// failed reports whether item i's condition failed.
func (e *conditionFailed) failed(i int) bool {
	return i < len(e.reasons) && aws.ToString(e.reasons[i].Code) == "ConditionalCheckFailed"
}

// onlyAmong reports whether every failed condition is one of items.
func (e *conditionFailed) onlyAmong(items []int) bool {
	for i := range e.reasons {
		if e.failed(i) && !slices.Contains(items, i) {
			return false
		}
	}
	return true
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

// sleepBackoff waits a random time up to an exponentially growing bound
// (5 ms doubling, at most 200 ms: full jitter); false if ctx ended.
func sleepBackoff(ctx context.Context, attempt int) bool {
	bound := min(5*time.Millisecond<<min(attempt, 6), 200*time.Millisecond)
	t := time.NewTimer(time.Duration(rand.Int64N(int64(bound))) + time.Millisecond)
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
// and its audit trail succeed or fail together. A row that carries a notice
// (the event its transition publishes) also queues the notice in the
// outbox, in the same transaction (withOutbox). Each row is linked into
// its shard's hash chain in the same transaction (chain.go): the rows
// carry their hashes and the shard heads move, each on the condition that
// it is still where it was read. A transaction that lost only the race
// for a head is linked again on the new head and resent; the transition's
// own items are resent unchanged, with their own conditions.
//
// When the outcome is unknown (the request may have been applied, but the
// answer was lost), the first audit row, whose key is unique to this
// transaction, tells what happened; so does a resend refused because that
// row already exists.
func (st *Store) commit(ctx context.Context, items []types.TransactWriteItem, audits ...*domain.AuditEvent) error {
	if len(audits) == 0 {
		return st.transact(ctx, items)
	}
	rows := make([]*auditItem, len(audits))
	for i, ev := range audits {
		row, err := auditItemOf(ev)
		if err != nil {
			return err
		}
		rows[i] = row
	}
	items, err := st.withOutbox(items, audits)
	if err != nil {
		return err
	}
	if st.unchained {
		return st.commitUnchained(ctx, items, rows)
	}
	var known map[string]*chainHeadItem
	started := time.Now()
	conflicts := 0
	for attempt := 1; ; attempt++ {
		heads, err := st.chainHeads(ctx, rows, known)
		if err != nil {
			return err
		}
		tx, err := st.chained(items, rows, heads)
		if err != nil {
			return err
		}
		err = st.transactOnce(ctx, tx.items)
		var cf *conditionFailed
		var c *conflicted
		switch {
		case err == nil:
			return nil
		case errors.As(err, &cf) && slices.ContainsFunc(tx.rowAt, cf.failed):
			return nil // a row of this transaction exists: an earlier send of it was applied
		case errors.As(err, &cf) && cf.onlyAmong(tx.headAt):
			// Another transaction moved a head first: link again on it.
			st.chainRetries.Add(1)
			if time.Since(started) > chainPatience || !sleepBackoff(ctx, attempt) {
				return domain.Unavailable("the audit trail is busy; retry", fmt.Errorf("store: chain heads still moving after %d attempts: %w", attempt, err))
			}
			known = tx.headsAfter(cf)
			continue
		case errors.As(err, &c):
			// Another transaction held an item (often a head it was
			// moving): nothing was written. Resending the same links
			// would only meet the moved head, so wait as transact does,
			// then read the heads again and link anew. The transition's
			// items are sent unchanged; past the budget it is a race the
			// caller reclassifies, as for any transaction.
			conflicts++
			if (conflicts > conflictRetries && time.Since(started) > chainPatience) || !sleepJittered(ctx, min(conflicts-1, conflictRetries)) {
				return fmt.Errorf("%w: still conflicting after %d attempts: %v", workflow.ErrChanged, attempt, c.err)
			}
			known = nil
			continue
		case outcomeUnknown(err) && st.committed(ctx, rows[0].itemKey):
			return nil
		}
		return err
	}
}

// withOutbox adds to a transition's items the outbox entry of each row
// that carries a notice (the event the transition publishes), so that an
// event is queued if and only if its transition commits. The entries are
// the transition's: resent unchanged when the chain is linked again.
func (st *Store) withOutbox(items []types.TransactWriteItem, audits []*domain.AuditEvent) ([]types.TransactWriteItem, error) {
	out := items
	for _, ev := range audits {
		nt := ev.Notice
		if nt == nil {
			continue
		}
		if nt.ID != ev.ID {
			return nil, fmt.Errorf("store: the notice of audit row %s has id %q: an event's id is its row's", ev.ID, nt.ID)
		}
		o, err := st.outboxPut(nt)
		if err != nil {
			return nil, err
		}
		if len(out) == len(items) {
			out = slices.Clone(items) // never the caller's backing array
		}
		out = append(out, o)
	}
	return out, nil
}

// commitUnchained is commit as it was before the chain: the rows put
// with attribute_not_exists and nothing else (see WithoutChain).
func (st *Store) commitUnchained(ctx context.Context, items []types.TransactWriteItem, rows []*auditItem) error {
	tx := slices.Clone(items)
	for _, row := range rows {
		item, err := marshalItem(row)
		if err != nil {
			return err
		}
		put, err := txPut(st.auditTable, item, isNew())
		if err != nil {
			return err
		}
		tx = append(tx, put)
	}
	err := st.transact(ctx, tx)
	if err != nil && outcomeUnknown(err) && st.committed(ctx, rows[0].itemKey) {
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
