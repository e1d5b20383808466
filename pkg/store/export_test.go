package store

import (
	"testing"

	"github.com/certctl-serverless/certctl-serverless/pkg/domain"
)

// Test helpers shared with the external test package.
var (
	CheckGolden = checkGolden
	AVMapJSON   = avMapJSON
)

// StoredAttrNames is every attribute name an expression may use: the attr
// constants and the histogram buckets.
func StoredAttrNames(t testing.TB) map[string]bool {
	names := map[string]bool{}
	for _, v := range attrConstants(t) {
		names[v] = true
	}
	for i := 0; i <= len(domain.PendingAgeBuckets); i++ {
		names[bucketAttr(i)] = true
	}
	return names
}
