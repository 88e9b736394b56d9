package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "-buildmode", Value: "exe"},
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "3547c73d9f1e2a4b5c6d7e8f90a1b2c3d4e5f607"},
		{Key: "vcs.time", Value: "2026-11-20T10:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	for _, tc := range []struct {
		name      string
		bi        debug.BuildInfo
		str       string
		createdBy string
	}{
		{
			name:      "runnel built from a checkout",
			bi:        debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: Module, Version: "(devel)"}, Settings: vcs},
			str:       "devel (3547c73d9f1e, 2026-11-20T10:00:00Z, modified; go1.26.8)",
			createdBy: "runnel version devel (build 3547c73d9f1e-modified)",
		},
		{
			name: "runnel built from an untagged commit (Go 1.24+ stamps a pseudo-version)",
			bi: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: Module, Version: "v0.0.0-20261120100000-3547c73d9f1e+dirty"},
				Settings: vcs},
			str:       "v0.0.0-20261120100000-3547c73d9f1e+dirty (go1.26.8)",
			createdBy: "runnel version v0.0.0-20261120100000-3547c73d9f1e+dirty (build 3547c73d9f1e-modified)",
		},
		{
			name:      "a release installed with go install",
			bi:        debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: Module, Version: "v0.4.0"}},
			str:       "v0.4.0 (go1.26.8)",
			createdBy: "runnel version v0.4.0",
		},
		{
			name:      "no VCS stamp (-buildvcs=false)",
			bi:        debug.BuildInfo{Main: debug.Module{Path: Module, Version: "(devel)"}},
			str:       "devel",
			createdBy: "runnel version devel",
		},
		{
			name: "a user's program built with app.Main",
			bi: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "example.com/jobs", Version: "v1.2.0"}, Settings: vcs,
				Deps: []*debug.Module{{Path: "github.com/jonboulle/clockwork", Version: "v0.5.0"}, {Path: Module, Version: "v0.4.0"}}},
			str:       "example.com/jobs v1.2.0, runnel v0.4.0 (go1.26.8)",
			createdBy: "runnel version v0.4.0",
		},
		{
			name: "a user's program with runnel replaced by a local checkout",
			bi: debug.BuildInfo{Main: debug.Module{Path: "example.com/jobs", Version: "(devel)"},
				Deps: []*debug.Module{{Path: Module, Version: "v0.4.0", Replace: &debug.Module{Path: "../runnel", Version: ""}}}},
			str:       "example.com/jobs, runnel devel",
			createdBy: "runnel version devel",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := FromBuildInfo(&tc.bi)
			if got := in.String(); got != tc.str {
				t.Errorf("String() = %q, want %q", got, tc.str)
			}
			if got := in.CreatedBy(); got != tc.createdBy {
				t.Errorf("CreatedBy() = %q, want %q", got, tc.createdBy)
			}
		})
	}
}

func TestGet(t *testing.T) {
	in := Get()
	if in.Version == "" || !strings.HasPrefix(in.Go, "go") {
		t.Errorf("Get() = %+v: want a version and the toolchain", in)
	}
}
