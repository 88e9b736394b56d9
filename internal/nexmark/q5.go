package nexmark

import (
	"time"

	"github.com/runnel-io/runnel/connector/nexmark"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/stream"
	"github.com/runnel-io/runnel/window"
)

// Query 5's sliding windows, in milliseconds: 10 s long, one starting every 2 s.
const (
	Q5Size  int64 = 10_000
	Q5Slide int64 = 2_000
)

// Q5 finds the hot items: for every sliding window of 10 s every 2 s, the auctions with the
// most bids in it, as (auction, num). Several auctions tie for the maximum in some windows; all
// of them are emitted, as Flink's join on num >= maxn does. Each result's timestamp is its
// window's last millisecond.
//
// It is written with the window operator: bids keyed by auction are counted in sliding
// windows (an incremental aggregate, so a pane holds a count, not bids), and the counts of
// each window, keyed by its end, meet in a 2 s tumbling window that keeps the largest. Each
// bid updates the five windows it is in.
func Q5(_ *stream.Env, events stream.Stream[nexmark.Event]) stream.Stream[Q5Result] {
	windows := stream.Window(stream.KeyBy(q5Bids(events), identity), window.SlidingEventTime(q5Size, q5Slide))
	counts := stream.WindowAggregateProcess(windows, count(), stream.ProcessWindowFunc[int64, int64, q5Count](
		func(ctx *stream.WindowContext[int64], n []int64, out stream.Collector[q5Count]) error {
			out.Collect(q5Count{end: ctx.Window().End, auction: ctx.Key(), num: n[0]})
			return nil
		})).Name("q5 count per window")
	return q5Hottest(counts)
}

const (
	q5Size  = time.Duration(Q5Size) * time.Millisecond
	q5Slide = time.Duration(Q5Slide) * time.Millisecond
)

// q5Bids returns the auction of every bid, with the bid's time.
func q5Bids(events stream.Stream[nexmark.Event]) stream.Stream[int64] {
	return stream.FlatMap(events, func(e nexmark.Event, out stream.Collector[int64]) error {
		if e.Bid != nil {
			out.Collect(e.Bid.Auction)
		}
		return nil
	}).Name("q5 bids")
}

// count counts records.
func count() state.AggregateFunction[int64, int64, int64] {
	return state.AggregateFunction[int64, int64, int64]{
		Create: func() int64 { return 0 },
		Add:    func(n, _ int64) int64 { return n + 1 },
		Result: func(n int64) int64 { return n },
		Merge:  func(a, b int64) int64 { return a + b },
	}
}

// q5Hottest keeps the auctions with the largest count of each window. Counts carry their
// window's last millisecond as timestamp, so those of one window meet in one 2 s tumbling
// window, which fires when the watermark reaches that millisecond.
func q5Hottest(counts stream.Stream[q5Count]) stream.Stream[Q5Result] {
	byEnd := stream.Window(stream.KeyBy(counts, func(c q5Count) int64 { return c.end }), window.TumblingEventTime(q5Slide))
	return stream.WindowProcess(byEnd, stream.ProcessWindowFunc[int64, q5Count, Q5Result](
		func(_ *stream.WindowContext[int64], cs []q5Count, out stream.Collector[Q5Result]) error {
			var top int64
			for _, c := range cs {
				top = max(top, c.num)
			}
			for _, c := range cs {
				if c.num == top {
					out.Collect(Q5Result{Auction: c.auction, Num: c.num})
				}
			}
			return nil
		})).Name("q5 max per window")
}

func identity(v int64) int64 { return v }

// q5Count is the number of bids on an auction in the window ending at end.
type q5Count struct {
	end, auction, num int64
}
