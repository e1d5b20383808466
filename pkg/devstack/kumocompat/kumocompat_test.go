package kumocompat

import (
	"encoding/json"
	"testing"
)

func TestReshapeExpressions(t *testing.T) {
	names := map[string]string{}
	for i := 0; i < 12; i++ {
		names["#"+itoa(i)] = "a" + itoa(i)
	}
	body := map[string]any{
		"TransactItems": []any{
			map[string]any{"Update": map[string]any{
				"UpdateExpression":         "SET #1 = :1, #10 = :10\nREMOVE #11",
				"ConditionExpression":      "(#0 = :0)\nAND (#2 <> :2)\nAND (size (#3) = :3)",
				"ExpressionAttributeNames": names,
			}},
			map[string]any{"ConditionCheck": map[string]any{
				"ConditionExpression":      "attribute_not_exists (#0)",
				"ExpressionAttributeNames": map[string]string{"#0": "pk"},
			}},
		},
	}
	raw, _ := json.Marshal(body)
	out, err := reshapeExpressions(raw)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		TransactItems []struct {
			Update *struct {
				UpdateExpression, ConditionExpression string
				ExpressionAttributeNames              map[string]string
			}
			ConditionCheck *struct {
				ConditionExpression      string
				ExpressionAttributeNames map[string]string
			}
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	u := got.TransactItems[0].Update
	if u.UpdateExpression != "SET #01 = :1, #10 = :10 REMOVE #11" || u.ConditionExpression != "(#00 = :0) AND (#02 <> :2) AND (size(#03) = :3)" {
		t.Fatalf("update %q, condition %q", u.UpdateExpression, u.ConditionExpression)
	}
	if u.ExpressionAttributeNames["#01"] != "a1" || u.ExpressionAttributeNames["#10"] != "a10" || len(u.ExpressionAttributeNames) != 12 {
		t.Fatalf("names %v", u.ExpressionAttributeNames)
	}
	c := got.TransactItems[1].ConditionCheck
	if c.ConditionExpression != "attribute_not_exists (#0)" || c.ExpressionAttributeNames["#0"] != "pk" {
		t.Fatalf("a small item is left alone: %+v", c)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }
