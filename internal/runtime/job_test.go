package runtime

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/runnel-io/runnel/internal/snapshot"
	"github.com/runnel-io/runnel/metrics"
)

// testCtx bounds a test's job so that a hang fails the test instead of the package.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, ""},
		{Config{Parallelism: 4, MaxParallelism: 4}, ""},
		{Config{MaxParallelism: -1}, "max parallelism -1 out of range"},
		{Config{MaxParallelism: 1<<15 + 1}, "out of range"},
		{Config{Parallelism: 8, MaxParallelism: 4}, "parallelism 8 exceeds max parallelism 4"},
		{Config{Checkpoints: Checkpoints{Coordinator: snapshot.Config{Interval: -time.Second}}}, "checkpoints: checkpoint: negative interval"},
	} {
		err := c.cfg.Validate()
		if c.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", c.cfg, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one containing %q", c.cfg, err, c.want)
		}
	}
	g := &Graph{Name: "bad config"}
	connect(g, addSource(g, "src", 1, 1), addSink(g, "sink", 1, &results[int]{}), Forward)
	if err := Run(testCtx(t), g, Config{MaxParallelism: -5}); err == nil {
		t.Fatal("Run accepted an invalid config")
	}
}

// TestRunExchanges runs records through a forward chain, a hash exchange and a chained sink
// and checks that every record arrives exactly once, at the subtask its route names, and that
// every sink subtask sees increasing watermarks ending with MaxTime.
func TestRunExchanges(t *testing.T) {
	const n = 5000
	g := &Graph{Name: "exchanges"}
	src := addSource(g, "src", 2, n)
	double := addOp(g, "double", 2, mapOp(func(v int) int { return 2 * v }))
	shift := addOp(g, "shift", 3, mapOp(func(v int) int { return v + 1 }))
	r := &results[int]{}
	sink := addSink(g, "sink", 3, r)
	connect(g, src, double, Forward)
	e := connect(g, double, shift, Hash)
	e.Route = Router[int](func(p int) func(int) int { return func(v int) int { return v / 2 % p } })
	connect(g, shift, sink, Forward)
	if err := Run(testCtx(t), g, Config{BatchSize: 7, WatermarkInterval: -1}); err != nil {
		t.Fatal(err)
	}
	var all []int
	for sub, vs := range r.bySubtask() {
		for _, v := range vs {
			if orig := (v - 1) / 2; orig%3 != sub {
				t.Fatalf("record %d (from %d) reached subtask %d, want %d", v, orig, sub, orig%3)
			}
		}
		all = append(all, vs...)
	}
	slices.Sort(all)
	if len(all) != n {
		t.Fatalf("%d records arrived, want %d", len(all), n)
	}
	for i, v := range all {
		if v != 2*i+1 {
			t.Fatalf("record %d is %d, want %d", i, v, 2*i+1)
		}
	}
	for sub := range 3 {
		wms := r.wms[sub]
		if len(wms) < 2 || wms[len(wms)-1] != eventtime.MaxTime {
			t.Fatalf("subtask %d watermarks %v: want several, ending with MaxTime", sub, wms)
		}
		if !slices.IsSorted(wms) || len(slices.Compact(slices.Clone(wms))) != len(wms) {
			t.Fatalf("subtask %d watermarks do not strictly increase: %v", sub, wms)
		}
	}
}

// TestRunOpenCloseOrder checks that a chain opens from its tail to its head and that a failed
// Open closes only what was opened.
func TestRunOpenCloseOrder(t *testing.T) {
	for _, failAt := range []string{"", "b", "a"} {
		t.Run("fail at "+failAt, func(t *testing.T) {
			var mu sync.Mutex
			var events []string
			logEvent := func(s string) {
				mu.Lock()
				defer mu.Unlock()
				events = append(events, s)
			}
			g := &Graph{Name: "open close"}
			src := addSource(g, "src", 1, 3)
			prev := src
			for _, name := range []string{"a", "b", "c"} {
				op := addOp(g, name, 1, mapOp(func(v int) int { return v }))
				op.Operator = wrapOpenClose(op.Operator, name, failAt == name, logEvent)
				connect(g, prev, op, Forward)
				prev = op
			}
			connect(g, prev, addSink(g, "sink", 1, &results[int]{}), Forward)
			err := Run(testCtx(t), g, Config{})
			var want []string
			switch failAt {
			case "":
				want = []string{"open c", "open b", "open a", "close a", "close b", "close c"}
			case "b":
				want = []string{"open c", "close c"}
			case "a":
				want = []string{"open c", "open b", "close b", "close c"}
			}
			if failAt == "" && err != nil {
				t.Fatal(err)
			}
			if failAt != "" && (err == nil || !strings.Contains(err.Error(), "opening") || !strings.Contains(err.Error(), "open "+failAt+" failed")) {
				t.Fatalf("Run returned %v, want the open failure of %s", err, failAt)
			}
			if !slices.Equal(events, want) {
				t.Fatalf("got %v, want %v", events, want)
			}
		})
	}
}

type openCloseOp struct {
	Instance
	name  string
	fail  bool
	event func(string)
}

func (o *openCloseOp) Open() error {
	if o.fail {
		return fmt.Errorf("open %s failed", o.name)
	}
	o.event("open " + o.name)
	return o.Instance.Open()
}

func (o *openCloseOp) Close() error {
	o.event("close " + o.name)
	return o.Instance.Close()
}

// wrapOpenClose wraps an operator factory so that Open and Close are logged, and Open fails
// if fail is set. The wrapper keeps the wrapped operator's Output[int].
func wrapOpenClose(make func(*Context, any) (Instance, error), name string, fail bool, event func(string)) func(*Context, any) (Instance, error) {
	return func(c *Context, out any) (Instance, error) {
		inst, err := make(c, out)
		if err != nil {
			return nil, err
		}
		return struct {
			*openCloseOp
			Output[int]
		}{&openCloseOp{Instance: inst, name: name, fail: fail, event: event}, inst.(Output[int])}, nil
	}
}

// TestRunFailures checks what Run returns when a job fails in different places: the failure
// itself, not the cancellations it caused elsewhere, and every goroutine ended (TestMain).
func TestRunFailures(t *testing.T) {
	errBoom := errors.New("boom")
	for _, c := range []struct {
		name  string
		build func(g *Graph)
		check func(t *testing.T, err error)
	}{
		{
			name: "operator Fail",
			build: func(g *Graph) {
				src := addSource(g, "src", 2, 100_000)
				op := addOp(g, "fails", 2, func(c *Context, v int, ts int64, out Output[int]) {
					if v == 777 {
						c.Fail(v, errBoom)
					}
					out.Collect(v, ts)
				})
				connect(g, src, op, Rebalance)
				connect(g, op, addSink(g, "sink", 2, &results[int]{}), Rebalance)
			},
			check: func(t *testing.T, err error) {
				var oe *OperatorError
				if !errors.As(err, &oe) || !errors.Is(err, errBoom) {
					t.Fatalf("got %v, want an *OperatorError wrapping boom", err)
				}
				if oe.Operator != "fails" || oe.Record != "777" {
					t.Fatalf("blames operator %q record %q", oe.Operator, oe.Record)
				}
				if want := `operator "fails" (subtask `; !strings.HasPrefix(err.Error(), want) {
					t.Fatalf("message %q does not start with %q", err, want)
				}
			},
		},
		{
			name: "operator fails with context.Canceled of its own",
			build: func(g *Graph) {
				src := addSource(g, "src", 1, 100)
				op := addOp(g, "own cancel", 1, func(c *Context, v int, ts int64, out Output[int]) {
					if v == 50 {
						c.Fail(v, context.Canceled) // not the job's context: a failure all the same
					}
				})
				connect(g, src, op, Forward)
				connect(g, op, addSink(g, "sink", 1, &results[int]{}), Forward)
			},
			check: func(t *testing.T, err error) {
				var oe *OperatorError
				if !errors.As(err, &oe) || oe.Record != "50" {
					t.Fatalf("got %v, want the *OperatorError on record 50", err)
				}
			},
		},
		{
			name: "recovered panic",
			build: func(g *Graph) {
				src := addSource(g, "src", 1, 1000)
				op := addOp(g, "panics", 1, func(c *Context, v int, ts int64, out Output[int]) {
					defer func() {
						if r := recover(); r != nil {
							c.Recovered(r, v)
						}
					}()
					if v == 5 {
						panic(errBoom)
					}
				})
				connect(g, src, op, Forward)
				connect(g, op, addSink(g, "sink", 1, &results[int]{}), Forward)
			},
			check: func(t *testing.T, err error) {
				var oe *OperatorError
				if !errors.As(err, &oe) || !errors.Is(err, errBoom) || oe.Record != "5" {
					t.Fatalf("got %v, want an *OperatorError on record 5 wrapping boom", err)
				}
			},
		},
		{
			name: "runtime crash",
			build: func(g *Graph) {
				src := addSource(g, "src", 1, 1000)
				op := addOp(g, "crashes", 1, func(c *Context, v int, ts int64, out Output[int]) {
					var none []int
					out.Collect(none[v], ts) // a bug, not a user failure: no recover
				})
				connect(g, src, op, Rebalance)
				connect(g, op, addSink(g, "sink", 1, &results[int]{}), Forward)
			},
			check: func(t *testing.T, err error) {
				if err == nil || !strings.Contains(err.Error(), "runtime: task crashes (subtask 0) crashed: runtime error: index out of range") {
					t.Fatalf("got %v, want a crash naming the task", err)
				}
			},
		},
		{
			name: "source read error",
			build: func(g *Graph) {
				src := g.Add(&Node{Name: "broken", Parallelism: 1, Out: TypeOf[int](),
					Source: NewSource[int](failingSource{err: errBoom}, eventtime.Strategy[int]{})})
				connect(g, src, addSink(g, "sink", 1, &results[int]{}), Rebalance)
			},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, errBoom) || !strings.Contains(err.Error(), "runtime: source broken (subtask 0)") {
					t.Fatalf("got %v, want the read error naming the source", err)
				}
			},
		},
		{
			name: "close error",
			build: func(g *Graph) {
				src := addSource(g, "src", 1, 10)
				op := addOp(g, "closer", 1, mapOp(func(v int) int { return v }))
				f := op.Operator
				op.Operator = func(c *Context, out any) (Instance, error) {
					inst, err := f(c, out)
					inst.(*fnOp[int, int]).close = func(*Context) error { return errBoom }
					return inst, err
				}
				connect(g, src, op, Rebalance)
				connect(g, op, addSink(g, "sink", 1, &results[int]{}), Forward)
			},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, errBoom) || !strings.Contains(err.Error(), "runtime: closing closer") {
					t.Fatalf("got %v, want the close error", err)
				}
			},
		},
		{
			name: "operator factory error",
			build: func(g *Graph) {
				src := addSource(g, "src", 1, 10)
				op := addOp(g, "unmakeable", 1, mapOp(func(v int) int { return v }))
				op.Operator = func(*Context, any) (Instance, error) { return nil, errBoom }
				connect(g, src, op, Rebalance)
				connect(g, op, addSink(g, "sink", 1, &results[int]{}), Forward)
			},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, errBoom) || !strings.Contains(err.Error(), "runtime: creating unmakeable#2 subtask 0") {
					t.Fatalf("got %v, want the factory error", err)
				}
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := &Graph{Name: c.name}
			c.build(g)
			c.check(t, Run(testCtx(t), g, Config{}))
		})
	}
}

// failingSource is a one-split source whose reader fails on its first Read.
type failingSource struct{ err error }

type oneSplit struct{}

func (oneSplit) SplitID() string { return "one" }

func (failingSource) Boundedness() connector.Boundedness { return connector.Bounded }
func (failingSource) NewEnumerator(ctx connector.EnumeratorContext, _ []connector.Split) (connector.Enumerator, error) {
	return oneSplitEnumerator{ctx}, nil
}
func (s failingSource) NewReader(connector.ReaderContext) (connector.Reader[int], error) {
	return failingReader(s), nil
}

type oneSplitEnumerator struct{ ctx connector.EnumeratorContext }

func (oneSplitEnumerator) Start(context.Context) error { return nil }
func (e oneSplitEnumerator) AddReader(_ context.Context, subtask int) error {
	if subtask == 0 {
		e.ctx.Assign(0, oneSplit{})
	}
	e.ctx.NoMoreSplits(subtask)
	return nil
}
func (oneSplitEnumerator) AddSplitsBack([]connector.Split, int) {}
func (oneSplitEnumerator) Snapshot() ([]connector.Split, error) { return nil, nil }
func (oneSplitEnumerator) Close() error                         { return nil }

type failingReader failingSource

func (failingReader) AddSplits([]connector.Split) {}
func (failingReader) NoMoreSplits()               {}
func (r failingReader) Read(context.Context, connector.ReaderOutput[int]) (connector.ReadStatus, error) {
	return 0, r.err
}
func (failingReader) Snapshot(int64) ([]connector.Split, error) { return nil, nil }
func (failingReader) Close() error                              { return nil }

// TestRunCancel checks that cancelling an unbounded job ends Run with the context's error, or
// with the cause the context was cancelled with.
func TestRunCancel(t *testing.T) {
	for _, cause := range []error{nil, errors.New("operator asked to stop")} {
		t.Run(fmt.Sprint(cause), func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(testCtx(t))
			defer cancel(nil)
			src, err := datagen.New(func(i int64) int { return int(i) }, datagen.Config{})
			if err != nil {
				t.Fatal(err)
			}
			g := &Graph{Name: "cancel"}
			s := g.Add(&Node{Name: "src", Parallelism: 2, Out: TypeOf[int](), Source: NewSource[int](src, eventtime.Strategy[int]{})})
			var once sync.Once
			running := make(chan struct{})
			op := addOp(g, "op", 2, func(c *Context, v int, ts int64, out Output[int]) {
				once.Do(func() { close(running) })
				if err := c.Ctx().Err(); err != nil {
					c.Fail(v, err) // what a blocking call would return: still a cancellation
				}
				out.Collect(v, ts)
			})
			connect(g, s, op, Rebalance)
			connect(g, op, addSink(g, "sink", 1, &results[int]{}), Rebalance)
			done := make(chan error, 1)
			go func() { done <- Run(ctx, g, Config{}) }()
			select {
			case <-running:
			case err := <-done:
				t.Fatalf("the unbounded job ended: %v", err)
			}
			cancel(cause)
			err = <-done
			want := cause
			if want == nil {
				want = context.Canceled
			}
			if err != want {
				t.Fatalf("Run returned %v, want %v", err, want)
			}
		})
	}
}

// TestRunMetrics checks the final metrics report: records in and out of every operator
// subtask, side outputs included, and the task figures.
func TestRunMetrics(t *testing.T) {
	const n = 1000
	g := &Graph{Name: "metrics"}
	src := addSource(g, "src", 2, n)
	split := addOp(g, "split", 2, func(c *Context, v int, ts int64, out Output[int]) {
		if v%4 == 0 {
			c.SideOutput("fours").(Output[string]).Collect(fmt.Sprint(v), ts)
			return
		}
		out.Collect(v, ts)
	})
	split.Side = map[string]Type{"fours": TypeOf[string]()}
	evens := addOp(g, "evens", 2, func(c *Context, v int, ts int64, out Output[int]) {
		if v%2 == 0 {
			out.Collect(v, ts)
		}
	})
	connect(g, src, split, Forward)
	connect(g, split, evens, Forward)
	connect(g, evens, addSink(g, "sink", 1, &results[int]{}), Rebalance)
	sideSink := addSink(g, "side sink", 2, &results[string]{})
	g.Connect(&Edge{From: split, To: sideSink, Tag: "fours", Part: Forward})
	otherSide := addSink(g, "other side sink", 3, &results[string]{})
	g.Connect(&Edge{From: split, To: otherSide, Tag: "fours", Part: Rebalance})

	var mu sync.Mutex
	var last metrics.Snapshot
	reports := 0
	listener := metrics.ListenerFunc(func(s metrics.Snapshot) {
		mu.Lock()
		defer mu.Unlock()
		last, reports = s, reports+1
	})
	if err := Run(testCtx(t), g, Config{Metrics: listener, MetricsInterval: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if reports != 1 {
		t.Fatalf("%d reports with an hourly interval, want the final one only", reports)
	}
	type inOut struct{ in, out int64 }
	got := map[string]inOut{}
	subtasks := map[string]int{}
	for _, o := range last.Operators {
		io := got[o.Operator]
		io.in += o.RecordsIn
		io.out += o.RecordsOut
		got[o.Operator] = io
		subtasks[o.Operator]++
	}
	want := map[string]inOut{
		"src":             {0, n},
		"split":           {n, n},             // 750 main + 250 side
		"evens":           {3 * n / 4, n / 4}, // 2, 6, 10, ...
		"sink":            {n / 4, 0},
		"side sink":       {n / 4, 0},
		"other side sink": {n / 4, 0},
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: records in %d out %d, want in %d out %d", name, got[name].in, got[name].out, w.in, w.out)
		}
	}
	wantSubtasks := map[string]int{"src": 2, "split": 2, "evens": 2, "sink": 1, "side sink": 2, "other side sink": 3}
	for name, w := range wantSubtasks {
		if subtasks[name] != w {
			t.Errorf("%s: %d subtasks reported, want %d", name, subtasks[name], w)
		}
	}
	// Tasks: src+split+evens+side sink (2), sink (1), other side sink (3).
	if len(last.Tasks) != 6 {
		t.Errorf("%d tasks reported, want 6: %+v", len(last.Tasks), last.Tasks)
	}
	for _, o := range last.Operators {
		switch o.Operator {
		case "sink", "other side sink", "side sink":
			if o.InputWatermark != eventtime.MaxTime {
				t.Errorf("%s subtask %d: final input watermark %d, want MaxTime", o.Operator, o.Subtask, o.InputWatermark)
			}
		default:
			if o.InputWatermark != eventtime.MinTime {
				t.Errorf("%s subtask %d does not track watermarks; reports %d, want MinTime", o.Operator, o.Subtask, o.InputWatermark)
			}
		}
	}
}

// quietSource emits the numbers it is given on one split, then nothing until ctx ends; its
// availability signal never fires, so its task waits on the clock only.
type quietSource struct{ vals []int }

func (quietSource) Boundedness() connector.Boundedness { return connector.Unbounded }
func (quietSource) NewEnumerator(ctx connector.EnumeratorContext, _ []connector.Split) (connector.Enumerator, error) {
	return oneSplitEnumerator{ctx}, nil
}
func (s quietSource) NewReader(connector.ReaderContext) (connector.Reader[int], error) {
	return &quietReader{vals: s.vals, never: make(chan struct{})}, nil
}

type quietReader struct {
	vals  []int
	never chan struct{}
}

func (*quietReader) AddSplits([]connector.Split) {}
func (*quietReader) NoMoreSplits()               {}
func (r *quietReader) Read(_ context.Context, out connector.ReaderOutput[int]) (connector.ReadStatus, error) {
	if len(r.vals) == 0 {
		return connector.NothingAvailable, nil
	}
	for _, v := range r.vals {
		out.Split("one").Collect(v, 0)
	}
	r.vals = nil
	return connector.MoreAvailable, nil
}
func (r *quietReader) Available() <-chan struct{}              { return r.never }
func (*quietReader) Snapshot(int64) ([]connector.Split, error) { return nil, nil }
func (*quietReader) Close() error                              { return nil }

// TestProcessingTimersInSourceTask checks that the processing-time timers of an operator
// chained to a source fire while the source has nothing to read.
func TestProcessingTimersInSourceTask(t *testing.T) {
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	clock := clockwork.NewFakeClock()
	g := &Graph{Name: "timers in a source task"}
	src := g.Add(&Node{Name: "quiet", Parallelism: 1, Out: TypeOf[int](), Source: NewSource[int](quietSource{vals: []int{1}}, eventtime.Strategy[int]{})})
	fired := make(chan int64, 1)
	op := addOp(g, "timer", 1, func(c *Context, v int, ts int64, out Output[int]) {
		c.RegisterProcessingTimer(c.Clock.Now().UnixMilli()+1000, func(at int64) { fired <- at })
	})
	connect(g, src, op, Forward) // chained: one task
	connect(g, op, addSink(g, "sink", 1, &results[int]{}), Forward)
	done := make(chan error, 1)
	go func() { done <- Run(ctx, g, Config{Clock: clock}) }()
	// The task's flush ticker and the operator's timer.
	if err := clock.BlockUntilContext(ctx, 2); err != nil {
		t.Fatalf("no timer armed: %v", err)
	}
	want := clock.Now().UnixMilli() + 1000
	clock.Advance(time.Second)
	select {
	case at := <-fired:
		if at != want {
			t.Fatalf("timer fired for %d, want %d", at, want)
		}
	case err := <-done:
		t.Fatalf("the job ended: %v", err)
	case <-ctx.Done():
		t.Fatal("the timer did not fire")
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Run: %v", err)
	}
}

// gaugeSource is a source whose readers set a gauge to 100 plus their subtask when made.
type gaugeSource struct{ connector.Source[int] }

func (s gaugeSource) NewReader(rc connector.ReaderContext) (connector.Reader[int], error) {
	rc.Gauge("test_gauge").Store(100 + int64(rc.Subtask))
	return s.Source.NewReader(rc)
}

// TestRunMetricsGauges checks that a gauge a source reader sets through its ReaderContext is
// published with the source's metrics, per subtask, and that operators without gauges have none.
func TestRunMetricsGauges(t *testing.T) {
	src, err := datagen.New(func(i int64) int { return int(i) }, datagen.Config{Count: 100})
	if err != nil {
		t.Fatal(err)
	}
	g := &Graph{Name: "gauges"}
	strategy := eventtime.Monotonous(func(v int) int64 { return int64(v) })
	s := g.Add(&Node{Name: "src", Parallelism: 2, Out: TypeOf[int](), Source: NewSource[int](gaugeSource{src}, strategy)})
	connect(g, s, addSink(g, "sink", 2, &results[int]{}), Rebalance)
	var last metrics.Snapshot
	listener := metrics.ListenerFunc(func(s metrics.Snapshot) { last = s })
	if err := Run(testCtx(t), g, Config{Metrics: listener, MetricsInterval: time.Hour}); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, o := range last.Operators {
		switch o.Operator {
		case "src":
			if got, want := o.Gauges["test_gauge"], 100+int64(o.Subtask); got != want {
				t.Errorf("src subtask %d: test_gauge %d, want %d (gauges %v)", o.Subtask, got, want, o.Gauges)
			}
			seen++
		default:
			if o.Gauges != nil {
				t.Errorf("%s subtask %d has gauges %v", o.Operator, o.Subtask, o.Gauges)
			}
		}
	}
	if seen != 2 {
		t.Fatalf("metrics of %d source subtasks, want 2", seen)
	}
}

// stalledReader sets its test_gauge to 7 in its first Read and then stays in it until release
// is closed, as a source blocked by backpressure would stay in its output.
type stalledReader struct {
	connector.Reader[int]
	gauge   *atomic.Int64
	release <-chan struct{}
	stalled bool
}

func (r *stalledReader) Read(ctx context.Context, out connector.ReaderOutput[int]) (connector.ReadStatus, error) {
	if !r.stalled {
		r.stalled = true
		r.gauge.Store(7)
		select {
		case <-r.release:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return r.Reader.Read(ctx, out)
}

// stalledSource is a source whose reader is a stalledReader.
type stalledSource struct {
	connector.Source[int]
	release <-chan struct{}
}

func (s stalledSource) NewReader(rc connector.ReaderContext) (connector.Reader[int], error) {
	r, err := s.Source.NewReader(rc)
	if err != nil {
		return nil, err
	}
	return &stalledReader{Reader: r, gauge: rc.Gauge("test_gauge"), release: s.release}, nil
}

// TestRunMetricsGaugesWhileBlocked checks that snapshots read gauges when they are taken, not
// when the task last published: a source task that never gets back to its loop (here its
// reader stays in Read until the snapshots show the gauge it set there) still shows its gauge.
func TestRunMetricsGaugesWhileBlocked(t *testing.T) {
	src, err := datagen.New(func(i int64) int { return int(i) }, datagen.Config{Count: 10})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	g := &Graph{Name: "stalled"}
	strategy := eventtime.Monotonous(func(v int) int64 { return int64(v) })
	s := g.Add(&Node{Name: "src", Parallelism: 1, Out: TypeOf[int](), Source: NewSource[int](stalledSource{src, release}, strategy)})
	sink := &results[int]{}
	connect(g, s, addSink(g, "sink", 1, sink), Forward)
	var once sync.Once
	listener := metrics.ListenerFunc(func(s metrics.Snapshot) {
		for _, o := range s.Operators {
			if o.Operator == "src" && o.Gauges["test_gauge"] == 7 {
				once.Do(func() { close(release) })
			}
		}
	})
	// Run ends only after the listener released the reader; testCtx fails it otherwise.
	if err := Run(testCtx(t), g, Config{Metrics: listener, MetricsInterval: time.Millisecond}); err != nil {
		t.Fatalf("Run: %v (the snapshots never showed the stalled source's gauge)", err)
	}
	if got := len(sink.bySubtask()[0]); got != 10 {
		t.Fatalf("sink got %d records, want 10", got)
	}
}
