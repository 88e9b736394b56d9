package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	nexmarkbench "github.com/runnel-io/runnel/internal/nexmark"
)

// run runs b with a minute's timeout and returns what it printed.
func run(t *testing.T, b interface {
	Run(context.Context, io.Writer, io.Writer) error
}) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = b.Run(ctx, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestNexmarkValidate(t *testing.T) {
	for _, tc := range []struct {
		n    Nexmark
		want string // "" when valid
	}{
		{Nexmark{Query: "q1", Events: 10}, ""},
		{Nexmark{Query: "q1", Events: 10, StateBackend: "pebble", CheckpointInterval: time.Second}, ""},
		{Nexmark{Events: 10}, "--query is required: one of q0, q1"},
		{Nexmark{Query: "q9", Events: 10}, `unknown query "q9"`},
		{Nexmark{Query: "q1"}, "must be positive"},
		{Nexmark{Query: "q1", Events: 10, CheckpointInterval: -time.Second}, "--checkpoint-interval -1s: must not be negative"},
		{Nexmark{Query: "q1", Events: 10, StateBackend: "rocksdb"}, `--state-backend "rocksdb": want memory or pebble`},
	} {
		err := tc.n.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: Validate() = %v, want %q", tc.n, err, tc.want)
		}
	}
}

func TestNexmarkJSON(t *testing.T) {
	dir := t.TempDir()
	output, dump, profile := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "events.jsonl"), filepath.Join(dir, "cpu.pprof")
	stdout, stderr, err := run(t, Nexmark{Query: "q2", Events: 20000, Parallelism: 2, JSON: true, Quiet: true,
		Output: output, DumpEvents: dump, CPUProfile: profile})
	if err != nil {
		t.Fatalf("%v: %s%s", err, stdout, stderr)
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
		t.Errorf("latency reported without a rate: %s", stdout)
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

func TestNexmarkRate(t *testing.T) {
	stdout, stderr, err := run(t, Nexmark{Query: "q0", Events: 3000, Rate: 20000, Parallelism: 1})
	if err != nil {
		t.Fatalf("%v: %s%s", err, stdout, stderr)
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

func TestNexmarkProgress(t *testing.T) {
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

func TestNexmarkPebbleStateBackend(t *testing.T) {
	stdout, stderr, err := run(t, Nexmark{Query: "q4", Events: 20000, Parallelism: 2, JSON: true, Quiet: true,
		StateBackend: "pebble", StateDir: t.TempDir()})
	if err != nil || !strings.Contains(stdout, `"events_per_cpu_second"`) {
		t.Fatalf("%v\nstdout: %s\nstderr: %s", err, stdout, stderr)
	}
}

func TestNexmarkCheckpoints(t *testing.T) {
	stdout, stderr, err := run(t, Nexmark{Query: "q5", Events: 300000, Parallelism: 2, CheckpointInterval: 50 * time.Millisecond,
		JSON: true, Quiet: true})
	if err != nil {
		t.Fatalf("%v: %s%s", err, stdout, stderr)
	}
	var r NexmarkResult
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
	}
	if r.Events != 300000 || r.Checkpoints == nil || r.Checkpoints.Completed == 0 || r.Checkpoints.MaxSize <= 0 {
		t.Errorf("result %s", stdout)
	}
	// Without an interval, no checkpoint figures.
	stdout, _, _ = run(t, Nexmark{Query: "q0", Events: 1000, JSON: true, Quiet: true})
	if strings.Contains(stdout, "checkpoints") {
		t.Errorf("checkpoint figures without a checkpoint interval: %s", stdout)
	}
}
