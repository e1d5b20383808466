package store

import (
	"context"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// bucketAttr names the attribute counting observations that fall in the
// bucket with upper bound bound (or above every bound: "inf").
func bucketAttr(i int) string {
	if i == len(domain.PendingAgeBuckets) {
		return "b_inf"
	}
	return "b_" + strconv.FormatInt(domain.PendingAgeBuckets[i], 10)
}

// metricPartition lists one kind's series: certificate decisions keep the
// original partition, profile edits have their own.
func metricPartition(kind domain.ApprovalKind) string {
	if kind == domain.KindCertIssuance {
		return "METRIC"
	}
	return "METRIC_" + string(kind)
}

// observeDecision is the transaction item that counts one decision and
// observes its pending age, with ADD so concurrent decisions never lose a
// count and every Lambda instance sees the same totals.
func (st *Store) observeDecision(kind domain.ApprovalKind, outcome, profileID string, age time.Duration) (types.TransactWriteItem, error) {
	secs := age.Seconds()
	if secs < 0 {
		secs = 0
	}
	bucket := len(domain.PendingAgeBuckets)
	for i, bound := range domain.PendingAgeBuckets {
		if secs <= float64(bound) {
			bucket = i
			break
		}
	}
	partition := metricPartition(kind)
	k := itemKey{PK: partition + "#" + outcome + "#" + profileID, SK: "METRIC"}
	upd := expression.Add(nameOf(attrCount), valueOf(n(1))).
		Add(nameOf(attrSumSeconds), valueOf(&types.AttributeValueMemberN{Value: strconv.FormatFloat(secs, 'f', 3, 64)})).
		Add(nameOf(bucketAttr(bucket)), valueOf(n(1))).
		Set(nameOf(attrOutcome), valueOf(s(outcome))).
		Set(nameOf(attrProfileID), valueOf(s(profileID))).
		Set(nameOf(attrListPK), valueOf(s(partition))).
		Set(nameOf(attrListSK), valueOf(s(outcome+"#"+profileID)))
	return st.txUpdate(k, upd)
}

// ListDecisionMetrics reads every decision series of one kind.
func (st *Store) ListDecisionMetrics(ctx context.Context, kind domain.ApprovalKind) ([]domain.DecisionMetric, error) {
	q := st.listQuery(metricPartition(kind))
	q.forward = true
	in, err := q.input()
	if err != nil {
		return nil, err
	}
	var out []domain.DecisionMetric
	token := ""
	for {
		items, next, err := st.queryPage(ctx, in, domain.PageRequest{Limit: 500, Token: token})
		if err != nil {
			return nil, err
		}
		for _, item := range items {
			var it metricItem
			if err := unmarshalItem(item, &it); err != nil {
				return nil, err
			}
			m := domain.DecisionMetric{Kind: kind, Outcome: it.Outcome, ProfileID: it.ProfileID, Count: it.Count, SumSecs: it.SumSeconds}
			for i := 0; i <= len(domain.PendingAgeBuckets); i++ {
				m.Buckets = append(m.Buckets, bucketCount(item, i))
			}
			out = append(out, m)
		}
		if next == "" {
			return out, nil
		}
		token = next
	}
}

// bucketCount reads histogram bucket i of a metric item; an absent
// bucket counts nothing.
func bucketCount(item map[string]types.AttributeValue, i int) int64 {
	v, ok := item[bucketAttr(i)].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	// Counters are only ever written with ADD of integers.
	c, _ := strconv.ParseInt(v.Value, 10, 64)
	return c
}
