package stream_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runnel-io/runnel/statebackend/pebble"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/file"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/internal/snapshot"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/restart"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/stream"
	"github.com/runnel-io/runnel/window"
)

// rangeSource is a deterministic bounded source for checkpoint tests: split s yields the
// numbers s, s+splits, s+2*splits, ... below n, at most perRead per Read, with their
// positions checkpointed. It implements connector.SplitCodec.
type rangeSource struct {
	n, splits, perRead int64
	paced              bool
}

type rangeSplit struct {
	id, next int64 // next is the next number to emit
}

func (s *rangeSplit) SplitID() string { return strconv.FormatInt(s.id, 10) }

func (s rangeSource) Boundedness() connector.Boundedness { return connector.Bounded }

func (s rangeSource) EncodeSplit(sp connector.Split) ([]byte, error) {
	r := sp.(*rangeSplit)
	return binary.AppendVarint(binary.AppendVarint(nil, r.id), r.next), nil
}

func (s rangeSource) DecodeSplit(b []byte) (connector.Split, error) {
	id, n := binary.Varint(b)
	next, m := binary.Varint(b[max(n, 0):])
	if n <= 0 || m <= 0 {
		return nil, errors.New("bad split")
	}
	return &rangeSplit{id: id, next: next}, nil
}

func (s rangeSource) NewEnumerator(ctx connector.EnumeratorContext, restored []connector.Split) (connector.Enumerator, error) {
	e := &rangeEnum{ctx: ctx, pending: restored}
	if restored == nil {
		for i := range s.splits {
			e.pending = append(e.pending, &rangeSplit{id: i, next: i})
		}
	}
	return e, nil
}

type rangeEnum struct {
	ctx     connector.EnumeratorContext
	pending []connector.Split
	idle    bool // assign nothing, never say there is no more
}

func (e *rangeEnum) Start(context.Context) error { return nil }
func (e *rangeEnum) AddReader(_ context.Context, subtask int) error {
	if e.idle {
		return nil
	}
	var keep []connector.Split
	for i, sp := range e.pending {
		if i%e.ctx.Parallelism() == subtask {
			e.ctx.Assign(subtask, sp)
		} else {
			keep = append(keep, sp)
		}
	}
	_ = keep
	if subtask == e.ctx.Parallelism()-1 {
		e.pending = nil
	}
	e.ctx.NoMoreSplits(subtask)
	return nil
}
func (e *rangeEnum) AddSplitsBack(splits []connector.Split, _ int) {
	e.pending = append(e.pending, splits...)
}
func (e *rangeEnum) Snapshot() ([]connector.Split, error) { return slices.Clone(e.pending), nil }
func (e *rangeEnum) Close() error                         { return nil }

func (s rangeSource) NewReader(connector.ReaderContext) (connector.Reader[int64], error) {
	return &rangeReader{src: s}, nil
}

type rangeReader struct {
	src    rangeSource
	splits []*rangeSplit
	noMore bool
	rest   bool // pace the source: every other Read finds nothing, so the job runs long enough for checkpoints between failures
}

func (r *rangeReader) AddSplits(splits []connector.Split) {
	for _, sp := range splits {
		c := *sp.(*rangeSplit)
		r.splits = append(r.splits, &c)
	}
}
func (r *rangeReader) NoMoreSplits() { r.noMore = true }
func (r *rangeReader) Read(_ context.Context, out connector.ReaderOutput[int64]) (connector.ReadStatus, error) {
	if r.rest = !r.rest; r.rest && r.src.paced && len(r.splits) > 0 {
		return connector.NothingAvailable, nil
	}
	for len(r.splits) > 0 {
		sp := r.splits[0]
		o := out.Split(sp.SplitID())
		for range r.src.perRead {
			if sp.next >= r.src.n {
				break
			}
			o.Collect(sp.next, sp.next)
			sp.next += r.src.splits
		}
		if sp.next >= r.src.n {
			out.ReleaseSplit(sp.SplitID())
			r.splits = r.splits[1:]
			continue
		}
		// Round robin over the splits, a batch each.
		r.splits = append(r.splits[1:], sp)
		return connector.MoreAvailable, nil
	}
	if r.noMore {
		return connector.EndOfInput, nil
	}
	return connector.NothingAvailable, nil
}
func (r *rangeReader) Snapshot(int64) ([]connector.Split, error) {
	out := make([]connector.Split, len(r.splits))
	for i, sp := range r.splits {
		c := *sp
		out[i] = &c
	}
	return out, nil
}
func (r *rangeReader) Close() error { return nil }

// keyedJob is the job of the checkpoint tests: numbers, keyed by n mod 37, a running sum and
// count per key (keyed state), a window count per key (window state and timers), all written
// to the exactly-once file sink. Every per-key sequence comes from a single split, so the output
// is deterministic whatever the parallelism and interleaving.
type keyedJob struct {
	n, splits   int64
	parallelism int
	// failAt makes the job fail when the records seen by the map operator reach it (counted
	// over all attempts); nil never.
	fail  func(seen int64) bool
	paced bool
}

type sum struct {
	Key        int64
	Sum, Count int64
}

func (j keyedJob) build(t testing.TB, out string, cfg stream.Config) *stream.Env {
	t.Helper()
	cfg.Parallelism = j.parallelism
	cfg.WatermarkInterval = -1
	env := stream.New("checkpoint-test", cfg)
	var seen atomic.Int64
	src := stream.FromSource[int64](env, rangeSource{n: j.n, splits: j.splits, perRead: 16, paced: j.paced},
		eventtime.Monotonous(func(v int64) int64 { return v })).Uid("numbers")
	mapped := stream.Map(src, func(v int64) int64 {
		if j.fail != nil && j.fail(seen.Add(1)) {
			panic(fmt.Sprintf("injected failure at record %d", v))
		}
		return v
	}).Uid("map")
	keyOf := func(v int64) int64 { return (v % j.splits) + j.splits*((v/j.splits)%37) }
	sums := stream.Reduce(stream.KeyBy(stream.Map(mapped, func(v int64) sum { return sum{Key: keyOf(v), Sum: v, Count: 1} }), func(s sum) int64 { return s.Key }),
		func(a, b sum) sum { return sum{Key: a.Key, Sum: a.Sum + b.Sum, Count: a.Count + b.Count} }).Uid("sums")
	lines := stream.Map(sums, func(s sum) string { return fmt.Sprintf("sum %d %d %d", s.Key, s.Sum, s.Count) })
	// Window state and timers too: per key and second of event time (the numbers are their
	// own timestamps in ms), the sum and count.
	wins := stream.WindowReduce(stream.Window(stream.KeyBy(stream.Map(mapped, func(v int64) sum { return sum{Key: keyOf(v), Sum: v, Count: 1} }), func(s sum) int64 { return s.Key }),
		window.TumblingEventTime(time.Second)), func(a, b sum) sum { return sum{Key: a.Key, Sum: a.Sum + b.Sum, Count: a.Count + b.Count} }).Uid("windows")
	lines = lines.Union(stream.Map(wins, func(s sum) string { return fmt.Sprintf("win %d %d %d", s.Key, s.Sum, s.Count) }))
	sink, err := file.NewSink(file.SinkConfig[string]{Dir: out, Encode: func(dst []byte, s string) []byte { return append(append(dst, s...), '\n') }})
	if err != nil {
		t.Fatal(err)
	}
	lines.SinkTo(sink).Uid("sink")
	return env
}

// committedLines reads every visible (committed) line below dir, sorted.
func committedLines(t testing.TB, dir string) []string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for l := range strings.SplitSeq(strings.TrimSuffix(string(b), "\n"), "\n") {
			if l != "" {
				lines = append(lines, l)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	return lines
}

func diffLines(t testing.TB, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	gm, wm := map[string]int{}, map[string]int{}
	for _, l := range got {
		gm[l]++
	}
	for _, l := range want {
		wm[l]++
	}
	var missing, extra []string
	for l, n := range wm {
		if gm[l] < n {
			missing = append(missing, fmt.Sprintf("%s (x%d)", l, n-gm[l]))
		}
	}
	for l, n := range gm {
		if wm[l] < n {
			extra = append(extra, fmt.Sprintf("%s (x%d)", l, n-wm[l]))
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	t.Fatalf("committed output differs: %d lines, want %d; %d missing (first %v), %d extra/duplicated (first %v)",
		len(got), len(want), len(missing), missing[:min(5, len(missing))], len(extra), extra[:min(5, len(extra))])
}

func checkpointConfig(t testing.TB, dir string, interval time.Duration) stream.Config {
	st, err := checkpoint.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return stream.Config{Checkpoints: stream.Checkpoints{
		Storage:  st,
		Interval: interval, TolerableFailures: 1000,
		Restart: restart.FixedDelay(1000, 0),
	}}
}

func TestCheckpointedJobWithoutFailures(t *testing.T) {
	j := keyedJob{n: 20000, splits: 4, parallelism: 2}
	want := t.TempDir()
	if err := j.build(t, want, stream.Config{}).Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantLines := committedLines(t, want)
	if n := len(wantLines); n <= 20000 || n > 20000+4*37*20 {
		t.Fatalf("failure-free run wrote %d lines, want 20000 sums and a window result per key and second", n)
	}
	out := t.TempDir()
	if err := j.build(t, out, checkpointConfig(t, t.TempDir(), 5*time.Millisecond)).Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	diffLines(t, committedLines(t, out), wantLines)
}

func TestCheckpointedJobSurvivesTaskFailures(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			j := keyedJob{n: 30000, splits: 4, parallelism: 2}
			want := t.TempDir()
			defer func() { j.paced = false }()
			if err := j.build(t, want, stream.Config{}).Execute(context.Background()); err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(seed, 99))
			var points []int64
			for at := int64(0); len(points) < 5; {
				at += 1000 + rng.Int64N(8000)
				points = append(points, at)
			}
			var failures atomic.Int64
			j.fail = func(seen int64) bool {
				if slices.Contains(points, seen) {
					failures.Add(1)
					return true
				}
				return false
			}
			j.paced = true
			out := t.TempDir()
			cfg := checkpointConfig(t, t.TempDir(), 2*time.Millisecond)
			var restoredFrom atomic.Int64 // a restart that restored a checkpoint, not the beginning
			var last atomic.Pointer[metrics.Checkpoints]
			cfg.MetricsInterval = time.Millisecond
			cfg.Metrics = metrics.ListenerFunc(func(s metrics.Snapshot) {
				if c := s.Checkpoints; c != nil {
					last.Store(c)
					if c.Restored > 0 {
						restoredFrom.Store(c.Restored)
					}
				}
			})
			if err := j.build(t, out, cfg).Execute(context.Background()); err != nil {
				t.Fatal(err)
			}
			c := last.Load()
			t.Logf("%d failures injected; checkpoints: %+v", failures.Load(), *c)
			if int(failures.Load()) != len(points) || c.Restarts != len(points) {
				t.Fatalf("%d failures injected and %d restarts, want %d", failures.Load(), c.Restarts, len(points))
			}
			if restoredFrom.Load() == 0 {
				t.Fatal("no restart restored a checkpoint")
			}
			diffLines(t, committedLines(t, out), committedLines(t, want))
		})
	}
}

// TestSavepointRescale stops a job at parallelism 2 with a savepoint, moves the savepoint
// elsewhere, and finishes the job from it at parallelism 1 and at 4: the committed output
// equals an uninterrupted run's.
func TestSavepointRescale(t *testing.T) {
	base := keyedJob{n: 30000, splits: 4, parallelism: 2}
	want := t.TempDir()
	if err := base.build(t, want, stream.Config{}).Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantLines := committedLines(t, want)
	for _, p := range []int{1, 4} {
		t.Run(fmt.Sprint("p", p), func(t *testing.T) {
			// First half: at parallelism 2, stopped with a savepoint once 8000 records went
			// through.
			j := base
			reached := make(chan struct{})
			var once atomic.Bool
			j.paced = true
			j.fail = func(seen int64) bool {
				if seen == 8000 && once.CompareAndSwap(false, true) {
					close(reached)
				}
				return false
			}
			out := t.TempDir()
			h := stream.NewSavepoints()
			cfg := stream.Config{Checkpoints: stream.Checkpoints{Savepoints: h}}
			done := make(chan error, 1)
			go func() { done <- j.build(t, out, cfg).Execute(context.Background()) }()
			<-reached
			sp, err := h.Take(context.Background(), t.TempDir(), true)
			if err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatalf("job stopped with a savepoint: %v", err)
			}
			if n := len(committedLines(t, out)); n == 0 || n >= len(wantLines) {
				t.Fatalf("the first half committed %d of %d lines; want some, not all", n, len(wantLines))
			}
			// Savepoints are relocatable: move it.
			moved := filepath.Join(t.TempDir(), filepath.Base(sp))
			if err := os.Rename(sp, moved); err != nil {
				t.Fatal(err)
			}
			j.fail, j.paced, j.parallelism = nil, false, p
			if err := j.build(t, out, stream.Config{Checkpoints: stream.Checkpoints{RestoreFrom: moved}}).Execute(context.Background()); err != nil {
				t.Fatal(err)
			}
			diffLines(t, committedLines(t, out), wantLines)
		})
	}
}

// TestIncrementalCheckpointsOnPebble runs the job with keyed state in Pebble, whose
// checkpoints upload only new files: task failures restore the files at the same parallelism,
// and a job cancelled mid-way continues from its latest checkpoint at parallelism 1 and 4
// (each subtask copies its key groups out of the old databases).
func TestIncrementalCheckpointsOnPebble(t *testing.T) {
	base := keyedJob{n: 30000, splits: 4, parallelism: 2}
	want := t.TempDir()
	if err := base.build(t, want, stream.Config{}).Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantLines := committedLines(t, want)

	t.Run("failures", func(t *testing.T) {
		j := base
		j.paced = true
		var failures atomic.Int64
		j.fail = func(seen int64) bool {
			if seen%7000 == 0 {
				failures.Add(1)
				return true
			}
			return false
		}
		out, ckpt := t.TempDir(), t.TempDir()
		// An upload of a checkpoint that never completed, left by a crashed process.
		if err := os.MkdirAll(filepath.Join(ckpt, "shared"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ckpt, "shared", "orphan.sst"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := checkpointConfig(t, ckpt, 5*time.Millisecond)
		cfg.StateBackend = pebble.Factory(t.TempDir(), 0)
		if err := j.build(t, out, cfg).Execute(context.Background()); err != nil {
			t.Fatal(err)
		}
		if failures.Load() == 0 {
			t.Fatal("no failure injected")
		}
		diffLines(t, committedLines(t, out), wantLines)
		checkSharedFiles(t, ckpt)
	})
	for _, p := range []int{1, 4} {
		t.Run(fmt.Sprint("rescale-p", p), func(t *testing.T) {
			j := base
			j.paced = true
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			j.fail = func(seen int64) bool {
				if seen == 12000 {
					cancel()
				}
				return false
			}
			out, ckpt := t.TempDir(), t.TempDir()
			cfg := checkpointConfig(t, ckpt, 5*time.Millisecond)
			cfg.StateBackend = pebble.Factory(t.TempDir(), 0)
			if err := j.build(t, out, cfg).Execute(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled job returned %v", err)
			}
			if r, err := stream.LatestSnapshot(context.Background(), cfg.Checkpoints.Storage, nil); err != nil || r == nil {
				t.Fatalf("latest checkpoint: %v, %v", r, err)
			}
			j.fail, j.paced, j.parallelism = nil, false, p
			cfg = checkpointConfig(t, ckpt, 5*time.Millisecond)
			cfg.StateBackend = pebble.Factory(t.TempDir(), 0)
			cfg.Checkpoints.RestoreLatest = true
			if err := j.build(t, out, cfg).Execute(context.Background()); err != nil {
				t.Fatal(err)
			}
			diffLines(t, committedLines(t, out), wantLines)
		})
	}
}

// checkSharedFiles checks that the shared files in the checkpoint directory dir are exactly
// those its complete checkpoints reference: none missing, none left over from checkpoints that
// failed (the job cleans them up when it ends), and that there are some.
func checkSharedFiles(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	st, err := checkpoint.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	files, err := st.List(ctx, "chk-")
	if err != nil {
		t.Fatal(err)
	}
	referenced := map[string]bool{}
	for _, f := range files {
		chk, rest, _ := strings.Cut(f.Name, "/")
		if rest != snapshot.MetadataFile {
			continue
		}
		m, err := snapshot.ReadMetadata(ctx, st, chk)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range m.SharedFiles() {
			referenced[s] = true
		}
	}
	if len(referenced) == 0 {
		t.Fatal("no shared files of incremental checkpoints")
	}
	shared, err := st.List(ctx, snapshot.SharedDir+"/")
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	for _, f := range shared {
		name := strings.TrimPrefix(f.Name, snapshot.SharedDir+"/")
		present[name] = true
		if !referenced[name] {
			t.Errorf("shared file %s is referenced by no complete checkpoint", name)
		}
	}
	for s := range referenced {
		if !present[s] {
			t.Errorf("shared file %s of a complete checkpoint is missing", s)
		}
	}
}

// idleSource never emits and never ends: its reader has no splits.
type idleSource struct{ rangeSource }

func (idleSource) Boundedness() connector.Boundedness { return connector.Unbounded }
func (s idleSource) NewEnumerator(ctx connector.EnumeratorContext, _ []connector.Split) (connector.Enumerator, error) {
	return &rangeEnum{ctx: ctx, idle: true}, nil
}

// TestIdleInputDoesNotStallCheckpoints joins a busy unbounded stream with one that never
// emits anything: checkpoints keep completing, since barriers flow on idle channels too.
func TestIdleInputDoesNotStallCheckpoints(t *testing.T) {
	cfg := checkpointConfig(t, t.TempDir(), 5*time.Millisecond)
	cfg.Parallelism = 2
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg.MetricsInterval = time.Millisecond
	cfg.Metrics = metrics.ListenerFunc(func(s metrics.Snapshot) {
		if c := s.Checkpoints; c != nil && c.Completed >= 5 {
			cancel()
		}
	})
	env := stream.New("idle", cfg)
	strategy := eventtime.Monotonous(func(v int64) int64 { return v })
	busy := stream.FromSource[int64](env, rangeSource{n: 1 << 40, splits: 2, perRead: 16, paced: true}, strategy)
	idle := stream.FromSource[int64](env, idleSource{}, strategy)
	stream.Reduce(stream.KeyBy(busy.Union(idle), func(v int64) int64 { return v % 10 }), func(a, b int64) int64 { return a + b }).Discard()
	if err := env.Execute(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Execute: %v; want it cancelled after 5 checkpoints", err)
	}
}

// TestRestoreRejectsUnclaimedState restores a savepoint into a job whose operator UIDs
// changed: that fails unless non-restored state is allowed.
func TestRestoreRejectsUnclaimedState(t *testing.T) {
	j := keyedJob{n: 2000, splits: 2, parallelism: 1}
	h := stream.NewSavepoints()
	reached := make(chan struct{})
	var once atomic.Bool
	j.paced = true
	j.fail = func(seen int64) bool {
		if seen == 500 && once.CompareAndSwap(false, true) {
			close(reached)
		}
		return false
	}
	done := make(chan error, 1)
	go func() {
		done <- j.build(t, t.TempDir(), stream.Config{Checkpoints: stream.Checkpoints{Savepoints: h}}).Execute(context.Background())
	}()
	<-reached
	sp, err := h.Take(context.Background(), t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The same job without its reduce operator's UID: the "sums" state is unclaimed.
	build := func(allow bool) error {
		env := stream.New("renamed", stream.Config{Parallelism: 1, Checkpoints: stream.Checkpoints{RestoreFrom: sp, AllowNonRestoredState: allow}})
		src := stream.FromSource[int64](env, rangeSource{n: 2000, splits: 2, perRead: 16}, eventtime.Monotonous(func(v int64) int64 { return v })).Uid("numbers")
		stream.Reduce(stream.KeyBy(src, func(v int64) int64 { return v % 3 }), func(a, b int64) int64 { return a + b }).Uid("sums-v2").Discard()
		return env.Execute(context.Background())
	}
	if err := build(false); err == nil || !strings.Contains(err.Error(), "allow non-restored state") || !strings.Contains(err.Error(), "sums") {
		t.Fatalf("restoring unclaimed state: %v; want an error naming the UID and the way out", err)
	}
	if err := build(true); err != nil {
		t.Fatalf("with non-restored state allowed: %v", err)
	}
}

// joinJob is the job of TestSavepointRescaleWindowsJoins: the numbers of rangeSource keyed as
// in keyedJob, counted per key in sliding windows (window panes and timers), and joined with
// themselves per key by an interval join and a window join (join buffers and timers). Every
// per-key sequence comes from one split and no record is late, so the output is deterministic
// whatever the parallelism.
type joinJob struct {
	keyedJob
}

func (j joinJob) build(t testing.TB, out string, cfg stream.Config) *stream.Env {
	t.Helper()
	cfg.Parallelism = j.parallelism
	cfg.WatermarkInterval = -1
	env := stream.New("join-rescale-test", cfg)
	var seen atomic.Int64
	src := stream.FromSource[int64](env, rangeSource{n: j.n, splits: j.splits, perRead: 16, paced: j.paced},
		eventtime.Monotonous(func(v int64) int64 { return v })).Uid("numbers")
	mapped := stream.Map(src, func(v int64) int64 {
		if j.fail != nil && j.fail(seen.Add(1)) {
			panic(fmt.Sprintf("injected failure at record %d", v))
		}
		return v
	}).Uid("map")
	keyOf := func(v int64) int64 { return (v % j.splits) + j.splits*((v/j.splits)%37) }
	keyed := func() stream.Keyed[int64, int64] { return stream.KeyBy(mapped, keyOf) }
	counts := stream.WindowAggregateProcess(stream.Window(keyed(), window.SlidingEventTime(400*time.Millisecond, 200*time.Millisecond)),
		state.AggregateFunction[int64, int64, int64]{
			Create: func() int64 { return 0 },
			Add:    func(a, _ int64) int64 { return a + 1 },
			Result: func(a int64) int64 { return a },
		},
		stream.ProcessWindowFunc[int64, int64, string](func(ctx *stream.WindowContext[int64], n []int64, out stream.Collector[string]) error {
			out.Collect(fmt.Sprintf("sw %d %d %d", ctx.Key(), ctx.Window().Start, n[0]))
			return nil
		})).Uid("sliding")
	ij := stream.IntervalJoin(keyed(), keyed(), -200*time.Millisecond, 0, func(a, b int64) string {
		return fmt.Sprintf("ij %d %d %d", keyOf(a), a, b)
	}).Uid("interval-join")
	wj := stream.WindowJoin(keyed(), keyed(), window.TumblingEventTime(300*time.Millisecond), func(a, b int64) string {
		return fmt.Sprintf("wj %d %d %d", keyOf(a), a, b)
	}).Uid("window-join")
	sink, err := file.NewSink(file.SinkConfig[string]{Dir: out, Encode: func(dst []byte, s string) []byte { return append(append(dst, s...), '\n') }})
	if err != nil {
		t.Fatal(err)
	}
	counts.Union(ij, wj).SinkTo(sink).Uid("sink")
	return env
}

// TestSavepointRescaleWindowsJoins stops a job with sliding windows, an interval join and a
// window join at parallelism 2 with a savepoint, and finishes it from the savepoint at
// parallelism 1 and 4, on the memory and the Pebble backend and from one to the other: the
// committed output equals an uninterrupted run's. Window panes and timers and join buffers
// move between subtasks by key group.
func TestSavepointRescaleWindowsJoins(t *testing.T) {
	base := joinJob{keyedJob{n: 12000, splits: 4, parallelism: 2}}
	want := t.TempDir()
	if err := base.build(t, want, stream.Config{}).Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantLines := committedLines(t, want)
	kinds := map[string]int{}
	for _, l := range wantLines {
		kinds[l[:2]]++
	}
	if kinds["sw"] == 0 || kinds["ij"] == 0 || kinds["wj"] == 0 {
		t.Fatalf("the uninterrupted run's output lacks a kind of line: %v", kinds)
	}
	backend := func(t *testing.T, onPebble bool) func(*stream.Config) {
		return func(c *stream.Config) {
			if onPebble {
				c.StateBackend = pebble.Factory(t.TempDir(), 0)
			}
		}
	}
	for _, tc := range []struct {
		name             string
		pebbleB, pebbleA bool
	}{{"memory", false, false}, {"pebble", true, true}, {"memory-to-pebble", false, true}, {"pebble-to-memory", true, false}} {
		for _, p := range []int{1, 4} {
			if tc.pebbleB != tc.pebbleA && p == 1 {
				continue // moving between backends at one new parallelism is enough
			}
			t.Run(fmt.Sprintf("%s/p%d", tc.name, p), func(t *testing.T) {
				j := base
				reached := make(chan struct{})
				var once atomic.Bool
				j.paced = true
				j.fail = func(seen int64) bool {
					if seen == 4000 && once.CompareAndSwap(false, true) {
						close(reached)
					}
					return false
				}
				out := t.TempDir()
				h := stream.NewSavepoints()
				cfg := stream.Config{Checkpoints: stream.Checkpoints{Savepoints: h}}
				backend(t, tc.pebbleB)(&cfg)
				done := make(chan error, 1)
				go func() { done <- j.build(t, out, cfg).Execute(context.Background()) }()
				<-reached
				sp, err := h.Take(context.Background(), t.TempDir(), true)
				if err != nil {
					t.Fatal(err)
				}
				if err := <-done; err != nil {
					t.Fatalf("job stopped with a savepoint: %v", err)
				}
				if n := len(committedLines(t, out)); n == 0 || n >= len(wantLines) {
					t.Fatalf("the first half committed %d of %d lines; want some, not all", n, len(wantLines))
				}
				j.fail, j.paced, j.parallelism = nil, false, p
				cfg = stream.Config{Checkpoints: stream.Checkpoints{RestoreFrom: sp}}
				backend(t, tc.pebbleA)(&cfg)
				if err := j.build(t, out, cfg).Execute(context.Background()); err != nil {
					t.Fatal(err)
				}
				diffLines(t, committedLines(t, out), wantLines)
			})
		}
	}
}
