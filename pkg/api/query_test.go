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
	a := New(nil, nil, nil, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	send := func(rt route, rawQuery string) (int, string) {
		t.Helper()
		target := strings.ReplaceAll(rt.Path, "{id}", "x") + "?" + rawQuery
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
