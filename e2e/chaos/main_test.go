package chaos

import (
	"fmt"
	"os"
	"testing"

	"github.com/certctl-serverless/certctl-serverless/e2e/contract"
)

// TestMain validates every exchange of the scenarios against the API's
// OpenAPI document: faults change which answers come, never their shape.
func TestMain(m *testing.M) {
	checker, err := contract.Install()
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
	code := m.Run()
	if code == 0 && contract.Failed(os.Stderr, "chaos", checker) {
		code = 1
	}
	os.Exit(code)
}
