package operator_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/runnel-io/runnel/eventtime"
	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/operator"
	"github.com/runnel-io/runnel/operator/operatortest"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/window"
)

// These tests drive single operators through the operator test harness: records, watermarks,
// processing time, side outputs, and snapshots restored at other key groups.

// TestWindowLateSideOutput checks that the window operator sends records whose windows are
// past their allowed lateness to the late side output, and counts the ones it drops without.
func TestWindowLateSideOutput(t *testing.T) {
	for _, side := range []bool{true, false} {
		t.Run(fmt.Sprintf("side=%v", side), func(t *testing.T) {
			tag := ""
			if side {
				tag = "late"
			}
			cfg, err := operator.NewWindowConfig(window.TumblingEventTime(10*time.Millisecond), nil, 5, tag, nil)
			if err != nil {
				t.Fatal(err)
			}
			var o operatortest.Options
			var late *operatortest.Output[snapEv]
			if side {
				late = operatortest.SideOutput[snapEv](&o, "late")
			}
			h := operatortest.New(t, o, func(c *rt.Context, out rt.Output[int]) (rt.Instance, error) {
				p := operator.ReducePanes[snapEv, string](sumReduce)
				p.Emit = func(_ string, w window.Window, acc snapEv) error { out.Collect(acc.N, w.MaxTimestamp()); return nil }
				return operator.NewWindow[snapEv, string, snapEv, int](c, out, snapKey, cfg, p)
			})
			operatortest.Process(h, snapEv{"a", 1, 3}, 3)
			operatortest.Process(h, snapEv{"a", 2, 7}, 7)
			h.Watermark(12)                               // fires [0,10); kept until 9+5 = 14
			operatortest.Process(h, snapEv{"a", 4, 8}, 8) // late but allowed: fires again
			h.Watermark(14)                               // cleans [0,10) up
			operatortest.Process(h, snapEv{"a", 8, 9}, 9) // too late
			h.Watermark(eventtime.MaxTime)
			if got, want := h.Out.Strings(), []string{"3@9", "7@9"}; !slices.Equal(got, want) {
				t.Fatalf("emitted %v, want %v", got, want)
			}
			if side {
				if got := late.Strings(); !slices.Equal(got, []string{"{a 8 9}@9"}) {
					t.Fatalf("late side output %v", got)
				}
			} else if n := h.Counters()["numLateRecordsDropped"]; n != 1 {
				t.Fatalf("counted %d late records dropped, want 1 (%v)", n, h.Counters())
			}
			if wms := h.Out.Watermarks; wms[len(wms)-1] != eventtime.MaxTime {
				t.Fatalf("passed on watermarks %v", wms)
			}
		})
	}
}

// timerFn is a keyed process function for the harness: it counts records per key in Value
// state and, one processing-time millisecond and one event-time millisecond after each record,
// emits the key's count.
type timerFn struct {
	o     *operator.KeyedProcess[snapEv, string, string]
	count state.Value[int]
}

func keyedTimerFactory(c *rt.Context, out rt.Output[string]) (rt.Instance, error) {
	f := &timerFn{}
	o, err := operator.NewKeyedProcess[snapEv, string, string](c, out, snapKey, func(v snapEv, ts int64) error {
		n, _ := f.count.Value()
		f.count.Update(n + 1)
		f.o.RegisterEventTimeTimer(ts + 1)
		f.o.RegisterProcessingTimeTimer(c.Clock.Now().UnixMilli() + 1)
		return nil
	})
	if err != nil {
		return nil, err
	}
	f.o = o
	o.Funcs.Open = func() error {
		f.count = state.NewValue[string, int](o.Backend, &o.Keys, state.Descriptor{Name: "count"})
		return nil
	}
	o.OnTimer = func(tm operator.Timer[string], d operator.TimeDomain) error {
		n, _ := f.count.Value()
		out.Collect(fmt.Sprintf("%s %s n=%d", d, tm.Key(), n), tm.At())
		return nil
	}
	return o, nil
}

// TestKeyedProcessTimersRescale runs a keyed process operator with state and timers of both
// domains in one subtask, snapshots it, and restores the snapshot into two subtasks that split
// its key groups: together they fire the timers the one would have.
func TestKeyedProcessTimersRescale(t *testing.T) {
	const maxPar = 8
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	feed := func(hs []*operatortest.Harness[string], from, to int) {
		for i := from; i < to; i++ {
			k := keys[i%len(keys)]
			kg := keygroup.Of(snapHash(k), maxPar)
			h := hs[keygroup.Subtask(kg, maxPar, len(hs))]
			operatortest.Process(h, snapEv{k, i, int64(10 * i)}, int64(10*i))
		}
	}
	advance := func(hs []*operatortest.Harness[string], ms int64, wm int64) {
		hs[0].Clock.Advance(time.Duration(ms) * time.Millisecond)
		for _, h := range hs {
			h.FireProcessingTimers()
			h.Watermark(wm)
		}
	}
	all := func(hs []*operatortest.Harness[string]) []string {
		var out []string
		for _, h := range hs {
			out = append(out, h.Out.Strings()...)
		}
		slices.Sort(out)
		return out
	}
	// The uninterrupted run.
	orig := []*operatortest.Harness[string]{operatortest.New(t, operatortest.Options{MaxParallelism: maxPar}, keyedTimerFactory)}
	feed(orig, 0, 20)
	advance(orig, 1, 95)
	feed(orig, 20, 40)
	advance(orig, 1, eventtime.MaxTime)

	one := []*operatortest.Harness[string]{operatortest.New(t, operatortest.Options{MaxParallelism: maxPar}, keyedTimerFactory)}
	feed(one, 0, 20)
	snap := one[0].Snapshot(1)
	if len(snap.KeyGroups) == 0 {
		t.Fatal("empty snapshot")
	}
	clock := one[0].Clock
	var two []*operatortest.Harness[string]
	for i := range 2 {
		two = append(two, operatortest.New(t, operatortest.Options{Subtask: i, Parallelism: 2, MaxParallelism: maxPar,
			Clock: clock, Restore: snap}, keyedTimerFactory))
	}
	advance(two, 1, 95)
	feed(two, 20, 40)
	advance(two, 1, eventtime.MaxTime)
	want := all(orig)
	if len(want) < 40 {
		t.Fatalf("the uninterrupted run fired %d timers: %v", len(want), want)
	}
	if got := all(two); !slices.Equal(got, want) {
		t.Fatalf("rescaled subtasks emitted\n%v\nwant\n%v", got, want)
	}
}

// TestIntervalJoinRescale snapshots an interval join at parallelism 2 and restores it at 3:
// the buffered records and their cleanup timers move with their key groups.
func TestIntervalJoinRescale(t *testing.T) {
	const maxPar = 16
	factory := func(c *rt.Context, out rt.Output[string]) (rt.Instance, error) {
		return operator.NewIntervalJoin[snapEv, snapEv, string, string](c, out, -20, 10, snapKey, snapKey,
			func(a, b snapEv) string { return fmt.Sprintf("%s %d-%d", a.Key, a.N, b.N) }, nil)
	}
	steps := snapScript(9)
	run := func(hs []*operatortest.Harness[string], steps []snapStep) {
		for _, s := range steps {
			switch s.kind {
			case 'r':
				kg := keygroup.Of(snapHash(s.ev.Key), maxPar)
				h := hs[keygroup.Subtask(kg, maxPar, len(hs))]
				if s.ev.N%2 == 0 {
					operatortest.Process(h, s.ev, s.ev.TS)
				} else {
					operatortest.Process2(h, s.ev, s.ev.TS)
				}
			case 'w':
				for _, h := range hs {
					h.Watermark(s.at)
				}
			}
		}
	}
	subtasks := func(p int, restore *operatortest.Snapshot) []*operatortest.Harness[string] {
		var hs []*operatortest.Harness[string]
		for i := range p {
			hs = append(hs, operatortest.New(t, operatortest.Options{Subtask: i, Parallelism: p, MaxParallelism: maxPar, Restore: restore}, factory))
		}
		return hs
	}
	all := func(hss ...[]*operatortest.Harness[string]) []string {
		var out []string
		for _, hs := range hss {
			for _, h := range hs {
				out = append(out, h.Out.Strings()...)
			}
		}
		slices.Sort(out)
		return out
	}
	orig := subtasks(2, nil)
	run(orig, steps)
	cut := len(steps) / 2
	before := subtasks(2, nil)
	run(before, steps[:cut])
	var snaps []*operatortest.Snapshot
	for _, h := range before {
		snaps = append(snaps, h.Snapshot(1))
	}
	snap, err := operatortest.Merge(snaps...)
	if err != nil {
		t.Fatal(err)
	}
	after := subtasks(3, snap)
	run(after, steps[cut:])
	want := all(orig)
	if len(want) == 0 {
		t.Fatal("the join emitted nothing")
	}
	if got := all(before, after); !slices.Equal(got, want) {
		t.Fatalf("rescaled join emitted %d results, want %d: %s", len(got), len(want), diffLines(got, want))
	}
}
