package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/certctl-serverless/certctl-serverless/pkg/apigw"
)

// Every route refuses a query parameter it does not take, and one given
// twice, before its handler runs (the handlers here have no service behind
// them: reaching one would panic).
func TestEveryRouteRefusesForeignAndRepeatedQueryParameters(t *testing.T) {
	a := New(nil, nil, nil, nil, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	send := func(rt route, rawQuery string) (int, string) {
		t.Helper()
		target := strings.NewReplacer("{id}", "x", "{shard}", "00").Replace(rt.Path) + "?" + rawQuery
		r := httptest.NewRequest(rt.Method, target, strings.NewReader("{}"))
		r.Header.Set("Content-Type", "application/json")
		ctx := apigw.WithRequestContext(context.Background(), events.APIGatewayProxyRequestContext{
			Authorizer: map[string]any{"principal": "root", "roles": "admin"},
		})
		w := httptest.NewRecorder()
		a.ServeHTTP(w, r.WithContext(ctx))
		var body errorBody
		_ = json.Unmarshal(w.Body.Bytes(), &body)
		return w.Code, body.Message
	}
	for _, rt := range routeTable {
		name := rt.Method + " " + rt.Path
		if code, msg := send(rt, "bogus=1"); code != http.StatusBadRequest || !strings.Contains(msg, `unknown query parameter "bogus"`) {
			t.Errorf("%s?bogus=1: %d %q", name, code, msg)
		}
		if len(rt.query) == 0 {
			// Not even a list's parameters.
			if code, msg := send(rt, "limit=1"); code != http.StatusBadRequest || !strings.Contains(msg, "takes no query parameters") {
				t.Errorf("%s?limit=1: %d %q", name, code, msg)
			}
			continue
		}
		p := rt.query[0]
		if code, msg := send(rt, p+"=1&"+p+"=2"); code != http.StatusBadRequest || !strings.Contains(msg, "more than once") {
			t.Errorf("%s?%s twice: %d %q", name, p, code, msg)
		}
	}
}

// Every filter a list reads is one its route takes: a filter the handler
// reads but the route table leaves out would be refused as unknown.
func TestListFiltersAreRouteParameters(t *testing.T) {
	for path, filters := range map[string][]string{
		v1 + "/approvals":    {"state", "kind", "profile_id", "certificate_id", "requested_by", "can_vote"},
		v1 + "/certificates": {"status", "profile_id"},
		v1 + "/jobs":         {"certificate_id", "status"},
		v1 + "/audit":        {"actor", "action", "resource_id", "since", "until"},
		v1 + "/apikeys":      {"principal"},
	} {
		found := false
		for _, rt := range routeTable {
			if rt.Method != http.MethodGet || rt.Path != path {
				continue
			}
			found = true
			for _, f := range filters {
				r := httptest.NewRequest(http.MethodGet, path+"?"+f+"=x", nil)
				if err := query(r, rt.query...); err != nil {
					t.Errorf("GET %s?%s=x: %v", path, f, err)
				}
			}
		}
		if !found {
			t.Errorf("no route GET %s", path)
		}
	}
}
