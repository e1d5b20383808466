package faults

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// Contention models DynamoDB's optimistic concurrency, which no emulator
// here reproduces (they run one request at a time): a transaction touching
// an item that another transaction or write holds at that moment is
// cancelled with TransactionConflict, and a single-item write to an item a
// transaction holds fails with TransactionConflictException. A write holds
// its items for Hold from the moment it is sent — about as long as
// DynamoDB takes to apply one — whatever the emulator behind it does with
// its queue, so the conflicts do not depend on the test tier.
type Contention struct {
	Hold time.Duration

	mu        sync.Mutex
	held      map[string]holder
	conflicts int
	requests  int
}

type holder struct {
	txUntil, singleUntil time.Time
}

// NewContention returns an empty model whose writes hold their items for
// 20 ms.
func NewContention() *Contention {
	return &Contention{Hold: 20 * time.Millisecond, held: map[string]holder{}}
}

// Conflicts and Requests report how many writes were refused, of how many.
func (c *Contention) Conflicts() (conflicts, requests int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conflicts, c.requests
}

// APIOption adds the model to an SDK client's stack.
func (c *Contention) APIOption(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("faultsContention", c.handle), middleware.After)
}

func (c *Contention) handle(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	if awsmiddleware.GetServiceID(ctx) != "DynamoDB" {
		return next.HandleInitialize(ctx, in)
	}
	keys, tx := writeKeys(in.Parameters)
	if keys == nil {
		return next.HandleInitialize(ctx, in)
	}
	now := time.Now()
	c.mu.Lock()
	c.requests++
	for n, k := range keys {
		h := c.held[k]
		if h.txUntil.After(now) || (tx && h.singleUntil.After(now)) {
			c.conflicts++
			c.mu.Unlock()
			if tx {
				return middleware.InitializeOutput{}, middleware.Metadata{}, conflict(len(keys), n)
			}
			return middleware.InitializeOutput{}, middleware.Metadata{}, httpError(http.StatusBadRequest,
				&ddbtypes.TransactionConflictException{Message: aws.String("Transaction is ongoing for the item (contention model)")})
		}
	}
	until := now.Add(c.Hold)
	for _, k := range keys {
		h := c.held[k]
		if tx {
			h.txUntil = until
		} else {
			h.singleUntil = until
		}
		c.held[k] = h
	}
	for k, h := range c.held {
		if !h.txUntil.After(now) && !h.singleUntil.After(now) {
			delete(c.held, k)
		}
	}
	c.mu.Unlock()
	return next.HandleInitialize(ctx, in)
}

// writeKeys lists the items a write touches ("table pk sk"), and whether it
// is a transaction; nil for reads.
func writeKeys(params any) (keys []string, tx bool) {
	key := func(table *string, k map[string]ddbtypes.AttributeValue) string {
		return fmt.Sprintf("%s %v %v", aws.ToString(table), attrString(k["pk"]), attrString(k["sk"]))
	}
	switch in := params.(type) {
	case *dynamodb.TransactWriteItemsInput:
		for _, it := range in.TransactItems {
			switch {
			case it.Put != nil:
				keys = append(keys, key(it.Put.TableName, it.Put.Item))
			case it.Update != nil:
				keys = append(keys, key(it.Update.TableName, it.Update.Key))
			case it.Delete != nil:
				keys = append(keys, key(it.Delete.TableName, it.Delete.Key))
			case it.ConditionCheck != nil:
				keys = append(keys, key(it.ConditionCheck.TableName, it.ConditionCheck.Key))
			}
		}
		return keys, true
	case *dynamodb.PutItemInput:
		return []string{key(in.TableName, in.Item)}, false
	case *dynamodb.UpdateItemInput:
		return []string{key(in.TableName, in.Key)}, false
	case *dynamodb.DeleteItemInput:
		return []string{key(in.TableName, in.Key)}, false
	}
	return nil, false
}

func attrString(v ddbtypes.AttributeValue) string {
	if s, ok := v.(*ddbtypes.AttributeValueMemberS); ok {
		return s.Value
	}
	return fmt.Sprint(v)
}
