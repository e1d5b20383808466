package bench

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// maxSizeRatio is the size budget of one function's bootstrap: at most this
// many times the bare function's (bench/testdata/bare), both built here with
// the Lambda flags for linux/arm64.
const maxSizeRatio = 1.25

// maxBinaryBytes is an absolute ceiling on any bootstrap, the bare one
// included (20 MiB, "MB" as the tables print it). The ratio cannot see both
// sides grow, e.g. with an SDK upgrade; this can.
const maxBinaryBytes = 20 << 20

// BenchmarkBinarySizes builds every function and the bare function for
// linux/arm64 with the Lambda flags and checks each function's size against
// the bare one's.
func BenchmarkBinarySizes(b *testing.B) {
	paths, base := lambdaBinaries(b, lambdaGOOS, lambdaGOARCH)
	names := binaryNames(base)
	sizes := map[string]int64{}
	for b.Loop() {
		for _, name := range names {
			fi, err := os.Stat(paths[name])
			if err != nil {
				b.Fatal(err)
			}
			sizes[name] = fi.Size()
		}
	}

	fmt.Printf("\nLambda binary sizes, %s/%s, %s (budget: at most %.2f× the reference function, and %d MB):\n",
		lambdaGOOS, lambdaGOARCH, lambdaFlagsText, maxSizeRatio, maxBinaryBytes>>20)
	fmt.Printf("  %-26s %8s  %-26s %6s %8s\n", "function", "MB", "reference", "×", "budget")
	var over []string
	for _, name := range names {
		mb := float64(sizes[name]) / (1 << 20)
		ref := base[name]
		if isReference(name) {
			ref = bareName
		}
		ratio := float64(sizes[name]) / float64(sizes[ref])
		budget, flag := "-", ""
		if !isReference(name) {
			budget = fmt.Sprintf("%.2f×", maxSizeRatio)
			if ratio > maxSizeRatio {
				flag = "OVER BUDGET"
				over = append(over, fmt.Sprintf("%s (%.2f× %s)", name, ratio, ref))
			}
			b.ReportMetric(ratio, "x-ref-size/"+name)
		}
		if sizes[name] > maxBinaryBytes {
			flag = strings.TrimSpace(flag + fmt.Sprintf(" OVER %d MB", maxBinaryBytes>>20))
			over = append(over, fmt.Sprintf("%s (%.1f MB)", name, mb))
		}
		fmt.Println(strings.TrimRight(fmt.Sprintf("  %-26s %8.2f  %-26s %6.2f %8s  %s", name, mb, ref, ratio, budget, flag), " "))
		b.ReportMetric(mb, "MB/"+name)
	}
	fmt.Println()
	if len(over) > 0 {
		b.Fatalf("over the binary size budget (%.2f× the reference, %d MB): %s", maxSizeRatio, maxBinaryBytes>>20, strings.Join(over, ", "))
	}
}
