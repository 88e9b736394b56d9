package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/runnel-io/runnel/statebackend/pebble"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/connector/nexmark"
	nexmarkbench "github.com/runnel-io/runnel/internal/nexmark"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/stream"
)

// benchmarks are the suites `runnel bench` runs.
var benchmarks = []struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}{
	{"nexmark", "run a Nexmark query in-process on generated events and measure it", runBenchNexmark},
	{"checkpoint", "build keyed state of a given size, checkpoint it, fail and recover, and measure each step", runBenchCheckpoint},
	{"files", "Nexmark q1 from a JSON-lines file to a JSON-lines file: a job against a hand-written loop, in events per CPU-second", runBenchFiles},
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := stderr
		if len(args) > 0 {
			w = stdout
		}
		fmt.Fprintf(w, "Usage: runnel bench <benchmark> [flags]\n\nBenchmarks:\n")
		for _, b := range benchmarks {
			fmt.Fprintf(w, "  %-10s %s\n", b.name, b.summary)
		}
		fmt.Fprintf(w, "\nRun 'runnel bench <benchmark> --help' for its flags.\n")
		if len(args) == 0 {
			return errUsage
		}
		return flag.ErrHelp
	}
	for _, b := range benchmarks {
		if b.name == args[0] {
			return b.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "runnel bench: unknown benchmark %q; run 'runnel bench --help'\n", args[0])
	return errUsage
}

func runBenchNexmark(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var names []string
	for _, q := range nexmarkbench.Queries() {
		names = append(names, q.Name)
	}
	fs := newFlags("bench nexmark", "bench nexmark --query q5 [flags]", stderr)
	query := fs.String("query", "", "the query to run: "+strings.Join(names, ", "))
	events := fs.Int64("events", 10_000_000, "number of events to generate (persons, auctions and bids)")
	parallelism := fs.Int("parallelism", 0, "parallel subtasks per operator (0: number of CPUs)")
	rate := fs.Float64("rate", 0, "limit the source to this many events per second, and measure latency (0: as fast as possible)")
	seed := fs.Int64("seed", 0, "the generator's seed")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	output := fs.String("output", "", "write the query's results to this file as JSON lines (default: discard them)")
	dump := fs.String("dump-events", "", "write the generated events to this file as JSON lines, before the run")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	quiet := fs.Bool("quiet", false, "do not print progress to stderr")
	backend := fs.String("state-backend", "memory", "where keyed state lives: memory, or pebble (on disk under --state-dir)")
	stateDir := fs.String("state-dir", "", "scratch directory for --state-backend pebble (default: a temporary directory)")
	ckInterval := fs.Duration("checkpoint-interval", 0, "take a checkpoint this often (0: none)")
	ckDir := fs.String("checkpoint-dir", "", "where --checkpoint-interval stores checkpoints (default: a temporary directory, removed afterwards)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *ckInterval < 0 {
		fmt.Fprintf(stderr, "--checkpoint-interval %v: must not be negative\n", *ckInterval)
		return errUsage
	}
	if *query == "" {
		fmt.Fprintf(stderr, "--query is required\n")
		fs.Usage()
		return errUsage
	}
	o := nexmarkbench.Options{Query: *query, Events: *events, Parallelism: *parallelism, Rate: *rate,
		Generator: nexmark.Config{Seed: *seed}}
	switch *backend {
	case "memory":
	case "pebble":
		dir := *stateDir
		if dir == "" {
			tmp, err := os.MkdirTemp("", "runnel-state-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			dir = tmp
		}
		o.Engine.StateBackend = pebble.Factory(dir, 0)
	default:
		fmt.Fprintf(stderr, "--state-backend %q: want memory or pebble\n", *backend)
		return errUsage
	}
	if err := o.Validate(); err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return errUsage
	}

	var ck checkpointFigures
	if *ckInterval > 0 {
		dir, cleanup, err := scratchDir(*ckDir, "runnel-checkpoints-")
		if err != nil {
			return err
		}
		defer cleanup()
		st, err := checkpoint.NewLocal(dir)
		if err != nil {
			return err
		}
		o.Engine.Checkpoints = stream.Checkpoints{Storage: st, Interval: *ckInterval}
		// Run's own metrics listener (for Progress) would replace ours, so progress is reported
		// from ours and Run gets no Progress (quiet below).
		var p *progress
		if !*quiet {
			p = &progress{w: stderr, total: *events}
		}
		var start, reported time.Time
		// Often enough to see every checkpoint's figures; progress is printed every second.
		o.Engine.MetricsInterval = min(max(*ckInterval/10, 10*time.Millisecond), 100*time.Millisecond)
		o.Engine.Metrics = metrics.ListenerFunc(func(s metrics.Snapshot) {
			if start.IsZero() {
				start, reported = s.Time, s.Time
			}
			ck.observe(s)
			if p != nil && s.Time.Sub(reported) >= time.Second {
				reported = s.Time
				var n int64
				for _, op := range s.Operators {
					if op.Operator == nexmarkbench.SourceName {
						n += op.RecordsOut
					}
				}
				p.report(nexmarkbench.Progress{Events: n, Elapsed: s.Time.Sub(start)})
			}
		})
		*quiet = true
	}

	if *dump != "" {
		if err := writeFile(*dump, func(w io.Writer) error {
			return nexmarkbench.DumpEvents(ctx, w, o.GeneratorConfig(), *events)
		}); err != nil {
			return err
		}
	}
	closeOutput := func() error { return nil }
	if *output != "" {
		f, err := os.Create(*output)
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(f, 1<<20)
		o.Output = bw
		closeOutput = func() error { return errors.Join(bw.Flush(), f.Close()) }
	}
	var profile *os.File
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			closeOutput()
			return err
		}
		profile = f
	}
	if !*quiet {
		p := &progress{w: stderr, total: *events}
		o.Progress = p.report
	}
	if profile != nil {
		if err := pprof.StartCPUProfile(profile); err != nil {
			closeOutput()
			profile.Close()
			return err
		}
	}
	r, err := nexmarkbench.Run(ctx, o)
	if profile != nil {
		pprof.StopCPUProfile()
		err = errors.Join(err, profile.Close())
	}
	err = errors.Join(err, closeOutput())
	if err != nil {
		return err
	}
	var ckr *checkpointResult
	if *ckInterval > 0 {
		ckr = ck.result(*ckInterval)
	}
	if *asJSON {
		b, err := json.Marshal(struct {
			nexmarkbench.Result
			Checkpoints *checkpointResult `json:"checkpoints,omitempty"`
		}{r, ckr})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	printResult(stdout, r)
	if ckr != nil {
		fmt.Fprintf(stdout, "  checkpoints %d completed, %d failed (every %v); duration max %.0f ms, pause max %.1f ms (median %.1f ms), alignment max %.1f ms, size max %s\n",
			ckr.Completed, ckr.Failed, *ckInterval, ckr.MaxDurationMs, ckr.MaxPauseMs, ckr.MedianPauseMs, ckr.MaxAlignmentMs, bytesString(ckr.MaxSize))
	}
	return nil
}

// scratchDir returns dir, or if it is empty a new temporary directory named with prefix, and a
// function that removes the temporary directory (a no-op for a given dir).
func scratchDir(dir, prefix string) (string, func(), error) {
	if dir != "" {
		return dir, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	return tmp, func() { os.RemoveAll(tmp) }, nil
}

// checkpointFigures collects the figures of every completed checkpoint from metrics
// snapshots. observe is called from the metrics goroutine only; result after the job ended.
type checkpointFigures struct {
	last metrics.Checkpoints
	each []metrics.Checkpoints // one per completed checkpoint seen
}

func (c *checkpointFigures) observe(s metrics.Snapshot) {
	if s.Checkpoints == nil {
		return
	}
	k := *s.Checkpoints
	if k.LastID != 0 && k.LastID != c.last.LastID {
		c.each = append(c.each, k)
	}
	c.last = k
}

// checkpointResult is the checkpoint part of a benchmark's JSON result.
type checkpointResult struct {
	IntervalSeconds float64 `json:"interval_seconds"`
	Completed       int64   `json:"completed"`
	Failed          int64   `json:"failed"`
	// Observed counts the completed checkpoints whose figures the metrics showed (a checkpoint
	// completing within one metrics interval of the next is missed); the maxima and means are
	// over those.
	Observed       int     `json:"observed"`
	MaxDurationMs  float64 `json:"max_duration_ms"`
	MeanDurationMs float64 `json:"mean_duration_ms"`
	MaxPauseMs     float64 `json:"max_pause_ms"`
	// MedianPauseMs is the median of the observed checkpoints' pauses: a single long pause
	// is often the task descheduled on a busy machine rather than the snapshot's work.
	MedianPauseMs  float64 `json:"median_pause_ms"`
	MaxAlignmentMs float64 `json:"max_alignment_ms"`
	MaxSize        int64   `json:"max_size_bytes"`
	LastSize       int64   `json:"last_size_bytes"`
}

func (c *checkpointFigures) result(interval time.Duration) *checkpointResult {
	r := &checkpointResult{IntervalSeconds: interval.Seconds(), Completed: c.last.Completed, Failed: c.last.Failed,
		Observed: len(c.each), LastSize: c.last.LastSize}
	var total time.Duration
	pauses := make([]time.Duration, 0, len(c.each))
	for _, k := range c.each {
		pauses = append(pauses, k.LastPause)
		r.MaxDurationMs = max(r.MaxDurationMs, ms(k.LastDuration))
		r.MaxPauseMs = max(r.MaxPauseMs, ms(k.LastPause))
		r.MaxAlignmentMs = max(r.MaxAlignmentMs, ms(k.LastAlignment))
		r.MaxSize = max(r.MaxSize, k.LastSize)
		total += k.LastDuration
	}
	if len(c.each) > 0 {
		r.MeanDurationMs = ms(total / time.Duration(len(c.each)))
		slices.Sort(pauses)
		r.MedianPauseMs = ms(pauses[len(pauses)/2])
	}
	return r
}

// ms returns d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// bytesString formats n bytes with a binary unit: "1.5 GiB".
func bytesString(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// writeFile creates path and calls write with it, closing it and reporting the first error.
func writeFile(path string, write func(w io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// progress prints a line per report: events so far and the rate since the previous report.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	total   int64
	last    int64
	lastAt  time.Duration
	printed bool
}

func (p *progress) report(pr nexmarkbench.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pr.Events >= p.total && !p.printed {
		return // a short run: its summary says it all
	}
	dt := (pr.Elapsed - p.lastAt).Seconds()
	if dt < 0.25 {
		return // the final report, right after a periodic one
	}
	rate := float64(pr.Events-p.last) / dt
	fmt.Fprintf(p.w, "%6.1fs  %s / %s events  %s events/s\n", pr.Elapsed.Seconds(), thousands(pr.Events), thousands(p.total), thousands(int64(rate)))
	p.last, p.lastAt, p.printed = pr.Events, pr.Elapsed, true
}

func printResult(w io.Writer, r nexmarkbench.Result) {
	fmt.Fprintf(w, "nexmark %s: %s events at parallelism %d in %.2fs, %s results\n",
		r.Query, thousands(r.Events), r.Parallelism, r.WallSeconds, thousands(r.Results))
	fmt.Fprintf(w, "  throughput  %s events/s\n", thousands(int64(r.EventsPerSecond)))
	if r.CPUSeconds > 0 {
		fmt.Fprintf(w, "  efficiency  %s events per CPU-second (%.2f CPU-seconds)\n", thousands(int64(r.EventsPerCPUSecond)), r.CPUSeconds)
	}
	if r.LatencyP50Ms != nil {
		fmt.Fprintf(w, "  latency     p50 %.1f ms, p99 %.1f ms, max %.1f ms over %s results (at %s events/s)\n",
			*r.LatencyP50Ms, *r.LatencyP99Ms, *r.LatencyMaxMs, thousands(r.LatencySamples), thousands(int64(r.Rate)))
	}
}
