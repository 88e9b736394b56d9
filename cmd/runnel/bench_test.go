package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	nexmarkbench "github.com/runnel-io/runnel/internal/nexmark"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code = run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestBenchUsage(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		output string // expected in stdout+stderr
	}{
		{[]string{"bench", "--help"}, 0, "nexmark"},
		{[]string{"bench"}, 2, "Usage: runnel bench"},
		{[]string{"bench", "nexmark", "--help"}, 0, "-query"},
		{[]string{"bench", "nexmark"}, 2, "--query is required"},
		{[]string{"bench", "nexmark", "--query", "q9"}, 2, `unknown query "q9"`},
		{[]string{"bench", "nexmark", "--query", "q1", "--events", "0"}, 2, "must be positive"},
		{[]string{"bench", "nexmark", "--query", "q1", "extra"}, 2, "unexpected arguments"},
		{[]string{"bench", "tpch"}, 2, `unknown benchmark "tpch"`},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCmd(t, tt.args...)
		if code != tt.code || !strings.Contains(stdout+stderr, tt.output) {
			t.Errorf("runnel %s: exit %d, want %d; output:\n%s%s\nwant it to contain %q", strings.Join(tt.args, " "), code, tt.code, stdout, stderr, tt.output)
		}
	}
}

func TestBenchNexmarkJSON(t *testing.T) {
	dir := t.TempDir()
	output, dump, profile := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "events.jsonl"), filepath.Join(dir, "cpu.pprof")
	code, stdout, stderr := runCmd(t, "bench", "nexmark", "--query", "q2", "--events", "20000", "--parallelism", "2",
		"--json", "--quiet", "--output", output, "--dump-events", dump, "--cpuprofile", profile)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
	}
	for _, k := range []string{"query", "events", "parallelism", "wall_seconds", "cpu_seconds", "events_per_second", "events_per_cpu_second", "results"} {
		if _, ok := r[k]; !ok {
			t.Errorf("JSON result lacks %q: %s", k, stdout)
		}
	}
	if r["query"] != "q2" || r["events"] != 20000.0 || r["parallelism"] != 2.0 {
		t.Errorf("JSON result %s", stdout)
	}
	if _, ok := r["latency_p50_ms"]; ok {
		t.Errorf("latency reported without --rate: %s", stdout)
	}
	if n := lines(t, output); float64(n) != r["results"] {
		t.Errorf("%d lines of output, %v results", n, r["results"])
	}
	if n := lines(t, dump); n != 20000 {
		t.Errorf("%d events dumped, want 20000", n)
	}
	if st, err := os.Stat(profile); err != nil || st.Size() == 0 {
		t.Errorf("CPU profile: %v", err)
	}
}

func TestBenchNexmarkRate(t *testing.T) {
	code, stdout, stderr := runCmd(t, "bench", "nexmark", "--query", "q0", "--events", "3000", "--rate", "20000", "--parallelism", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	for _, want := range []string{"nexmark q0: 3,000 events at parallelism 1", "throughput", "latency     p50"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

func lines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

func TestBenchProgress(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, total: 3000}
	p.report(nexmarkbench.Progress{Events: 1000, Elapsed: time.Second})
	p.report(nexmarkbench.Progress{Events: 3000, Elapsed: 2 * time.Second})
	want := "   1.0s  1,000 / 3,000 events  1,000 events/s\n   2.0s  3,000 / 3,000 events  2,000 events/s\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
	// A run that ends before the first report prints nothing.
	buf.Reset()
	p = &progress{w: &buf, total: 10}
	p.report(nexmarkbench.Progress{Events: 10, Elapsed: 10 * time.Millisecond})
	if buf.Len() != 0 {
		t.Errorf("short run printed %q", buf.String())
	}
}

func TestBenchPebbleStateBackend(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"bench", "nexmark", "--query", "q4", "--events", "20000", "--parallelism", "2", "--json", "--quiet", "--state-backend", "pebble", "--state-dir", t.TempDir()}, &out, &errb)
	if code != 0 || !strings.Contains(out.String(), `"events_per_cpu_second"`) {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
	if code := run(context.Background(), []string{"bench", "nexmark", "--query", "q4", "--state-backend", "rocksdb"}, &out, &errb); code != 2 {
		t.Fatalf("unknown backend: exit %d, want 2", code)
	}
}
