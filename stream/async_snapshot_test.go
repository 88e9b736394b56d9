package stream

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/eventtime"
	rt "github.com/runnel-io/runnel/internal/runtime"
)

// These white-box tests take snapshots of the async operator in the middle of a job, on its
// task goroutine as the runtime does at a barrier: every call in flight must have finished
// and its result gone out, in the operator's order, before SnapshotState returns, and the
// snapshot is empty.

// asyncSnapProbe is the async operator's output: it records what the operator emits.
type asyncSnapProbe struct {
	rt.Output[int64]
	got    []int64
	lastWM int64
}

func (p *asyncSnapProbe) Collect(v int64, ts int64) {
	p.got = append(p.got, v)
	p.Output.Collect(v, ts)
}

func (p *asyncSnapProbe) Watermark(wm int64) {
	p.lastWM = wm
	p.Output.Watermark(wm)
}

// asyncSnapInput feeds the async operator and snapshots it after every few records.
type asyncSnapInput struct {
	*asyncOp[int64, int64]
	probe *asyncSnapProbe
	in    []int64
	every int
	snaps *int
}

func (w *asyncSnapInput) Collect(v int64, ts int64) {
	w.asyncOp.Collect(v, ts)
	w.in = append(w.in, v)
	if len(w.in)%w.every != 0 {
		return
	}
	if w.waiting == 0 {
		return // nothing in flight: this snapshot would prove nothing
	}
	*w.snaps++
	snap, err := w.SnapshotState(int64(len(w.in)))
	if err != nil {
		w.c.Fail(v, err)
	}
	if snap.Keyed != nil || snap.Operator != nil || snap.Committables != nil {
		w.c.Fail(v, fmt.Errorf("snapshot %+v is not empty", snap))
	}
	if w.waiting != 0 || w.inFlight != 0 {
		w.c.Fail(v, fmt.Errorf("after the snapshot %d records wait, %d calls are in flight", w.waiting, w.inFlight))
	}
	if w.outWM != w.wm {
		w.c.Fail(v, fmt.Errorf("after the snapshot the output watermark is %d, the input's %d", w.outWM, w.wm))
	}
	want := make([]int64, len(w.in))
	for i, x := range w.in {
		want[i] = 10 * x
	}
	got := w.probe.got
	if !w.ordered {
		got = slices.Sorted(slices.Values(got))
		slices.Sort(want)
	}
	if !slices.Equal(got, want) {
		w.c.Fail(v, fmt.Errorf("after the snapshot the operator emitted %v for inputs %v", w.probe.got, w.in))
	}
}

func TestAsyncSnapshotDrains(t *testing.T) {
	for _, ordered := range []bool{true, false} {
		t.Run(fmt.Sprintf("ordered=%v", ordered), func(t *testing.T) {
			const n = 600
			vals := make([]int64, n)
			for i := range vals {
				vals[i] = int64(i)
			}
			env := New("async-snapshot", Config{Parallelism: 2, WatermarkInterval: time.Millisecond})
			in := FromSlice(env, vals, eventtime.Monotonous(func(v int64) int64 { return v }))
			fn := AsyncFunc[int64, int64](func(ctx context.Context, v int64) (int64, error) {
				// Later records often finish first.
				time.Sleep(time.Duration(7-v%7) * 100 * time.Microsecond)
				return 10 * v, nil
			})
			var out Stream[int64]
			if ordered {
				out = AsyncOrdered(in, fn, AsyncOptions{Capacity: 16})
			} else {
				out = AsyncUnordered(in, fn, AsyncOptions{Capacity: 16})
			}
			got := Collect(out)
			var mu sync.Mutex
			var snaps []*int
			for _, nd := range env.g.Nodes {
				if !strings.HasPrefix(nd.Name, "Async") {
					continue
				}
				orig := nd.Operator
				nd.Operator = func(c *rt.Context, out any) (rt.Instance, error) {
					probe := &asyncSnapProbe{Output: out.(rt.Output[int64])}
					inst, err := orig(c, probe)
					if err != nil {
						return nil, err
					}
					mu.Lock()
					count := new(int)
					snaps = append(snaps, count)
					mu.Unlock()
					return &asyncSnapInput{asyncOp: inst.(*asyncOp[int64, int64]), probe: probe, every: 37, snaps: count}, nil
				}
			}
			if err := env.Execute(context.Background()); err != nil {
				t.Fatal(err)
			}
			if len(snaps) != 2 {
				t.Fatalf("%d async subtasks, want 2", len(snaps))
			}
			total := 0
			for _, s := range snaps {
				total += *s
			}
			if total < 4 {
				t.Fatalf("only %d snapshots were taken while calls were in flight", total)
			}
			res := got.Values()
			slices.Sort(res)
			for i, v := range res {
				if v != 10*int64(i) {
					t.Fatalf("result %d is %d: results lost or repeated", i, v)
				}
			}
			if len(res) != n {
				t.Fatalf("%d results, want %d", len(res), n)
			}
		})
	}
}
