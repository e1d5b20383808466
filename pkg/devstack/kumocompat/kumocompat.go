// Package kumocompat adapts requests to the embedded emulator's parser.
package kumocompat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// DynamoDB is an SDK API option that reshapes DynamoDB
// expressions into a form the embedded emulator parses, leaving their
// meaning as DynamoDB reads it unchanged. The expression builder separates
// clauses with newlines, and kumo only recognises a clause keyword after a
// space; kumo also substitutes name aliases as plain text, so #1 would
// rewrite the start of #10, and reads size(…) only without the space the
// builder puts before its parenthesis. This collapses whitespace, joins
// size to its parenthesis and left-pads alias numbers to one width. It lives here, not in the store, so production
// requests are what the SDK's builder makes.
func DynamoDB(st *middleware.Stack) error {
	return st.Build.Add(middleware.BuildMiddlewareFunc("devstackKumoDynamoDBCompat", func(
		ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler,
	) (middleware.BuildOutput, middleware.Metadata, error) {
		req, ok := in.Request.(*smithyhttp.Request)
		if !ok || awsmiddleware.GetServiceID(ctx) != "DynamoDB" || req.GetStream() == nil {
			return next.HandleBuild(ctx, in)
		}
		raw, err := io.ReadAll(req.GetStream())
		if err != nil {
			return middleware.BuildOutput{}, middleware.Metadata{}, err
		}
		body, err := reshapeExpressions(raw)
		if err != nil {
			return middleware.BuildOutput{}, middleware.Metadata{}, fmt.Errorf("kumocompat: reshape DynamoDB expressions: %w", err)
		}
		if in.Request, err = req.SetStream(bytes.NewReader(body)); err != nil {
			return middleware.BuildOutput{}, middleware.Metadata{}, err
		}
		return next.HandleBuild(ctx, in)
	}), middleware.Before)
}

var expressionFields = []string{"UpdateExpression", "ConditionExpression", "KeyConditionExpression", "FilterExpression", "ProjectionExpression"}

var nameAlias = regexp.MustCompile(`#([0-9]+)`)

// reshapeExpressions rewrites every object of a DynamoDB request body that
// has expressions (the request itself, each transaction item).
func reshapeExpressions(raw []byte) ([]byte, error) {
	var body any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		return nil, err
	}
	reshapeTree(body)
	return json.Marshal(body)
}

func reshapeTree(v any) {
	switch v := v.(type) {
	case map[string]any:
		reshapeObject(v)
		for _, child := range v {
			reshapeTree(child)
		}
	case []any:
		for _, child := range v {
			reshapeTree(child)
		}
	}
}

func reshapeObject(o map[string]any) {
	names, _ := o["ExpressionAttributeNames"].(map[string]any)
	width := len(strconv.Itoa(len(names) - 1))
	pad := func(s string) string {
		if width < 2 {
			return s
		}
		return nameAlias.ReplaceAllStringFunc(s, func(alias string) string {
			return "#" + strings.Repeat("0", max(0, width-(len(alias)-1))) + alias[1:]
		})
	}
	for _, f := range expressionFields {
		if s, ok := o[f].(string); ok {
			o[f] = pad(strings.ReplaceAll(strings.Join(strings.Fields(s), " "), "size (", "size("))
		}
	}
	if names != nil && width >= 2 {
		padded := make(map[string]any, len(names))
		for alias, name := range names {
			padded[pad(alias)] = name
		}
		o["ExpressionAttributeNames"] = padded
	}
}
