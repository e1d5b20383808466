package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// UnfilteredAuditDays bounds how far back an audit listing with no actor,
// action, resource or since goes: it walks the by_day index one day at a time.
const UnfilteredAuditDays = 90

// ListAudit lists audit rows newest first. It picks the narrowest key: the
// resource's own partition, then the actor or action index, and only
// without any of those walks the by_day index day by day.
func (st *Store) ListAudit(ctx context.Context, f domain.AuditFilter, page domain.PageRequest) ([]*domain.AuditEvent, string, error) {
	until := f.Until
	if until.IsZero() {
		until = time.Now().UTC()
	}
	values := map[string]types.AttributeValue{
		":lo": s(SortTime(f.Since)),
		":hi": s(SortTime(until) + "#~"),
	}
	in := &dynamodb.QueryInput{TableName: aws.String(st.auditTable), ScanIndexForward: aws.Bool(false), ExpressionAttributeValues: values}
	rest := map[string]string{"actor": f.Actor, "action": f.Action}
	switch {
	case f.ResourceID != "":
		in.KeyConditionExpression = aws.String("pk = :k AND sk BETWEEN :lo AND :hi")
		values[":k"] = s("AUDIT#" + f.ResourceID)
	case f.Actor != "":
		in.IndexName = aws.String(AuditIndexActor)
		in.KeyConditionExpression = aws.String("actor = :k AND sk BETWEEN :lo AND :hi")
		values[":k"] = s(f.Actor)
		delete(rest, "actor")
	case f.Action != "":
		in.IndexName = aws.String(AuditIndexAction)
		in.KeyConditionExpression = aws.String("#action = :k AND sk BETWEEN :lo AND :hi")
		in.ExpressionAttributeNames = map[string]string{"#action": "action"}
		values[":k"] = s(f.Action)
		delete(rest, "action")
	default:
		return st.listAuditByDay(ctx, f, until, page)
	}
	filter(in, rest)
	return queryAs(ctx, st, in, page, auditFromItem)
}

// dayCursor is the page token of a by_day walk: the day being read and the
// position inside it.
type dayCursor struct {
	Day string `json:"d"`
	Key string `json:"k,omitempty"`
}

func (st *Store) listAuditByDay(ctx context.Context, f domain.AuditFilter, until time.Time, page domain.PageRequest) ([]*domain.AuditEvent, string, error) {
	since := f.Since
	if floor := until.AddDate(0, 0, -UnfilteredAuditDays); since.Before(floor) {
		since = floor
	}
	cur := dayCursor{Day: until.Format("2006-01-02")}
	if page.Token != "" {
		b, err := base64.RawURLEncoding.DecodeString(page.Token)
		if err != nil || json.Unmarshal(b, &cur) != nil || len(cur.Day) != len("2006-01-02") {
			return nil, "", domain.Invalidf("page_token is malformed")
		}
	}
	var items []map[string]types.AttributeValue
	for cur.Day >= since.Format("2006-01-02") {
		in := &dynamodb.QueryInput{
			TableName:                aws.String(st.auditTable),
			IndexName:                aws.String(AuditIndexDay),
			KeyConditionExpression:   aws.String("#day = :d AND sk BETWEEN :lo AND :hi"),
			ExpressionAttributeNames: map[string]string{"#day": "day"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":d":  s(cur.Day),
				":lo": s(SortTime(since)),
				":hi": s(SortTime(until) + "#~"),
			},
			ScanIndexForward: aws.Bool(false),
		}
		got, next, err := st.queryPage(ctx, in, domain.PageRequest{Limit: page.Limit - len(items), Token: cur.Key})
		if err != nil {
			return nil, "", err
		}
		items = append(items, got...)
		cur.Key = next
		if next == "" {
			day, _ := time.Parse("2006-01-02", cur.Day)
			cur.Day = day.AddDate(0, 0, -1).Format("2006-01-02")
		}
		if len(items) >= page.Limit {
			break
		}
	}
	token := ""
	if cur.Day >= since.Format("2006-01-02") && len(items) >= page.Limit {
		b, _ := json.Marshal(cur)
		token = base64.RawURLEncoding.EncodeToString(b)
	}
	return decodeAll(items, token, auditFromItem)
}
