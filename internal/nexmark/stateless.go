package nexmark

import (
	"github.com/runnel-io/runnel/connector/nexmark"
	"github.com/runnel-io/runnel/stream"
)

// Q0 passes every bid through (SELECT auction, bidder, price, dateTime, extra FROM bid). It
// measures the cost of the source and the engine.
func Q0(_ *stream.Env, events stream.Stream[nexmark.Event]) stream.Stream[Q0Result] {
	return stream.FlatMap(events, func(e nexmark.Event, out stream.Collector[Q0Result]) error {
		if b := e.Bid; b != nil {
			out.Collect(Q0Result{Auction: b.Auction, Bidder: b.Bidder, Price: b.Price, DateTime: b.DateTime, Extra: b.Extra})
		}
		return nil
	}).Name("q0")
}

// q1Rate is 0.908 in thousandths: the dollar to euro rate of Nexmark's query 1.
const q1Rate = 908

// Q1 converts every bid's price from dollars to euros (0.908 * price). Flink computes a
// DECIMAL(23, 3), so the result is exact: Q1Result.Price is a Decimal, price × 908 thousandths.
func Q1(_ *stream.Env, events stream.Stream[nexmark.Event]) stream.Stream[Q1Result] {
	return stream.FlatMap(events, func(e nexmark.Event, out stream.Collector[Q1Result]) error {
		if b := e.Bid; b != nil {
			out.Collect(Q1Result{Auction: b.Auction, Bidder: b.Bidder, Price: Decimal(b.Price * q1Rate), DateTime: b.DateTime, Extra: b.Extra})
		}
		return nil
	}).Name("q1")
}

// Q2Modulus selects the auctions of query 2: those whose id is a multiple of it.
const Q2Modulus = 123

// Q2 selects the bids on every 123rd auction (WHERE MOD(auction, 123) = 0) and returns their
// auction and price.
func Q2(_ *stream.Env, events stream.Stream[nexmark.Event]) stream.Stream[Q2Result] {
	return stream.FlatMap(events, func(e nexmark.Event, out stream.Collector[Q2Result]) error {
		if b := e.Bid; b != nil && b.Auction%Q2Modulus == 0 {
			out.Collect(Q2Result{Auction: b.Auction, Price: b.Price})
		}
		return nil
	}).Name("q2")
}
