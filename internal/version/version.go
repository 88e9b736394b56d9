// Package version says which build of Runnel is running, from what the Go toolchain stamps into
// every binary (runtime/debug.ReadBuildInfo): the module version, and the VCS revision, commit
// time and dirty flag when the binary was built from a checkout of Runnel itself. `runnel
// --version` prints it, and the files Runnel writes record it (Parquet's created_by).
//
// The go command stamps VCS information by default when it builds a main package inside a
// repository (not with -buildvcs=false, nor under `go run` before Go 1.24); a binary built
// without it reports its module version only, "devel" for a local build.
package version

import (
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// Module is Runnel's module path.
const Module = "github.com/runnel-io/runnel"

// Info is what a binary knows about the Runnel it was built from.
type Info struct {
	// Version is Runnel's module version: a release ("v0.4.0"), a pseudo-version, or "devel"
	// for a build of a local checkout the toolchain did not stamp.
	Version string
	// Revision, Time and Modified describe the commit the binary was built from, when it was
	// built from a checkout of Runnel with VCS stamping; Revision is empty otherwise.
	Revision string
	Time     time.Time
	Modified bool
	// Program is the main module when it is not Runnel (a program built with app.Main) with
	// its version; empty for Runnel's own binary.
	Program string
	// Go is the toolchain's version, "go1.26.8".
	Go string
}

var get = sync.OnceValue(func() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "devel"}
	}
	return FromBuildInfo(bi)
})

// Get returns the running binary's Info, read once. It is safe for concurrent use.
func Get() Info { return get() }

// FromBuildInfo returns the Info bi describes.
func FromBuildInfo(bi *debug.BuildInfo) Info {
	in := Info{Version: "devel", Go: bi.GoVersion}
	if bi.Main.Path == Module || strings.HasPrefix(bi.Main.Path, Module+"/") || bi.Main.Path == "" {
		in.Version = release(bi.Main.Version)
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				in.Revision = s.Value
			case "vcs.time":
				in.Time, _ = time.Parse(time.RFC3339, s.Value)
			case "vcs.modified":
				in.Modified = s.Value == "true"
			}
		}
		return in
	}
	in.Program = bi.Main.Path
	if v := release(bi.Main.Version); v != "devel" {
		in.Program += " " + v
	}
	for _, d := range bi.Deps {
		if d.Path == Module {
			if d.Replace != nil {
				d = d.Replace
			}
			in.Version = release(d.Version)
		}
	}
	return in
}

// release returns a module version as Info shows it: "devel" for "(devel)" or "".
func release(v string) string {
	if v == "" || v == "(devel)" {
		return "devel"
	}
	return v
}

// Short returns the revision's first 12 characters, "" without one.
func (in Info) Short() string {
	if len(in.Revision) > 12 {
		return in.Revision[:12]
	}
	return in.Revision
}

// String is the line `runnel --version` prints after "runnel version ": "v0.4.0 (3fa2c0d1e4b5,
// 2026-11-20T10:00:00Z, modified; go1.26.8)"; the parenthesis holds what is known.
//
// A pseudo-version ("v0.0.0-20261120100000-3fa2c0d1e4b5+dirty", what the go command stamps on a
// build of an untagged commit) already names the commit, its time and a dirty tree, so they are
// not repeated.
func (in Info) String() string {
	var parts []string
	if in.Revision != "" && !strings.Contains(in.Version, in.Short()) {
		parts = append(parts, in.Short())
	}
	if len(parts) > 0 && !in.Time.IsZero() {
		parts = append(parts, in.Time.UTC().Format(time.RFC3339))
	}
	if len(parts) > 0 && in.Modified {
		parts = append(parts, "modified")
	}
	detail := strings.Join(parts, ", ")
	if in.Go != "" {
		if detail != "" {
			detail += "; "
		}
		detail += in.Go
	}
	s := in.Version
	if detail != "" {
		s += " (" + detail + ")"
	}
	if in.Program != "" {
		s = in.Program + ", runnel " + s
	}
	return s
}

// CreatedBy is the writer's name as files record it (Parquet's created_by, in parquet-mr's
// format "<application> version <version> (build <build>)"): "runnel version v0.4.0 (build
// 3fa2c0d1e4b5)", without the build when the revision is unknown.
func (in Info) CreatedBy() string {
	s := fmt.Sprintf("runnel version %s", in.Version)
	if in.Revision != "" {
		b := in.Short()
		if in.Modified {
			b += "-modified"
		}
		s += " (build " + b + ")"
	}
	return s
}
