package stream_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connector/datagen"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/stream"
	"github.com/runnel-io/runnel/window"
)

// bid is a Nexmark-like bid: the auction, the price and the event time.
type bid struct {
	Auction, Price, Time int64
}

// genBid makes bid n like Nexmark's default stream: 10,000 events per second of event time,
// three new auctions every 50 events, half the bids on the hot auction and the rest spread
// over the 100 newest auctions.
func genBid(n int64) bid {
	h := uint64(n)*0x9e3779b97f4a7c15 + 0x632be59bd9b4e019
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 32
	newest := n * 3 / 50
	auction := newest / 100 * 100 // the hot auction
	if h&1 == 0 {
		auction = max(newest-int64(h>>1%100), 0)
	}
	return bid{Auction: auction, Price: int64(h>>8) % 100_000, Time: 1_767_225_600_000 + n/10}
}

var countBids = state.AggregateFunction[bid, int64, int64]{
	Create: func() int64 { return 0 },
	Add:    func(acc int64, _ bid) int64 { return acc + 1 },
	Result: func(acc int64) int64 { return acc },
	Merge:  func(a, b int64) int64 { return a + b },
}

// BenchmarkWindowAggregate runs b.N Nexmark-like bids through a whole job (generator source,
// key exchange, window operator, discarding sink) at parallelism 1 and 2, with the default
// watermark interval (200ms): "sliding" counts bids per auction in sliding windows of 10s
// every 2s (Nexmark q5's window), "tumbling" keeps the highest bid per auction in tumbling 10s
// windows (q7's window, keyed), "keyBy" is the same job without the window operator. ns/op and
// allocs/op are per record; records/cpu-s divides the records by the CPU time of the whole
// process (every goroutine, GC included).
func BenchmarkWindowAggregate(b *testing.B) {
	for _, bc := range []struct {
		name  string
		build func(k stream.Keyed[bid, int64])
	}{
		{"keyBy", func(k stream.Keyed[bid, int64]) { k.Stream().Discard() }},
		{"tumbling", func(k stream.Keyed[bid, int64]) {
			w := stream.Window(k, window.TumblingEventTime(10*time.Second))
			stream.WindowReduce(w, func(a, b bid) bid {
				if b.Price > a.Price {
					return b
				}
				return a
			}).Discard()
		}},
		{"sliding", func(k stream.Keyed[bid, int64]) {
			w := stream.Window(k, window.SlidingEventTime(10*time.Second, 2*time.Second))
			stream.WindowAggregate(w, countBids).Discard()
		}},
	} {
		for _, p := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/p=%d", bc.name, p), func(b *testing.B) {
				env := stream.New("bench", stream.Config{Parallelism: p})
				src, err := datagen.New(genBid, datagen.Config{Count: int64(b.N)})
				if err != nil {
					b.Fatal(err)
				}
				bids := stream.FromSource(env, src, eventtime.BoundedOutOfOrderness(0, func(x bid) int64 { return x.Time }))
				bc.build(stream.KeyBy(bids, func(x bid) int64 { return x.Auction }))
				b.ReportAllocs()
				cpu0 := cpuTime()
				b.ResetTimer()
				if err := env.Execute(context.Background()); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
				if cpu := cpuTime() - cpu0; cpu > 0 {
					b.ReportMetric(float64(b.N)/cpu.Seconds(), "records/cpu-s")
				}
			})
		}
	}
}
