package nexmark

import (
	"cmp"
	"slices"

	"github.com/runnel-io/runnel/connector/nexmark"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/stream"
)

// Q4Retention is how long, in event time, query 4 remembers a closed auction after it expired,
// so that bids placed after its expiry are dropped at once instead of waiting in state as bids
// on an auction not seen yet. It only saves work: results do not depend on it.
const Q4Retention int64 = 10_000

// Q4 computes the average winning price per category. An auction's winning price is its
// highest bid placed between its opening and its expiry, both included (B.dateTime BETWEEN
// A.dateTime AND A.expires); auctions without such a bid do not count. The query emits the
// category's new average every time one of its auctions closes, so the last result per
// category is the answer over the whole input.
//
// Flink's SQL query is an updating join; this is its event-time form, a KeyedCoProcess over
// auctions and bids keyed by auction id. The auction's state keeps the highest bid in its
// range, and an event-time timer at its expiry, which fires once every bid up to that time has
// been seen, emits the winning price and closes it. Bids that arrive before their auction wait in state
// until the watermark passes their own time: from then on their auction, which cannot open
// after them, could only be late. A second keyed stage keeps sum and count per category.
func Q4(_ *stream.Env, events stream.Stream[nexmark.Event]) stream.Stream[Q4Result] {
	auctions := stream.FlatMap(events, func(e nexmark.Event, out stream.Collector[*nexmark.Auction]) error {
		if e.Auction != nil {
			out.Collect(e.Auction)
		}
		return nil
	}).Name("q4 auctions")
	bids := stream.FlatMap(events, func(e nexmark.Event, out stream.Collector[q4Bid]) error {
		if e.Bid != nil {
			out.Collect(q4Bid{auction: e.Bid.Auction, price: e.Bid.Price})
		}
		return nil
	}).Name("q4 bids")
	joined := stream.ConnectKeyed(stream.KeyBy(auctions, auctionID), stream.KeyBy(bids, func(b q4Bid) int64 { return b.auction }))
	winners := stream.KeyedCoProcess[*nexmark.Auction, q4Bid, int64, q4Winner](joined, &q4Close{}).Name("q4 winning bids")
	byCategory := stream.KeyBy(winners, func(w q4Winner) int64 { return w.category })
	return stream.KeyedProcess[q4Winner, int64, Q4Result](byCategory, &q4Average{}).Name("q4 average")
}

func auctionID(a *nexmark.Auction) int64 { return a.ID }

// q4Bid is a bid's auction and price; its time is the record's timestamp.
type q4Bid struct {
	auction, price int64
}

// q4Winner is the winning price of one closed auction.
type q4Winner struct {
	category, price int64
}

// q4State is what query 4 knows of one auction id: the auction once it has opened, and until
// then the bids that came before it.
type q4State struct {
	opens, expires, category int64
	max                      int64
	bids                     bool // max holds a bid
	known                    bool // the auction has been seen
	closed                   bool // the auction has expired and its winner is out
	// early holds the bids that came before the auction, in arrival order, and earlyTimer the
	// time of the timer set for the oldest of them.
	early      []q4Early
	earlyTimer int64
}

// q4Early is a bid waiting for its auction.
type q4Early struct {
	at, price int64
}

type q4Close struct {
	state state.Value[q4State]
}

func (q *q4Close) Open(rc *stream.KeyedRuntime[int64]) error {
	q.state = stream.NewValueState[q4State](rc, state.Descriptor{Name: "auction"})
	return nil
}

// ProcessElement1 handles an auction: it takes the bids that came early and sets the timer
// of its expiry.
func (q *q4Close) ProcessElement1(ctx *stream.KeyedContext[int64], a *nexmark.Auction, _ stream.Collector[q4Winner]) error {
	s, _ := q.state.Value()
	if s.known {
		return nil // a second auction with the same id: the generator never makes one
	}
	s.known, s.opens, s.expires, s.category = true, a.DateTime, a.Expires, a.Category
	if len(s.early) > 0 {
		for _, b := range s.early {
			s.bid(b.at, b.price)
		}
		s.early = nil
		ctx.DeleteEventTimeTimer(s.earlyTimer)
	}
	q.state.Update(s)
	ctx.RegisterEventTimeTimer(s.expires)
	return nil
}

// ProcessElement2 handles a bid.
func (q *q4Close) ProcessElement2(ctx *stream.KeyedContext[int64], b q4Bid, _ stream.Collector[q4Winner]) error {
	at := ctx.Timestamp()
	s, _ := q.state.Value()
	switch {
	case !s.known:
		// Wait for the auction until the watermark passes this bid.
		if len(s.early) == 0 || at < s.earlyTimer {
			if len(s.early) > 0 {
				ctx.DeleteEventTimeTimer(s.earlyTimer)
			}
			s.earlyTimer = at
			ctx.RegisterEventTimeTimer(at)
		}
		s.early = append(s.early, q4Early{at: at, price: b.price})
	case s.closed || !s.bid(at, b.price):
		return nil
	}
	q.state.Update(s)
	return nil
}

// bid accounts for a bid at time at and reports whether the state changed.
func (s *q4State) bid(at, price int64) bool {
	if at < s.opens || at > s.expires || (s.bids && price <= s.max) {
		return false
	}
	s.max, s.bids = price, true
	return true
}

func (q *q4Close) OnTimer(ctx *stream.KeyedContext[int64], at int64, out stream.Collector[q4Winner]) error {
	s, ok := q.state.Value()
	switch {
	case !ok:
	case !s.known:
		// Early bids the watermark has passed can no longer meet their auction, which cannot
		// open after them without being late.
		s.early = slices.DeleteFunc(s.early, func(b q4Early) bool { return b.at <= at })
		if len(s.early) == 0 {
			q.state.Clear()
			return nil
		}
		s.earlyTimer = slices.MinFunc(s.early, func(a, b q4Early) int { return cmp.Compare(a.at, b.at) }).at
		ctx.RegisterEventTimeTimer(s.earlyTimer)
		q.state.Update(s)
	case !s.closed && at >= s.expires:
		if s.bids {
			out.Collect(q4Winner{category: s.category, price: s.max})
		}
		s.closed = true
		q.state.Update(s)
		ctx.RegisterEventTimeTimer(s.expires + Q4Retention)
	case s.closed && at >= s.expires+Q4Retention:
		q.state.Clear()
	}
	return nil
}

// q4Average keeps the sum and count of winning prices per category.
type q4Average struct {
	acc state.Value[[2]int64] // sum, count
}

func (q *q4Average) Open(rc *stream.KeyedRuntime[int64]) error {
	q.acc = stream.NewValueState[[2]int64](rc, state.Descriptor{Name: "sum-count"})
	return nil
}

func (q *q4Average) ProcessElement(_ *stream.KeyedContext[int64], w q4Winner, out stream.Collector[Q4Result]) error {
	acc, _ := q.acc.Value()
	acc[0] += w.price
	acc[1]++
	q.acc.Update(acc)
	out.Collect(Q4Result{Category: w.category, Avg: acc[0] / acc[1]})
	return nil
}
