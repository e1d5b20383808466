package cli

import (
	"io"
	"os"
	"sort"
	"strconv"
)

// isTerminal reports whether w is a terminal (a character device), so
// progress can redraw one line there and stay quiet in pipes and files.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// terminalWidth is the width to trim tables to: $COLUMNS, else the
// terminal's own (where the platform tells it), and 0 (no trimming) when
// w is not a terminal.
func terminalWidth(w io.Writer, env func(string) string) int {
	if !isTerminal(w) {
		return 0
	}
	if n, err := strconv.Atoi(env("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return windowWidth(w.(*os.File))
}

func sortStrings(s []string) { sort.Strings(s) }
