package operator_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/runnel-io/runnel/eventtime"
	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/operator"
	"github.com/runnel-io/runnel/operator/operatortest"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/state/blob"
	"github.com/runnel-io/runnel/statebackend/pebble"
	"github.com/runnel-io/runnel/window"
)

// These tests drive window operator subtasks through the operator test harness, as a task
// would: records routed by key group, watermarks and processing time given to every subtask.
// Each run snapshots the subtasks in the middle of the input, lets them go on to the end (the
// uninterrupted run), restores the snapshot into fresh subtasks at the same or another
// parallelism, feeds them the rest of the input and compares what they emit with the
// uninterrupted run.

const snapMaxPar = 8

type snapEv struct {
	Key string
	N   int
	TS  int64
}

func snapKey(e snapEv) string { return e.Key }

// snapCase makes the subtasks of one window operator.
type snapCase struct {
	name string
	make operatortest.Factory[string]
	proc bool // processing-time windows: records fall into windows by the clock
}

// windowOp returns the factory of a window operator over assigner a with trigger tr (nil: the
// default) and allowed lateness, whose panes p emit strings through emit.
func windowOp[ACC any](a window.Assigner, tr window.Trigger, lateness time.Duration, p operator.Panes[snapEv, string, ACC], emit func(k string, w window.Window, acc ACC) string) operatortest.Factory[string] {
	cfg, err := operator.NewWindowConfig(a, tr, lateness.Milliseconds(), "", nil)
	if err != nil {
		panic(err)
	}
	return func(c *rt.Context, out rt.Output[string]) (rt.Instance, error) {
		p := p
		p.Emit = func(k string, w window.Window, acc ACC) error {
			out.Collect(emit(k, w, acc), w.MaxTimestamp())
			return nil
		}
		return operator.NewWindow[snapEv, string, ACC, string](c, out, snapKey, cfg, p)
	}
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

func listEmit(k string, w window.Window, elems []snapEv) string {
	var b strings.Builder
	for _, e := range elems {
		fmt.Fprintf(&b, "%d,", e.N)
	}
	return fmt.Sprintf("%s %v [%s]", k, w, b.String())
}

func reduceEmit(_ string, _ window.Window, acc snapEv) string { return fmt.Sprint(acc) }

func aggEmit[ACC any](f state.AggregateFunction[snapEv, ACC, string]) func(string, window.Window, ACC) string {
	return func(_ string, _ window.Window, acc ACC) string { return f.Result(acc) }
}

func snapCases() []snapCase {
	ms := time.Millisecond
	reduce := operator.ReducePanes[snapEv, string](sumReduce)
	agg := operator.AggregatePanes[snapEv, string](sumAgg)
	inPlace := operator.AggregatePanes[snapEv, string](sumInPlace)
	list := operator.ListPanes[snapEv, string]()
	return []snapCase{
		{name: "tumbling event time, lateness", make: windowOp(
			window.TumblingEventTime(10*ms), nil, 5*ms, reduce, reduceEmit)},
		{name: "tumbling event time, processing-time trigger", make: windowOp(
			window.TumblingEventTime(10*ms), window.ProcessingTimeTrigger(), 3*ms, agg, aggEmit(sumAgg))},
		{name: "sliding event time, count trigger", make: windowOp(
			window.SlidingEventTime(20*ms, 5*ms), window.CountTrigger(3), 0, agg, aggEmit(sumAgg))},
		{name: "session event time", make: windowOp(
			window.EventTimeSession(4*ms), nil, 2*ms, list, listEmit)},
		{name: "sliding event time, aggregate in place", make: windowOp(
			window.SlidingEventTime(20*ms, 5*ms), nil, 2*ms, inPlace, aggEmit(sumInPlace))},
		{name: "session event time, aggregate", make: windowOp(
			window.EventTimeSession(6*ms), nil, 0, agg, aggEmit(sumAgg))},
		{name: "tumbling processing time", proc: true, make: windowOp(
			window.TumblingProcessingTime(10*ms), nil, 0, agg, aggEmit(sumAgg))},
		{name: "sliding processing time", proc: true, make: windowOp(
			window.SlidingProcessingTime(15*ms, 5*ms), nil, 0, reduce, reduceEmit)},
		{name: "session processing time", proc: true, make: windowOp(
			window.ProcessingTimeSession(3*ms), nil, 0, list, listEmit)},
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

// snapRun is a set of subtasks of one operator, sharing one clock.
type snapRun struct {
	par   int
	hs    []*operatortest.Harness[string]
	clock *clockwork.FakeClock
}

// backend is the state backend the runs use (nil: memory); the Pebble tests set it.
type backendFunc = state.BackendFactory

func newSnapRun(t testing.TB, tc snapCase, par int, now int64, restore *operatortest.Snapshot) *snapRun {
	return newSnapRunOn(t, tc, par, now, restore, nil)
}

func newSnapRunOn(t testing.TB, tc snapCase, par int, now int64, restore *operatortest.Snapshot, be backendFunc) *snapRun {
	t.Helper()
	run := &snapRun{par: par, clock: clockwork.NewFakeClockAt(time.UnixMilli(now))}
	for i := range par {
		h := operatortest.New(t, operatortest.Options{Name: "window", Subtask: i, Parallelism: par,
			MaxParallelism: snapMaxPar, Clock: run.clock, Restore: restore, StateBackend: be}, tc.make)
		run.hs = append(run.hs, h)
	}
	return run
}

var snapHash = keygroup.HasherFor[string]()

func (r *snapRun) feed(steps []snapStep) {
	for _, s := range steps {
		switch s.kind {
		case 'r':
			kg := keygroup.Of(snapHash(s.ev.Key), snapMaxPar)
			operatortest.Process(r.hs[keygroup.Subtask(kg, snapMaxPar, r.par)], s.ev, s.ev.TS)
		case 'w':
			for _, h := range r.hs {
				h.Watermark(s.at)
			}
		case 'c':
			r.clock.Advance(time.Duration(s.at-r.clock.Now().UnixMilli()) * time.Millisecond)
			for _, h := range r.hs {
				h.FireProcessingTimers()
			}
		}
	}
}

// snapshot takes a snapshot of every subtask; the blobs are encoded only when encode is called,
// as the runtime does on another goroutine while the task goes on.
func (r *snapRun) snapshot(t testing.TB, id int64) (encode func() *operatortest.Snapshot) {
	t.Helper()
	var encs []func() *operatortest.Snapshot
	for _, h := range r.hs {
		encs = append(encs, h.SnapshotAsync(id))
	}
	return func() *operatortest.Snapshot {
		var snaps []*operatortest.Snapshot
		for _, e := range encs {
			snaps = append(snaps, e())
		}
		s, err := operatortest.Merge(snaps...)
		if err != nil {
			t.Error(err)
		}
		return s
	}
}

// got returns what subtask i emitted, formatted.
func (r *snapRun) got(i int) []string { return r.hs[i].Out.Strings() }

func (r *snapRun) all() []string {
	var all []string
	for i := range r.hs {
		all = append(all, r.got(i)...)
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
					checkSnapshotRestore(t, tc, split.before, split.after, seed, nil, nil)
				})
			}
		}
	}
}

// pebbleBackend returns a state backend factory making Pebble backends under a temporary
// directory of t.
func pebbleBackend(t testing.TB) backendFunc {
	dir := t.TempDir()
	n := 0
	return func(_ context.Context, c state.BackendContext) (state.Backend, error) {
		n++
		return pebble.Open(pebble.Options{Dir: filepath.Join(dir, fmt.Sprintf("%s-%d-%d", c.Operator, c.Subtask, n)), Range: c.KeyGroups})
	}
}

// TestWindowSnapshotRestorePebble runs the window operator with its panes and timers in the
// Pebble backend, snapshots and restores it at other parallelisms, also into and out of the
// memory backend: one snapshot format, whatever the backend.
func TestWindowSnapshotRestorePebble(t *testing.T) {
	for _, tc := range snapCases() {
		for _, c := range []struct {
			before, after    int
			pebbleB, pebbleA bool
		}{{2, 2, true, true}, {2, 1, true, true}, {1, 3, true, true}, {2, 3, false, true}, {3, 1, true, false}} {
			name := fmt.Sprintf("%s/%d→%d/pebble %v→%v", tc.name, c.before, c.after, c.pebbleB, c.pebbleA)
			t.Run(name, func(t *testing.T) {
				var b, a backendFunc
				if c.pebbleB {
					b = pebbleBackend(t)
				}
				if c.pebbleA {
					a = pebbleBackend(t)
				}
				checkSnapshotRestore(t, tc, c.before, c.after, 5, b, a)
			})
		}
	}
}

// checkSnapshotRestore runs the script of seed through before subtasks on backend be (nil:
// memory), snapshots them in the middle, restores the snapshot into after subtasks on backend
// ba, and checks that the two emit together what an uninterrupted run does.
func checkSnapshotRestore(t *testing.T, tc snapCase, before, after int, seed uint64, be, ba backendFunc) {
	t.Helper()
	steps := snapScript(seed)
	cut := cutAfterRecord(steps, len(steps)/2)
	orig := newSnapRunOn(t, tc, before, snapStart, nil, be)
	orig.feed(steps[:cut])
	pre := make([][]string, before)
	for i := range pre {
		pre[i] = orig.got(i)
	}
	encode := orig.snapshot(t, 1)
	// The snapshot is encoded on another goroutine while the uninterrupted run goes on, as the
	// runtime does: under -race, any state the two share shows.
	encoded := make(chan *operatortest.Snapshot)
	go func() { encoded <- encode() }()
	orig.feed(steps[cut:])
	blobs := <-encoded
	if len(blobs.KeyGroups) == 0 {
		t.Fatal("the snapshot holds no state")
	}
	restored := newSnapRunOn(t, tc, after, clockAt(steps[:cut]), blobs, ba)
	restored.feed(steps[cut:])

	want := orig.all()
	if len(want) == 0 {
		t.Fatal("the uninterrupted run emitted nothing")
	}
	got := slices.Concat(slices.Concat(pre...), restored.all())
	if !slices.Equal(sorted(got), sorted(want)) {
		t.Fatalf("restored run emitted\n%s", diffLines(sorted(got), sorted(want)))
	}
	if before == after && (be == nil) == (ba == nil) {
		// Same key groups per subtask on the same kind of backend: each emits exactly what it
		// did, in order.
		for i := range after {
			got := slices.Concat(pre[i], restored.got(i))
			if !slices.Equal(got, orig.got(i)) {
				t.Fatalf("subtask %d emitted, in order:\n%s", i, diffLines(got, orig.got(i)))
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

// TestWindowSnapshotSection checks the sections the operator writes: window state in the key
// groups of the keys with panes, which the memory backend restores around.
func TestWindowSnapshotSection(t *testing.T) {
	tc := snapCases()[0]
	run := newSnapRun(t, tc, 1, snapStart, nil)
	run.feed([]snapStep{{kind: 'r', ev: snapEv{"k1", 1, snapStart}}, {kind: 'r', ev: snapEv{"k2", 2, snapStart + 3}}})
	blobs := run.snapshot(t, 1)().KeyGroups
	if len(blobs) == 0 || len(blobs) > 2 {
		t.Fatalf("blobs of %d key groups, want 1 or 2", len(blobs))
	}
	for kg, b := range blobs {
		n := 0
		err := blob.Sections(b, func(s blob.Section) error {
			if !strings.HasPrefix(s.Name, "window") {
				return fmt.Errorf("section %d %q", s.Tag, s.Name)
			}
			n++
			return nil
		})
		if err != nil || n == 0 {
			t.Fatalf("key group %d: %d sections, %v", kg, n, err)
		}
		if err := state.NewMemory().Restore(kg, b); err != nil {
			t.Fatalf("memory backend restoring the window sections: %v", err)
		}
	}
	// An empty operator writes nothing.
	empty := newSnapRun(t, tc, 1, snapStart, nil)
	if blobs := empty.snapshot(t, 1)().KeyGroups; len(blobs) != 0 {
		t.Fatalf("empty operator wrote %d key groups", len(blobs))
	}
}

// TestWindowRestoreCorrupt checks that malformed window state fails Open with ErrCorrupt, and
// never panics.
func TestWindowRestoreCorrupt(t *testing.T) {
	tc := snapCases()[3] // sessions: record lists
	run := newSnapRun(t, tc, 1, snapStart, nil)
	run.feed(snapScript(4)[:100])
	snap := run.snapshot(t, 1)()
	var kg int
	var good []byte
	for kg, good = range snap.KeyGroups {
		break
	}
	for cut := range len(good) {
		bad := slices.Clone(good[:cut])
		if cut >= 1 {
			// Sections of the right length holding a cut body.
			bad = cutBodies(t, good, cut)
		}
		_, err := operatortest.TryNew(t, operatortest.Options{Name: "window", MaxParallelism: snapMaxPar,
			Restore: &operatortest.Snapshot{KeyGroups: map[int][]byte{kg: bad}}}, tc.make)
		if len(bad) > 0 && !errors.Is(err, blob.ErrCorrupt) {
			t.Fatalf("cut at %d: Open: %v, want ErrCorrupt", cut, err)
		}
	}
}

// cutBodies returns b with the body of its first section cut to at most cut bytes (and one
// byte short of whole), the other sections left as they are.
func cutBodies(t *testing.T, b []byte, cut int) []byte {
	t.Helper()
	var w blob.Writer
	first := true
	err := blob.Sections(b, func(s blob.Section) error {
		body := s.Body
		if first {
			body = body[:min(cut, len(body)-1)]
			first = false
		}
		switch s.Tag {
		case blob.TagOperator:
			w.BeginOperator(s.Name)
		case blob.TagState:
			w.BeginState(s.Name, s.Kind)
		default:
			return fmt.Errorf("section %d", s.Tag)
		}
		w.Raw(body)
		return w.End()
	})
	if err != nil {
		t.Fatal(err)
	}
	return w.Buf
}
