package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/runnel-io/runnel/statebackend/pebble"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/connector/datagen"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/internal/cli"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/restart"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/stream"
)

// The checkpoint benchmark runs one job: a generator source whose first records build keyed
// state of the requested size (one Value of --value-size bytes per key) in a KeyedProcess
// operator, and whose later records update random keys at --update-rate. After the build it
// waits for --checkpoints periodic checkpoints, then makes the keyed operator panic once; the
// job restarts at once (fixed delay 0) from the latest checkpoint, and the benchmark ends when
// every keyed subtask processed a record again.
//
// What it measures, besides the engine's figures (metrics.Checkpoints): the keyed operator
// stamps every record with the wall clock, so the largest gap between two records of a subtask
// is the longest it stopped processing, whatever stopped it; gaps overlapping a checkpoint are
// compared with those outside one. Recovery is the time from the panic to the first record each
// keyed subtask processed after the restore.

const (
	// buildChunk is the number of keys one source record of the build phase expands to, so
	// that the rate limit on the source (meant for the updates) does not slow the build.
	buildChunk = 1024
	// gapThreshold is the least gap between two records of a subtask that is recorded.
	gapThreshold = time.Millisecond
	// ckMetricsInterval is how often the engine reports metrics to the benchmark: the
	// resolution of checkpoint completion times.
	ckMetricsInterval = 10 * time.Millisecond
	// valuePool is the size of the random bytes values are copied from.
	valuePool = 16 << 20
)

// errBenchDone ends the job once everything is measured.
var errBenchDone = errors.New("benchmark done")

// Checkpoint is the checkpoint benchmark (`runnel bench checkpoint`); see the comment at the
// top of checkpoint.go for what it does and measures. DefaultCheckpoint returns its defaults.
type Checkpoint struct {
	// StateSize is the keyed state to build, in bytes.
	StateSize Bytes
	// ValueSize is the bytes of state per key: the job builds StateSize/ValueSize keys.
	ValueSize int
	// StateBackend is "memory" or "pebble" (on disk below StateDir).
	StateBackend string
	// StateDir is the Pebble backend's scratch directory; empty means a temporary directory,
	// removed afterwards.
	StateDir string
	// Parallelism is the parallelism of every operator.
	Parallelism int
	// CheckpointInterval is the time between checkpoints.
	CheckpointInterval time.Duration
	// CheckpointDir is where checkpoints go; empty means a temporary directory, removed
	// afterwards.
	CheckpointDir string
	// UpdateRate is the updates of random keys per second, over all subtasks, once the state
	// is built.
	UpdateRate float64
	// Checkpoints is the number of checkpoints to complete after the build, before the failure
	// (or the end).
	Checkpoints int
	// Recovery makes the keyed operator panic after Checkpoints checkpoints and measures the
	// recovery.
	Recovery bool
	// Timeout fails the run when the measurements are not done after this long.
	Timeout time.Duration
	// JSON prints the result as one JSON object.
	JSON bool
	// CPUProfile, if set, is a file a CPU profile of the run is written to.
	CPUProfile string
	// Quiet prints no progress to stderr.
	Quiet bool
}

// DefaultCheckpoint returns the benchmark's defaults: 100 MiB of 1 KiB values on the memory
// backend at parallelism 2, checkpoints every 5 s, 10,000 updates/s, a failure after 3
// checkpoints, a 30-minute timeout.
func DefaultCheckpoint() Checkpoint {
	return Checkpoint{StateSize: 100 << 20, ValueSize: 1024, StateBackend: "memory", Parallelism: 2,
		CheckpointInterval: 5 * time.Second, UpdateRate: 10000, Checkpoints: 3, Recovery: true, Timeout: 30 * time.Minute}
}

// Validate reports settings that cannot run, naming the flag of `runnel bench checkpoint`.
func (c Checkpoint) Validate() error {
	switch {
	case c.ValueSize <= 0 || c.ValueSize > valuePool/2:
		return fmt.Errorf("--value-size %d: want 1 to %d", c.ValueSize, valuePool/2)
	case int64(c.StateSize) < int64(c.ValueSize):
		return fmt.Errorf("--state-size %s is less than one value (--value-size %d)", c.StateSize, c.ValueSize)
	case c.Parallelism <= 0:
		return fmt.Errorf("--parallelism %d: must be positive", c.Parallelism)
	case c.CheckpointInterval <= 0:
		return fmt.Errorf("--checkpoint-interval %v: must be positive", c.CheckpointInterval)
	case c.UpdateRate <= 0:
		return fmt.Errorf("--update-rate %v: must be positive", c.UpdateRate)
	case c.Checkpoints <= 0:
		return fmt.Errorf("--checkpoints %d: must be positive", c.Checkpoints)
	case c.StateBackend != "memory" && c.StateBackend != "pebble":
		return fmt.Errorf("--state-backend %q: want memory or pebble", c.StateBackend)
	case c.Timeout <= 0:
		return fmt.Errorf("--timeout %v: must be positive", c.Timeout)
	}
	return nil
}

// Run runs the benchmark and prints its result to stdout and its progress to stderr. It
// returns the error of Validate, or why the run failed.
func (c Checkpoint) Run(ctx context.Context, stdout, stderr io.Writer) error {
	if err := c.Validate(); err != nil {
		return err
	}
	b := &ckBench{
		keys: int64(c.StateSize) / int64(c.ValueSize), valueSize: c.ValueSize, after: c.Checkpoints, recovery: c.Recovery,
		timeout: c.Timeout, quiet: c.Quiet, stderr: stderr,
	}
	b.pool = make([]byte, valuePool)
	rand.NewChaCha8([32]byte{'r', 'u', 'n', 'n', 'e', 'l'}).Read(b.pool)
	b.firstAfter = make([]atomic.Int64, c.Parallelism)

	ckPath, cleanCk, err := scratchDir(c.CheckpointDir, "runnel-checkpoints-")
	if err != nil {
		return err
	}
	defer cleanCk()
	st, err := checkpoint.NewLocal(ckPath)
	if err != nil {
		return err
	}
	cfg := stream.Config{
		Parallelism:       c.Parallelism,
		WatermarkInterval: -1,
		MetricsInterval:   ckMetricsInterval,
		Metrics:           metrics.ListenerFunc(b.observe),
		Checkpoints: stream.Checkpoints{
			Storage:  st,
			Interval: c.CheckpointInterval,
			Restart:  restart.FixedDelay(3, 0),
		},
	}
	if c.StateBackend == "pebble" {
		dir, cleanState, err := scratchDir(c.StateDir, "runnel-state-")
		if err != nil {
			return err
		}
		defer cleanState()
		cfg.StateBackend = pebble.Factory(dir, 0)
	}
	env, err := b.job(cfg, c.UpdateRate)
	if err != nil {
		return err
	}

	if c.CPUProfile != "" {
		f, err := os.Create(c.CPUProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	jobCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	b.cancel = cancel
	b.start = time.Now()
	err = env.Execute(jobCtx)
	end := time.Now()
	switch cause := context.Cause(jobCtx); {
	case ctx.Err() != nil:
		return ctx.Err()
	case cause != nil && !errors.Is(cause, errBenchDone):
		return cause
	case err != nil && cause == nil:
		return err
	case cause == nil:
		return errors.New("the job ended before the measurements were done")
	}
	r := b.result(end)
	r.StateBackend, r.Parallelism, r.IntervalSeconds, r.UpdateRate = c.StateBackend, c.Parallelism, c.CheckpointInterval.Seconds(), c.UpdateRate
	if c.JSON {
		out, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", out)
		return err
	}
	r.print(stdout)
	return nil
}

// ckUpdate is a record of the benchmark's keyed stream: write a value made from Seed to Key.
type ckUpdate struct {
	Key, Seed int64
	Build     bool // part of the initial build of the state
}

// job builds the benchmark's job.
func (b *ckBench) job(cfg stream.Config, updateRate float64) (*stream.Env, error) {
	env := stream.New("checkpoint bench", cfg)
	keys := b.keys
	chunks := (keys + buildChunk - 1) / buildChunk
	src, err := datagen.New(func(n int64) int64 { return n }, datagen.Config{Rate: updateRate})
	if err != nil {
		return nil, err
	}
	nums := stream.FromSource(env, src, eventtime.Monotonous(func(int64) int64 { return 0 })).Name("numbers").Uid("numbers")
	updates := stream.FlatMap(nums, func(n int64, out stream.Collector[ckUpdate]) error {
		if n < chunks {
			for k := n * buildChunk; k < min((n+1)*buildChunk, keys); k++ {
				out.Collect(ckUpdate{Key: k, Seed: k, Build: true})
			}
			return nil
		}
		out.Collect(ckUpdate{Key: int64(mix64(uint64(n)) % uint64(keys)), Seed: n})
		return nil
	}).Name("updates").Uid("updates")
	keyed := stream.KeyBy(updates, func(u ckUpdate) int64 { return u.Key })
	stream.KeyedProcess(keyed, &ckWriter{b: b}).Name("state").Uid("state").Discard().Uid("discard")
	return env, env.Validate()
}

// mix64 is SplitMix64's finalizer: a cheap bijection that scatters consecutive numbers.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// ckWriter is the keyed operator: it writes each record's value into Value state and stamps
// the record's processing. One instance per subtask and attempt; b is shared.
type ckWriter struct {
	b       *ckBench
	val     state.Value[[]byte]
	subtask int
	attempt int
	started bool
	last    time.Time
	n       int64 // records not yet added to b.processed
	built   int64 // build records not yet added to b.built
}

func (w *ckWriter) Open(rc *stream.KeyedRuntime[int64]) error {
	w.val = stream.NewValueState[[]byte](rc, state.Descriptor{Name: "value"})
	w.subtask, w.attempt = rc.Subtask(), rc.Attempt()
	return nil
}

func (w *ckWriter) ProcessElement(_ *stream.KeyedContext[int64], u ckUpdate, _ stream.Collector[int64]) error {
	b := w.b
	now := time.Now()
	if !w.started {
		w.started = true
		if w.attempt > 0 {
			b.firstAfter[w.subtask].CompareAndSwap(0, now.UnixNano())
		}
	} else if gap := now.Sub(w.last); gap >= gapThreshold {
		b.addGap(w.last, now)
	}
	w.last = now
	if b.fail.Load() && w.attempt == 0 && b.fail.CompareAndSwap(true, false) {
		b.failedAt.Store(now.UnixNano())
		panic("bench: injected failure")
	}
	v := make([]byte, b.valueSize)
	off := mix64(uint64(u.Seed)) % uint64(len(b.pool)-b.valueSize)
	copy(v, b.pool[off:])
	w.val.Update(v)
	w.n++
	if u.Build {
		w.built++
	}
	if w.n&255 == 0 || (!u.Build && w.built > 0) {
		b.processed.Add(w.n)
		if w.built > 0 && b.built.Add(w.built) == b.keys {
			b.builtAt.Store(now.UnixNano())
		}
		w.n, w.built = 0, 0
	}
	return nil
}

// ckBench is the state of one run of the benchmark, shared by the keyed subtasks (atomics and
// mu) and the metrics goroutine (everything else, touched by observe only, then by result after
// the job ended).
type ckBench struct {
	keys      int64
	valueSize int
	pool      []byte // random bytes values are copied from; read-only
	after     int
	recovery  bool
	timeout   time.Duration
	quiet     bool
	stderr    io.Writer
	cancel    context.CancelCauseFunc
	start     time.Time

	// Written by the keyed subtasks.
	processed, built  atomic.Int64
	builtAt, failedAt atomic.Int64 // unix nanoseconds; 0 until it happened
	fail              atomic.Bool  // the next record of attempt 0 panics
	firstAfter        []atomic.Int64
	mu                struct {
		sync.Mutex
		gaps []ckGap
	}

	// Touched by observe only.
	last       metrics.Checkpoints
	rows       []ckRow
	steady     int  // checkpoints triggered after the build and before the failure
	armed      bool // the failure was requested
	lastPrint  time.Time
	doneSince  time.Time
	restoredID int64
	restarts   int
}

// ckGap is a time a keyed subtask processed no record.
type ckGap struct{ from, to time.Time }

func (b *ckBench) addGap(from, to time.Time) {
	b.mu.Lock()
	b.mu.gaps = append(b.mu.gaps, ckGap{from, to})
	b.mu.Unlock()
}

// ckRow is one completed checkpoint.
type ckRow struct {
	ID                         int64
	Done                       time.Time // when the metrics showed it complete
	Duration, Pause, Alignment time.Duration
	Size                       int64
	Phase                      string // "build", "steady" or "restored"
	MaxGap                     time.Duration
	trigger                    time.Time
}

// observe runs on the metrics goroutine: it records completed checkpoints, arms the failure
// and ends the job when everything is measured.
func (b *ckBench) observe(s metrics.Snapshot) {
	now := time.Now()
	if c := s.Checkpoints; c != nil {
		if c.LastID != 0 && c.LastID != b.last.LastID {
			r := ckRow{ID: c.LastID, Done: now, Duration: c.LastDuration, Pause: c.LastPause,
				Alignment: c.LastAlignment, Size: c.LastSize, trigger: now.Add(-c.LastDuration)}
			builtAt, failedAt := b.builtAt.Load(), b.failedAt.Load()
			switch {
			case failedAt != 0:
				r.Phase = "restored"
			case builtAt != 0 && r.trigger.UnixNano() >= builtAt:
				r.Phase = "steady"
				b.steady++
			default:
				r.Phase = "build"
			}
			b.rows = append(b.rows, r)
			b.progress("checkpoint %d (%s): %.0f ms, %s, pause %.1f ms", r.ID, r.Phase, ms(r.Duration), bytesString(r.Size), ms(r.Pause))
			if b.steady >= b.after && b.recovery && !b.armed {
				b.armed = true
				b.fail.Store(true)
			}
		}
		b.restoredID, b.restarts = c.Restored, c.Restarts
		b.last = *c
	}
	if now.Sub(b.lastPrint) >= time.Second {
		b.lastPrint = now
		if b.builtAt.Load() == 0 {
			b.progress("building: %s / %s keys", cli.Thousands(b.built.Load()), cli.Thousands(b.keys))
		}
	}
	done := b.steady >= b.after && !b.recovery
	if b.recovery && b.failedAt.Load() != 0 {
		done = true
		for i := range b.firstAfter {
			done = done && b.firstAfter[i].Load() != 0
		}
	}
	switch {
	case done && b.doneSince.IsZero():
		b.doneSince = now
		if b.recovery {
			b.progress("restored checkpoint %d; watching for a second", b.restoredID)
		}
	case done && (now.Sub(b.doneSince) >= time.Second || !b.recovery):
		b.cancel(errBenchDone)
	case !done && now.Sub(b.start) > b.timeout:
		b.cancel(fmt.Errorf("bench checkpoint: not done after %v (%d checkpoints after the build)", b.timeout, b.steady))
	}
}

func (b *ckBench) progress(format string, a ...any) {
	if !b.quiet {
		fmt.Fprintf(b.stderr, "%6.1fs  "+format+"\n", append([]any{time.Since(b.start).Seconds()}, a...)...)
	}
}

// ckResult is what the checkpoint benchmark measured; its JSON form is what
// `runnel bench checkpoint --json` prints. Durations are in milliseconds.
type ckResult struct {
	StateBackend    string  `json:"state_backend"`
	Parallelism     int     `json:"parallelism"`
	IntervalSeconds float64 `json:"interval_seconds"`
	UpdateRate      float64 `json:"update_rate"`
	Keys            int64   `json:"keys"`
	ValueSize       int     `json:"value_size"`
	StateBytes      int64   `json:"state_bytes"`
	// BuildSeconds is the time from the job's start until every key had its value.
	BuildSeconds float64 `json:"build_seconds"`
	// Checkpoints lists every completed checkpoint the metrics showed, in order.
	Checkpoints []ckRowJSON `json:"checkpoints"`
	// First and Later are the first and the last checkpoint triggered after the build and
	// before the failure (the steady phase).
	First *ckRowJSON `json:"first,omitempty"`
	Later *ckRowJSON `json:"later,omitempty"`
	// MaxGapOutsideMs is the longest a keyed subtask went without a record in the steady phase,
	// outside any checkpoint: the baseline the gaps of checkpoints compare with.
	MaxGapOutsideMs float64 `json:"max_gap_outside_ms"`
	// Recovery, measured when a failure was injected.
	Recovery *ckRecovery `json:"recovery,omitempty"`
	Records  int64       `json:"records"`
}

type ckRowJSON struct {
	ID          int64   `json:"id"`
	Phase       string  `json:"phase"`
	DurationMs  float64 `json:"duration_ms"`
	SizeBytes   int64   `json:"size_bytes"`
	PauseMs     float64 `json:"pause_ms"`
	AlignmentMs float64 `json:"alignment_ms"`
	// MaxGapMs is the longest a keyed subtask went without a record during the checkpoint.
	MaxGapMs float64 `json:"max_gap_ms"`
}

type ckRecovery struct {
	// FailedAfter is the last checkpoint completed before the failure; Restored the one the
	// job restarted from.
	FailedAfter int64 `json:"failed_after"`
	Restored    int64 `json:"restored"`
	// FirstMs is the time from the failure to the first record a keyed subtask processed after
	// the restore; AllMs the time until every keyed subtask had processed one.
	FirstMs float64 `json:"first_ms"`
	AllMs   float64 `json:"all_ms"`
	// Restarts counts the job's restarts (1 unless something else failed too).
	Restarts int `json:"restarts"`
}

func (b *ckBench) result(end time.Time) ckResult {
	r := ckResult{Keys: b.keys, ValueSize: b.valueSize, StateBytes: b.keys * int64(b.valueSize), Records: b.processed.Load()}
	builtAt, failedAt := time.Unix(0, b.builtAt.Load()), time.Unix(0, b.failedAt.Load())
	if b.builtAt.Load() != 0 {
		r.BuildSeconds = builtAt.Sub(b.start).Seconds()
	}
	if b.failedAt.Load() == 0 {
		failedAt = end
	}
	b.mu.Lock()
	gaps := slices.Clone(b.mu.gaps)
	b.mu.Unlock()
	// A checkpoint's window: from its trigger to its completion, widened by the resolution of
	// both (the metrics interval).
	slack := 2 * ckMetricsInterval
	in := func(g ckGap, c ckRow) bool {
		return g.to.After(c.trigger.Add(-slack)) && g.from.Before(c.Done.Add(slack))
	}
	var outside time.Duration
	for _, g := range gaps {
		d := g.to.Sub(g.from)
		inAny := false
		for i := range b.rows {
			if in(g, b.rows[i]) {
				inAny = true
				b.rows[i].MaxGap = max(b.rows[i].MaxGap, d)
			}
		}
		if !inAny && b.builtAt.Load() != 0 && g.from.After(builtAt) && g.to.Before(failedAt) {
			outside = max(outside, d)
		}
	}
	r.MaxGapOutsideMs = ms(outside)
	var failedAfter int64
	for _, c := range b.rows {
		j := ckRowJSON{ID: c.ID, Phase: c.Phase, DurationMs: ms(c.Duration), SizeBytes: c.Size, PauseMs: ms(c.Pause),
			AlignmentMs: ms(c.Alignment), MaxGapMs: ms(c.MaxGap)}
		r.Checkpoints = append(r.Checkpoints, j)
		if c.Phase == "steady" {
			if r.First == nil {
				r.First = &j
			} else {
				r.Later = &j
			}
			failedAfter = c.ID
		}
	}
	if b.recovery && b.failedAt.Load() != 0 {
		rec := &ckRecovery{FailedAfter: failedAfter, Restored: b.restoredID, Restarts: b.restarts}
		var first, all time.Duration
		for i := range b.firstAfter {
			d := time.Unix(0, b.firstAfter[i].Load()).Sub(failedAt)
			if i == 0 || d < first {
				first = d
			}
			all = max(all, d)
		}
		rec.FirstMs, rec.AllMs = ms(first), ms(all)
		r.Recovery = rec
	}
	return r
}

func (r ckResult) print(w io.Writer) {
	fmt.Fprintf(w, "checkpoint bench: %s of keyed state (%s keys x %d B), %s backend, parallelism %d, checkpoints every %gs, %s updates/s\n",
		bytesString(r.StateBytes), cli.Thousands(r.Keys), r.ValueSize, r.StateBackend, r.Parallelism, r.IntervalSeconds, cli.Thousands(int64(r.UpdateRate)))
	fmt.Fprintf(w, "  build       %.1f s (%s keys/s)\n", r.BuildSeconds, cli.Thousands(int64(float64(r.Keys)/max(r.BuildSeconds, 1e-9))))
	fmt.Fprintf(w, "  %4s  %-8s  %10s  %10s  %9s  %9s  %11s\n", "id", "phase", "duration", "size", "pause", "align", "max gap")
	for _, c := range r.Checkpoints {
		fmt.Fprintf(w, "  %4d  %-8s  %7.0f ms  %10s  %6.1f ms  %6.1f ms  %8.1f ms\n",
			c.ID, c.Phase, c.DurationMs, bytesString(c.SizeBytes), c.PauseMs, c.AlignmentMs, c.MaxGapMs)
	}
	fmt.Fprintf(w, "  max gap outside checkpoints (after the build): %.1f ms\n", r.MaxGapOutsideMs)
	if rc := r.Recovery; rc != nil {
		fmt.Fprintf(w, "  recovery    failed after checkpoint %d, restored %d: first record after %.0f ms, every subtask after %.0f ms\n",
			rc.FailedAfter, rc.Restored, rc.FirstMs, rc.AllMs)
	}
}

// Bytes is a byte size that reads from a flag as a number with an optional unit B, KB, MB, GB or
// TB (binary multiples: 1GB = 2^30 bytes; KiB, MiB, GiB and TiB are accepted too), so that it
// serves as a pflag.Value.
type Bytes int64

// String formats b as the largest binary unit it is a whole multiple of: "100MB", "1536KB".
func (b Bytes) String() string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}} {
		if b != 0 && int64(b)%u.mult == 0 {
			return fmt.Sprintf("%d%s", int64(b)/u.mult, u.suffix)
		}
	}
	return fmt.Sprintf("%dB", int64(b))
}

// Set parses s (see Bytes) into b.
func (b *Bytes) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*b = Bytes(n)
	return nil
}

// Type names the flag's value in help: "size".
func (*Bytes) Type() string { return "size" }

// parseSize parses a byte size: a number with an optional unit B, KB, MB, GB or TB (binary
// multiples; KiB, MiB, GiB and TiB are accepted too).
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TIB", 1 << 40}, {"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f <= 0 || f*float64(mult) > 1<<50 {
		return 0, fmt.Errorf("bad size %q: want a positive number with an optional unit, e.g. 100MB or 1GB", s)
	}
	return int64(f * float64(mult)), nil
}
