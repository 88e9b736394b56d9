package stream_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connector/datagen"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/stream"
	"github.com/runnel-io/runnel/window"
)

// ev is a test record: a key, an event time and a value.
type ev struct {
	Key string
	TS  int64
	V   int64
}

func evKey(e ev) string { return e.Key }
func evTS(e ev) int64   { return e.TS }

// res is a window result: the key, the window and the value, with the output timestamp.
type res struct {
	Key        string
	Start, End int64
	V          int64
	TS         int64
}

func (r res) String() string { return fmt.Sprintf("%s[%d,%d)=%d@%d", r.Key, r.Start, r.End, r.V, r.TS) }

func cmpRes(a, b res) int {
	return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.Start, b.Start), cmp.Compare(a.End, b.End),
		cmp.Compare(a.V, b.V), cmp.Compare(a.TS, b.TS))
}

// sumAgg sums the values of a pane.
var sumAgg = state.AggregateFunction[ev, int64, int64]{
	Create: func() int64 { return 0 },
	Add:    func(acc int64, e ev) int64 { return acc + e.V },
	Result: func(acc int64) int64 { return acc },
	Merge:  func(a, b int64) int64 { return a + b },
}

// describe turns a pane's sum into a res naming key and window.
var describe = stream.ProcessWindowFunc[string, int64, res](func(ctx *stream.WindowContext[string], sums []int64, out stream.Collector[res]) error {
	for _, s := range sums {
		out.Collect(res{Key: ctx.Key(), Start: ctx.Window().Start, End: ctx.Window().End, V: s})
	}
	return nil
})

// sumList sums a pane's records itself (WindowProcess keeps them all).
var sumList = stream.ProcessWindowFunc[string, ev, res](func(ctx *stream.WindowContext[string], evs []ev, out stream.Collector[res]) error {
	var s int64
	for _, e := range evs {
		if e.Key != ctx.Key() {
			return fmt.Errorf("record %v in the pane of key %q", e, ctx.Key())
		}
		s += e.V
	}
	out.Collect(res{Key: ctx.Key(), Start: ctx.Window().Start, End: ctx.Window().End, V: s})
	return nil
})

// source reads vals one record per read, so that with Config{WatermarkInterval: -1} the
// watermark follows every record.
func source[T any](t testing.TB, env *stream.Env, vals []T, strategy eventtime.Strategy[T]) stream.Stream[T] {
	t.Helper()
	src, err := datagen.New(func(n int64) T { return vals[n] }, datagen.Config{Count: int64(len(vals)), BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	return stream.FromSource(env, src, strategy)
}

// results zips what a Collect sink got with the timestamps it got.
func results(c *stream.Collected[res]) []res {
	vals, ts := c.Values(), c.Timestamps()
	for i := range vals {
		vals[i].TS = ts[i]
	}
	return vals
}

func sorted(rs []res) []res {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, cmpRes)
	return rs
}

// r builds an expected result; its timestamp is the window's MaxTimestamp.
func r(key string, start, end, v int64) res {
	return res{Key: key, Start: start, End: end, V: v, TS: end - 1}
}

const ms = time.Millisecond

// TestWindowGolden runs small inputs through tumbling, sliding and session windows with each
// kind of window function and checks every result: key, window, value and timestamp.
func TestWindowGolden(t *testing.T) {
	input := []ev{
		{"a", 1, 1}, {"b", 3, 2}, {"a", 9, 3}, {"a", 10, 4}, {"b", 25, 5}, {"a", 19, 6},
		{"c", 30, 1}, {"c", 35, 10}, // sessions of gap 5 that touch merge
	}
	for _, tc := range []struct {
		name     string
		assigner window.Assigner
		want     []res
	}{
		{"tumbling", window.TumblingEventTime(10 * ms), []res{
			r("a", 0, 10, 4), r("a", 10, 20, 10),
			r("b", 0, 10, 2), r("b", 20, 30, 5),
			r("c", 30, 40, 11),
		}},
		{"sliding", window.SlidingEventTime(10*ms, 5*ms), []res{
			r("a", -5, 5, 1), r("a", 0, 10, 4), r("a", 5, 15, 7), r("a", 10, 20, 10), r("a", 15, 25, 6),
			r("b", -5, 5, 2), r("b", 0, 10, 2), r("b", 20, 30, 5), r("b", 25, 35, 5),
			r("c", 25, 35, 1), r("c", 30, 40, 11), r("c", 35, 45, 10),
		}},
		{"session", window.EventTimeSession(5 * ms), []res{
			r("a", 1, 6, 1), r("a", 9, 15, 7), r("a", 19, 24, 6),
			r("b", 3, 8, 2), r("b", 25, 30, 5),
			r("c", 30, 40, 11),
		}},
		{"tumbling with offset", window.TumblingEventTime(10*ms, 5*ms), []res{
			r("a", -5, 5, 1), r("a", 5, 15, 7), r("a", 15, 25, 6),
			r("b", -5, 5, 2), r("b", 25, 35, 5),
			r("c", 25, 35, 1), r("c", 35, 45, 10),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := stream.New("golden", stream.Config{Parallelism: 1, WatermarkInterval: -1})
			src := source(t, env, input, eventtime.BoundedOutOfOrderness(10*ms, evTS))
			w := stream.Window(stream.KeyBy(src, evKey), tc.assigner)
			outs := map[string]*stream.Collected[res]{
				"AggregateProcess": stream.Collect(stream.WindowAggregateProcess(w, sumAgg, describe)),
				"Process":          stream.Collect(stream.WindowProcess(w, sumList)),
				"Reduce": stream.Collect(stream.Map(stream.WindowReduce(w, func(a, b ev) ev { return ev{a.Key, max(a.TS, b.TS), a.V + b.V} }),
					func(e ev) res { return res{Key: e.Key, V: e.V} })),
				"Aggregate": stream.Collect(stream.Map(stream.WindowAggregate(w, sumAgg), func(v int64) res { return res{V: v} })),
			}
			if err := env.Execute(context.Background()); err != nil {
				t.Fatal(err)
			}
			for fn, c := range outs {
				got, want := sorted(results(c)), tc.want
				switch fn {
				case "Reduce", "Aggregate":
					// These emit the value only: compare values (and keys) with timestamps.
					want = slices.Clone(want)
					for i := range want {
						want[i].Start, want[i].End = 0, 0
						if fn == "Aggregate" {
							want[i].Key = ""
						}
					}
					want = sorted(want)
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s:\n got %v\nwant %v", fn, got, want)
				}
			}
		})
	}
}

// batchWindows computes the expected results of a window sum independently of the window
// package: per key, the windows each record falls in, or the sessions of the key's records.
func batchWindows(evs []ev, kind string, size, slide, gap int64) []res {
	sums := map[res]int64{}
	floor := func(ts, m int64) int64 { return ts - ((ts%m)+m)%m }
	switch kind {
	case "tumbling":
		for _, e := range evs {
			s := floor(e.TS, size)
			sums[res{Key: e.Key, Start: s, End: s + size}] += e.V
		}
	case "sliding":
		for _, e := range evs {
			for s := floor(e.TS, slide); s > e.TS-size; s -= slide {
				sums[res{Key: e.Key, Start: s, End: s + size}] += e.V
			}
		}
	case "session":
		byKey := map[string][]ev{}
		for _, e := range evs {
			byKey[e.Key] = append(byKey[e.Key], e)
		}
		for k, es := range byKey {
			slices.SortFunc(es, func(a, b ev) int { return cmp.Compare(a.TS, b.TS) })
			start, end, sum := es[0].TS, es[0].TS+gap, int64(0)
			for _, e := range es {
				if e.TS > end { // a gap longer than the session gap: close the session
					sums[res{Key: k, Start: start, End: end}] = sum
					start, sum = e.TS, 0
				}
				end = max(end, e.TS+gap)
				sum += e.V
			}
			sums[res{Key: k, Start: start, End: end}] = sum
		}
	}
	out := make([]res, 0, len(sums))
	for k, v := range sums {
		k.V, k.TS = v, k.End-1
		out = append(out, k)
	}
	return sorted(out)
}

// TestWindowDeterminism checks that parallelism and arrival order within the out-of-orderness
// bound do not change windowed results, against a batch computation.
func TestWindowDeterminism(t *testing.T) {
	const (
		n     = 3000
		keys  = 13
		bound = 40 // ms of disorder
	)
	rng := rand.New(rand.NewPCG(1, 2))
	ordered := make([]ev, n)
	for i := range ordered {
		ordered[i] = ev{Key: fmt.Sprintf("k%d", rng.IntN(keys)), TS: int64(i) * 7 / 3, V: int64(rng.IntN(100))}
	}
	// Shuffle within the bound: sort by timestamp plus a random delay below bound, so a record
	// never arrives after one bound or more younger than itself. (A delay of exactly bound is
	// on time too, but may let a session fire just before a record that touches it arrives,
	// as in Flink; the batch computation would merge them.)
	delay := make([]int64, n)
	idx := make([]int, n)
	for i := range idx {
		idx[i], delay[i] = i, rng.Int64N(bound)
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		return cmp.Compare(ordered[a].TS+delay[a], ordered[b].TS+delay[b])
	})
	shuffled := make([]ev, n)
	for i, j := range idx {
		shuffled[i] = ordered[j]
	}
	if slices.Equal(shuffled, ordered) {
		t.Fatal("the shuffle changed nothing")
	}

	// Allowed lateness changes nothing here, as no record is late, but keeps many panes per key
	// alive; so does the sliding window with a short slide (15 windows per record).
	cases := []struct {
		kind             string
		assigner         window.Assigner
		size, slide, gap int64
		lateness         time.Duration
	}{
		{"tumbling", window.TumblingEventTime(100 * ms), 100, 100, 0, 0},
		{"sliding", window.SlidingEventTime(100*ms, 30*ms), 100, 30, 0, 0},
		{"sliding/short slide", window.SlidingEventTime(100*ms, 7*ms), 100, 7, 0, 0},
		{"session", window.EventTimeSession(25 * ms), 0, 0, 25, 0},
		{"tumbling/lateness", window.TumblingEventTime(100 * ms), 100, 100, 0, time.Second},
		{"session/lateness", window.EventTimeSession(25 * ms), 0, 0, 25, time.Second},
	}
	for _, tc := range cases {
		kind, _, _ := strings.Cut(tc.kind, "/")
		want := batchWindows(ordered, kind, tc.size, tc.slide, tc.gap)
		for _, order := range []string{"ordered", "shuffled"} {
			input := ordered
			if order == "shuffled" {
				input = shuffled
			}
			for _, p := range []int{1, 2, 4} {
				t.Run(fmt.Sprintf("%s/%s/p=%d", tc.kind, order, p), func(t *testing.T) {
					env := stream.New("determinism", stream.Config{Parallelism: p, WatermarkInterval: -1})
					src := stream.FromSlice(env, input, eventtime.BoundedOutOfOrderness(bound*ms, evTS))
					var dropped atomic.Int64
					w := stream.Window(stream.KeyBy(src, evKey), tc.assigner).AllowedLateness(tc.lateness).CountLateDropped(&dropped)
					agg := stream.Collect(stream.WindowAggregateProcess(w, sumAgg, describe))
					list := stream.Collect(stream.WindowProcess(w, sumList))
					if err := env.Execute(context.Background()); err != nil {
						t.Fatal(err)
					}
					if d := dropped.Load(); d != 0 {
						t.Errorf("%d records dropped as late", d)
					}
					for name, c := range map[string]*stream.Collected[res]{"AggregateProcess": agg, "Process": list} {
						if got := sorted(results(c)); !slices.Equal(got, want) {
							t.Errorf("%s: %d results differ from the batch computation's %d; first difference: %s",
								name, len(got), len(want), firstDiff(got, want))
						}
					}
				})
			}
		}
	}
}

func firstDiff(got, want []res) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("at %d got %v, want %v", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(got), len(want))
}

// lateInput is in arrival order; with monotonous watermarks (watermark = largest timestamp
// - 1) after every record, tumbling windows of 10s and allowed lateness 5s:
//
//	a@1000, a@3000   -> [0,10s)
//	a@12000          -> watermark 11999 fires [0,10s): 1+2 = 3
//	a@5000           -> late but within lateness: late firing 3+8 = 11
//	a@16000          -> watermark 15999 passes the cleanup time 14999 of [0,10s)
//	a@7000           -> late beyond lateness: side output or dropped
//	a@15000          -> [10s,20s), fired at end of input: 4+16+64 = 84
var lateInput = []ev{{"a", 1000, 1}, {"a", 3000, 2}, {"a", 12000, 4}, {"a", 5000, 8}, {"a", 16000, 16}, {"a", 7000, 32}, {"a", 15000, 64}}

var lateWant = []res{r("a", 0, 10000, 3), r("a", 0, 10000, 11), r("a", 10000, 20000, 84)}

func TestWindowAllowedLatenessSideOutput(t *testing.T) {
	env := stream.New("late", stream.Config{Parallelism: 1, WatermarkInterval: -1})
	src := source(t, env, lateInput, eventtime.BoundedOutOfOrderness(0, evTS))
	lateTag := stream.NewOutputTag[ev]("late")
	var dropped atomic.Int64
	w := stream.Window(stream.KeyBy(src, evKey), window.TumblingEventTime(10*time.Second)).
		AllowedLateness(5 * time.Second).SideOutputLateData(lateTag).CountLateDropped(&dropped)
	sums := stream.WindowAggregateProcess(w, sumAgg, describe)
	out := stream.Collect(sums)
	late := stream.Collect(stream.SideOutput(sums, lateTag))
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := results(out); !slices.Equal(got, lateWant) {
		t.Errorf("results (in order):\n got %v\nwant %v", got, lateWant)
	}
	if got, want := late.Values(), []ev{{"a", 7000, 32}}; !slices.Equal(got, want) {
		t.Errorf("late side output: got %v, want %v", got, want)
	}
	if got := late.Timestamps(); !slices.Equal(got, []int64{7000}) {
		t.Errorf("late side output timestamps %v, want [7000]", got)
	}
	if d := dropped.Load(); d != 0 {
		t.Errorf("%d records dropped although a late side output is set", d)
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a job's loggers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWindowAllowedLatenessDropsAndCounts(t *testing.T) {
	var logs syncBuffer
	env := stream.New("late", stream.Config{Parallelism: 1, WatermarkInterval: -1,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	src := source(t, env, lateInput, eventtime.BoundedOutOfOrderness(0, evTS))
	var dropped atomic.Int64
	w := stream.Window(stream.KeyBy(src, evKey), window.TumblingEventTime(10*time.Second)).
		AllowedLateness(5 * time.Second).CountLateDropped(&dropped)
	out := stream.Collect(stream.WindowAggregateProcess(w, sumAgg, describe).Name("late sums"))
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := results(out); !slices.Equal(got, lateWant) {
		t.Errorf("results (in order):\n got %v\nwant %v", got, lateWant)
	}
	if d := dropped.Load(); d != 1 {
		t.Errorf("dropped %d late records, want 1", d)
	}
	if l := logs.String(); !strings.Contains(l, "numLateRecordsDropped=1") || !strings.Contains(l, `operator="late sums"`) {
		t.Errorf("the drop count is not logged at close; logs:\n%s", l)
	}
}

// TestWindowLateForSomeWindows checks that a record late for some of its sliding windows still
// counts in the others and is not a late record.
func TestWindowLateForSomeWindows(t *testing.T) {
	input := []ev{{"a", 1000, 1}, {"a", 12000, 2}, {"a", 8000, 4}}
	env := stream.New("partly late", stream.Config{Parallelism: 1, WatermarkInterval: -1})
	src := source(t, env, input, eventtime.BoundedOutOfOrderness(0, evTS))
	var dropped atomic.Int64
	w := stream.Window(stream.KeyBy(src, evKey), window.SlidingEventTime(10*time.Second, 5*time.Second)).CountLateDropped(&dropped)
	out := stream.Collect(stream.WindowAggregateProcess(w, sumAgg, describe))
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []res{r("a", -5000, 5000, 1), r("a", 0, 10000, 1), r("a", 5000, 15000, 6), r("a", 10000, 20000, 2)}
	if got := sorted(results(out)); !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if d := dropped.Load(); d != 0 {
		t.Errorf("dropped %d records; the record at 8000 still belongs to [5000,15000)", d)
	}
}

// TestWindowSessionLateMerge merges two sessions that have both fired, with a record within
// the allowed lateness: the merged session fires at once with everything.
func TestWindowSessionLateMerge(t *testing.T) {
	input := []ev{{"a", 1000, 1}, {"a", 6000, 2}, {"a", 10000, 4}, {"a", 3500, 8}}
	env := stream.New("session late merge", stream.Config{Parallelism: 1, WatermarkInterval: -1})
	src := source(t, env, input, eventtime.BoundedOutOfOrderness(0, evTS))
	w := stream.Window(stream.KeyBy(src, evKey), window.EventTimeSession(3*time.Second)).AllowedLateness(10 * time.Second)
	agg := stream.Collect(stream.WindowAggregateProcess(w, sumAgg, describe))
	list := stream.Collect(stream.WindowProcess(w, sumList))
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []res{r("a", 1000, 4000, 1), r("a", 6000, 9000, 2), r("a", 1000, 9000, 11), r("a", 10000, 13000, 4)}
	for name, c := range map[string]*stream.Collected[res]{"AggregateProcess": agg, "Process": list} {
		if got := results(c); !slices.Equal(got, want) {
			t.Errorf("%s (in order):\n got %v\nwant %v", name, got, want)
		}
	}
}

// TestWindowCountTriggerGlobal fires global windows every 3 records per key, with and without
// purging; what a count has not fired by end of input fires then.
func TestWindowCountTriggerGlobal(t *testing.T) {
	var input []ev
	for i := range 7 {
		input = append(input, ev{"a", int64(i), int64(i + 1)})
	}
	for i := range 6 {
		input = append(input, ev{"c", int64(i), int64(i + 1)}, ev{"b", int64(i), int64(i + 1)})
	}
	input = input[:len(input)-1] // c gets 6 records, b 5
	type fired struct {
		Key string
		V   []int64
	}
	collect := stream.ProcessWindowFunc[string, ev, fired](func(ctx *stream.WindowContext[string], evs []ev, out stream.Collector[fired]) error {
		if ctx.Window() != window.Global {
			return fmt.Errorf("window %v, want the global window", ctx.Window())
		}
		f := fired{Key: ctx.Key()}
		for _, e := range evs {
			f.V = append(f.V, e.V)
		}
		out.Collect(f)
		return nil
	})
	for _, tc := range []struct {
		trigger window.Trigger
		want    []fired
	}{
		{window.PurgingTrigger(window.CountTrigger(3)), []fired{
			{"a", []int64{1, 2, 3}}, {"a", []int64{4, 5, 6}}, {"a", []int64{7}},
			{"b", []int64{1, 2, 3}}, {"b", []int64{4, 5}},
			{"c", []int64{1, 2, 3}}, {"c", []int64{4, 5, 6}},
		}},
		{window.CountTrigger(3), []fired{
			{"a", []int64{1, 2, 3}}, {"a", []int64{1, 2, 3, 4, 5, 6}}, {"a", []int64{1, 2, 3, 4, 5, 6, 7}},
			{"b", []int64{1, 2, 3}}, {"b", []int64{1, 2, 3, 4, 5}},
			{"c", []int64{1, 2, 3}}, {"c", []int64{1, 2, 3, 4, 5, 6}},
		}},
	} {
		t.Run(tc.trigger.String(), func(t *testing.T) {
			for _, p := range []int{1, 3} {
				env := stream.New("count", stream.Config{Parallelism: p, WatermarkInterval: -1})
				src := stream.FromSlice(env, input, eventtime.Strategy[ev]{}).Parallelism(1)
				w := stream.Window(stream.KeyBy(src, evKey), window.GlobalWindows()).Trigger(tc.trigger)
				out := stream.Collect(stream.WindowProcess(w, collect))
				if err := env.Execute(context.Background()); err != nil {
					t.Fatal(err)
				}
				got := out.Values()
				// Per key the firings are in order; sort by key only, stably.
				slices.SortStableFunc(got, func(a, b fired) int { return cmp.Compare(a.Key, b.Key) })
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Errorf("p=%d:\n got %v\nwant %v", p, got, tc.want)
				}
				for _, ts := range out.Timestamps() {
					if ts != eventtime.MaxTime {
						t.Errorf("p=%d: output timestamp %d, want the global window's MaxTimestamp", p, ts)
					}
				}
			}
		})
	}
}

func TestWindowAll(t *testing.T) {
	input := []ev{{"a", 1, 1}, {"b", 3, 2}, {"c", 12, 4}, {"a", 15, 8}, {"b", 31, 16}}
	env := stream.New("all", stream.Config{Parallelism: 3, WatermarkInterval: -1})
	src := stream.FromSlice(env, input, eventtime.BoundedOutOfOrderness(0, evTS))
	all := stream.WindowAll(src, window.TumblingEventTime(10*ms))
	sums := stream.WindowAggregateProcess(all, sumAgg, stream.ProcessWindowFunc[struct{}, int64, res](
		func(ctx *stream.WindowContext[struct{}], s []int64, out stream.Collector[res]) error {
			out.Collect(res{Start: ctx.Window().Start, End: ctx.Window().End, V: s[0]})
			return nil
		}))
	out := stream.Collect(sums)
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []res{r("", 0, 10, 3), r("", 10, 20, 12), r("", 30, 40, 16)}
	if got := sorted(results(out)); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if !strings.Contains(env.Plan(), "WindowAllAggregateProcess(TumblingEventTime(10ms))  parallelism=1") {
		t.Errorf("the WindowAll operator does not run as one subtask:\n%s", env.Plan())
	}
}

func TestWindowUserFailure(t *testing.T) {
	input := []ev{{"a", 1, 1}, {"a", 2, 2}, {"b", 3, 3}, {"a", 25, 4}}
	boom := errors.New("boom")
	for _, tc := range []struct {
		name   string
		build  func(w stream.Windowed[ev, string]) stream.Stream[res]
		opName string
		is     error  // errors.Is target, if any
		record string // what the error names as the failing record
	}{
		{"panic in Add", func(w stream.Windowed[ev, string]) stream.Stream[res] {
			agg := sumAgg
			agg.Add = func(acc int64, e ev) int64 {
				if e.Key == "b" {
					panic("add exploded")
				}
				return acc + e.V
			}
			return stream.WindowAggregateProcess(w, agg, describe).Name("sum per key")
		}, "sum per key", nil, "{Key:b TS:3 V:3}"},
		{"panic in process function", func(w stream.Windowed[ev, string]) stream.Stream[res] {
			return stream.WindowProcess(w, stream.ProcessWindowFunc[string, ev, res](func(ctx *stream.WindowContext[string], _ []ev, _ stream.Collector[res]) error {
				if ctx.Key() == "b" {
					panic("process exploded")
				}
				return nil
			}))
		}, "WindowProcess(TumblingEventTime(10ms))", nil, "window [1970-01-01T00:00:00.000Z, 1970-01-01T00:00:00.010Z) of key b"},
		{"error from process function", func(w stream.Windowed[ev, string]) stream.Stream[res] {
			return stream.WindowAggregateProcess(w, sumAgg, stream.ProcessWindowFunc[string, int64, res](func(ctx *stream.WindowContext[string], _ []int64, _ stream.Collector[res]) error {
				if ctx.Key() == "a" && ctx.Window().Start == 20 {
					return boom
				}
				return nil
			}))
		}, "WindowAggregateProcess(TumblingEventTime(10ms))", boom, "window [1970-01-01T00:00:00.020Z, 1970-01-01T00:00:00.030Z) of key a"},
		{"panic in reduce", func(w stream.Windowed[ev, string]) stream.Stream[res] {
			red := stream.WindowReduce(w, func(a, b ev) ev { panic("reduce exploded") })
			return stream.Map(red, func(e ev) res { return res{} })
		}, "WindowReduce(TumblingEventTime(10ms))", nil, "{Key:a TS:2 V:2}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := stream.New("fail", stream.Config{Parallelism: 2, WatermarkInterval: -1})
			src := stream.FromSlice(env, input, eventtime.BoundedOutOfOrderness(0, evTS)).Parallelism(1)
			tc.build(stream.Window(stream.KeyBy(src, evKey), window.TumblingEventTime(10*ms))).Discard()
			err := env.Execute(context.Background())
			var oe *stream.OperatorError
			if !errors.As(err, &oe) {
				t.Fatalf("Execute returned %v (%T), want an *OperatorError", err, err)
			}
			if oe.Operator != tc.opName || !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.opName)) {
				t.Errorf("error names operator %q, want %q: %v", oe.Operator, tc.opName, err)
			}
			if !strings.Contains(oe.Record, tc.record) {
				t.Errorf("error names record %q, want it to contain %q", oe.Record, tc.record)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
		})
	}
}

func TestWindowBuildErrors(t *testing.T) {
	env := stream.New("build", stream.Config{})
	keyed := stream.KeyBy(stream.FromSlice(env, []ev{}, eventtime.Strategy[ev]{}), evKey)
	noMerge := sumAgg
	noMerge.Merge = nil
	for _, tc := range []struct {
		name  string
		build func()
		want  string
	}{
		{"aggregate over sessions without Merge", func() {
			stream.WindowAggregate(stream.Window(keyed, window.EventTimeSession(time.Second)), noMerge)
		}, "needs AggregateFunction.Merge"},
		{"non-merging trigger over sessions", func() {
			stream.WindowProcess(stream.Window(keyed, window.EventTimeSession(time.Second)).Trigger(nonMerging{window.EventTimeTrigger()}), sumList)
		}, "does not implement window.MergingTrigger"},
		{"negative lateness", func() {
			stream.Window(keyed, window.TumblingEventTime(time.Second)).AllowedLateness(-time.Second)
		}, "allowed lateness"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), tc.want) {
					t.Fatalf("panicked with %v, want a message containing %q", r, tc.want)
				}
			}()
			tc.build()
		})
	}
	// Without sessions, an aggregate needs no Merge.
	stream.WindowAggregate(stream.Window(keyed, window.TumblingEventTime(time.Second)), noMerge)
}

// nonMerging hides a trigger's OnMerge.
type nonMerging struct{ window.Trigger }

// elems lists the values of a pane's records.
type elems struct {
	Key        string
	Start, End int64
	V          []int64
}

var listValues = stream.ProcessWindowFunc[string, ev, elems](func(ctx *stream.WindowContext[string], evs []ev, out stream.Collector[elems]) error {
	f := elems{Key: ctx.Key(), Start: ctx.Window().Start, End: ctx.Window().End}
	for _, e := range evs {
		f.V = append(f.V, e.V)
	}
	out.Collect(f)
	return nil
})

// TestWindowCountTriggerTimeWindows: a count trigger on event-time windows fires on counts
// only; at the window's cleanup time what it has not fired is dropped (Flink's semantics), but
// at end of input it fires.
func TestWindowCountTriggerTimeWindows(t *testing.T) {
	input := []ev{{"a", 1, 1}, {"a", 2, 2}, {"b", 3, 3}, {"a", 3, 4}, {"c", 15, 5}, {"c", 16, 6}, {"c", 17, 7}}
	env := stream.New("count on tumbling", stream.Config{Parallelism: 1, WatermarkInterval: -1})
	src := source(t, env, input, eventtime.BoundedOutOfOrderness(0, evTS))
	w := stream.Window(stream.KeyBy(src, evKey), window.TumblingEventTime(10*ms)).Trigger(window.PurgingTrigger(window.CountTrigger(2)))
	out := stream.Collect(stream.WindowProcess(w, listValues))
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []elems{{"a", 0, 10, []int64{1, 2}}, {"c", 10, 20, []int64{5, 6}}, {"c", 10, 20, []int64{7}}}
	if got := out.Values(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

// TestWindowCountTriggerSessions: merged sessions add their counts (MergingTrigger.OnMerge),
// so the record that bridges two sessions of one record each fires a count of 3.
func TestWindowCountTriggerSessions(t *testing.T) {
	input := []ev{{"a", 0, 1}, {"a", 10, 2}, {"a", 5, 4}, {"a", 6, 8}}
	env := stream.New("count on sessions", stream.Config{Parallelism: 1, WatermarkInterval: -1})
	src := source(t, env, input, eventtime.BoundedOutOfOrderness(time.Second, evTS))
	w := stream.Window(stream.KeyBy(src, evKey), window.EventTimeSession(5*ms)).Trigger(window.PurgingTrigger(window.CountTrigger(3)))
	out := stream.Collect(stream.WindowProcess(w, listValues))
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []elems{{"a", 0, 15, []int64{1, 2, 4}}, {"a", 0, 15, []int64{8}}}
	if got := out.Values(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

// churnTrigger fires at the window's end, and exercises timer registration: every record
// deletes and re-registers the end timer (which must still fire once), and the first record
// registers an early timer, firing and purging, that the second record deletes.
type churnTrigger struct{}

func (churnTrigger) OnElement(_ int64, w window.Window, ctx window.TriggerContext) window.TriggerResult {
	ctx.DeleteEventTimeTimer(w.MaxTimestamp())
	ctx.RegisterEventTimeTimer(w.MaxTimestamp())
	ctx.RegisterEventTimeTimer(w.MaxTimestamp()) // twice: one firing
	switch *ctx.State() {
	case 0:
		ctx.RegisterEventTimeTimer(w.Start)
	case 1:
		ctx.DeleteEventTimeTimer(w.Start)
	}
	*ctx.State()++
	return window.Continue
}

func (churnTrigger) OnEventTime(at int64, w window.Window, _ window.TriggerContext) window.TriggerResult {
	switch at {
	case w.Start:
		return window.FireAndPurge
	case w.MaxTimestamp():
		return window.Fire
	}
	return window.Continue // the cleanup timer
}

func (churnTrigger) OnProcessingTime(int64, window.Window, window.TriggerContext) window.TriggerResult {
	return window.Continue
}

func (churnTrigger) Clear(w window.Window, ctx window.TriggerContext) {
	ctx.DeleteEventTimeTimer(w.MaxTimestamp())
}

func (churnTrigger) String() string { return "churn" }

func TestWindowTriggerTimerRegistration(t *testing.T) {
	input := []ev{{"a", 100, 1}, {"a", 101, 2}, {"a", 102, 4}, {"b", 150, 8}, {"a", 300, 16}}
	env := stream.New("timers", stream.Config{Parallelism: 1, WatermarkInterval: -1})
	src := source(t, env, input, eventtime.BoundedOutOfOrderness(0, evTS))
	w := stream.Window(stream.KeyBy(src, evKey), window.TumblingEventTime(100*ms)).Trigger(churnTrigger{}).AllowedLateness(50 * ms)
	out := stream.Collect(stream.WindowAggregateProcess(w, sumAgg, describe))
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	// b's early timer at 100 was never deleted: it fires (and purges) at the watermark 149,
	// and the end timer then finds nothing to fire. a's early timer was deleted; its end
	// timer, deleted and registered again for every record, fires once.
	want := []res{r("b", 100, 200, 8), r("a", 100, 200, 7), r("a", 300, 400, 16)}
	if got := results(out); !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}
