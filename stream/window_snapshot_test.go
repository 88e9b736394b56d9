package stream

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/runnel-io/runnel/eventtime"
	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/state/blob"
	"github.com/runnel-io/runnel/window"
)

// These tests drive window operator subtasks directly, as a task would: records routed by key
// group, watermarks and processing time given to every subtask. Each run snapshots the
// subtasks in the middle of the input, lets them go on to the end (the uninterrupted run),
// restores the snapshot into fresh subtasks at the same or another parallelism, feeds them the
// rest of the input and compares what they emit with the uninterrupted run.

const snapMaxPar = 8

type snapEv struct {
	Key string
	N   int
	TS  int64
}

func snapKey(e snapEv) string { return e.Key }

// fakeWindowRuntime is the windowRuntime of one subtask: processing-time timers fire when the
// test advances the clock; the restored key groups come from blobs.
type fakeWindowRuntime struct {
	clock  *clockwork.FakeClock
	timers []fakeProcTimer
	seq    int
	blobs  map[int][]byte
}

type fakeProcTimer struct {
	at   int64
	seq  int
	fire func(int64)
}

func (f *fakeWindowRuntime) RegisterProcessingTimer(at int64, fire func(int64)) {
	f.seq++
	f.timers = append(f.timers, fakeProcTimer{at, f.seq, fire})
}

func (f *fakeWindowRuntime) SetWatermarks(int64, int64)   {}
func (f *fakeWindowRuntime) Counter(string) *atomic.Int64 { return new(atomic.Int64) }
func (f *fakeWindowRuntime) RestoredKeyGroups(fn func(int, []byte) error) error {
	for _, kg := range slices.Sorted(maps.Keys(f.blobs)) {
		if err := fn(kg, f.blobs[kg]); err != nil {
			return err
		}
	}
	return nil
}

// fireDue fires the timers due at the clock's time, earliest first, as the runtime's timer
// service does.
func (f *fakeWindowRuntime) fireDue() {
	now := f.clock.Now().UnixMilli()
	for {
		i := -1
		for j, t := range f.timers {
			if t.at <= now && (i < 0 || t.at < f.timers[i].at || t.at == f.timers[i].at && t.seq < f.timers[i].seq) {
				i = j
			}
		}
		if i < 0 {
			return
		}
		t := f.timers[i]
		f.timers = slices.Delete(f.timers, i, i+1)
		t.fire(t.at)
	}
}

// recordOut is an Output that writes what it gets as strings.
type recordOut[T any] struct{ got *[]string }

func (r recordOut[T]) Collect(v T, ts int64) { *r.got = append(*r.got, fmt.Sprintf("%v@%d", v, ts)) }
func (recordOut[T]) Watermark(int64)         {}
func (recordOut[T]) Idle(bool)               {}
func (recordOut[T]) Finish()                 {}

// snapOp is a window operator subtask of any pane type.
type snapOp interface {
	Open() error
	Collect(v snapEv, ts int64)
	Watermark(wm int64)
	SnapshotState(id int64) (rt.OperatorSnapshot, error)
}

// snapCase makes the subtasks of one window operator.
type snapCase struct {
	name string
	make func(c *rt.Context, env windowRuntime, got *[]string) snapOp
	proc bool // processing-time windows: records fall into windows by the clock
}

func makeOp[ACC, OUT any](w Windowed[snapEv, string], kind string, setup func(*windowOp[snapEv, string, ACC, OUT])) func(*rt.Context, windowRuntime, *[]string) snapOp {
	cfg := w.config(kind)
	return func(c *rt.Context, env windowRuntime, got *[]string) snapOp {
		o := newWindowOp[snapEv, string, ACC, OUT](c, env, recordOut[OUT]{got}, snapKey, cfg)
		setup(o)
		return o
	}
}

func windowed(a window.Assigner) Windowed[snapEv, string] {
	return Windowed[snapEv, string]{k: Keyed[snapEv, string]{key: snapKey}, assigner: a}
}

type sumCount struct {
	Sum, Count int
}

var sumAgg = state.AggregateFunction[snapEv, sumCount, string]{
	Create: func() sumCount { return sumCount{} },
	Add:    func(a sumCount, e snapEv) sumCount { return sumCount{a.Sum + e.N, a.Count + 1} },
	Merge:  func(a, b sumCount) sumCount { return sumCount{a.Sum + b.Sum, a.Count + b.Count} },
	Result: func(a sumCount) string { return fmt.Sprintf("sum=%d n=%d", a.Sum, a.Count) },
}

// sumInPlace is sumAgg with an accumulator that Add changes in place, as Flink's aggregate
// functions often do: a snapshot must not see changes made after it was taken.
var sumInPlace = state.AggregateFunction[snapEv, *sumCount, string]{
	Create: func() *sumCount { return &sumCount{} },
	Add: func(a *sumCount, e snapEv) *sumCount {
		a.Sum += e.N
		a.Count++
		return a
	},
	Merge: func(a, b *sumCount) *sumCount {
		a.Sum += b.Sum
		a.Count += b.Count
		return a
	},
	Result: func(a *sumCount) string { return fmt.Sprintf("sum=%d n=%d", a.Sum, a.Count) },
}

func sumReduce(a, b snapEv) snapEv { return snapEv{a.Key, a.N + b.N, max(a.TS, b.TS)} }

var listFn = ProcessWindowFunc[string, snapEv, string](func(ctx *WindowContext[string], elems []snapEv, out Collector[string]) error {
	var b strings.Builder
	for _, e := range elems {
		fmt.Fprintf(&b, "%d,", e.N)
	}
	out.Collect(fmt.Sprintf("%s %v [%s]", ctx.Key(), ctx.Window(), b.String()))
	return nil
})

func snapCases() []snapCase {
	ms := time.Millisecond
	return []snapCase{
		{name: "tumbling event time, lateness", make: makeOp(
			windowed(window.TumblingEventTime(10*ms)).AllowedLateness(5*ms), "WindowReduce", reducePanes[snapEv, string](sumReduce))},
		{name: "tumbling event time, processing-time trigger", make: makeOp(
			windowed(window.TumblingEventTime(10*ms)).Trigger(window.ProcessingTimeTrigger()).AllowedLateness(3*ms),
			"WindowAggregate", aggregatePanes[snapEv, string](sumAgg))},
		{name: "sliding event time, count trigger", make: makeOp(
			windowed(window.SlidingEventTime(20*ms, 5*ms)).Trigger(window.CountTrigger(3)),
			"WindowAggregate", aggregatePanes[snapEv, string](sumAgg))},
		{name: "session event time", make: makeOp(
			windowed(window.EventTimeSession(4*ms)).AllowedLateness(2*ms), "WindowProcess", processPanes[snapEv, string, string](listFn))},
		{name: "sliding event time, aggregate in place", make: makeOp(
			windowed(window.SlidingEventTime(20*ms, 5*ms)).AllowedLateness(2*ms),
			"WindowAggregate", aggregatePanes[snapEv, string](sumInPlace))},
		{name: "session event time, aggregate", make: makeOp(
			windowed(window.EventTimeSession(6*ms)), "WindowAggregate", aggregatePanes[snapEv, string](sumAgg))},
		{name: "tumbling processing time", proc: true, make: makeOp(
			windowed(window.TumblingProcessingTime(10*ms)), "WindowAggregate", aggregatePanes[snapEv, string](sumAgg))},
		{name: "sliding processing time", proc: true, make: makeOp(
			windowed(window.SlidingProcessingTime(15*ms, 5*ms)), "WindowReduce", reducePanes[snapEv, string](sumReduce))},
		{name: "session processing time", proc: true, make: makeOp(
			windowed(window.ProcessingTimeSession(3*ms)), "WindowProcess", processPanes[snapEv, string, string](listFn))},
	}
}

// snapStep is one input of the script: a record, a watermark or a processing time.
type snapStep struct {
	kind byte // 'r', 'w', 'c'
	ev   snapEv
	at   int64
}

const snapStart = 1_000_000

// snapScript makes an input: records of a dozen keys with timestamps mostly increasing, some
// out of order and some late, watermarks behind them, and processing time going on.
func snapScript(seed uint64) []snapStep {
	r := rand.New(rand.NewPCG(seed, 7))
	var steps []snapStep
	ts, now, wm := int64(snapStart), int64(snapStart), int64(eventtime.MinTime)
	for i := range 400 {
		ts += int64(r.IntN(3))
		rts := ts - int64(r.IntN(4))
		if r.IntN(25) == 0 {
			rts = ts - 15 - int64(r.IntN(10)) // late, or nearly
		}
		steps = append(steps, snapStep{kind: 'r', ev: snapEv{fmt.Sprintf("k%d", r.IntN(12)), i, rts}})
		if r.IntN(6) == 0 && ts-5 > wm {
			wm = ts - 5
			steps = append(steps, snapStep{kind: 'w', at: wm})
		}
		if r.IntN(3) == 0 {
			now += int64(r.IntN(4))
			steps = append(steps, snapStep{kind: 'c', at: now})
		}
	}
	steps = append(steps, snapStep{kind: 'c', at: now + 100}, snapStep{kind: 'w', at: eventtime.MaxTime})
	return steps
}

// snapRun is a set of subtasks of one operator.
type snapRun struct {
	par  int
	ops  []snapOp
	envs []*fakeWindowRuntime
	got  [][]string
}

func newSnapRun(t *testing.T, tc snapCase, par int, now int64, blobs map[int][]byte) *snapRun {
	t.Helper()
	clock := clockwork.NewFakeClockAt(time.UnixMilli(now))
	run := &snapRun{par: par, got: make([][]string, par)}
	for i := range par {
		kgs := keygroup.RangeOf(i, snapMaxPar, par)
		env := &fakeWindowRuntime{clock: clock, blobs: map[int][]byte{}}
		for kg, b := range blobs {
			if kgs.Contains(kg) {
				env.blobs[kg] = b
			}
		}
		c := &rt.Context{Name: "window", Subtask: i, Parallelism: par, MaxParallelism: snapMaxPar, KeyGroups: kgs,
			Clock: clock, Logger: slog.New(slog.DiscardHandler)}
		op := tc.make(c, env, &run.got[i])
		if err := op.Open(); err != nil {
			t.Fatalf("subtask %d/%d: Open: %v", i, par, err)
		}
		run.ops = append(run.ops, op)
		run.envs = append(run.envs, env)
	}
	return run
}

var snapHash = keygroup.HasherFor[string]()

func (r *snapRun) feed(steps []snapStep) {
	for _, s := range steps {
		switch s.kind {
		case 'r':
			kg := keygroup.Of(snapHash(s.ev.Key), snapMaxPar)
			r.ops[keygroup.Subtask(kg, snapMaxPar, r.par)].Collect(s.ev, s.ev.TS)
		case 'w':
			for _, op := range r.ops {
				op.Watermark(s.at)
			}
		case 'c':
			clock := r.envs[0].clock
			clock.Advance(time.Duration(s.at-clock.Now().UnixMilli()) * time.Millisecond)
			for _, env := range r.envs {
				env.fireDue()
			}
		}
	}
}

// snapshot takes a snapshot of every subtask; the blobs are encoded only when encode is called,
// as the runtime does on another goroutine while the task goes on.
func (r *snapRun) snapshot(t *testing.T, id int64) (encode func() map[int][]byte) {
	t.Helper()
	var snaps []*state.Snapshot
	for i, op := range r.ops {
		s, err := op.SnapshotState(id)
		if err != nil {
			t.Fatalf("subtask %d: SnapshotState: %v", i, err)
		}
		if s.Keyed == nil {
			t.Fatalf("subtask %d: no keyed snapshot", i)
		}
		snaps = append(snaps, s.Keyed)
	}
	return func() map[int][]byte {
		blobs := map[int][]byte{}
		for _, s := range snaps {
			w := groupMap(blobs)
			if err := s.WriteGroups(w); err != nil {
				t.Errorf("WriteGroups: %v", err) // not Fatalf: encode may run on another goroutine
			}
		}
		return blobs
	}
}

type groupMap map[int][]byte

func (g groupMap) WriteGroup(kg int, b []byte) error {
	if _, dup := g[kg]; dup {
		return fmt.Errorf("key group %d written twice", kg)
	}
	g[kg] = slices.Clone(b)
	return nil
}

func (r *snapRun) all() []string {
	var all []string
	for _, g := range r.got {
		all = append(all, g...)
	}
	return all
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// cutAfterRecord returns the first cut at or after i that follows a record, so that
// processing-time windows hold something when the snapshot is taken.
func cutAfterRecord(steps []snapStep, i int) int {
	for steps[i-1].kind != 'r' {
		i++
	}
	return i
}

func clockAt(steps []snapStep) int64 {
	now := int64(snapStart)
	for _, s := range steps {
		if s.kind == 'c' {
			now = s.at
		}
	}
	return now
}

func TestWindowSnapshotRestore(t *testing.T) {
	for _, tc := range snapCases() {
		for _, split := range []struct{ before, after int }{{2, 2}, {2, 1}, {1, 2}, {1, 1}, {3, 2}} {
			for _, seed := range []uint64{1, 2} {
				t.Run(fmt.Sprintf("%s/%d→%d/seed%d", tc.name, split.before, split.after, seed), func(t *testing.T) {
					steps := snapScript(seed)
					cut := cutAfterRecord(steps, len(steps)/2)
					orig := newSnapRun(t, tc, split.before, snapStart, nil)
					orig.feed(steps[:cut])
					pre := make([][]string, split.before)
					for i := range pre {
						pre[i] = slices.Clone(orig.got[i])
					}
					encode := orig.snapshot(t, 1)
					// The snapshot is encoded on another goroutine while the uninterrupted run
					// goes on, as the runtime does: under -race, any state the two share shows.
					encoded := make(chan map[int][]byte)
					go func() { encoded <- encode() }()
					orig.feed(steps[cut:])
					blobs := <-encoded
					if len(blobs) == 0 {
						t.Fatal("the snapshot holds no state")
					}
					restored := newSnapRun(t, tc, split.after, clockAt(steps[:cut]), blobs)
					restored.feed(steps[cut:])

					want := orig.all()
					if len(want) == 0 {
						t.Fatal("the uninterrupted run emitted nothing")
					}
					got := slices.Concat(slices.Concat(pre...), restored.all())
					if !slices.Equal(sorted(got), sorted(want)) {
						t.Fatalf("restored run emitted\n%s\nwant\n%s", diffLines(sorted(got), sorted(want)), "")
					}
					if split.before == split.after {
						// Same key groups per subtask: each emits exactly what it did, in order.
						for i := range split.after {
							got := slices.Concat(pre[i], restored.got[i])
							if !slices.Equal(got, orig.got[i]) {
								t.Fatalf("subtask %d emitted, in order:\n%s", i, diffLines(got, orig.got[i]))
							}
						}
					}
				})
			}
		}
	}
}

// diffLines shows the first difference between got and want.
func diffLines(got, want []string) string {
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("at %d of %d/%d: got %q, want %q", i, len(got), len(want), g, w)
		}
	}
	return "equal"
}

// TestWindowSnapshotTwice restores a restored operator's snapshot: state survives any number of
// checkpoints, with the rescaling in between.
func TestWindowSnapshotTwice(t *testing.T) {
	for _, tc := range snapCases() {
		t.Run(tc.name, func(t *testing.T) {
			steps := snapScript(3)
			a, b := cutAfterRecord(steps, len(steps)/3), cutAfterRecord(steps, 2*len(steps)/3)
			orig := newSnapRun(t, tc, 2, snapStart, nil)
			orig.feed(steps)

			first := newSnapRun(t, tc, 2, snapStart, nil)
			first.feed(steps[:a])
			blobs := first.snapshot(t, 1)()
			second := newSnapRun(t, tc, 1, clockAt(steps[:a]), blobs)
			second.feed(steps[a:b])
			blobs = second.snapshot(t, 2)()
			third := newSnapRun(t, tc, 3, clockAt(steps[:b]), blobs)
			third.feed(steps[b:])
			got := slices.Concat(first.all(), second.all(), third.all())
			if !slices.Equal(sorted(got), sorted(orig.all())) {
				t.Fatalf("emitted %s", diffLines(sorted(got), sorted(orig.all())))
			}
		})
	}
}

// TestWindowSnapshotSection checks the section the operator writes: one operator section per key
// group with panes, which the memory backend restores around.
func TestWindowSnapshotSection(t *testing.T) {
	tc := snapCases()[0]
	run := newSnapRun(t, tc, 1, snapStart, nil)
	run.feed([]snapStep{{kind: 'r', ev: snapEv{"k1", 1, snapStart}}, {kind: 'r', ev: snapEv{"k2", 2, snapStart + 3}}})
	blobs := run.snapshot(t, 1)()
	if len(blobs) == 0 || len(blobs) > 2 {
		t.Fatalf("blobs of %d key groups, want 1 or 2", len(blobs))
	}
	for kg, b := range blobs {
		n := 0
		err := blob.Sections(b, func(s blob.Section) error {
			if s.Tag != blob.TagOperator || s.Name != windowSection {
				return fmt.Errorf("section %d %q", s.Tag, s.Name)
			}
			n++
			return nil
		})
		if err != nil || n != 1 {
			t.Fatalf("key group %d: %d sections, %v", kg, n, err)
		}
		if err := state.NewMemory().Restore(kg, b); err != nil {
			t.Fatalf("memory backend restoring the window section: %v", err)
		}
	}
	// An empty operator writes nothing.
	empty := newSnapRun(t, tc, 1, snapStart, nil)
	if blobs := empty.snapshot(t, 1)(); len(blobs) != 0 {
		t.Fatalf("empty operator wrote %d key groups", len(blobs))
	}
}

// TestWindowRestoreCorrupt checks that malformed window state fails Open with ErrCorrupt, and
// never panics.
func TestWindowRestoreCorrupt(t *testing.T) {
	tc := snapCases()[3] // sessions: record lists
	run := newSnapRun(t, tc, 1, snapStart, nil)
	run.feed(snapScript(4)[:100])
	blobs := run.snapshot(t, 1)()
	var kg int
	var good []byte
	for kg, good = range blobs {
		break
	}
	for cut := range len(good) {
		bad := slices.Clone(good[:cut])
		if cut >= 1 {
			// A section of the right length holding a cut body.
			var w blob.Writer
			w.BeginOperator(windowSection)
			body := sectionBody(t, good)
			w.Raw(body[:min(cut, len(body)-1)])
			_ = w.End()
			bad = w.Buf
		}
		env := &fakeWindowRuntime{clock: clockwork.NewFakeClockAt(time.UnixMilli(snapStart)), blobs: map[int][]byte{kg: bad}}
		c := &rt.Context{Name: "window", Parallelism: 1, MaxParallelism: snapMaxPar, KeyGroups: keygroup.Range{Start: 0, End: snapMaxPar},
			Clock: env.clock, Logger: slog.New(slog.DiscardHandler)}
		var got []string
		err := tc.make(c, env, &got).Open()
		if len(bad) > 0 && !errors.Is(err, blob.ErrCorrupt) {
			t.Fatalf("cut at %d: Open: %v, want ErrCorrupt", cut, err)
		}
	}
	// A key group restored into the wrong subtask is refused.
	other := keygroup.Range{Start: 0, End: snapMaxPar}
	if kg < snapMaxPar/2 {
		other.Start = snapMaxPar / 2
	} else {
		other.End = snapMaxPar / 2
	}
	env := &fakeWindowRuntime{clock: clockwork.NewFakeClockAt(time.UnixMilli(snapStart)), blobs: map[int][]byte{kg: good}}
	c := &rt.Context{Name: "window", Parallelism: 2, MaxParallelism: snapMaxPar, KeyGroups: other,
		Clock: env.clock, Logger: slog.New(slog.DiscardHandler)}
	var got []string
	if err := tc.make(c, env, &got).Open(); err == nil {
		t.Fatal("restoring a key group the subtask does not own succeeded")
	}
}

func sectionBody(t *testing.T, b []byte) []byte {
	t.Helper()
	var body []byte
	if err := blob.Sections(b, func(s blob.Section) error { body = s.Body; return nil }); err != nil {
		t.Fatal(err)
	}
	return body
}

// TestCopiedByAssignment checks which pane contents a snapshot copies rather than encodes at
// once: only types that assignment copies whole.
func TestCopiedByAssignment(t *testing.T) {
	type flat struct {
		A int64
		B [3]float64
		S string
	}
	type nested struct {
		F flat
		P *int
	}
	for _, tc := range []struct {
		t    reflect.Type
		want bool
	}{
		{reflect.TypeFor[int64](), true},
		{reflect.TypeFor[string](), true},
		{reflect.TypeFor[flat](), true},
		{reflect.TypeFor[[2]flat](), true},
		{reflect.TypeFor[nested](), false},
		{reflect.TypeFor[*flat](), false},
		{reflect.TypeFor[[]int](), false},
		{reflect.TypeFor[map[string]int](), false},
		{reflect.TypeFor[any](), false},
		{reflect.TypeFor[[1][]int](), false},
		{reflect.TypeFor[func()](), false},
	} {
		if got := copiedByAssignment(tc.t); got != tc.want {
			t.Errorf("copiedByAssignment(%v) = %v, want %v", tc.t, got, tc.want)
		}
	}
}
