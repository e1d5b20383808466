package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certctl-serverless/certctl-serverless/pkg/app"
)

// maxBinaryBytes is the size budget of one function's bootstrap (20 MiB,
// "MB" as the Makefile prints it).
const maxBinaryBytes = 20 << 20

// binDir is where `make build` puts bin/<fn>/bootstrap, seen from this package.
const binDir = "../bin"

// BenchmarkBinarySizes checks every function's bootstrap built by `make
// build` against the size budget.
func BenchmarkBinarySizes(b *testing.B) {
	sizes := map[string]int64{}
	var missing []string
	for b.Loop() {
		missing = missing[:0]
		for _, fn := range app.FunctionNames {
			fi, err := os.Stat(filepath.Join(binDir, fn, "bootstrap"))
			if err != nil {
				missing = append(missing, fn)
				continue
			}
			sizes[fn] = fi.Size()
		}
	}
	if len(missing) > 0 {
		b.Fatalf("no bootstrap under %s for %s: run `make build` first", binDir, strings.Join(missing, ", "))
	}

	fmt.Printf("\nLambda binary sizes (budget %d MB each):\n", maxBinaryBytes>>20)
	var over []string
	for _, fn := range app.FunctionNames {
		mb := float64(sizes[fn]) / (1 << 20)
		flag := ""
		if sizes[fn] > maxBinaryBytes {
			flag = "  OVER BUDGET"
			over = append(over, fmt.Sprintf("%s (%.1f MB)", fn, mb))
		}
		fmt.Printf("  %-14s %6.1f MB%s\n", fn, mb, flag)
		b.ReportMetric(mb, "MB/"+fn)
	}
	fmt.Println()
	if len(over) > 0 {
		b.Fatalf("over the %d MB budget: %s", maxBinaryBytes>>20, strings.Join(over, ", "))
	}
}
