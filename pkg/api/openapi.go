package api

import (
	_ "embed"
	"net/http"
)

// openapiDocument is the API's OpenAPI 3.1 description. The route table,
// the README's route list and this document are checked against each
// other, and the e2e suites validate every exchange against it.
//
//go:embed openapi.json
var openapiDocument []byte

// OpenAPI returns the document served at /api/v1/openapi.json.
func OpenAPI() []byte { return openapiDocument }

func (a *API) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(openapiDocument)
}
