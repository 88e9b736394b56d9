package operator

import (
	"testing"
	"time"

	"github.com/runnel-io/runnel/eventtime"
	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/window"
)

// These white-box tests check that the joins drop their state as soon as the watermark allows:
// after every watermark the join is given, the test looks into the join's state.

type joinStateRec struct {
	Key int
	TS  int64
}

// driveJoin feeds both inputs of a join the same records (timestamps advancing 1 ms per
// record, out of order by up to 9 ms) with watermarks 10 ms behind, then the end of input, and
// calls check after every watermark. It returns how many watermarks were checked.
func driveJoin(t *testing.T, op rt.Instance, check func(wm int64)) int {
	t.Helper()
	if err := op.Open(); err != nil {
		t.Fatal(err)
	}
	in := op.(rt.Inputs)
	a, b := in.Input(0).(rt.Output[joinStateRec]), in.Input(1).(rt.Output[joinStateRec])
	checks := 0
	wm := eventtime.MinTime
	for i := range 3000 {
		r := joinStateRec{Key: i % 7, TS: int64(i - i%10 + (9 - i%10))}
		a.Collect(r, r.TS)
		b.Collect(r, r.TS)
		if i%50 == 49 && int64(i)-10 > wm {
			wm = int64(i) - 10
			op.Watermark(wm)
			check(wm)
			checks++
		}
	}
	op.Watermark(eventtime.MaxTime)
	check(eventtime.MaxTime)
	return checks
}

// forOwnedKeys calls f with the current key set to each of keys that subtask b owns.
func forOwnedKeys[K comparable](b *Keyed[K], keys []K, f func(k K)) {
	for _, k := range keys {
		g := keygroup.Of(b.Hash(k), b.C.MaxParallelism)
		if b.C.KeyGroups.Contains(g) {
			b.Keys.Key, b.Keys.Group = k, g
			f(k)
		}
	}
}

var joinStateKeys = []int{0, 1, 2, 3, 4, 5, 6}

func joinKey(r joinStateRec) int { return r.Key }

func TestIntervalJoinDropsStateBehindWatermark(t *testing.T) {
	const lower, upper = -15, 25
	s := rt.NewStandalone(rt.StandaloneOptions{Name: "IntervalJoin"})
	defer s.Close()
	o, err := NewIntervalJoin[joinStateRec, joinStateRec, int, int](s.C, rt.Discard[int]{}, lower, upper, joinKey, joinKey,
		func(x, y joinStateRec) int { return 1 }, nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := driveJoin(t, o, func(wm int64) {
		held := 0
		forOwnedKeys(&o.Keyed, joinStateKeys, func(k int) {
			for ts := range o.left.All() {
				held++
				if ts+upper <= wm {
					t.Errorf("watermark %d: a-records of key %d at %d are still buffered", wm, k, ts)
				}
			}
			for ts := range o.right.All() {
				held++
				if ts-lower <= wm {
					t.Errorf("watermark %d: b-records of key %d at %d are still buffered", wm, k, ts)
				}
			}
		})
		if wm == eventtime.MaxTime && held != 0 {
			t.Errorf("%d timestamps still buffered at the end of input", held)
		}
	})
	if checks < 5 {
		t.Fatalf("only %d watermarks checked", checks)
	}
}

func TestWindowJoinDropsFiredPanes(t *testing.T) {
	assigner := window.SlidingEventTime(30*time.Millisecond, 10*time.Millisecond)
	s := rt.NewStandalone(rt.StandaloneOptions{Name: "WindowJoin"})
	defer s.Close()
	o, err := NewWindowJoin[joinStateRec, joinStateRec, int, int](s.C, rt.Discard[int]{}, assigner, joinKey, joinKey,
		func(x, y joinStateRec) int { return 1 }, nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := driveJoin(t, o, func(wm int64) {
		held := 0
		forOwnedKeys(&o.Keyed, joinStateKeys, func(k int) {
			for w := range o.panes.All() {
				held++
				if w.MaxTimestamp() <= wm {
					t.Errorf("watermark %d: pane %v of key %d was not fired and dropped", wm, w, k)
				}
			}
		})
		if wm == eventtime.MaxTime && held != 0 {
			t.Errorf("%d panes left at the end of input", held)
		}
		if _, ok := o.Timers.event.earliest(); wm == eventtime.MaxTime && ok {
			t.Error("timers left at the end of input")
		}
	})
	if checks < 5 {
		t.Fatalf("only %d watermarks checked", checks)
	}
}
