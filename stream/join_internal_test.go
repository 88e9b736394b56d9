package stream

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/eventtime"
	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/window"
)

// These white-box tests check that the joins drop their state as soon as the watermark allows:
// a probe between a join and its output looks into the join's state every time the join passes
// a watermark on, from the join's task goroutine.

type joinStateRec struct {
	Key int
	TS  int64
}

// joinStateProbe is the output of one join subtask. check runs on every watermark the join
// passes on, after the join has acted on it.
type joinStateProbe struct {
	rt.Output[int]
	check func(wm int64)
}

func (p *joinStateProbe) Watermark(wm int64) {
	p.check(wm)
	p.Output.Watermark(wm)
}

// probeJoin builds a join of two shuffled keyed inputs with build, wraps every subtask of the
// node named prefix* with a probe calling check(op, wm), runs the job and returns how many
// watermarks were checked.
func probeJoin[OP any](t *testing.T, p int, prefix string, build func(a, b Keyed[joinStateRec, int]) Stream[int], check func(t *testing.T, op OP, wm int64)) int {
	t.Helper()
	var recs []joinStateRec
	for i := range 3000 {
		// Timestamps advance 1ms per record, out of order by up to 9ms.
		recs = append(recs, joinStateRec{Key: i % 7, TS: int64(i - i%10 + (9 - i%10))})
	}
	env := New("join-state", Config{Parallelism: p, WatermarkInterval: -1})
	strategy := eventtime.BoundedOutOfOrderness(10*time.Millisecond, func(r joinStateRec) int64 { return r.TS })
	key := func(r joinStateRec) int { return r.Key }
	build(KeyBy(FromSlice(env, recs, strategy), key), KeyBy(FromSlice(env, recs, strategy), key)).Discard()
	checks := 0
	found := false
	for _, n := range env.g.Nodes {
		if !strings.HasPrefix(n.Name, prefix) {
			continue
		}
		found = true
		orig := n.Operator
		n.Operator = func(c *rt.Context, out any) (rt.Instance, error) {
			probe := &joinStateProbe{Output: out.(rt.Output[int])}
			inst, err := orig(c, probe)
			if err != nil {
				return nil, err
			}
			op := inst.(OP)
			probe.check = func(wm int64) {
				if wm != eventtime.MaxTime {
					checks++ // subtasks of the node run in different goroutines; p=1 keeps this safe
				}
				check(t, op, wm)
			}
			return inst, nil
		}
	}
	if !found {
		t.Fatalf("no node named %s*", prefix)
	}
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	return checks
}

// forOwnedKeys calls f with the current key set to each of keys that subtask b owns.
func forOwnedKeys[K comparable](b *keyed[K], keys []K, f func(k K)) {
	for _, k := range keys {
		g := keygroup.Of(b.hash(k), b.c.MaxParallelism)
		if b.c.KeyGroups.Contains(g) {
			b.keys.Key, b.keys.Group = k, g
			f(k)
		}
	}
}

var joinStateKeys = []int{0, 1, 2, 3, 4, 5, 6}

func TestIntervalJoinDropsStateBehindWatermark(t *testing.T) {
	const lower, upper = -15, 25
	type op = *intervalJoinOp[joinStateRec, joinStateRec, int, int]
	checks := probeJoin(t, 1, "IntervalJoin", func(a, b Keyed[joinStateRec, int]) Stream[int] {
		return IntervalJoin(a, b, lower*time.Millisecond, upper*time.Millisecond, func(x, y joinStateRec) int { return 1 })
	}, func(t *testing.T, o op, wm int64) {
		held := 0
		forOwnedKeys(&o.keyed, joinStateKeys, func(k int) {
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
	type op = *windowJoinOp[joinStateRec, joinStateRec, int, int]
	checks := probeJoin(t, 1, "WindowJoin", func(a, b Keyed[joinStateRec, int]) Stream[int] {
		return WindowJoin(a, b, assigner, func(x, y joinStateRec) int { return 1 })
	}, func(t *testing.T, o op, wm int64) {
		held := 0
		forOwnedKeys(&o.keyed, joinStateKeys, func(k int) {
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
		if _, ok := o.timers.event.earliest(); wm == eventtime.MaxTime && ok {
			t.Error("timers left at the end of input")
		}
	})
	if checks < 5 {
		t.Fatalf("only %d watermarks checked", checks)
	}
}
