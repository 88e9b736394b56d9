package stream_test

// Tests of the engine core through the DataStream API: backpressure, failures and
// cancellation, watermarks and idleness, graph validation and plans, partitioning and metrics.
// Helpers here are prefixed rt so they do not collide with other test files of the package.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/datagen"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/stream"
	"go.uber.org/goleak"
)

// The -update flag rewrites golden files in testdata. It is registered only if no other test
// file of the package registered it first (package variables initialise before init runs).
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files in testdata")
	}
}

func rtUpdate() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// rtCtx bounds a test's job: a hang fails the test with the context's error instead of
// stalling the package.
func rtCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rtStart runs env in the background; the channel (of capacity 1) delivers Execute's result.
func rtStart(ctx context.Context, env *stream.Env) chan error {
	done := make(chan error, 1)
	go func() { done <- env.Execute(ctx) }()
	return done
}

// rtWait waits for a value from ch, failing the test if the job ends without sending one or
// the context expires first. A value sent just before the job ended is returned, and the job's
// result is put back on done for the caller to read.
func rtWait[T any](t *testing.T, ctx context.Context, ch <-chan T, done chan error, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case err := <-done:
		select {
		case v := <-ch: // sent before the end: select chose between two ready cases at random
			done <- err
			return v
		default:
		}
		t.Fatalf("the job ended (%v) while waiting for %s", err, what)
	case <-ctx.Done():
		t.Fatalf("timed out waiting for %s", what)
	}
	panic("unreachable")
}

// rtFeed is a source the test pushes records into, split by split: split i is read by subtask
// i % parallelism, a push wakes the readers, and ending every split ends the source.
type rtFeed[T any] struct {
	splits []string
	mu     sync.Mutex
	queued map[string][]T
	ended  map[string]bool
	wakes  []chan struct{}
}

func rtNewFeed[T any](splits ...string) *rtFeed[T] {
	return &rtFeed[T]{splits: splits, queued: map[string][]T{}, ended: map[string]bool{}}
}

// push queues records on split.
func (f *rtFeed[T]) push(split string, vs ...T) {
	f.mu.Lock()
	f.queued[split] = append(f.queued[split], vs...)
	f.mu.Unlock()
	f.wake()
}

// end ends split once its queued records are read.
func (f *rtFeed[T]) end(splits ...string) {
	f.mu.Lock()
	for _, s := range splits {
		f.ended[s] = true
	}
	f.mu.Unlock()
	f.wake()
}

func (f *rtFeed[T]) wake() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range f.wakes {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

type rtSplit string

func (s rtSplit) SplitID() string { return string(s) }

func (f *rtFeed[T]) Boundedness() connector.Boundedness { return connector.Bounded }

func (f *rtFeed[T]) NewEnumerator(ctx connector.EnumeratorContext, _ []connector.Split) (connector.Enumerator, error) {
	return rtFeedEnumerator{ctx: ctx, splits: f.splits}, nil
}

type rtFeedEnumerator struct {
	ctx    connector.EnumeratorContext
	splits []string
}

func (rtFeedEnumerator) Start(context.Context) error { return nil }
func (e rtFeedEnumerator) AddReader(_ context.Context, subtask int) error {
	for i, s := range e.splits {
		if i%e.ctx.Parallelism() == subtask {
			e.ctx.Assign(subtask, rtSplit(s))
		}
	}
	e.ctx.NoMoreSplits(subtask)
	return nil
}
func (rtFeedEnumerator) AddSplitsBack([]connector.Split, int) {}
func (rtFeedEnumerator) Snapshot() ([]connector.Split, error) { return nil, nil }
func (rtFeedEnumerator) Close() error                         { return nil }

func (f *rtFeed[T]) NewReader(connector.ReaderContext) (connector.Reader[T], error) {
	r := &rtFeedReader[T]{f: f, wake: make(chan struct{}, 1)}
	f.mu.Lock()
	f.wakes = append(f.wakes, r.wake)
	f.mu.Unlock()
	return r, nil
}

type rtFeedReader[T any] struct {
	f      *rtFeed[T]
	wake   chan struct{}
	splits []string
	noMore bool
}

func (r *rtFeedReader[T]) AddSplits(splits []connector.Split) {
	for _, s := range splits {
		r.splits = append(r.splits, s.SplitID())
	}
}

func (r *rtFeedReader[T]) NoMoreSplits() { r.noMore = true }

func (r *rtFeedReader[T]) Read(_ context.Context, out connector.ReaderOutput[T]) (connector.ReadStatus, error) {
	type take struct {
		split string
		vs    []T
		ended bool
	}
	var takes []take
	r.f.mu.Lock()
	for _, s := range r.splits {
		takes = append(takes, take{s, r.f.queued[s], r.f.ended[s]})
		delete(r.f.queued, s)
	}
	r.f.mu.Unlock()
	// Emit without the lock: emitting may block on backpressure.
	emitted := false
	for _, tk := range takes {
		o := out.Split(tk.split)
		for _, v := range tk.vs {
			o.Collect(v, 0)
			emitted = true
		}
		if tk.ended {
			out.ReleaseSplit(tk.split)
			r.splits = slices.DeleteFunc(r.splits, func(s string) bool { return s == tk.split })
		}
	}
	switch {
	case len(r.splits) == 0 && r.noMore:
		return connector.EndOfInput, nil
	case emitted:
		return connector.MoreAvailable, nil
	}
	return connector.NothingAvailable, nil
}

func (r *rtFeedReader[T]) Available() <-chan struct{}                { return r.wake }
func (r *rtFeedReader[T]) Snapshot(int64) ([]connector.Split, error) { return nil, nil }
func (r *rtFeedReader[T]) Close() error                              { return nil }

// rtRec is a record with a source name and an event timestamp.
type rtRec struct {
	Src string
	TS  int64
}

func rtRecTS(r rtRec) int64 { return r.TS }

// rtSeen is what rtWatcher reports: a record, or a firing timer, and the watermark then.
type rtSeen struct {
	Rec   rtRec
	Timer bool
	At    int64
	WM    int64
}

// rtWatcher is a KeyedProcessFunction that reports every record and the watermark at that
// moment; it registers an event-time timer at MaxTime for every key, and one at TS-1000 for
// records whose source is "timer".
type rtWatcher struct {
	seen chan<- rtSeen
}

func (w *rtWatcher) ProcessElement(ctx *stream.KeyedContext[string], v rtRec, _ stream.Collector[rtRec]) error {
	ctx.RegisterEventTimeTimer(eventtime.MaxTime)
	if v.Src == "timer" {
		ctx.RegisterEventTimeTimer(v.TS - 1000)
	}
	w.seen <- rtSeen{Rec: v, WM: ctx.CurrentWatermark()}
	return nil
}

func (w *rtWatcher) OnTimer(ctx *stream.KeyedContext[string], at int64, _ stream.Collector[rtRec]) error {
	w.seen <- rtSeen{Timer: true, At: at, WM: ctx.CurrentWatermark()}
	return nil
}

func rtOneKey(rtRec) string { return "k" }

// TestBackpressureBoundsMemory runs an unbounded, as-fast-as-possible source of 1 KB records
// into a sink the test lets take one record at a time. The exchange in between must block the
// source: records in flight stay within the exchange's buffers, the heap stays small, and the
// source task reports time spent backpressured.
func TestBackpressureBoundsMemory(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	type kiloRecord struct {
		N   int64
		Pad [1024]byte
	}
	var produced, consumed atomic.Int64
	src, err := datagen.New(func(n int64) kiloRecord {
		produced.Add(1)
		return kiloRecord{N: n}
	}, datagen.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var final metrics.Snapshot
	listener := metrics.ListenerFunc(func(s metrics.Snapshot) {
		mu.Lock()
		defer mu.Unlock()
		final = s
	})
	ctx, cancel := context.WithCancel(rtCtx(t))
	defer cancel()
	tokens := make(chan struct{})
	env := stream.New("backpressure", stream.Config{Parallelism: 2, Metrics: listener})
	recs := stream.Map(stream.FromSource(env, src, eventtime.Strategy[kiloRecord]{}), func(r kiloRecord) kiloRecord {
		r.Pad[0] = byte(r.N)
		return r
	})
	recs.Rebalance().SinkTo(rtFuncSink[kiloRecord](func(ctx context.Context, _ kiloRecord) error {
		select {
		case <-tokens:
		case <-ctx.Done():
			return ctx.Err()
		}
		consumed.Add(1)
		return nil
	})).Parallelism(1)
	done := rtStart(ctx, env)

	// In flight at most: per source subtask a partial batch and a batch blocked in send, the
	// sink's inbox (2 channels of 4 batches) and the batch the sink is working on, in batches
	// of 256 records: 3,328 records. Without backpressure it would be millions.
	const n, inFlight, heapBound = 20_000, 4096, 64 << 20
	var maxHeap uint64
	var ms runtime.MemStats
	for sent := 0; sent < n; {
		for range 1000 {
			select {
			case tokens <- struct{}{}:
				sent++
			case err := <-done:
				t.Fatalf("the job ended after %d records: %v", consumed.Load(), err)
			case <-ctx.Done():
				t.Fatalf("timed out after %d records", consumed.Load())
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		maxHeap = max(maxHeap, ms.HeapInuse)
		if p, c := produced.Load(), consumed.Load(); p-c > inFlight {
			t.Fatalf("the source ran ahead: %d records produced, %d consumed", p, c)
		}
	}
	cancel()
	// The sink saw the cancellation as an error of its Write; Execute still says the job was
	// cancelled.
	if err := <-done; err != context.Canceled {
		t.Fatalf("Execute after cancel: %v, want context.Canceled", err)
	}
	t.Logf("produced %d, consumed %d, max heap in use %.1f MB", produced.Load(), consumed.Load(), float64(maxHeap)/(1<<20))
	if maxHeap > heapBound {
		t.Errorf("heap in use reached %.1f MB, want below %d MB", float64(maxHeap)/(1<<20), heapBound>>20)
	}
	var backpressured time.Duration
	sources := 0
	for _, ts := range final.Tasks {
		if ts.Name == "Source" {
			backpressured += ts.Backpressured
			sources++
		}
	}
	if sources != 2 || backpressured <= 0 {
		t.Errorf("%d source tasks reported %v backpressured, want 2 tasks and some time", sources, backpressured)
	}
}

// rtFuncSink is a Sink calling a function for every record.
type rtFuncSink[T any] func(ctx context.Context, v T) error

func (f rtFuncSink[T]) NewWriter(context.Context, connector.SinkContext) (connector.Writer[T], error) {
	return rtFuncWriter[T](f), nil
}

type rtFuncWriter[T any] func(ctx context.Context, v T) error

func (w rtFuncWriter[T]) Write(ctx context.Context, v T, _ int64) error { return w(ctx, v) }
func (rtFuncWriter[T]) PreCommit(context.Context, int64) ([]connector.Committable, error) {
	return nil, nil
}
func (rtFuncWriter[T]) Close() error { return nil }

// rtTimerBomb registers an event-time timer for each record and panics when it fires.
type rtTimerBomb struct{}

func (rtTimerBomb) ProcessElement(ctx *stream.KeyedContext[int], v int, out stream.Collector[int]) error {
	ctx.RegisterEventTimeTimer(int64(v))
	return nil
}

func (rtTimerBomb) OnTimer(ctx *stream.KeyedContext[int], at int64, _ stream.Collector[int]) error {
	if at == 4242 {
		panic("timer exploded")
	}
	return nil
}

// TestFailures makes user code fail in different operators and checks that Execute returns an
// *OperatorError naming the operator and the record, and that no goroutine outlives the job.
func TestFailures(t *testing.T) {
	errBad := errors.New("bad record")
	nums := make([]int, 10_000)
	for i := range nums {
		nums[i] = i
	}
	ts := eventtime.Monotonous(func(v int) int64 { return int64(v) })
	for _, c := range []struct {
		name     string
		build    func(env *stream.Env)
		operator string
		record   string
		cause    string
	}{
		{
			name: "map panics",
			build: func(env *stream.Env) {
				stream.Map(stream.FromSlice(env, nums, ts), func(v int) int {
					if v == 4242 {
						panic("cannot map 4242")
					}
					return v
				}).Name("mapper").Discard()
			},
			operator: "mapper", record: "4242", cause: "panic: cannot map 4242",
		},
		{
			name: "flatmap returns an error",
			build: func(env *stream.Env) {
				stream.FlatMap(stream.FromSlice(env, nums, ts).Rebalance(), func(v int, out stream.Collector[string]) error {
					if v == 4242 {
						return errBad
					}
					out.Collect(fmt.Sprint(v))
					return nil
				}).Name("splitter").Discard()
			},
			operator: "splitter", record: "4242", cause: "bad record",
		},
		{
			name: "filter panics",
			build: func(env *stream.Env) {
				stream.FromSlice(env, nums, ts).Filter(func(v int) bool {
					if v == 4242 {
						panic(errBad)
					}
					return true
				}).Name("picky").Discard()
			},
			operator: "picky", record: "4242", cause: "bad record",
		},
		{
			name: "keyed process panics in OnTimer",
			build: func(env *stream.Env) {
				k := stream.KeyBy(stream.FromSlice(env, nums, ts), func(v int) int { return v % 7 })
				stream.KeyedProcess[int, int, int](k, rtTimerBomb{}).Name("bomb").Discard()
			},
			operator: "bomb", record: "timer 1970-01-01T00:00:04.242Z for key 0", cause: "panic: timer exploded",
		},
		{
			name: "sink write returns an error",
			build: func(env *stream.Env) {
				stream.FromSlice(env, nums, ts).SinkTo(rtFuncSink[int](func(_ context.Context, v int) error {
					if v == 4242 {
						return errBad
					}
					return nil
				})).Name("writer").Parallelism(1)
			},
			operator: "writer", record: "4242", cause: "sink write: bad record",
		},
		{
			name: "sink write panics",
			build: func(env *stream.Env) {
				stream.FromSlice(env, nums, ts).SinkTo(rtFuncSink[int](func(_ context.Context, v int) error {
					if v == 4242 {
						panic("writer exploded")
					}
					return nil
				})).Name("writer").Parallelism(1)
			},
			operator: "writer", record: "4242", cause: "panic: writer exploded",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			env := stream.New(c.name, stream.Config{Parallelism: 2, WatermarkInterval: -1})
			c.build(env)
			err := env.Execute(rtCtx(t))
			var oe *stream.OperatorError
			if !errors.As(err, &oe) {
				t.Fatalf("Execute returned %v (%T), want an *OperatorError", err, err)
			}
			if oe.Operator != c.operator || oe.Record != c.record {
				t.Errorf("blames operator %q record %q, want %q and %q", oe.Operator, oe.Record, c.operator, c.record)
			}
			msg := err.Error()
			for _, want := range []string{`"` + c.operator + `"`, c.record, c.cause} {
				if !strings.Contains(msg, want) {
					t.Errorf("error message does not contain %q:\n%s", want, firstLine(msg))
				}
			}
			if errors.Is(err, context.Canceled) {
				t.Errorf("the failure is reported as a cancellation: %v", firstLine(msg))
			}
		})
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// TestCancel cancels unbounded jobs while records flow: Execute returns the context's error
// promptly (or the cause it was cancelled with) and leaves no goroutine behind.
func TestCancel(t *testing.T) {
	stop := errors.New("stopped by the test")
	for _, c := range []struct {
		name  string
		cause error
		want  error
	}{
		{"cancel", nil, context.Canceled},
		{"cancel with cause", stop, stop},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			ctx, cancel := context.WithCancelCause(rtCtx(t))
			defer cancel(nil)
			src, err := datagen.New(func(n int64) int64 { return n }, datagen.Config{})
			if err != nil {
				t.Fatal(err)
			}
			env := stream.New("cancel", stream.Config{Parallelism: 2})
			running := make(chan struct{})
			var once sync.Once
			k := stream.KeyBy(stream.FromSource(env, src, eventtime.Strategy[int64]{}), func(v int64) int64 { return v % 100 })
			stream.Reduce(k, func(a, b int64) int64 { return a + b }).SinkTo(rtFuncSink[int64](func(context.Context, int64) error {
				once.Do(func() { close(running) })
				return nil
			}))
			done := rtStart(ctx, env)
			rtWait(t, ctx, running, done, "the first record")
			cancel(c.cause)
			start := time.Now()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Execute did not return within 10s of cancel")
			}
			if err != c.want {
				t.Fatalf("Execute returned %v, want %v", err, c.want)
			}
			t.Logf("Execute returned %v after cancel", time.Since(start))
		})
	}
}

// TestWatermarkIsMinimumOfInputs unions two sources whose event time advances at different
// speeds and checks what a keyed operator sees: the watermark never decreases, never passes
// the slower input, so no record is ever late, and becomes MaxTime once both inputs end.
func TestWatermarkIsMinimumOfInputs(t *testing.T) {
	ctx := rtCtx(t)
	env := stream.New("min watermark", stream.Config{Parallelism: 1, WatermarkInterval: -1})
	fast, slow := rtNewFeed[rtRec]("fast"), rtNewFeed[rtRec]("slow")
	strategy := eventtime.Monotonous(rtRecTS)
	in := stream.FromSource(env, fast, strategy).Union(stream.FromSource(env, slow, strategy))
	seen := make(chan rtSeen, 16)
	stream.KeyedProcess[rtRec, string, rtRec](stream.KeyBy(in, rtOneKey), &rtWatcher{seen: seen}).Discard()
	done := rtStart(ctx, env)

	maxPushed := map[string]int64{"fast": eventtime.MinTime, "slow": eventtime.MinTime}
	last := eventtime.MinTime
	check := func(s rtSeen) {
		t.Helper()
		bound := min(maxPushed["fast"], maxPushed["slow"])
		if bound != eventtime.MinTime {
			bound-- // a monotonous source's watermark trails its largest timestamp by 1ms
		}
		switch {
		case s.WM < last:
			t.Fatalf("watermark went back from %d to %d", last, s.WM)
		case s.WM > bound:
			t.Fatalf("watermark %d passed the slower input (bound %d) at %+v", s.WM, bound, s.Rec)
		case s.Rec.TS <= s.WM:
			t.Fatalf("record %+v is late: watermark %d", s.Rec, s.WM)
		}
		last = s.WM
	}
	for i := int64(1); i <= 20; i++ {
		for _, r := range []rtRec{{"fast", 1000 * i}, {"slow", 10 * i}} {
			f := fast
			if r.Src == "slow" {
				f = slow
			}
			maxPushed[r.Src] = r.TS
			f.push(r.Src, r)
			s := rtWait(t, ctx, seen, done, fmt.Sprintf("record %+v", r))
			if s.Rec != r {
				t.Fatalf("saw %+v, want %+v", s, r)
			}
			check(s)
			// By the second slow record, both inputs' first watermarks have been processed
			// (each source sent it before its next record), and the slow one is the minimum.
			if r == (rtRec{"slow", 20}) && s.WM != 9 {
				t.Fatalf("watermark at %+v is %d, want 9", r, s.WM)
			}
		}
	}
	fast.end("fast")
	slow.end("slow")
	s := rtWait(t, ctx, seen, done, "the end-of-input timer")
	if !s.Timer || s.At != eventtime.MaxTime || s.WM != eventtime.MaxTime {
		t.Fatalf("at end of input saw %+v, want the MaxTime timer at watermark MaxTime", s)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestWatermarkMinimumUnderLoad unions two generated sources at parallelism 2 whose event time
// advances 100 times apart and checks that no record reaches the keyed operator late, and
// that watermarks seen there never decrease.
func TestWatermarkMinimumUnderLoad(t *testing.T) {
	const n = 20_000
	gen := func(src string, step int64) *datagen.Source[rtRec] {
		s, err := datagen.New(func(i int64) rtRec { return rtRec{src, i * step} }, datagen.Config{Count: n, BatchSize: 32})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	env := stream.New("min watermark under load", stream.Config{Parallelism: 2, WatermarkInterval: -1, BatchSize: 16})
	strategy := eventtime.Monotonous(rtRecTS)
	in := stream.FromSource(env, gen("fast", 100), strategy).Union(stream.FromSource(env, gen("slow", 1), strategy))
	check := &rtLateCheck{}
	out := stream.Collect(stream.KeyedProcess[rtRec, int64, string](stream.KeyBy(in, func(r rtRec) int64 { return r.TS % 10 }), check))
	if err := env.Execute(rtCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := out.Values(); len(got) > 0 {
		t.Fatalf("%d problems, first: %s", len(got), got[0])
	}
}

// rtLateCheck emits a message for every record at or behind the watermark and for every
// watermark lower than one seen before.
type rtLateCheck struct{ last int64 }

func (c *rtLateCheck) Open(*stream.KeyedRuntime[int64]) error {
	c.last = eventtime.MinTime
	return nil
}

func (c *rtLateCheck) ProcessElement(ctx *stream.KeyedContext[int64], v rtRec, out stream.Collector[string]) error {
	wm := ctx.CurrentWatermark()
	if v.TS <= wm {
		out.Collect(fmt.Sprintf("late record %+v at watermark %d", v, wm))
	}
	if wm < c.last {
		out.Collect(fmt.Sprintf("watermark went back from %d to %d", c.last, wm))
	}
	c.last = wm
	return nil
}

// TestIdleness stops one of two splits of a source and advances processing time past the idle
// timeout: with idleness the watermark follows the split that still produces; without it the
// silent split holds it back.
func TestIdleness(t *testing.T) {
	for _, c := range []struct {
		name   string
		idle   time.Duration
		wantWM int64
	}{
		{"with idleness", time.Second, 4999},
		{"without idleness", 0, 999},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := rtCtx(t)
			clock := clockwork.NewFakeClock()
			env := stream.New("idleness", stream.Config{Parallelism: 1, WatermarkInterval: -1, Clock: clock})
			feed := rtNewFeed[rtRec]("a", "b") // both read by the one reader
			strategy := eventtime.Monotonous(rtRecTS).WithIdleness(c.idle)
			seen := make(chan rtSeen, 16)
			stream.KeyedProcess[rtRec, string, rtRec](stream.KeyBy(stream.FromSource(env, feed, strategy), rtOneKey), &rtWatcher{seen: seen}).Discard()
			done := rtStart(ctx, env)
			push := func(r rtRec) rtSeen {
				t.Helper()
				feed.push(r.Src, r)
				return rtWait(t, ctx, seen, done, fmt.Sprintf("record %+v", r))
			}
			push(rtRec{"a", 1000})
			push(rtRec{"b", 1000})
			clock.Advance(2 * time.Second) // split b says nothing for twice the idle timeout
			push(rtRec{"a", 5000})
			// The reader sent the watermark that followed a/5000 before it read a/6000.
			if s := push(rtRec{"a", 6000}); s.WM != c.wantWM {
				t.Fatalf("watermark %d after split b went silent, want %d", s.WM, c.wantWM)
			}
			feed.end("a", "b")
			if s := rtWait(t, ctx, seen, done, "the end-of-input timer"); s.WM != eventtime.MaxTime {
				t.Fatalf("at end of input saw %+v, want watermark MaxTime", s)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestIdleReader is TestIdleness across readers: the silent split is the only split of the
// second reader, which then marks its output idle so that the downstream task's watermark
// (the minimum of its inputs) advances and an event-time timer fires.
func TestIdleReader(t *testing.T) {
	ctx := rtCtx(t)
	clock := clockwork.NewFakeClock()
	env := stream.New("idle reader", stream.Config{Parallelism: 2, WatermarkInterval: -1, Clock: clock})
	feed := rtNewFeed[rtRec]("a", "b") // a is read by subtask 0, b by subtask 1
	strategy := eventtime.Monotonous(rtRecTS).WithIdleness(time.Second)
	seen := make(chan rtSeen, 16)
	stream.KeyedProcess[rtRec, string, rtRec](stream.KeyBy(stream.FromSource(env, feed, strategy), rtOneKey), &rtWatcher{seen: seen}).
		Parallelism(1).Discard()
	done := rtStart(ctx, env)
	feed.push("a", rtRec{"a", 1000})
	feed.push("b", rtRec{"b", 1000})
	for range 2 {
		rtWait(t, ctx, seen, done, "the first records")
	}
	clock.Advance(2 * time.Second)
	feed.push("a", rtRec{"timer", 5000}) // registers a timer at 4000
	if s := rtWait(t, ctx, seen, done, "record timer/5000"); s.Rec.TS != 5000 {
		t.Fatalf("saw %+v", s)
	}
	s := rtWait(t, ctx, seen, done, "the timer at 4000")
	if !s.Timer || s.At != 4000 || s.WM != 4999 {
		t.Fatalf("saw %+v, want the timer at 4000 fired by watermark 4999", s)
	}
	feed.end("a", "b")
	if s := rtWait(t, ctx, seen, done, "the end-of-input timer"); s.At != eventtime.MaxTime {
		t.Fatalf("saw %+v, want the MaxTime timer", s)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestValidation checks that jobs that cannot run are refused before they start, by Validate
// and by Execute, with errors that say why.
func TestValidation(t *testing.T) {
	nums := []int{1, 2, 3}
	id := func(v int) int { return v }
	for _, c := range []struct {
		name  string
		cfg   stream.Config
		build func(env *stream.Env)
		want  []string
	}{
		{
			name:  "no sink",
			build: func(env *stream.Env) { stream.Map(stream.FromSlice(env, nums, eventtime.Strategy[int]{}), id) },
			want:  []string{"the output of Map#2 goes nowhere", "the job has no sink"},
		},
		{
			name: "forward between different parallelisms",
			cfg:  stream.Config{Parallelism: 2},
			build: func(env *stream.Env) {
				stream.Map(stream.FromSlice(env, nums, eventtime.Strategy[int]{}).Forward(), id).Parallelism(3).Discard()
			},
			want: []string{"forward edge FromSlice#1 -> Map#2 joins parallelism 2 to 3"},
		},
		{
			name: "keyed parallelism above max parallelism",
			cfg:  stream.Config{MaxParallelism: 4},
			build: func(env *stream.Env) {
				stream.Reduce(stream.KeyBy(stream.FromSlice(env, nums, eventtime.Strategy[int]{}), id), func(a, b int) int { return a + b }).
					Parallelism(8).Discard()
			},
			want: []string{"Reduce#2: parallelism 8 exceeds max parallelism 4"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := stream.New(c.name, c.cfg)
			c.build(env)
			for how, err := range map[string]error{"Validate": env.Validate(), "Execute": env.Execute(rtCtx(t))} {
				if err == nil {
					t.Fatalf("%s accepted the job", how)
				}
				for _, w := range c.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s: error does not say %q:\n%v", how, w, err)
					}
				}
			}
		})
	}
	env := stream.New("too parallel", stream.Config{Parallelism: 8, MaxParallelism: 4})
	stream.FromSlice(env, nums, eventtime.Strategy[int]{}).Discard()
	if err := env.Execute(rtCtx(t)); err == nil || !strings.Contains(err.Error(), "parallelism 8 exceeds max parallelism 4") {
		t.Fatalf("Execute with parallelism above max parallelism: %v", err)
	}
}

// TestPlanGolden renders a job's plan as text, JSON and DOT and compares them with
// testdata/plan.*; run with -update to rewrite them. The job has chained operators (source,
// map and filter in one task; the reducer and its sink in another), a hash exchange, a
// rebalance and a broadcast.
func TestPlanGolden(t *testing.T) {
	env := stream.New("plan", stream.Config{Parallelism: 2})
	words := stream.FromSlice(env, []string{"a", "b"}, eventtime.Strategy[string]{})
	lens := stream.Map(words, func(w string) int { return len(w) }).Name("length")
	long := lens.Filter(func(n int) bool { return n > 0 }).Name("non-empty")
	sums := stream.Reduce(stream.KeyBy(long, func(n int) int { return n }), func(a, b int) int { return a + b }).Parallelism(3)
	sums.Discard().Parallelism(3)
	long.Rebalance().Discard().Name("rebalanced").Parallelism(1)
	long.Broadcast().Discard().Name("everywhere")

	js, err := env.PlanJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		file string
		got  []byte
	}{
		{"plan.txt", []byte(env.Plan())},
		{"plan.json", append(js, '\n')},
		{"plan.dot", []byte(env.PlanDOT())},
	} {
		path := filepath.Join("testdata", c.file)
		if rtUpdate() {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, c.got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestPlanGolden -update to create it)", err)
		}
		if !bytes.Equal(c.got, want) {
			t.Errorf("%s differs from the golden file (run with -update if the change is intended)\ngot:\n%s\nwant:\n%s", c.file, c.got, want)
		}
	}
}

// rtPlaced is a record with the subtask that received it.
type rtPlaced[T any] struct {
	V       T
	Subtask int
}

// rtTagger passes records on with the index of the subtask that processes them.
type rtTagger[T any] struct{ subtask int }

func (f *rtTagger[T]) Open(rc *stream.RuntimeContext) error {
	f.subtask = rc.Subtask()
	return nil
}

func (f *rtTagger[T]) ProcessElement(_ *stream.Context, v T, out stream.Collector[rtPlaced[T]]) error {
	out.Collect(rtPlaced[T]{v, f.subtask})
	return nil
}

// rtKeyTagger is rtTagger for keyed streams.
type rtKeyTagger struct{ subtask int }

func (f *rtKeyTagger) Open(rc *stream.KeyedRuntime[string]) error {
	f.subtask = rc.Subtask()
	return nil
}

func (f *rtKeyTagger) ProcessElement(ctx *stream.KeyedContext[string], _ int, out stream.Collector[rtPlaced[string]]) error {
	out.Collect(rtPlaced[string]{ctx.Key(), f.subtask})
	return nil
}

// TestPartitioning checks where each partitioning sends records: rebalance spreads them
// evenly, broadcast sends every record everywhere, a custom partitioner routes as told and
// hash partitioning sends each key to exactly the subtask owning its key group.
func TestPartitioning(t *testing.T) {
	const n = 1200
	nums := make([]int, n)
	for i := range nums {
		nums[i] = i
	}
	run := func(t *testing.T, p int, part func(stream.Stream[int]) stream.Stream[int]) map[int][]int {
		t.Helper()
		env := stream.New(t.Name(), stream.Config{Parallelism: 1})
		in := part(stream.FromSlice(env, nums, eventtime.Strategy[int]{}))
		out := stream.Collect(stream.Process[int, rtPlaced[int]](in, &rtTagger[int]{}).Parallelism(p))
		if err := env.Execute(rtCtx(t)); err != nil {
			t.Fatal(err)
		}
		by := map[int][]int{}
		for _, v := range out.Values() {
			by[v.Subtask] = append(by[v.Subtask], v.V)
		}
		return by
	}
	t.Run("rebalance", func(t *testing.T) {
		by := run(t, 4, stream.Stream[int].Rebalance)
		for sub := range 4 {
			if len(by[sub]) != n/4 {
				t.Errorf("subtask %d got %d records, want %d", sub, len(by[sub]), n/4)
			}
		}
	})
	t.Run("implicit rebalance", func(t *testing.T) {
		by := run(t, 3, func(s stream.Stream[int]) stream.Stream[int] { return s }) // 1 -> 3: not forward
		for sub := range 3 {
			if len(by[sub]) != n/3 {
				t.Errorf("subtask %d got %d records, want %d", sub, len(by[sub]), n/3)
			}
		}
	})
	t.Run("broadcast", func(t *testing.T) {
		by := run(t, 3, stream.Stream[int].Broadcast)
		for sub := range 3 {
			got := slices.Sorted(slices.Values(by[sub]))
			if !slices.Equal(got, nums) {
				t.Errorf("subtask %d got %d records, want all %d", sub, len(got), n)
			}
		}
	})
	t.Run("custom", func(t *testing.T) {
		by := run(t, 3, func(s stream.Stream[int]) stream.Stream[int] {
			return s.PartitionCustom(func(v, p int) int { return v / 10 % p })
		})
		total := 0
		for sub, vs := range by {
			for _, v := range vs {
				if v/10%3 != sub {
					t.Fatalf("record %d reached subtask %d, want %d", v, sub, v/10%3)
				}
			}
			total += len(vs)
		}
		if total != n {
			t.Fatalf("%d records arrived, want %d", total, n)
		}
	})
	t.Run("hash", func(t *testing.T) {
		const p, maxP = 4, 128
		env := stream.New(t.Name(), stream.Config{Parallelism: 2})
		k := stream.KeyBy(stream.FromSlice(env, nums, eventtime.Strategy[int]{}), func(v int) string { return fmt.Sprint("key", v%97) })
		out := stream.Collect(stream.KeyedProcess[int, string, rtPlaced[string]](k, &rtKeyTagger{}).Parallelism(p))
		if err := env.Execute(rtCtx(t)); err != nil {
			t.Fatal(err)
		}
		where := map[string]int{}
		used := map[int]bool{}
		hash := keygroup.HasherFor[string]()
		for _, v := range out.Values() {
			if sub, ok := where[v.V]; ok && sub != v.Subtask {
				t.Fatalf("key %s reached subtasks %d and %d", v.V, sub, v.Subtask)
			}
			where[v.V] = v.Subtask
			used[v.Subtask] = true
			if want := keygroup.Subtask(keygroup.Of(hash(v.V), maxP), maxP, p); v.Subtask != want {
				t.Fatalf("key %s reached subtask %d, but its key group belongs to %d", v.V, v.Subtask, want)
			}
		}
		if len(where) != 97 || len(used) != p {
			t.Fatalf("%d keys over %d subtasks, want 97 keys over %d", len(where), len(used), p)
		}
	})
}

// TestMetricsListener checks the final report: records in and out of every operator add up to
// the records that passed, across chains and exchanges.
func TestMetricsListener(t *testing.T) {
	const n = 1000
	nums := make([]int, n)
	for i := range nums {
		nums[i] = i
	}
	var mu sync.Mutex
	var snapshots []metrics.Snapshot
	listener := metrics.ListenerFunc(func(s metrics.Snapshot) {
		mu.Lock()
		defer mu.Unlock()
		snapshots = append(snapshots, s)
	})
	clock := clockwork.NewFakeClock() // no periodic report: only the final one
	env := stream.New("metrics", stream.Config{Parallelism: 2, Metrics: listener, Clock: clock})
	evens := stream.Map(stream.FromSlice(env, nums, eventtime.Strategy[int]{}), func(v int) int { return v * 3 }).
		Filter(func(v int) bool { return v%2 == 0 })
	stream.Collect(evens.Rebalance())
	stream.KeyBy(evens, func(v int) int { return v % 5 }).Stream().Discard().Name("keyed discard").Parallelism(3)
	if err := env.Execute(rtCtx(t)); err != nil {
		t.Fatal(err)
	}
	if len(snapshots) != 1 {
		t.Fatalf("%d reports, want exactly the final one", len(snapshots))
	}
	type inOut struct{ In, Out int64 }
	got := map[string]inOut{}
	subtasks := map[string]int{}
	for _, o := range snapshots[0].Operators {
		io := got[o.Operator]
		io.In += o.RecordsIn
		io.Out += o.RecordsOut
		got[o.Operator] = io
		subtasks[o.Operator]++
	}
	want := map[string]inOut{
		"FromSlice":     {0, n},
		"Map":           {n, n},
		"Filter":        {n, n / 2},
		"Collect":       {n / 2, 0},
		"keyed discard": {n / 2, 0},
	}
	if !maps.Equal(got, want) {
		t.Errorf("records in/out per operator:\ngot  %v\nwant %v", got, want)
	}
	wantSubtasks := map[string]int{"FromSlice": 2, "Map": 2, "Filter": 2, "Collect": 2, "keyed discard": 3}
	if !maps.Equal(subtasks, wantSubtasks) {
		t.Errorf("subtasks per operator: got %v, want %v", subtasks, wantSubtasks)
	}
}

// TestSideOutputGetsWatermarks reads a side output through a key exchange into an operator
// with event-time timers: the side output must carry watermarks and the end of input like the
// main output, or the job never ends.
func TestSideOutputGetsWatermarks(t *testing.T) {
	nums := make([]int, 100)
	for i := range nums {
		nums[i] = i
	}
	env := stream.New("side output", stream.Config{Parallelism: 2, WatermarkInterval: -1})
	odd := stream.NewOutputTag[rtRec]("odd")
	split := stream.Process(stream.FromSlice(env, nums, eventtime.Monotonous(func(v int) int64 { return int64(v) })),
		stream.ProcessFunc[int, int](func(ctx *stream.Context, v int, out stream.Collector[int]) error {
			if v%2 == 1 {
				odd.Emit(ctx, rtRec{"timer", int64(v) + 1000}) // rtWatcher sets a timer at v
				return nil
			}
			out.Collect(v)
			return nil
		}))
	split.Discard()
	seen := make(chan rtSeen, 1000)
	stream.KeyedProcess[rtRec, string, rtRec](stream.KeyBy(stream.SideOutput(split, odd), rtOneKey), &rtWatcher{seen: seen}).Discard()
	if err := env.Execute(rtCtx(t)); err != nil {
		t.Fatal(err)
	}
	close(seen)
	records, timers := 0, 0
	for s := range seen {
		if s.Timer {
			timers++
			if s.At != eventtime.MaxTime && s.WM < s.At {
				t.Errorf("timer %d fired at watermark %d", s.At, s.WM)
			}
		} else {
			records++
		}
	}
	if records != 50 || timers != 51 {
		t.Fatalf("%d records and %d timers, want 50 and 51", records, timers)
	}
}
