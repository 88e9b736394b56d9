package nexmark

import (
	"time"

	"github.com/runnel-io/runnel/connector/nexmark"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/stream"
	"github.com/runnel-io/runnel/window"
)

// Q7Size is the length of query 7's tumbling windows in milliseconds.
const Q7Size int64 = 10_000

// Q7 finds the highest bids of every 10 s tumbling window: the bids whose price equals the
// highest price of the window. As in Flink's SQL, where a bid qualifies when its dateTime is
// BETWEEN window_end - 10 s AND window_end, a bid placed exactly at a window's end also counts
// for that window (and for its own), so it is emitted twice if its price is the maximum of
// both. Each result's timestamp is the end of its window.
//
// The first stage is the window operator: the bids of each window, spread over q7Shards keys
// so that all subtasks share a window's work, are folded into the highest price and the bids
// that have it. The second stage, keyed by window end, takes those candidates and the bids
// placed exactly at the end, and emits the ones at the window's highest price when the
// watermark passes the end. (A window cannot hold the boundary bids itself: they belong to the
// next window, and could arrive after this one fired.) Both stages keep a few bids per window,
// whatever the number of bids.
func Q7(_ *stream.Env, events stream.Stream[nexmark.Event]) stream.Stream[Q7Result] {
	bids := stream.FlatMap(events, func(e nexmark.Event, out stream.Collector[*nexmark.Bid]) error {
		if e.Bid != nil {
			out.Collect(e.Bid)
		}
		return nil
	}).Name("q7 bids")
	shards := stream.Window(stream.KeyBy(bids, q7Shard), window.TumblingEventTime(time.Duration(Q7Size)*time.Millisecond))
	best := stream.WindowAggregateProcess(shards, highest(), stream.ProcessWindowFunc[int64, q7Top, q7Bid](
		func(ctx *stream.WindowContext[int64], tops []q7Top, out stream.Collector[q7Bid]) error {
			for _, b := range tops[0].best {
				out.Collect(q7Bid{end: ctx.Window().End, bid: b.bid})
			}
			return nil
		})).Name("q7 highest per shard")
	boundary := stream.FlatMap(bids, func(b *nexmark.Bid, out stream.Collector[q7Bid]) error {
		if b.DateTime%Q7Size == 0 {
			out.Collect(q7Bid{end: b.DateTime, bid: b, boundary: true})
		}
		return nil
	}).Name("q7 bids at window ends")
	byWindow := stream.KeyBy(best.Union(boundary), func(b q7Bid) int64 { return b.end })
	return stream.KeyedProcess[q7Bid, int64, Q7Result](byWindow, &q7Window{}).Name("q7 highest per window")
}

// q7Shards spreads one window's bids over this many keys in the first stage.
const q7Shards = 16

// q7Shard picks a bid's shard from its time.
func q7Shard(b *nexmark.Bid) int64 { return (b.DateTime%q7Shards + q7Shards) % q7Shards }

// q7Bid is a bid that is a candidate for the window ending at end. A boundary bid was placed at
// end exactly: it does not count for the window's maximum, but is emitted if it matches it.
type q7Bid struct {
	end      int64
	bid      *nexmark.Bid
	boundary bool
}

// highest folds bids into the highest price and the bids that have it.
func highest() state.AggregateFunction[*nexmark.Bid, q7Top, q7Top] {
	return state.AggregateFunction[*nexmark.Bid, q7Top, q7Top]{
		Create: func() q7Top { return q7Top{} },
		Add: func(t q7Top, b *nexmark.Bid) q7Top {
			t.add(q7Bid{bid: b})
			return t
		},
		Result: func(t q7Top) q7Top { return t },
	}
}

// q7Top is the highest price of a window's bids seen under one key and the bids that have it.
type q7Top struct {
	max      int64
	any      bool    // max holds a bid's price
	best     []q7Bid // non-boundary bids at max
	boundary []q7Bid // boundary bids
}

// add accounts for a candidate and reports whether t changed.
func (t *q7Top) add(b q7Bid) bool {
	price := b.bid.Price
	switch {
	case b.boundary:
		t.boundary = append(t.boundary, b)
	case !t.any || price > t.max:
		t.max, t.any = price, true
		t.best = append(t.best[:0], b)
	case price == t.max:
		t.best = append(t.best, b)
	default:
		return false
	}
	return true
}

// q7Window is the second stage: per window end, the highest of the candidates, and at the end
// itself (not end-1, as bids placed at the end count too) the results.
type q7Window struct {
	top state.Value[q7Top]
}

func (w *q7Window) Open(rc *stream.KeyedRuntime[int64]) error {
	w.top = stream.NewValueState[q7Top](rc, state.Descriptor{Name: "highest"})
	return nil
}

func (w *q7Window) ProcessElement(ctx *stream.KeyedContext[int64], b q7Bid, _ stream.Collector[Q7Result]) error {
	t, ok := w.top.Value()
	if !ok {
		ctx.RegisterEventTimeTimer(b.end)
	}
	if t.add(b) || !ok {
		w.top.Update(t)
	}
	return nil
}

func (w *q7Window) OnTimer(_ *stream.KeyedContext[int64], _ int64, out stream.Collector[Q7Result]) error {
	t, _ := w.top.Value()
	w.top.Clear()
	if !t.any {
		return nil // only boundary bids: the window itself had none
	}
	for _, list := range [][]q7Bid{t.best, t.boundary} {
		for _, c := range list {
			if b := c.bid; b.Price == t.max {
				out.Collect(Q7Result{Auction: b.Auction, Bidder: b.Bidder, Price: b.Price, DateTime: b.DateTime, Extra: b.Extra})
			}
		}
	}
	return nil
}
