package operator_test

import (
	"fmt"
	"testing"
	"time"

	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/operator"
	"github.com/runnel-io/runnel/operator/operatortest"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/window"
)

// discardGroups is a state.GroupWriter that keeps nothing.
type discardGroups struct{ n int }

func (d *discardGroups) WriteGroup(_ int, b []byte) error { d.n += len(b); return nil }

// BenchmarkWindowSnapshot snapshots a window operator subtask holding q5's state: bids counted
// per auction in sliding windows of 10 s every 2 s, so five panes per key. "pause" is the
// synchronous part (SnapshotState, on the task goroutine), "total" adds writing the snapshot
// out (what the runtime does in the background). ns/op is per snapshot.
func BenchmarkWindowSnapshot(b *testing.B) {
	type bid struct{ Auction, TS int64 }
	for _, keys := range []int{10_000, 100_000} {
		cfg, err := operator.NewWindowConfig(window.SlidingEventTime(10*time.Second, 2*time.Second), nil, 0, "", nil)
		if err != nil {
			b.Fatal(err)
		}
		h := operatortest.New(b, operatortest.Options{}, func(c *rt.Context, out rt.Output[int64]) (rt.Instance, error) {
			p := operator.AggregatePanes[bid, int64](state.AggregateFunction[bid, int64, int64]{
				Create: func() int64 { return 0 },
				Add:    func(a int64, _ bid) int64 { return a + 1 },
				Result: func(a int64) int64 { return a },
				Merge:  func(a, b int64) int64 { return a + b },
			})
			p.Emit = func(_ int64, w window.Window, acc int64) error { out.Collect(acc, w.MaxTimestamp()); return nil }
			return operator.NewWindow[bid, int64, int64, int64](c, out, func(x bid) int64 { return x.Auction }, cfg, p)
		})
		const t0 = 1_767_225_600_000
		for i := range 10 * keys { // ten bids per key over 10 s: five panes each
			ts := t0 + int64(i)*10_000/int64(10*keys)
			operatortest.Process(h, bid{Auction: int64(i % keys), TS: ts}, ts)
		}
		sn := h.Op.(rt.Snapshotter)
		for _, mode := range []string{"pause", "total"} {
			b.Run(fmt.Sprintf("keys=%d/%s", keys, mode), func(b *testing.B) {
				var d discardGroups
				for i := range b.N {
					s, err := sn.SnapshotState(int64(i + 1))
					if err != nil {
						b.Fatal(err)
					}
					if mode == "pause" {
						b.StopTimer()
					}
					if err := s.Keyed.WriteGroups(&d); err != nil {
						b.Fatal(err)
					}
					if mode == "pause" {
						b.StartTimer()
					}
				}
				b.ReportMetric(float64(d.n)/float64(b.N), "bytes/op")
			})
		}
	}
}
