// Package lint holds tests that keep Runnel's structure honest. layers_test.go is the import
// graph of docs/DESIGN.md ("Layers") written down as a test, in the spirit of the standard
// library's go/build/deps_test.go: every package of the module sits in one layer and may import
// project packages only from lower layers, and each heavy third-party dependency has one home.
//
// When this test fails on a new package, add the package to projectRules.layers below (and to the
// Layers table in docs/DESIGN.md). When it fails on a new import, move the code, not the rule; if the
// rule itself is wrong, change the table here and say why in docs/DESIGN.md.
package lint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// layer is one row of the layer table. Patterns are paths relative to the module root:
// "x" matches exactly the package x, "x/..." matches x and every package below it, and a "*"
// element matches any one path element. All packages matched by one pattern with the same
// values for its leading elements (up to the "...") form one tree: "internal/runtime/..." is a
// single tree, while "connector/*/..." makes connector/kafka/... and connector/s3/... two.
type layer struct {
	level    int
	name     string
	patterns []string
}

// edge allows packages matching from to import packages matching to although both sit in the
// same layer. Edges never allow an import from a higher layer.
type edge struct {
	from, to string
	why      string
}

// depRule gives a third-party dependency (an import path prefix, matched on whole elements)
// its homes: the only project packages that may import it. maxImporters > 0 also caps how many
// packages may import it at all.
type depRule struct {
	dep          string
	homes        []string
	maxImporters int
}

// rules is everything check enforces.
type rules struct {
	layers []layer
	// sameLayer lists the imports allowed within one layer across trees.
	sameLayer []edge
	// exempt packages are exempt from the rules on being imported: any package may import
	// them. What they themselves import is checked like any other package of their layer.
	exempt []string
	deps   []depRule
}

// projectRules is Runnel's import policy. Keep it in step with docs/DESIGN.md.
var projectRules = rules{
	layers: []layer{
		{0, "leaves", []string{
			"eventtime/...",
			"keygroup/...",
			"internal/version/...", // the build's version, for --version and the files Runnel writes
			"internal/cli/...",     // the command lines' conventions (cobra); imports no project package
		}},
		{1, "contracts", []string{
			"state/...",
			"window/...",
			"connector", // the Source/Sink SPI itself; its subpackages are implementations
			"format",    // the malformed-record policy shared by the codecs below it
			"metrics/...",
			"restart/...",
			"checkpoint", // the checkpoint storage SPI and the local directory storage
			"checkpoint/checkpointtest/...",
			"awsconn/...", // how every AWS client is configured: S3 files and checkpoints, Kinesis
			"filesystem",  // the file-system SPI under the file connectors, and the local file system
			"filesystem/filesystemtest/...",
		}},
		{2, "implementations", []string{
			"connector/*/...",
			"format/*/...",
			"checkpoint/s3/...",
			"statebackend/...",
			"internal/testing/...", // test servers and fakes (s3test), imported by tests only
		}},
		{3, "runtime", []string{
			"internal/runtime/...",
			"internal/snapshot/...",
		}},
		{4, "assembly", []string{
			"operator/...", // below stream and sql: see the edges
			"stream/...",
			"internal/nexmark/...",
			"internal/bench/...", // the benchmark harnesses of `runnel bench`
			"internal/e2e/...",   // tests of whole jobs across connectors
			"examples/...",
		}},
		{5, "service", []string{
			"app/...",     // runs a stream job from flags: checkpoints, restore, restarts, REST API
			"service/...", // the managed service: the Managed Flink API, applications as processes
		}},
		{6, "entry", []string{
			"cmd/...",
			"internal/lint/...",
		}},
	},
	sameLayer: []edge{
		{"internal/runtime/...", "internal/snapshot/...", "tasks align barriers and snapshot for the coordinator"},
		{"checkpoint/checkpointtest/...", "checkpoint", "the conformance suites test storages"},
		{"filesystem/filesystemtest/...", "filesystem", "the conformance suite tests file systems"},
		{"stream/...", "operator/...", "the DataStream builders instantiate the operators"},
		{"service/...", "app/...", "the service drives applications through app's REST API and properties"},
		{"connector/nexmark", "connector/datagen", "the Nexmark source is a generator source"},
		{"connector/*/...", "connector/splitcodec", "split codecs share the binary field decoder"},
		{"connector/*/...", "format/*/...", "file and object-store connectors decode and encode records with the codecs"},
		{"internal/nexmark/...", "stream/...", "benchmark queries are DataStream programs"},
		{"internal/bench/...", "stream/...", "benchmarks run DataStream jobs"},
		{"internal/bench/...", "internal/nexmark/...", "the Nexmark benchmark runs the Nexmark queries"},
		{"examples/...", "stream/...", "examples are user programs"},
	},
	// Examples double as demos (cmd/runnel's demo verb runs examples/clickstream); lint holds
	// only tests.
	exempt: []string{
		"examples/...",
		"internal/lint/...",
	},
	deps: []depRule{
		{dep: "github.com/twmb/franz-go", homes: []string{
			"connector/kafka/...",
			"internal/testing/kafkatest/...", // runs kfake for the examples and local development
		}},
		{dep: "github.com/aws/aws-sdk-go-v2", homes: []string{
			"awsconn/...", "connector/kinesis/...", "connector/s3/...", "checkpoint/s3/...",
			"connector/kafka/...",              // MSK IAM credentials from the SDK's default chain
			"internal/testing/s3test/...",      // creates the test server's buckets
			"internal/testing/kinesistest/...", // creates the test server's streams
			"service/...",                      // the Managed Flink API's shapes; application code from S3
		}},
		{dep: "go.etcd.io/bbolt", homes: []string{"service/store"}},
		{dep: "github.com/prometheus", homes: []string{"service"}, maxImporters: 1},
		{dep: "github.com/cockroachdb/pebble", homes: []string{"statebackend/pebble/..."}},
		{dep: "github.com/parquet-go/parquet-go", homes: []string{"format/parquet/..."}},
		{dep: "github.com/hamba/avro", homes: []string{"format/avro/..."}},
		{dep: "github.com/spf13/cobra", homes: []string{"cmd/...", "app", "internal/cli/..."}},
		{dep: "github.com/spf13/pflag", homes: []string{
			"cmd/...", "app", "internal/cli/...",
			"examples", // the example registry defines the flags its jobs read
		}},
	},
}

// pkg is the part of `go list -json` output that check reads.
type pkg struct {
	ImportPath string
	// GoFiles are the non-test files; a package without any is test-only (internal/e2e).
	GoFiles []string
	// Imports are the non-test imports: the ones checked. TestImports and XTestImports (a
	// package's own xxxtest helpers, fakes, conformance suites, whole jobs) are free, except
	// in a test-only package, whose tests are all it is: there they are checked like Imports.
	Imports      []string
	TestImports  []string
	XTestImports []string
	Module       *struct{ Path string }
	Error        *struct{ Err string }
}

// match reports whether the module-relative path rel matches pattern and, if so, the tree
// (the pattern's leading elements instantiated on rel) it belongs to.
func match(pattern, rel string) (tree string, ok bool) {
	pe := strings.Split(pattern, "/")
	re := strings.Split(rel, "/")
	below := pe[len(pe)-1] == "..."
	if below {
		pe = pe[:len(pe)-1]
	}
	if len(re) < len(pe) || (!below && len(re) != len(pe)) {
		return "", false
	}
	for i, e := range pe {
		if e != "*" && e != re[i] {
			return "", false
		}
	}
	return strings.Join(re[:len(pe)], "/"), true
}

func matchAny(patterns []string, rel string) bool {
	for _, p := range patterns {
		if _, ok := match(p, rel); ok {
			return true
		}
	}
	return false
}

// place is where a package sits in the layer table.
type place struct {
	layer   layer
	pattern string
	tree    string
}

func (p place) String() string {
	return fmt.Sprintf("layer %d %s, %q", p.layer.level, p.layer.name, p.pattern)
}

// locate finds the one row matching rel. It returns an error when none or several match.
func (r rules) locate(rel string) (place, error) {
	var found []place
	for _, l := range r.layers {
		for _, p := range l.patterns {
			if tree, ok := match(p, rel); ok {
				found = append(found, place{l, p, tree})
			}
		}
	}
	switch len(found) {
	case 0:
		return place{}, errors.New("is not in the layer table: add it to projectRules.layers in internal/lint/layers_test.go and to the Layers table in docs/DESIGN.md")
	case 1:
		return found[0], nil
	default:
		var rows []string
		for _, f := range found {
			rows = append(rows, f.String())
		}
		return place{}, fmt.Errorf("matches more than one row of the layer table (%s): make the patterns disjoint", strings.Join(rows, "; "))
	}
}

// hasPathPrefix reports whether path is prefix or lies below it, element by element.
func hasPathPrefix(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// check applies r to the packages of module and returns one message per violation, in a
// stable order. It is pure: TestLayers feeds it `go list`, TestCheck synthetic packages.
func check(module string, pkgs []pkg, r rules) []string {
	var out []string
	rel := func(path string) string {
		if path == module {
			return "."
		}
		return strings.TrimPrefix(path, module+"/")
	}
	listed := make(map[string]bool, len(pkgs))
	for _, p := range pkgs {
		listed[p.ImportPath] = true
	}
	unlisted := map[string]bool{}
	importers := make([][]string, len(r.deps))

	sorted := slices.Clone(pkgs)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ImportPath < sorted[j].ImportPath })
	for _, p := range sorted {
		if len(p.GoFiles) == 0 && (len(p.TestImports) > 0 || len(p.XTestImports) > 0) {
			p.Imports = slices.Concat(p.Imports, p.TestImports, p.XTestImports)
		}
		from := rel(p.ImportPath)
		here, err := r.locate(from)
		if err != nil {
			out = append(out, fmt.Sprintf("package %s %v", from, err))
		}
		for _, imp := range p.Imports {
			if !hasPathPrefix(imp, module) {
				for i, d := range r.deps {
					if !hasPathPrefix(imp, d.dep) {
						continue
					}
					if !slices.Contains(importers[i], from) {
						importers[i] = append(importers[i], from)
					}
					if !matchAny(d.homes, from) {
						out = append(out, fmt.Sprintf("forbidden import: package %s imports %s; only %s may import %s (one home per third-party dependency)",
							from, imp, strings.Join(d.homes, ", "), d.dep))
					}
				}
				continue
			}
			to := rel(imp)
			there, terr := r.locate(to)
			if terr != nil {
				if !listed[imp] && !unlisted[imp] {
					unlisted[imp] = true
					out = append(out, fmt.Sprintf("package %s, imported by %s, %v", to, from, terr))
				}
				continue
			}
			if err != nil {
				continue // the importer's own row is already reported
			}
			if here.pattern == there.pattern && here.tree == there.tree {
				continue // same tree
			}
			if matchAny(r.exempt, to) {
				continue
			}
			if there.layer.level < here.layer.level {
				continue
			}
			if there.layer.level == here.layer.level && r.sameLayerAllowed(from, to) {
				continue
			}
			what := "a higher layer"
			if there.layer.level == here.layer.level {
				what = "the same layer"
			}
			out = append(out, fmt.Sprintf("layer violation: package %s (%s) imports %s (%s), from %s; a package may import project packages only from lower layers, its own tree %s, or along a same-layer edge in projectRules.sameLayer",
				from, here, to, there, what, here.tree))
		}
	}
	for i, d := range r.deps {
		if d.maxImporters > 0 && len(importers[i]) > d.maxImporters {
			out = append(out, fmt.Sprintf("forbidden import: %s is imported by %d packages (%s); at most %d package may import it",
				d.dep, len(importers[i]), strings.Join(importers[i], ", "), d.maxImporters))
		}
	}
	return out
}

// stale returns one message per rule that names no package of the module: a pattern of the
// layer table, an edge end, an exemption or a dependency's home. Rules are for packages that
// exist; the one that adds a package adds its rule.
func (r rules) stale(module string, listed map[string]bool) []string {
	var rels []string
	for path := range listed {
		if path == module {
			rels = append(rels, ".")
		} else if strings.HasPrefix(path, module+"/") {
			rels = append(rels, strings.TrimPrefix(path, module+"/"))
		}
	}
	matches := func(pattern string) bool {
		for _, rel := range rels {
			if _, ok := match(pattern, rel); ok {
				return true
			}
		}
		return false
	}
	var out []string
	note := func(kind, pattern string) {
		if !matches(pattern) {
			out = append(out, fmt.Sprintf("stale rule: %s %q matches no package of the module: remove it, or add it with the package", kind, pattern))
		}
	}
	for _, l := range r.layers {
		for _, p := range l.patterns {
			note("layer pattern", p)
		}
	}
	for _, e := range r.sameLayer {
		note("same-layer edge end", e.from)
		note("same-layer edge end", e.to)
	}
	for _, e := range r.exempt {
		note("exemption", e)
	}
	for _, d := range r.deps {
		for _, h := range d.homes {
			note("home of "+d.dep, h)
		}
	}
	return out
}

func (r rules) sameLayerAllowed(from, to string) bool {
	for _, e := range r.sameLayer {
		_, f := match(e.from, from)
		_, t := match(e.to, to)
		if f && t {
			return true
		}
	}
	return false
}

// TestLayers checks every package of the module against projectRules.
func TestLayers(t *testing.T) {
	root := moduleRoot(t)
	pkgs := goList(t, root)
	recordInputs(t, root)

	var module string
	for _, p := range pkgs {
		if p.Error != nil {
			// Compile and load errors are go vet's and go test's to report.
			t.Logf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		if module == "" && p.Module != nil {
			module = p.Module.Path
		}
	}
	if module == "" {
		t.Fatalf("go list ./... in %s named no module", root)
	}
	listed := map[string]bool{}
	for _, p := range pkgs {
		listed[p.ImportPath] = true
	}
	for _, v := range projectRules.stale(module, listed) {
		t.Error(v)
	}
	for _, v := range check(module, pkgs, projectRules) {
		t.Error(v)
	}
	t.Logf("checked %d packages of %s", len(pkgs), module)
}

// moduleRoot walks up from the working directory to the directory holding go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// goList runs `go list -e -deps=false -json ./...` in root and decodes its stream of objects.
func goList(t *testing.T, root string) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-deps=false", "-json=ImportPath,GoFiles,Imports,TestImports,XTestImports,Module,Error", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list in %s: %v\n%s", root, err, stderr.Bytes())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(stdout))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// recordInputs stats every directory and Go file of the module so that the go command's test
// cache, which only sees files the test itself touches, reruns this test whenever a package or
// an import changes (it cannot see what the go list subprocess read).
func recordInputs(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (name == "testdata" || name == "node_modules" || name == "vendor" ||
				strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".go") || name == "go.mod" {
			_, err = os.Stat(path)
		}
		return err
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, rel string
		tree         string
		ok           bool
	}{
		{"connector", "connector", "connector", true},
		{"connector", "connector/kafka", "", false},
		{"connector/*/...", "connector", "", false},
		{"connector/*/...", "connector/kafka", "connector/kafka", true},
		{"connector/*/...", "connector/kafka/internal/wire", "connector/kafka", true},
		{"internal/runtime/...", "internal/runtime", "internal/runtime", true},
		{"internal/runtime/...", "internal/runtime/task", "internal/runtime", true},
		{"internal/runtime/...", "internal/runtimex", "", false},
		{"internal/metrics/prometheus", "internal/metrics/prometheus", "internal/metrics/prometheus", true},
	}
	for _, tt := range tests {
		tree, ok := match(tt.pattern, tt.rel)
		if tree != tt.tree || ok != tt.ok {
			t.Errorf("match(%q, %q) = %q, %v; want %q, %v", tt.pattern, tt.rel, tree, ok, tt.tree, tt.ok)
		}
	}
}

// TestCheck runs the rule checker on synthetic module graphs, so the rules are tested whatever
// packages the tree holds today.
func TestCheck(t *testing.T) {
	const mod = "github.com/runnel-io/runnel"
	// p builds a package from module-relative paths; imports containing a dot in their first
	// element are taken as third-party, others as project packages.
	p := func(path string, imports ...string) pkg {
		full := func(s string) string {
			if first, _, _ := strings.Cut(s, "/"); strings.Contains(first, ".") {
				return s
			}
			return mod + "/" + s
		}
		out := pkg{ImportPath: full(path), GoFiles: []string{"x.go"}}
		for _, imp := range imports {
			out.Imports = append(out.Imports, full(imp))
		}
		return out
	}
	// base is a well-layered tree every case starts from.
	base := []pkg{
		p("eventtime", "github.com/jonboulle/clockwork"),
		p("keygroup"),
		p("state", "eventtime", "keygroup"),
		p("window", "eventtime"),
		p("connector", "eventtime"),
		p("metrics"),
		p("restart"),
		p("checkpoint"),
		p("checkpoint/checkpointtest", "checkpoint"),
		p("checkpoint/s3", "checkpoint", "github.com/aws/aws-sdk-go-v2/service/s3"),
		p("connector/kafka", "connector", "eventtime", "connector/kafka/internal/wire", "github.com/twmb/franz-go/pkg/kgo"),
		p("connector/kafka/internal/wire", "github.com/twmb/franz-go/pkg/kmsg"),
		p("connector/s3", "connector", "github.com/aws/aws-sdk-go-v2/service/s3"),
		p("statebackend/pebble", "state", "keygroup", "github.com/cockroachdb/pebble/v2"),
		p("internal/snapshot", "checkpoint", "keygroup"),
		p("internal/runtime", "internal/snapshot", "internal/runtime/timer", "metrics", "restart", "state"),
		p("internal/runtime/timer", "eventtime"),
		p("stream", "internal/runtime", "connector/kafka", "window"),
		p("examples/clicks", "stream", "connector/kafka"),
		p("app", "stream", "checkpoint/s3", "statebackend/pebble"),
		p("cmd/runnel", "app"),
		p("internal/lint"),
	}
	with := func(extra ...pkg) []pkg { return append(slices.Clone(base), extra...) }
	withTestImports := p("eventtime")
	withTestImports.TestImports = []string{mod + "/stream"}
	withTestImports.XTestImports = []string{mod + "/examples/clicks", "github.com/twmb/franz-go/pkg/kfake"}

	withPrometheus := projectRules
	withPrometheus.deps = append(slices.DeleteFunc(slices.Clone(projectRules.deps), func(d depRule) bool { return d.dep == "github.com/prometheus" }),
		depRule{dep: "github.com/prometheus", homes: []string{"app/metrics"}, maxImporters: 1})
	tests := []struct {
		name  string
		pkgs  []pkg
		rules *rules   // nil: projectRules
		want  []string // one substring per expected violation, in order
	}{
		{name: "clean tree", pkgs: base},
		{name: "test imports are not checked", pkgs: append(slices.Clone(base[1:]), withTestImports)},
		{
			name: "test-only packages are checked for their test imports",
			pkgs: with(pkg{ImportPath: mod + "/internal/e2e", XTestImports: []string{mod + "/cmd/runnel", "github.com/twmb/franz-go/pkg/kgo"}}),
			want: []string{
				"package internal/e2e (layer 4 assembly, \"internal/e2e/...\") imports cmd/runnel (layer 6 entry, \"cmd/...\"), from a higher layer",
				"forbidden import: package internal/e2e imports github.com/twmb/franz-go/pkg/kgo",
			},
		},
		{
			name: "leaf imports assembly",
			pkgs: with(p("eventtime/clock", "stream")),
			want: []string{"package eventtime/clock (layer 0 leaves, \"eventtime/...\") imports stream (layer 4 assembly, \"stream/...\"), from a higher layer"},
		},
		{
			name: "contract imports its implementation",
			pkgs: with(p("window/session", "connector/kafka")),
			want: []string{"package window/session (layer 1 contracts, \"window/...\") imports connector/kafka"},
		},
		{
			name: "connector package itself is a contract, not an implementation",
			pkgs: with(p("connector/file", "connector"), p("state/spi", "connector")),
			want: []string{"package state/spi (layer 1 contracts, \"state/...\") imports connector (layer 1 contracts, \"connector\"), from the same layer"},
		},
		{
			name: "one connector imports another",
			pkgs: with(p("connector/kinesis", "connector", "connector/s3")),
			want: []string{"package connector/kinesis (layer 2 implementations, \"connector/*/...\") imports connector/s3 (layer 2 implementations, \"connector/*/...\"), from the same layer; a package may import project packages only from lower layers, its own tree connector/kinesis"},
		},
		{
			name: "same layer without an edge",
			pkgs: with(p("internal/snapshot/credit", "internal/runtime")),
			want: []string{"package internal/snapshot/credit (layer 3 runtime, \"internal/snapshot/...\") imports internal/runtime"},
		},
		{
			name: "same-layer edge is one way",
			pkgs: append(slices.DeleteFunc(slices.Clone(base), func(x pkg) bool { return x.ImportPath == mod+"/checkpoint" }),
				p("checkpoint", "checkpoint/checkpointtest")),
			want: []string{"package checkpoint (layer 1 contracts, \"checkpoint\") imports checkpoint/checkpointtest (layer 1 contracts, \"checkpoint/checkpointtest/...\"), from the same layer"},
		},
		{
			name: "examples and lint are exempt from the rules on being imported",
			pkgs: with(p("cmd/runnel/demo", "examples/clicks"), p("stream/demo", "examples/clicks", "internal/lint")),
		},
		{
			name: "examples are still checked for what they import",
			pkgs: with(p("examples/fraud", "cmd/runnel", "github.com/twmb/franz-go/pkg/kgo")),
			want: []string{
				"package examples/fraud (layer 4 assembly, \"examples/...\") imports cmd/runnel (layer 6 entry, \"cmd/...\"), from a higher layer",
				"forbidden import: package examples/fraud imports github.com/twmb/franz-go/pkg/kgo; only connector/kafka/..., internal/testing/kafkatest/... may import github.com/twmb/franz-go",
			},
		},
		{
			name: "package missing from the table",
			pkgs: with(p("misc", "eventtime"), p("stream/extra", "misc")),
			want: []string{"package misc is not in the layer table: add it to projectRules.layers in internal/lint/layers_test.go"},
		},
		{
			name: "import of a package missing from the table and from the list",
			pkgs: with(p("stream/extra", "helpers")),
			want: []string{"package helpers, imported by stream/extra, is not in the layer table"},
		},
		{
			name: "franz-go outside connector/kafka",
			pkgs: with(p("stream/kafkasink", "github.com/twmb/franz-go/pkg/kgo")),
			want: []string{"forbidden import: package stream/kafkasink imports github.com/twmb/franz-go/pkg/kgo; only connector/kafka/..., internal/testing/kafkatest/... may import"},
		},
		{
			name: "dependency prefixes match whole path elements",
			pkgs: with(p("stream/other", "github.com/twmb/franz-go-lookalike", "github.com/prometheus-community/x")),
		},
		{
			name: "aws sdk outside its homes",
			pkgs: with(p("connector/pulsar/auth", "github.com/aws/aws-sdk-go-v2/config")),
			want: []string{"forbidden import: package connector/pulsar/auth imports github.com/aws/aws-sdk-go-v2/config; only awsconn/..., connector/kinesis/..., connector/s3/..., checkpoint/s3/..., connector/kafka/..., internal/testing/s3test/..., internal/testing/kinesistest/..., service/... may import"},
		},
		{
			name: "pebble outside its backend",
			pkgs: with(p("statebackend/memory/spill", "github.com/cockroachdb/pebble/v2/vfs")),
			want: []string{"forbidden import: package statebackend/memory/spill imports github.com/cockroachdb/pebble/v2/vfs"},
		},
		{
			name: "prometheus outside its homes and in two packages",
			pkgs: with(
				p("internal/runtime/promhook", "github.com/prometheus/client_golang/prometheus"),
				p("app/metrics", "github.com/prometheus/common/expfmt"),
				p("app/metrics2", "github.com/prometheus/common/expfmt"),
			),
			rules: &withPrometheus,
			want: []string{
				"forbidden import: package app/metrics2 imports github.com/prometheus/common/expfmt",
				"forbidden import: package internal/runtime/promhook imports github.com/prometheus/client_golang/prometheus",
				"forbidden import: github.com/prometheus is imported by 3 packages (app/metrics, app/metrics2, internal/runtime/promhook); at most 1 package may import it",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := projectRules
			if tt.rules != nil {
				r = *tt.rules
			}
			got := check(mod, tt.pkgs, r)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d violations, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) {
					t.Errorf("violation %d:\n got  %s\n want it to contain %s", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestOverlap checks that a table whose rows overlap reports the package instead of picking one.
func TestOverlap(t *testing.T) {
	r := rules{layers: []layer{
		{0, "leaves", []string{"format/codec"}},
		{2, "implementations", []string{"format/*/..."}},
	}}
	got := check("m", []pkg{{ImportPath: "m/format/codec"}, {ImportPath: "m/format/json"}}, r)
	want := `package format/codec matches more than one row of the layer table (layer 0 leaves, "format/codec"; layer 2 implementations, "format/*/..."): make the patterns disjoint`
	if len(got) != 1 || got[0] != want {
		t.Fatalf("got %q, want [%q]", got, want)
	}
}
