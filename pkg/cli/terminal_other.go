//go:build !unix

package cli

import "os"

// windowWidth is unknown here: tables are trimmed only to $COLUMNS.
func windowWidth(*os.File) int { return 0 }
