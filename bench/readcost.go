package bench

import (
	"context"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// Read-capacity rules (DynamoDB on-demand and provisioned alike): a read is
// billed per started 4 KB; a strongly consistent read of 4 KB costs 1 RCU,
// an eventually consistent one (every GSI query) half of that. A Query or
// Scan is rounded up once over the items it examined, a GetItem per item;
// even a read that finds nothing costs one unit.
const readUnitBytes = 4 << 10

// ReadUnits is the RCU cost of reading size bytes in one request.
func ReadUnits(size int, consistent bool) float64 {
	units := math.Max(1, math.Ceil(float64(size)/readUnitBytes))
	if consistent {
		return units
	}
	return units / 2
}

// ItemSize estimates an item's size as DynamoDB counts it: the UTF-8 length
// of every attribute name plus the size of its value.
func ItemSize(item map[string]types.AttributeValue) int {
	size := 0
	for name, v := range item {
		size += len(name) + valueSize(v)
	}
	return size
}

// valueSize follows the DynamoDB item-size rules: strings and binaries by
// length, numbers at one byte per two significant digits plus one, booleans
// and nulls one byte, lists and maps three bytes plus one byte and the size
// (and, for maps, the key) of every element, sets the sum of their members.
func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return numberSize(v.Value)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberNS:
		n := 0
		for _, s := range v.Value {
			n += numberSize(s)
		}
		return n
	case *types.AttributeValueMemberBS:
		n := 0
		for _, b := range v.Value {
			n += len(b)
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range v.Value {
			n += 1 + len(k) + valueSize(e)
		}
		return n
	}
	return 0
}

// numberSize is (significant digits + 1) / 2 + 1 bytes.
func numberSize(s string) int {
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimLeft(s, "+-")
	s = strings.Replace(s, ".", "", 1)
	s = strings.Trim(s, "0")
	if s == "" {
		return 1
	}
	return (len(s)+1)/2 + 1
}

// ReadStats is what one DynamoDB operation read.
type ReadStats struct {
	Calls    int
	Returned int     // items in the responses (Query/Scan Count; GetItem 0 or 1)
	Examined int     // items DynamoDB read and billed: ScannedCount, or Returned
	Bytes    int     // estimated size of the items examined
	RCU      float64 // read capacity, from Bytes and the read's consistency
}

// ReadMeter records, per DynamoDB operation, the items read and the read
// capacity they cost, estimated from the item sizes (the store does not ask
// for ReturnConsumedCapacity). Install it with APIOption on the clients to
// measure; writes are counted as calls that read nothing.
type ReadMeter struct {
	mu   sync.Mutex
	ops  map[string]*ReadStats // "DynamoDB.Query" -> stats
	keys map[string]int        // pk of every item read -> times read
}

// NewReadMeter returns an empty meter.
func NewReadMeter() *ReadMeter {
	return &ReadMeter{ops: map[string]*ReadStats{}, keys: map[string]int{}}
}

type readInputKey struct{}

// APIOption adds the meter to an SDK operation's stack: an Initialize
// middleware keeps the typed input on the context (for ConsistentRead), and
// a Deserialize middleware, first in its step so that it sees the typed
// result, records what each successful attempt returned.
func (m *ReadMeter) APIOption(st *middleware.Stack) error {
	err := st.Initialize.Add(middleware.InitializeMiddlewareFunc("certctlBenchReadInput", func(
		ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler,
	) (middleware.InitializeOutput, middleware.Metadata, error) {
		return next.HandleInitialize(context.WithValue(ctx, readInputKey{}, in.Parameters), in)
	}), middleware.After)
	if err != nil {
		return err
	}
	return st.Deserialize.Add(middleware.DeserializeMiddlewareFunc("certctlBenchMeterReads", func(
		ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler,
	) (middleware.DeserializeOutput, middleware.Metadata, error) {
		out, md, err := next.HandleDeserialize(ctx, in)
		if err == nil && awsmiddleware.GetServiceID(ctx) == "DynamoDB" {
			m.record(awsmiddleware.GetServiceID(ctx)+"."+awsmiddleware.GetOperationName(ctx), ctx.Value(readInputKey{}), out.Result)
		}
		return out, md, err
	}), middleware.Before)
}

func (m *ReadMeter) record(op string, input, result any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rs := m.ops[op]
	if rs == nil {
		rs = &ReadStats{}
		m.ops[op] = rs
	}
	rs.Calls++
	switch out := result.(type) {
	case *dynamodb.QueryOutput:
		consistent := false
		if in, ok := input.(*dynamodb.QueryInput); ok && in.IndexName == nil {
			consistent = aws.ToBool(in.ConsistentRead) // a GSI is always eventually consistent
		}
		m.paged(rs, out.Items, int(out.Count), int(out.ScannedCount), consistent)
	case *dynamodb.ScanOutput:
		consistent := false
		if in, ok := input.(*dynamodb.ScanInput); ok && in.IndexName == nil {
			consistent = aws.ToBool(in.ConsistentRead)
		}
		m.paged(rs, out.Items, int(out.Count), int(out.ScannedCount), consistent)
	case *dynamodb.GetItemOutput:
		consistent := false
		if in, ok := input.(*dynamodb.GetItemInput); ok {
			consistent = aws.ToBool(in.ConsistentRead)
			m.keys[keyString(in.Key["pk"])]++
		}
		size := 0
		if len(out.Item) > 0 {
			size = ItemSize(out.Item)
			rs.Returned++
			rs.Examined++
		}
		rs.Bytes += size
		rs.RCU += ReadUnits(size, consistent)
	case *dynamodb.BatchGetItemOutput:
		// Each key is billed like a GetItem; a key that found nothing
		// still costs one read unit when strongly consistent (half if not).
		in, _ := input.(*dynamodb.BatchGetItemInput)
		for table, items := range out.Responses {
			consistent := false
			if in != nil {
				if ka, ok := in.RequestItems[table]; ok {
					consistent = aws.ToBool(ka.ConsistentRead)
				}
			}
			for _, it := range items {
				size := ItemSize(it)
				rs.Returned++
				rs.Examined++
				rs.Bytes += size
				rs.RCU += ReadUnits(size, consistent)
			}
		}
		if in != nil {
			for table, ka := range in.RequestItems {
				for range len(ka.Keys) - len(out.Responses[table]) - len(out.UnprocessedKeys[table].Keys) {
					rs.RCU += ReadUnits(0, aws.ToBool(ka.ConsistentRead))
				}
			}
		}
	}
}

// paged records a Query or Scan page. Items dropped by a filter were read
// and billed but are not in the response: they are sized at the mean of
// the returned ones (zero when none came back).
func (m *ReadMeter) paged(rs *ReadStats, items []map[string]types.AttributeValue, count, scanned int, consistent bool) {
	size := 0
	for _, it := range items {
		size += ItemSize(it)
		m.keys[keyString(it["pk"])]++
	}
	if scanned > count && count > 0 {
		size += (scanned - count) * size / count
	}
	rs.Returned += count
	rs.Examined += scanned
	rs.Bytes += size
	rs.RCU += ReadUnits(size, consistent)
}

func keyString(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// Reset forgets everything recorded.
func (m *ReadMeter) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops = map[string]*ReadStats{}
	m.keys = map[string]int{}
}

// Snapshot returns a copy of the stats per operation.
func (m *ReadMeter) Snapshot() map[string]ReadStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]ReadStats, len(m.ops))
	for op, rs := range m.ops {
		out[op] = *rs
	}
	return out
}

// KeysRead lists the partition keys (pk) of the items read, sorted.
func (m *ReadMeter) KeysRead() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.keys))
	for k := range m.keys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Total sums stats over operations.
func Total(stats map[string]ReadStats) ReadStats {
	var t ReadStats
	for _, rs := range stats {
		t.Calls += rs.Calls
		t.Returned += rs.Returned
		t.Examined += rs.Examined
		t.Bytes += rs.Bytes
		t.RCU += rs.RCU
	}
	return t
}
