//go:build unix

package cli

import (
	"os"

	"golang.org/x/sys/unix"
)

// windowWidth asks the terminal for its width.
func windowWidth(f *os.File) int {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}
