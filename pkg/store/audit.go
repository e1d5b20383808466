package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
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
	q := query{table: st.auditTable}
	rest := map[string]string{attrActor: f.Actor, attrAction: f.Action}
	var partition expression.KeyConditionBuilder
	switch {
	case f.ResourceID != "":
		partition = keyOf(attrPK).Equal(valueOf(s(auditPartition(f.ResourceID))))
	case f.Actor != "":
		q.index = AuditIndexActor
		partition = keyOf(attrActor).Equal(valueOf(s(f.Actor)))
		delete(rest, attrActor)
	case f.Action != "":
		q.index = AuditIndexAction
		partition = keyOf(attrAction).Equal(valueOf(s(f.Action)))
		delete(rest, attrAction)
	default:
		return st.listAuditByDay(ctx, f, until, page)
	}
	q.key = partition.And(auditWindow(f.Since, until))
	q.filter = eqFilters(rest)
	return queryAs(ctx, st, q, page, auditFromItem)
}

// auditWindow is the rows from since to until (inclusive) by sort key.
func auditWindow(since, until time.Time) expression.KeyConditionBuilder {
	return keyOf(attrSK).Between(valueOf(s(SortTime(since))), valueOf(s(SortTime(until)+"#~")))
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
	cur := dayCursor{Day: until.Format(dayLayout)}
	if page.Token != "" {
		b, err := base64.RawURLEncoding.DecodeString(page.Token)
		cur = dayCursor{}
		if err != nil || json.Unmarshal(b, &cur) != nil {
			return nil, "", domain.Invalidf("page_token is malformed: pass next_page_token as it was returned")
		}
		if _, err := time.Parse(dayLayout, cur.Day); err != nil || cur.Day > until.Format(dayLayout) {
			return nil, "", domain.Invalidf("page_token does not belong to this list: pass next_page_token as it was returned, with the same filters")
		}
	}
	var items []map[string]types.AttributeValue
	for cur.Day >= since.Format(dayLayout) {
		in, err := query{
			table: st.auditTable, index: AuditIndexDay,
			key: keyOf(attrDay).Equal(valueOf(s(cur.Day))).And(auditWindow(since, until)),
		}.input()
		if err != nil {
			return nil, "", err
		}
		got, next, err := st.queryPage(ctx, in, domain.PageRequest{Limit: page.Limit - len(items), Token: cur.Key})
		if err != nil {
			return nil, "", err
		}
		items = append(items, got...)
		cur.Key = next
		if next == "" {
			day, _ := time.Parse(dayLayout, cur.Day)
			cur.Day = day.AddDate(0, 0, -1).Format(dayLayout)
		}
		if len(items) >= page.Limit {
			break
		}
	}
	token := ""
	if cur.Day >= since.Format(dayLayout) && len(items) >= page.Limit {
		b, _ := json.Marshal(cur)
		token = base64.RawURLEncoding.EncodeToString(b)
	}
	return decodeAll(items, token, auditFromItem)
}
