package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
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
	"github.com/runnel-io/runnel/internal/cli"
	nexmarkbench "github.com/runnel-io/runnel/internal/nexmark"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/stream"
)

// DefaultNexmarkEvents is the number of events Nexmark generates unless told otherwise.
const DefaultNexmarkEvents = 10_000_000

// Nexmark runs one Nexmark query in-process on the deterministic generator and reports events
// per second and per CPU-second (`runnel bench nexmark`). The zero value is not runnable: Query
// is required and Events must be positive.
type Nexmark struct {
	// Query is the query to run: one of NexmarkQueries. Required.
	Query string
	// Events is the number of events to generate (persons, auctions and bids).
	Events int64
	// Parallelism is the parallelism of every operator; 0 means the number of CPUs.
	Parallelism int
	// Rate limits the source to this many events per second and measures latency; 0 runs as
	// fast as possible.
	Rate float64
	// Seed is the generator's seed.
	Seed int64
	// JSON prints the result as one JSON object instead of lines for people.
	JSON bool
	// Output, if set, is a file the query's results are written to as JSON lines.
	Output string
	// DumpEvents, if set, is a file the generated events are written to as JSON lines first.
	DumpEvents string
	// CPUProfile, if set, is a file a CPU profile of the run is written to.
	CPUProfile string
	// Quiet prints no progress lines to stderr.
	Quiet bool
	// StateBackend is "memory" (also when empty) or "pebble", on disk below StateDir.
	StateBackend string
	// StateDir is the Pebble backend's scratch directory; empty means a temporary directory,
	// removed afterwards.
	StateDir string
	// CheckpointInterval takes a checkpoint this often; 0 takes none.
	CheckpointInterval time.Duration
	// CheckpointDir is where checkpoints go; empty means a temporary directory, removed
	// afterwards.
	CheckpointDir string
}

// NexmarkQueries returns the names of the queries Nexmark.Query accepts, in order.
func NexmarkQueries() []string {
	var names []string
	for _, q := range nexmarkbench.Queries() {
		names = append(names, q.Name)
	}
	return names
}

// Validate reports settings that cannot run, naming the flag of `runnel bench nexmark`.
func (n Nexmark) Validate() error {
	switch {
	case n.Query == "":
		return fmt.Errorf("--query is required: one of %s", strings.Join(NexmarkQueries(), ", "))
	case n.CheckpointInterval < 0:
		return fmt.Errorf("--checkpoint-interval %v: must not be negative", n.CheckpointInterval)
	case n.StateBackend != "" && n.StateBackend != "memory" && n.StateBackend != "pebble":
		return fmt.Errorf("--state-backend %q: want memory or pebble", n.StateBackend)
	}
	return n.options().Validate()
}

// options returns the runner's options for n, without the engine configuration Run adds.
func (n Nexmark) options() nexmarkbench.Options {
	return nexmarkbench.Options{Query: n.Query, Events: n.Events, Parallelism: n.Parallelism, Rate: n.Rate,
		Generator: nexmark.Config{Seed: n.Seed}}
}

// Run runs the benchmark and prints its result to stdout and its progress to stderr. It
// returns the error of Validate, or why the run failed.
func (n Nexmark) Run(ctx context.Context, stdout, stderr io.Writer) error {
	if err := n.Validate(); err != nil {
		return err
	}
	o := n.options()
	quiet := n.Quiet
	if n.StateBackend == "pebble" {
		dir, cleanup, err := scratchDir(n.StateDir, "runnel-state-")
		if err != nil {
			return err
		}
		defer cleanup()
		o.Engine.StateBackend = pebble.Factory(dir, 0)
	}

	var ck checkpointFigures
	if n.CheckpointInterval > 0 {
		dir, cleanup, err := scratchDir(n.CheckpointDir, "runnel-checkpoints-")
		if err != nil {
			return err
		}
		defer cleanup()
		st, err := checkpoint.NewLocal(dir)
		if err != nil {
			return err
		}
		o.Engine.Checkpoints = stream.Checkpoints{Storage: st, Interval: n.CheckpointInterval}
		// Run's own metrics listener (for Progress) would replace ours, so progress is reported
		// from ours and Run gets no Progress (quiet below).
		var p *progress
		if !quiet {
			p = &progress{w: stderr, total: n.Events}
		}
		var start, reported time.Time
		// Often enough to see every checkpoint's figures; progress is printed every second.
		o.Engine.MetricsInterval = min(max(n.CheckpointInterval/10, 10*time.Millisecond), 100*time.Millisecond)
		o.Engine.Metrics = metrics.ListenerFunc(func(s metrics.Snapshot) {
			if start.IsZero() {
				start, reported = s.Time, s.Time
			}
			ck.observe(s)
			if p != nil && s.Time.Sub(reported) >= time.Second {
				reported = s.Time
				var events int64
				for _, op := range s.Operators {
					if op.Operator == nexmarkbench.SourceName {
						events += op.RecordsOut
					}
				}
				p.report(nexmarkbench.Progress{Events: events, Elapsed: s.Time.Sub(start)})
			}
		})
		quiet = true
	}

	if n.DumpEvents != "" {
		if err := writeFile(n.DumpEvents, func(w io.Writer) error {
			return nexmarkbench.DumpEvents(ctx, w, o.GeneratorConfig(), n.Events)
		}); err != nil {
			return err
		}
	}
	closeOutput := func() error { return nil }
	if n.Output != "" {
		f, err := os.Create(n.Output)
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(f, 1<<20)
		o.Output = bw
		closeOutput = func() error { return errors.Join(bw.Flush(), f.Close()) }
	}
	var profile *os.File
	if n.CPUProfile != "" {
		f, err := os.Create(n.CPUProfile)
		if err != nil {
			closeOutput()
			return err
		}
		profile = f
	}
	if !quiet {
		p := &progress{w: stderr, total: n.Events}
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
	var ckr *CheckpointFigures
	if n.CheckpointInterval > 0 {
		ckr = ck.result(n.CheckpointInterval)
	}
	if n.JSON {
		b, err := json.Marshal(NexmarkResult{r, ckr})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	printResult(stdout, r)
	if ckr != nil {
		fmt.Fprintf(stdout, "  checkpoints %d completed, %d failed (every %v); duration max %.0f ms, pause max %.1f ms (median %.1f ms), alignment max %.1f ms, size max %s\n",
			ckr.Completed, ckr.Failed, n.CheckpointInterval, ckr.MaxDurationMs, ckr.MaxPauseMs, ckr.MedianPauseMs, ckr.MaxAlignmentMs, bytesString(ckr.MaxSize))
	}
	return nil
}

// NexmarkResult is what `runnel bench nexmark --json` prints: the runner's result and, with
// checkpoints, their figures.
type NexmarkResult struct {
	nexmarkbench.Result
	Checkpoints *CheckpointFigures `json:"checkpoints,omitempty"`
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

// CheckpointFigures is the checkpoint part of a Nexmark result.
type CheckpointFigures struct {
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

func (c *checkpointFigures) result(interval time.Duration) *CheckpointFigures {
	r := &CheckpointFigures{IntervalSeconds: interval.Seconds(), Completed: c.last.Completed, Failed: c.last.Failed,
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
	fmt.Fprintf(p.w, "%6.1fs  %s / %s events  %s events/s\n", pr.Elapsed.Seconds(), cli.Thousands(pr.Events), cli.Thousands(p.total), cli.Thousands(int64(rate)))
	p.last, p.lastAt, p.printed = pr.Events, pr.Elapsed, true
}

func printResult(w io.Writer, r nexmarkbench.Result) {
	fmt.Fprintf(w, "nexmark %s: %s events at parallelism %d in %.2fs, %s results\n",
		r.Query, cli.Thousands(r.Events), r.Parallelism, r.WallSeconds, cli.Thousands(r.Results))
	fmt.Fprintf(w, "  throughput  %s events/s\n", cli.Thousands(int64(r.EventsPerSecond)))
	if r.CPUSeconds > 0 {
		fmt.Fprintf(w, "  efficiency  %s events per CPU-second (%.2f CPU-seconds)\n", cli.Thousands(int64(r.EventsPerCPUSecond)), r.CPUSeconds)
	}
	if r.LatencyP50Ms != nil {
		fmt.Fprintf(w, "  latency     p50 %.1f ms, p99 %.1f ms, max %.1f ms over %s results (at %s events/s)\n",
			*r.LatencyP50Ms, *r.LatencyP99Ms, *r.LatencyMaxMs, cli.Thousands(r.LatencySamples), cli.Thousands(int64(r.Rate)))
	}
}
