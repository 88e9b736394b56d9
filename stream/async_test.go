package stream_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/stream"
)

type asyRec struct {
	ID int
}

type asyOut struct {
	ID  int
	Sq  int
	Sub string
}

// asyReorder makes calls finish out of input order without sleeping: the call for record
// waitFor[i] does not return before the call for i has.
type asyReorder struct {
	done    []chan struct{} // closed when the call for record i has returned
	waitFor map[int]int     // record -> the record whose call it waits for
}

func newAsyReorder(n int, waitFor map[int]int) *asyReorder {
	r := &asyReorder{done: make([]chan struct{}, n), waitFor: waitFor}
	for i := range r.done {
		r.done[i] = make(chan struct{})
	}
	return r
}

func (r *asyReorder) Invoke(ctx context.Context, v asyRec) (asyOut, error) {
	defer close(r.done[v.ID])
	if w, ok := r.waitFor[v.ID]; ok {
		select {
		case <-r.done[w]:
		case <-ctx.Done():
			return asyOut{}, ctx.Err()
		}
	}
	return asyOut{ID: v.ID, Sq: v.ID * v.ID}, nil
}

// asyNotLate fails the job if a record reaches it at or behind its watermark: the async
// operator let a watermark overtake it.
func asyNotLate(ctx *stream.Context, v asyOut, out stream.Collector[asyOut]) error {
	if ctx.Timestamp() <= ctx.CurrentWatermark() {
		return fmt.Errorf("record %d with timestamp %d arrived behind watermark %d", v.ID, ctx.Timestamp(), ctx.CurrentWatermark())
	}
	out.Collect(v)
	return nil
}

func asyInput(n int) []asyRec {
	in := make([]asyRec, n)
	for i := range in {
		in[i] = asyRec{ID: i}
	}
	return in
}

func asyTS(v asyRec) int64 { return int64(v.ID) }

func TestAsyncOrderedKeepsInputOrder(t *testing.T) {
	const n = 2000
	// Each even record waits for the next one; record 255, the last before the first
	// watermark (sources read 256 records per batch), waits for record 300.
	waitFor := map[int]int{255: 300}
	for i := 0; i+1 < n; i += 2 {
		waitFor[i] = i + 1
	}
	env := stream.New("async-ordered", stream.Config{Parallelism: 1, WatermarkInterval: -1})
	src := stream.FromSlice(env, asyInput(n), eventtime.Monotonous(asyTS))
	res := stream.AsyncOrdered(src, newAsyReorder(n, waitFor), stream.AsyncOptions{Capacity: 64})
	out := stream.Collect(stream.Process(res, stream.ProcessFunc[asyOut, asyOut](asyNotLate)))
	if err := coExecute(t, env); err != nil {
		t.Fatal(err)
	}
	got, ts := out.Values(), out.Timestamps()
	if len(got) != n {
		t.Fatalf("got %d results, want %d", len(got), n)
	}
	for i, v := range got {
		if v.ID != i || v.Sq != i*i || ts[i] != int64(i) {
			t.Fatalf("result %d is %+v at %d, want record %d's result at its timestamp", i, v, ts[i], i)
		}
	}
}

func TestAsyncUnorderedIsPermutation(t *testing.T) {
	const n = 2000
	waitFor := map[int]int{255: 300}
	for i := 0; i+1 < n; i += 2 {
		if i != 300 {
			waitFor[i] = i + 1
		}
	}
	for _, p := range []int{1, 4} {
		env := stream.New("async-unordered", stream.Config{Parallelism: p, WatermarkInterval: -1})
		src := stream.FromSlice(env, asyInput(n), eventtime.Monotonous(asyTS))
		res := stream.AsyncUnordered(src, newAsyReorder(n, waitFor), stream.AsyncOptions{Capacity: 64})
		out := stream.Collect(stream.Process(res, stream.ProcessFunc[asyOut, asyOut](asyNotLate)))
		if err := coExecute(t, env); err != nil {
			t.Fatalf("p=%d: %v", p, err)
		}
		got, ts := out.Values(), out.Timestamps()
		pos := map[int]int{}
		for i, v := range got {
			if v.Sq != v.ID*v.ID || ts[i] != int64(v.ID) {
				t.Fatalf("p=%d: %+v at %d is not record %d's result at its timestamp", p, v, ts[i], v.ID)
			}
			if _, dup := pos[v.ID]; dup {
				t.Fatalf("p=%d: record %d's result emitted twice", p, v.ID)
			}
			pos[v.ID] = i
		}
		if len(pos) != n {
			t.Fatalf("p=%d: got %d distinct results, want %d", p, len(pos), n)
		}
		// 300 finished before 255 but arrived after the watermark that follows 255.
		if p == 1 && pos[300] < pos[255] {
			t.Errorf("record 300's result overtook record 255's across a watermark")
		}
	}
}

// asyConcurrency counts the calls in flight and the most there have been. The first calls
// block until capacity of them are in flight at once, so that a correct bound is reached.
// Its counters are pointers because each parallel instance gets a copy of the struct.
type asyConcurrency struct {
	capacity     int64
	cur, maxSeen *atomic.Int64
	full         chan struct{}
	once         *sync.Once
}

func (c *asyConcurrency) Invoke(ctx context.Context, v asyRec) (asyOut, error) {
	n := c.cur.Add(1)
	defer c.cur.Add(-1)
	for {
		m := c.maxSeen.Load()
		if n <= m || c.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	if n >= c.capacity {
		c.once.Do(func() { close(c.full) })
	}
	select {
	case <-c.full:
	case <-ctx.Done():
		return asyOut{}, ctx.Err()
	}
	return asyOut{ID: v.ID}, nil
}

func TestAsyncCapacity(t *testing.T) {
	for _, ordered := range []bool{true, false} {
		const capacity = 7
		fn := &asyConcurrency{capacity: capacity, cur: new(atomic.Int64), maxSeen: new(atomic.Int64), full: make(chan struct{}), once: new(sync.Once)}
		env := stream.New("async-capacity", stream.Config{Parallelism: 1, WatermarkInterval: -1})
		src := stream.FromSlice(env, asyInput(500), eventtime.Monotonous(asyTS))
		var res stream.Stream[asyOut]
		if ordered {
			res = stream.AsyncOrdered(src, fn, stream.AsyncOptions{Capacity: capacity})
		} else {
			res = stream.AsyncUnordered(src, fn, stream.AsyncOptions{Capacity: capacity})
		}
		out := stream.Collect(res)
		if err := coExecute(t, env); err != nil {
			t.Fatalf("ordered=%v: %v", ordered, err)
		}
		if len(out.Values()) != 500 {
			t.Fatalf("ordered=%v: %d results, want 500", ordered, len(out.Values()))
		}
		if m := fn.maxSeen.Load(); m != capacity {
			t.Errorf("ordered=%v: at most %d calls in flight, want exactly the capacity %d", ordered, m, capacity)
		}
	}
}

// asyBlocking blocks the call for record block until its context ends, and signals when it
// has started; other records return at once.
type asyBlocking struct {
	block   int
	started chan struct{}
}

func (b *asyBlocking) Invoke(ctx context.Context, v asyRec) (asyOut, error) {
	if v.ID != b.block {
		return asyOut{ID: v.ID}, nil
	}
	if _, ok := ctx.Deadline(); !ok {
		return asyOut{}, errors.New("the call's context has no deadline")
	}
	close(b.started)
	<-ctx.Done()
	return asyOut{}, ctx.Err()
}

type asyFallback struct{ asyBlocking }

func (*asyFallback) OnTimeout(v asyRec) (asyOut, error) {
	return asyOut{ID: v.ID, Sub: "fallback"}, nil
}

func TestAsyncTimeout(t *testing.T) {
	for _, withHandler := range []bool{false, true} {
		clock := clockwork.NewFakeClock()
		env := stream.New("async-timeout", stream.Config{Parallelism: 1, WatermarkInterval: -1, Clock: clock})
		src := stream.FromSlice(env, asyInput(10), eventtime.Monotonous(asyTS))
		b := asyBlocking{block: 3, started: make(chan struct{})}
		var fn stream.AsyncFunction[asyRec, asyOut] = &b
		if withHandler {
			fn = &asyFallback{b}
		}
		out := stream.Collect(stream.AsyncOrdered(src, fn, stream.AsyncOptions{Timeout: 5 * time.Second}).Name("Lookup"))
		errc := make(chan error, 1)
		go func() { errc <- coExecute(t, env) }()
		var started chan struct{}
		if withHandler {
			started = fn.(*asyFallback).started
		} else {
			started = b.started
		}
		select {
		case <-started:
		case err := <-errc:
			t.Fatalf("handler=%v: the job ended before the blocking call started: %v", withHandler, err)
		}
		clock.Advance(5 * time.Second)
		err := <-errc
		if !withHandler {
			var oe *stream.OperatorError
			if !errors.As(err, &oe) || !errors.Is(err, stream.ErrAsyncTimeout) || oe.Operator != "Lookup" || oe.Record != "{ID:3}" {
				t.Fatalf("got %v, want ErrAsyncTimeout from Lookup naming record {ID:3}", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("with a timeout handler: %v", err)
		}
		got := out.Values()
		if len(got) != 10 || got[3] != (asyOut{ID: 3, Sub: "fallback"}) {
			t.Fatalf("got %v, want 10 results with the fallback for record 3", got)
		}
	}
}

var errAsyLookup = errors.New("lookup failed")

// asyFailing fails the call for record fail; the calls for the records before it block until
// the job cancels them. active counts the calls still running (a pointer: each parallel
// instance gets a copy of the struct).
type asyFailing struct {
	fail   int
	active *atomic.Int64
}

func (f *asyFailing) Invoke(ctx context.Context, v asyRec) (asyOut, error) {
	f.active.Add(1)
	defer f.active.Add(-1)
	if v.ID == f.fail {
		return asyOut{}, fmt.Errorf("record %d: %w", v.ID, errAsyLookup)
	}
	if v.ID < f.fail {
		<-ctx.Done()
		return asyOut{}, ctx.Err()
	}
	return asyOut{ID: v.ID}, nil
}

func TestAsyncFailureNamesRecordAndLeavesNoGoroutine(t *testing.T) {
	for _, ordered := range []bool{true, false} {
		before := runtime.NumGoroutine()
		env := stream.New("async-fail", stream.Config{Parallelism: 1, WatermarkInterval: -1})
		src := stream.FromSlice(env, asyInput(50), eventtime.Monotonous(asyTS))
		fn := &asyFailing{fail: 7, active: new(atomic.Int64)}
		var res stream.Stream[asyOut]
		if ordered {
			res = stream.AsyncOrdered(src, fn, stream.AsyncOptions{Capacity: 20})
		} else {
			res = stream.AsyncUnordered(src, fn, stream.AsyncOptions{Capacity: 20})
		}
		res.Name("Enrich").Discard()
		err := coExecute(t, env)
		var oe *stream.OperatorError
		if !errors.As(err, &oe) || !errors.Is(err, errAsyLookup) || oe.Operator != "Enrich" || oe.Record != "{ID:7}" {
			t.Fatalf("ordered=%v: got %v, want errAsyLookup from Enrich naming record {ID:7}", ordered, err)
		}
		if n := fn.active.Load(); n != 0 {
			t.Fatalf("ordered=%v: %d calls still running after Execute returned", ordered, n)
		}
		// A goroutine that has signalled its WaitGroup may still be on its way out: give the
		// count a bounded while to settle.
		for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before && time.Now().Before(deadline); {
			runtime.Gosched()
		}
		if after := runtime.NumGoroutine(); after > before {
			buf := make([]byte, 1<<16)
			t.Fatalf("ordered=%v: %d goroutines before the job, %d after:\n%s", ordered, before, after, buf[:runtime.Stack(buf, true)])
		}
	}
}

func TestAsyncPanicFailsJob(t *testing.T) {
	env := stream.New("async-panic", stream.Config{Parallelism: 2, WatermarkInterval: -1})
	src := stream.FromSlice(env, asyInput(30), eventtime.Strategy[asyRec]{})
	fn := stream.AsyncFunc[asyRec, int](func(_ context.Context, v asyRec) (int, error) {
		if v.ID == 11 {
			panic("lookup exploded")
		}
		return v.ID, nil
	})
	stream.AsyncUnordered(src, fn, stream.AsyncOptions{}).Discard()
	err := coExecute(t, env)
	var oe *stream.OperatorError
	if !errors.As(err, &oe) || oe.Record != "{ID:11}" || !strings.Contains(err.Error(), "lookup exploded") {
		t.Fatalf("got %v, want the panic naming record {ID:11}", err)
	}
}

func TestAsyncOptionsValidate(t *testing.T) {
	if err := (stream.AsyncOptions{}).Validate(); err != nil {
		t.Errorf("zero options: %v", err)
	}
	for _, o := range []stream.AsyncOptions{{Capacity: -1}, {Timeout: -time.Second}, {PollInterval: -1}} {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}
