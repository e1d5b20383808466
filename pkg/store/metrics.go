package store

import (
	"context"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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
func (st *Store) observeDecision(kind domain.ApprovalKind, outcome, profileID string, age time.Duration) types.TransactWriteItem {
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
	return types.TransactWriteItem{Update: &types.Update{
		TableName:        aws.String(st.stateTable),
		Key:              key(metricPartition(kind)+"#"+outcome+"#"+profileID, "METRIC"),
		UpdateExpression: aws.String("ADD #count :one, sum_seconds :age, #bucket :one SET outcome = :o, profile_id = :p, list_pk = :lp, list_sk = :ls"),
		ExpressionAttributeNames: map[string]string{
			"#count":  "count",
			"#bucket": bucketAttr(bucket),
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": n(1),
			":age": &types.AttributeValueMemberN{Value: strconv.FormatFloat(secs, 'f', 3, 64)},
			":o":   s(outcome),
			":p":   s(profileID),
			":lp":  s(metricPartition(kind)),
			":ls":  s(outcome + "#" + profileID),
		},
	}}
}

// ListDecisionMetrics reads every decision series of one kind.
func (st *Store) ListDecisionMetrics(ctx context.Context, kind domain.ApprovalKind) ([]domain.DecisionMetric, error) {
	in := st.listQuery(metricPartition(kind))
	in.ScanIndexForward = aws.Bool(true)
	var out []domain.DecisionMetric
	token := ""
	for {
		items, next, err := st.queryPage(ctx, in, domain.PageRequest{Limit: 500, Token: token})
		if err != nil {
			return nil, err
		}
		for _, item := range items {
			m := domain.DecisionMetric{Kind: kind, Outcome: str(item, "outcome"), ProfileID: str(item, "profile_id")}
			m.Count = num(item, "count")
			m.SumSecs, _ = strconv.ParseFloat(numText(item, "sum_seconds"), 64)
			for i := 0; i <= len(domain.PendingAgeBuckets); i++ {
				m.Buckets = append(m.Buckets, num(item, bucketAttr(i)))
			}
			out = append(out, m)
		}
		if next == "" {
			return out, nil
		}
		token = next
	}
}

func numText(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		return v.Value
	}
	return "0"
}

func num(item map[string]types.AttributeValue, name string) int64 {
	// Counters are only ever written with ADD of integers.
	v, _ := strconv.ParseInt(numText(item, name), 10, 64)
	return v
}
