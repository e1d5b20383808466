package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// maxBody bounds request bodies; a CSR is a few KiB.
const maxBody = 256 << 10

// errEmptyBody is a request without a body.
var errEmptyBody = domain.Invalidf("request body is empty; expected a JSON object")

// decode reads exactly one JSON object into v, strictly: the body is at
// most maxBody bytes of valid UTF-8 sent as application/json; every field
// name is one of v's, spelled exactly (JSON matching in Go ignores case),
// and appears once; no string holds a control character; nothing follows
// the object. Whatever is refused is a 400 (415 for the media type) that
// says why, and nothing is half-read.
func decode(r *http.Request, v any) error {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return domain.Invalidf("request body could not be read: %v", err)
	}
	if len(raw) > maxBody {
		return domain.Invalidf("request body is larger than %d bytes", maxBody)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return errEmptyBody
	}
	if err := jsonMediaType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	if !utf8.Valid(raw) {
		return domain.Invalidf("request body is not valid UTF-8")
	}
	var tree any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tree, err = readValue(dec, "body"); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return domain.Invalidf("request body has trailing data after the JSON object")
	}
	if _, isObject := tree.(map[string]any); !isObject {
		return domain.Invalidf("request body must be a JSON object")
	}
	if err := checkFields(reflect.TypeOf(v), tree, ""); err != nil {
		return err
	}
	strict := json.NewDecoder(bytes.NewReader(raw))
	strict.DisallowUnknownFields()
	if err := strict.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return domain.Invalidf("%s: expected %s, got a JSON %s", typeErr.Field, typeErr.Type, typeErr.Value)
		}
		return domain.Invalidf("request body is not valid JSON for this route: %v", err)
	}
	return nil
}

// decodeOptional is decode for routes whose body may be empty.
func decodeOptional(r *http.Request, v any) error {
	if err := decode(r, v); err != nil && err != errEmptyBody {
		return err
	}
	return nil
}

func mediaType(format string, args ...any) error {
	return &domain.Error{Kind: domain.KindUnsupportedMedia, Public: fmt.Sprintf(format, args...)}
}

func jsonMediaType(ct string) error {
	if ct == "" {
		return mediaType("Content-Type is missing; send the body as application/json")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return mediaType("Content-Type %q is not accepted; send the body as application/json", ct)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return mediaType("charset %q is not accepted; send UTF-8", cs)
	}
	return nil
}

// readValue reads one JSON value into a tree (objects as maps, arrays as
// slices), refusing duplicate names and control characters in strings.
func readValue(dec *json.Decoder, at string) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, domain.Invalidf("request body is not valid JSON: %v", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := map[string]any{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, domain.Invalidf("request body is not valid JSON: %v", err)
				}
				name, _ := kt.(string)
				if err := plainText(at+" field name", name, false); err != nil {
					return nil, err
				}
				if _, dup := obj[name]; dup {
					return nil, domain.Invalidf("%s: field %q appears more than once", at, name)
				}
				if obj[name], err = readValue(dec, join(at, name)); err != nil {
					return nil, err
				}
			}
			_, err := dec.Token()
			return obj, err
		case '[':
			var arr []any
			for i := 0; dec.More(); i++ {
				v, err := readValue(dec, fmt.Sprintf("%s[%d]", at, i))
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := dec.Token()
			return arr, err
		}
	case string:
		return t, plainText(at, t, true)
	}
	return tok, nil
}

func join(at, name string) string {
	if at == "body" {
		return name
	}
	return at + "." + name
}

// plainText refuses characters that change how text is displayed rather
// than what it says: C0 and C1 controls (escape sequences, NUL, BEL), and
// every format character (Unicode category Cf: zero-width spaces and
// joiners, bidirectional marks, embeddings, overrides and isolates, the
// byte order mark, soft hyphens) and line and paragraph separator (Zl,
// Zp), which hide or reorder what a reviewer sees. Free text keeps new
// lines and tabs.
func plainText(at, s string, freeText bool) error {
	for _, r := range s {
		switch {
		case freeText && (r == '\n' || r == '\t'):
		case unicode.IsControl(r):
			return domain.Invalidf("%s contains the control character %U", at, r)
		case unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp):
			return domain.Invalidf("%s contains the invisible or directional character %U", at, r)
		}
	}
	return nil
}

// checkFields walks the decoded tree beside v's type and refuses any object
// field the type does not declare with exactly that name.
func checkFields(t reflect.Type, tree any, at string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch node := tree.(type) {
	case map[string]any:
		if t.Kind() == reflect.Map {
			for k, v := range node {
				if err := checkFields(t.Elem(), v, join(at, k)); err != nil {
					return err
				}
			}
			return nil
		}
		if t.Kind() != reflect.Struct {
			return nil // a type error, reported by the decoder
		}
		fields := jsonFields(t)
		for k, v := range node {
			ft, ok := fields[k]
			if !ok {
				where := "body"
				if at != "" {
					where = at
				}
				return domain.Invalidf("%s: unknown field %q", where, k)
			}
			if err := checkFields(ft, v, join(at, k)); err != nil {
				return err
			}
		}
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, v := range node {
				if err := checkFields(t.Elem(), v, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// jsonFields maps the exact JSON names of a struct's fields (embedded
// structs flattened, as encoding/json does) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					out[k] = v
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
