package operator

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	rt "github.com/runnel-io/runnel/internal/runtime"
)

// These white-box tests take snapshots of the async operator between records, on its task
// goroutine as the runtime does at a barrier: every call in flight must have finished and its
// result gone out, in the operator's order, before SnapshotState returns, and the snapshot is
// empty.

// asyncProbe records what the async operator emits.
type asyncProbe struct {
	rt.Discard[int64]
	got []int64
}

func (p *asyncProbe) Collect(v int64, _ int64) { p.got = append(p.got, v) }

func TestAsyncSnapshotDrains(t *testing.T) {
	for _, ordered := range []bool{true, false} {
		t.Run(fmt.Sprintf("ordered=%v", ordered), func(t *testing.T) {
			s := rt.NewStandalone(rt.StandaloneOptions{Name: "async"})
			defer s.Close()
			probe := &asyncProbe{}
			invoke := func(ctx context.Context, v int64) (int64, error) {
				// Later records often finish first.
				time.Sleep(time.Duration(7-v%7) * 100 * time.Microsecond)
				return 10 * v, nil
			}
			o := NewAsync[int64, int64](s.C, probe, AsyncConfig{Capacity: 16, Timeout: time.Minute, PollInterval: time.Millisecond, Ordered: ordered}, invoke, nil)
			if err := o.Open(); err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			const n, every = 600, 37
			snaps := 0
			var in []int64
			for v := range int64(n) {
				o.Collect(v, v)
				in = append(in, v)
				if v%10 == 9 {
					o.Watermark(v)
				}
				if len(in)%every != 0 || o.waiting == 0 {
					continue // nothing in flight: this snapshot would prove nothing
				}
				snaps++
				snap, err := o.SnapshotState(int64(len(in)))
				if err != nil {
					t.Fatal(err)
				}
				if snap.Keyed != nil || snap.Operator != nil || snap.Committables != nil {
					t.Fatalf("snapshot %+v is not empty", snap)
				}
				if o.waiting != 0 || o.inFlight != 0 {
					t.Fatalf("after the snapshot %d records wait, %d calls are in flight", o.waiting, o.inFlight)
				}
				if o.outWM != o.wm {
					t.Fatalf("after the snapshot the output watermark is %d, the input's %d", o.outWM, o.wm)
				}
				want := make([]int64, len(in))
				for i, x := range in {
					want[i] = 10 * x
				}
				got := probe.got
				if !ordered {
					got = slices.Sorted(slices.Values(got))
				}
				if !slices.Equal(got, want) {
					t.Fatalf("after the snapshot the operator emitted %v for inputs %v", probe.got, in)
				}
			}
			o.Finish()
			if snaps < 4 {
				t.Fatalf("only %d snapshots were taken while calls were in flight", snaps)
			}
			res := slices.Sorted(slices.Values(probe.got))
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
