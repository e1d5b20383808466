package store

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// attrConstants reads the attr* constants of attrs.go: name → value.
func attrConstants(t testing.TB) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "attrs.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, id := range vs.Names {
			if lit, ok := vs.Values[i].(*ast.BasicLit); ok && strings.HasPrefix(id.Name, "attr") {
				out[id.Name], _ = strconv.Unquote(lit.Value)
			}
		}
		return true
	})
	if len(out) == 0 {
		t.Fatal("no attr constants found in attrs.go")
	}
	return out
}

// itemTypes are the stored item types; their fields, and the fields of
// the records nested in them, are every stored attribute.
var itemTypes = []any{
	profileItem{}, certItem{}, jobItem{}, approvalItem{}, versionItem{}, issuerItem{}, apiKeyItem{}, apiKeyIDItem{},
	principalItem{}, adminsItem{}, governanceItem{}, markerItem{}, metricItem{}, auditItem{}, chainHeadItem{}, digestItem{}, pendingCountItem{}, outboxItem{},
	revocationEntryItem{}, crlItem{}, deliveryItem{},
}

// storedNames collects the dynamodbav names of t's fields, following
// embedded and nested structs, pointers, slices and maps.
func storedNames(t reflect.Type, into map[string]bool) {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map:
		storedNames(t.Elem(), into)
		return
	case reflect.Struct:
	default:
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("dynamodbav"), ",")
		if name != "" {
			into[name] = true
		}
		storedNames(f.Type, into)
	}
}

// Every name an expression uses is a field of an item type: a constant
// that names nothing stored (a typo, or a field renamed on one side only)
// fails here.
func TestAttrConstantsNameStoredFields(t *testing.T) {
	stored := map[string]bool{}
	for _, it := range itemTypes {
		storedNames(reflect.TypeOf(it), stored)
	}
	seen := map[string]string{}
	for constant, name := range attrConstants(t) {
		if !stored[name] {
			t.Errorf("%s = %q is no item type's dynamodbav name", constant, name)
		}
		if other, dup := seen[name]; dup {
			t.Errorf("%s and %s both name %q", constant, other, name)
		}
		seen[name] = constant
	}
}

// No expression in the package names an attribute with a string literal:
// names come from the attr constants (or bucketAttr), through the builder.
func TestExpressionsNameAttributesByConstant(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	// Functions whose first argument is an attribute name.
	naming := map[string]bool{"nameOf": true, "keyOf": true, "equals": true, "expression.Name": true,
		"expression.NameNoDotSplit": true, "expression.Key": true}
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if naming[callee(n.Fun)] && len(n.Args) > 0 && isStringLit(n.Args[0]) {
					t.Errorf("%s: %s names an attribute with a literal", fset.Position(n.Pos()), callee(n.Fun))
				}
			case *ast.KeyValueExpr:
				// Requests take their expressions, names and values from a
				// built expression only.
				if k, ok := n.Key.(*ast.Ident); ok && (strings.HasSuffix(k.Name, "Expression") || strings.HasPrefix(k.Name, "ExpressionAttribute")) {
					ast.Inspect(n.Value, func(v ast.Node) bool {
						if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
							t.Errorf("%s: %s is written by hand", fset.Position(lit.Pos()), k.Name)
						}
						if _, ok := v.(*ast.CompositeLit); ok {
							t.Errorf("%s: %s is written by hand", fset.Position(v.Pos()), k.Name)
						}
						return true
					})
				}
			}
			return true
		})
	}
}

func callee(fun ast.Expr) string {
	switch f := fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		if x, ok := f.X.(*ast.Ident); ok {
			return x.Name + "." + f.Sel.Name
		}
	}
	return ""
}

func isStringLit(e ast.Expr) bool {
	lit, ok := e.(*ast.BasicLit)
	return ok && lit.Kind == token.STRING
}
