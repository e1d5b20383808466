package client

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/certctl-serverless/certctl-serverless/pkg/apikey"
	"github.com/certctl-serverless/certctl-serverless/pkg/store"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// jsonFields lists the JSON names a struct type encodes, following
// embedded structs as encoding/json does.
func jsonFields(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		if f.Anonymous && name == "" {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// The client mirrors some server types rather than importing the server's
// packages; these must stay field-for-field the same as what the server
// reads and writes.
func TestMirrorsMatchTheServer(t *testing.T) {
	for _, pair := range [][2]any{
		{ProfileInput{}, workflow.ProfileInput{}},
		{CertificateInput{}, workflow.CertificateInput{}},
		{Started{}, workflow.Started{}},
		{PendingEdit{}, workflow.PendingEdit{}},
		{Approval{}, workflow.ApprovalView{}},
		{Decision{}, workflow.DecisionResult{}},
		{KeyInput{}, apikey.CreateRequest{}},
		{Key{}, apikey.View{}},
		{CreatedKey{}, apikey.Created{}},
		{Principal{}, store.Principal{}},
	} {
		mine, theirs := jsonFields(reflect.TypeOf(pair[0])), jsonFields(reflect.TypeOf(pair[1]))
		if !slices.Equal(mine, theirs) {
			t.Errorf("%T has JSON fields %v; the server's %T has %v", pair[0], mine, pair[1], theirs)
		}
	}
}
