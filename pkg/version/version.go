// Package version is the build's version: stamped by the Makefile with
// -ldflags "-X github.com/certctl-serverless/certctl-serverless/pkg/version.version=v1.2.3",
// and otherwise "dev" plus what the Go toolchain recorded of the source
// (the VCS revision, when the build had it).
package version

import (
	"runtime"
	"runtime/debug"
)

// Var is the variable the linker sets: -ldflags "-X <Var>=v1.2.3".
const Var = "github.com/certctl-serverless/certctl-serverless/pkg/version.version"

// version is set at link time; a plain `go build` or `go run` leaves "dev".
var version = "dev"

// Info describes the running binary.
type Info struct {
	Version  string `json:"version"`
	Commit   string `json:"commit,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
}

// Get returns the version, with the VCS revision the toolchain stamped
// (go build does unless -buildvcs=false, or the source is not a checkout).
func Get() Info {
	info := Info{Version: version, Go: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	return info
}

// String is the version as one word: the stamped version, or for an
// unstamped build "dev", "dev+<revision>" or "dev+<revision>.dirty".
func String() string {
	info := Get()
	if info.Version != "dev" || info.Commit == "" {
		return info.Version
	}
	s := "dev+" + info.Commit[:min(12, len(info.Commit))]
	if info.Modified {
		s += ".dirty"
	}
	return s
}

// Stamped reports whether the build was given a version at link time.
func Stamped() bool { return version != "dev" }
