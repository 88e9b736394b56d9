package stream_test

import (
	"cmp"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/stream"
	"github.com/runnel-io/runnel/window"
)

// jnRec is a record of either side of a join.
type jnRec struct {
	Side int // 0: left (a), 1: right (b)
	Key  int
	TS   int64
	ID   int
}

// jnPair is a join result: which a and which b, and the result's timestamp.
type jnPair struct {
	A, B int
	TS   int64
}

func cmpJnPair(x, y jnPair) int {
	return cmp.Or(cmp.Compare(x.A, y.A), cmp.Compare(x.B, y.B), cmp.Compare(x.TS, y.TS))
}

func jnTS(r jnRec) int64 { return r.TS }
func jnKey(r jnRec) int  { return r.Key }

const jnBound = 20 * time.Millisecond

// jnInput makes the two sides: a-records every 3ms and b-records every 4ms over 5 keys, each
// side shuffled so that a record is at most 16ms out of order (the bound is 20ms).
func jnInput(seed uint64) (as, bs []jnRec) {
	rng := rand.New(rand.NewPCG(seed, 3))
	for i := range 600 {
		as = append(as, jnRec{Side: 0, Key: rng.IntN(5), TS: int64(i * 3), ID: i})
	}
	for i := range 450 {
		bs = append(bs, jnRec{Side: 1, Key: rng.IntN(5), TS: int64(i*4 + 1), ID: 10000 + i})
	}
	coShuffle(rng, as, 5)
	coShuffle(rng, bs, 5)
	return as, bs
}

// jnCollect returns the results of a join, checking that each carries the timestamp it claims.
func jnCollect(t *testing.T, c *stream.Collected[jnPair]) []jnPair {
	t.Helper()
	got := c.Values()
	for i, ts := range c.Timestamps() {
		if ts != got[i].TS {
			t.Fatalf("%+v has timestamp %d", got[i], ts)
		}
	}
	slices.SortFunc(got, cmpJnPair)
	return got
}

// jnWindowBatch is WindowJoin as a nested loop over windows.
func jnWindowBatch(as, bs []jnRec, assigner window.Assigner) []jnPair {
	var out []jnPair
	for _, a := range as {
		for _, b := range bs {
			if a.Key != b.Key {
				continue
			}
			for _, wa := range assigner.Assign(nil, a.TS) {
				if slices.Contains(assigner.Assign(nil, b.TS), wa) {
					out = append(out, jnPair{A: a.ID, B: b.ID, TS: wa.MaxTimestamp()})
				}
			}
		}
	}
	slices.SortFunc(out, cmpJnPair)
	return out
}

// jnIntervalBatch is IntervalJoin as a nested loop.
func jnIntervalBatch(as, bs []jnRec, lower, upper time.Duration) []jnPair {
	var out []jnPair
	for _, a := range as {
		for _, b := range bs {
			if a.Key == b.Key && b.TS >= a.TS+lower.Milliseconds() && b.TS <= a.TS+upper.Milliseconds() {
				out = append(out, jnPair{A: a.ID, B: b.ID, TS: max(a.TS, b.TS)})
			}
		}
	}
	slices.SortFunc(out, cmpJnPair)
	return out
}

func jnPairOf(a, b jnRec) jnPair { return jnPair{A: a.ID, B: b.ID} }

func TestWindowJoin(t *testing.T) {
	as, bs := jnInput(11)
	for _, assigner := range []window.Assigner{
		window.TumblingEventTime(50 * time.Millisecond),
		window.SlidingEventTime(60*time.Millisecond, 20*time.Millisecond),
	} {
		want := jnWindowBatch(as, bs, assigner)
		if len(want) < 100 {
			t.Fatalf("%v: only %d expected pairs; the test would prove little", assigner, len(want))
		}
		for _, p := range []int{1, 2, 4} {
			env := stream.New("window-join", stream.Config{Parallelism: p, WatermarkInterval: -1})
			a := stream.KeyBy(stream.FromSlice(env, as, eventtime.BoundedOutOfOrderness(jnBound, jnTS)), jnKey)
			b := stream.KeyBy(stream.FromSlice(env, bs, eventtime.BoundedOutOfOrderness(jnBound, jnTS)), jnKey)
			var late atomic.Int64
			joined := stream.WindowJoin(a, b, assigner, func(x, y jnRec) jnPair {
				pr := jnPairOf(x, y)
				pr.TS = -1 // filled in from the result's timestamp below
				return pr
			}, stream.JoinCountLateDropped(&late))
			withTS := stream.Process(joined, stream.ProcessFunc[jnPair, jnPair](func(ctx *stream.Context, v jnPair, out stream.Collector[jnPair]) error {
				v.TS = ctx.Timestamp()
				out.Collect(v)
				return nil
			}))
			out := stream.Collect(withTS)
			if err := coExecute(t, env); err != nil {
				t.Fatalf("%v p=%d: %v", assigner, p, err)
			}
			if got := jnCollect(t, out); !slices.Equal(got, want) {
				t.Fatalf("%v p=%d: got %d pairs, want %d\n got %v\nwant %v", assigner, p, len(got), len(want), got[:min(5, len(got))], want[:min(5, len(want))])
			}
			if late.Load() != 0 {
				t.Errorf("%v p=%d: %d records counted late in an input within the bound", assigner, p, late.Load())
			}
		}
	}
}

func TestIntervalJoin(t *testing.T) {
	as, bs := jnInput(12)
	for _, bounds := range [][2]time.Duration{{-20 * time.Millisecond, 30 * time.Millisecond}, {0, 0}, {5 * time.Millisecond, 25 * time.Millisecond}, {-40 * time.Millisecond, -10 * time.Millisecond}} {
		lower, upper := bounds[0], bounds[1]
		want := jnIntervalBatch(as, bs, lower, upper)
		if len(want) == 0 {
			t.Fatalf("[%v, %v]: no expected pairs; the test would prove nothing", lower, upper)
		}
		for _, p := range []int{1, 2, 4} {
			env := stream.New("interval-join", stream.Config{Parallelism: p, WatermarkInterval: -1})
			a := stream.KeyBy(stream.FromSlice(env, as, eventtime.BoundedOutOfOrderness(jnBound, jnTS)), jnKey)
			b := stream.KeyBy(stream.FromSlice(env, bs, eventtime.BoundedOutOfOrderness(jnBound, jnTS)), jnKey)
			var late atomic.Int64
			joined := stream.IntervalJoin(a, b, lower, upper, func(x, y jnRec) jnPair {
				return jnPair{A: x.ID, B: y.ID, TS: max(x.TS, y.TS)}
			}, stream.JoinCountLateDropped(&late))
			out := stream.Collect(joined)
			if err := coExecute(t, env); err != nil {
				t.Fatalf("[%v, %v] p=%d: %v", lower, upper, p, err)
			}
			if got := jnCollect(t, out); !slices.Equal(got, want) {
				t.Fatalf("[%v, %v] p=%d: got %d pairs, want %d\n got %v\nwant %v", lower, upper, p, len(got), len(want), got[:min(5, len(got))], want[:min(5, len(want))])
			}
			if late.Load() != 0 {
				t.Errorf("[%v, %v] p=%d: %d records counted late in an input within the bound", lower, upper, p, late.Load())
			}
		}
	}
}

// jnLateInput is one stream of both sides, in order, then records behind the watermark. Split
// from one source task, both join inputs receive the watermark that follows the first read
// (256 records) before any later record, so which records are late is deterministic.
func jnLateInput() (all, onTime []jnRec, late int) {
	for i := range 300 {
		all = append(all, jnRec{Side: i % 2, Key: i % 3, TS: int64(i), ID: i})
	}
	onTime = slices.Clone(all)
	// The watermark after the first read is 254: these are late for both joins (the tumbling
	// windows [0,50) and [200,250) have fired).
	for i, ts := range []int64{3, 10, 201, 230, 248} {
		all = append(all, jnRec{Side: i % 2, Key: int(ts) % 3, TS: ts, ID: 1000 + i})
	}
	return all, onTime, 5
}

func jnSplit(env *stream.Env, recs []jnRec) (stream.Keyed[jnRec, int], stream.Keyed[jnRec, int]) {
	src := stream.FromSlice(env, recs, eventtime.BoundedOutOfOrderness(0, jnTS))
	a := src.Filter(func(r jnRec) bool { return r.Side == 0 })
	b := src.Filter(func(r jnRec) bool { return r.Side == 1 })
	return stream.KeyBy(a, jnKey), stream.KeyBy(b, jnKey)
}

func jnSides(recs []jnRec) (as, bs []jnRec) {
	for _, r := range recs {
		if r.Side == 0 {
			as = append(as, r)
		} else {
			bs = append(bs, r)
		}
	}
	return as, bs
}

func TestJoinsDropAndCountLateRecords(t *testing.T) {
	all, onTime, nLate := jnLateInput()
	as, bs := jnSides(onTime)
	assigner := window.TumblingEventTime(50 * time.Millisecond)

	t.Run("window", func(t *testing.T) {
		env := stream.New("window-join-late", stream.Config{Parallelism: 1, WatermarkInterval: -1})
		a, b := jnSplit(env, all)
		var late atomic.Int64
		out := stream.Collect(stream.WindowJoin(a, b, assigner, func(x, y jnRec) jnPair {
			return jnPair{A: x.ID, B: y.ID, TS: assigner.Assign(nil, x.TS)[0].MaxTimestamp()}
		}, stream.JoinCountLateDropped(&late)))
		if err := coExecute(t, env); err != nil {
			t.Fatal(err)
		}
		if got, want := jnCollect(t, out), jnWindowBatch(as, bs, assigner); !slices.Equal(got, want) {
			t.Fatalf("got %d pairs, want %d (late records must not join)", len(got), len(want))
		}
		if late.Load() != int64(nLate) {
			t.Errorf("counted %d late records, want %d", late.Load(), nLate)
		}
	})
	t.Run("interval", func(t *testing.T) {
		env := stream.New("interval-join-late", stream.Config{Parallelism: 1, WatermarkInterval: -1})
		a, b := jnSplit(env, all)
		var late atomic.Int64
		out := stream.Collect(stream.IntervalJoin(a, b, -10*time.Millisecond, 10*time.Millisecond, func(x, y jnRec) jnPair {
			return jnPair{A: x.ID, B: y.ID, TS: max(x.TS, y.TS)}
		}, stream.JoinCountLateDropped(&late)))
		if err := coExecute(t, env); err != nil {
			t.Fatal(err)
		}
		if got, want := jnCollect(t, out), jnIntervalBatch(as, bs, -10*time.Millisecond, 10*time.Millisecond); !slices.Equal(got, want) {
			t.Fatalf("got %d pairs, want %d (late records must not join)", len(got), len(want))
		}
		if late.Load() != int64(nLate) {
			t.Errorf("counted %d late records, want %d", late.Load(), nLate)
		}
	})
}

func TestJoinFailures(t *testing.T) {
	recs := []jnRec{{0, 1, 5, 1}, {1, 1, 6, 2}}
	boom := func(x, y jnRec) jnPair { panic("join exploded") }
	for _, kind := range []string{"window", "interval"} {
		env := stream.New("join-fail", stream.Config{Parallelism: 1, WatermarkInterval: -1})
		a, b := jnSplit(env, recs)
		if kind == "window" {
			stream.WindowJoin(a, b, window.TumblingEventTime(10*time.Millisecond), boom).Name("J").Discard()
		} else {
			stream.IntervalJoin(a, b, 0, 5*time.Millisecond, boom).Name("J").Discard()
		}
		err := coExecute(t, env)
		var oe *stream.OperatorError
		if !errors.As(err, &oe) || oe.Operator != "J" || !strings.Contains(err.Error(), "join exploded") {
			t.Fatalf("%s: got %v, want the panic from J", kind, err)
		}
		if kind == "window" && !strings.Contains(oe.Record, "key 1") {
			t.Errorf("window: the error names %q, want the window and key", oe.Record)
		}
		// Whichever side arrives second makes the pair, and is named.
		if kind == "interval" && !strings.Contains(oe.Record, "ID:1") && !strings.Contains(oe.Record, "ID:2") {
			t.Errorf("interval: the error names %q, want the record", oe.Record)
		}
	}
}

func TestJoinBuildErrors(t *testing.T) {
	env := stream.New("join-build", stream.Config{})
	a, b := jnSplit(env, nil)
	pair := func(x, y jnRec) jnPair { return jnPair{} }
	for name, build := range map[string]func(){
		"processing time": func() { stream.WindowJoin(a, b, window.TumblingProcessingTime(time.Second), pair) },
		"sessions":        func() { stream.WindowJoin(a, b, window.EventTimeSession(time.Second), pair) },
		"lower > upper":   func() { stream.IntervalJoin(a, b, time.Second, 0, pair) },
		"sub-millisecond": func() { stream.IntervalJoin(a, b, 0, time.Microsecond, pair) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			build()
		}()
	}
}
