package nexmark

// Batch versions of the queries: plain loops and maps over the whole input, written from the
// Flink SQL text and sharing no code with the streaming versions. Each returns results with
// the timestamp the streaming version gives them, where that is defined by the query
// (windowed queries), or 0.

import (
	"github.com/runnel-io/runnel/connector/nexmark"
)

type stamped[T any] struct {
	ts int64
	v  T
}

func refQ0(events []nexmark.Event) []stamped[Q0Result] {
	var out []stamped[Q0Result]
	for _, e := range events {
		if e.Type == nexmark.BidEvent {
			b := e.Bid
			out = append(out, stamped[Q0Result]{b.DateTime, Q0Result{b.Auction, b.Bidder, b.Price, b.DateTime, b.Extra}})
		}
	}
	return out
}

func refQ1(events []nexmark.Event) []stamped[Q1Result] {
	var out []stamped[Q1Result]
	for _, e := range events {
		if e.Type == nexmark.BidEvent {
			b := e.Bid
			// 0.908 * price, exact to the thousandth: price * 908 thousandths.
			out = append(out, stamped[Q1Result]{b.DateTime, Q1Result{b.Auction, b.Bidder, Decimal(908 * b.Price), b.DateTime, b.Extra}})
		}
	}
	return out
}

func refQ2(events []nexmark.Event) []stamped[Q2Result] {
	var out []stamped[Q2Result]
	for _, e := range events {
		if e.Type == nexmark.BidEvent && e.Bid.Auction%123 == 0 {
			out = append(out, stamped[Q2Result]{e.Bid.DateTime, Q2Result{e.Bid.Auction, e.Bid.Price}})
		}
	}
	return out
}

// refQ3: SELECT P.name, P.city, P.state, A.id FROM auction A JOIN person P ON A.seller = P.id
// WHERE A.category = 10 AND P.state IN ('OR', 'ID', 'CA').
func refQ3(events []nexmark.Event) []stamped[Q3Result] {
	persons := map[int64]*nexmark.Person{}
	for _, e := range events {
		if e.Type == nexmark.PersonEvent {
			switch e.Person.State {
			case "OR", "ID", "CA":
				persons[e.Person.ID] = e.Person
			}
		}
	}
	var out []stamped[Q3Result]
	for _, e := range events {
		if e.Type != nexmark.AuctionEvent || e.Auction.Category != 10 {
			continue
		}
		if p, ok := persons[e.Auction.Seller]; ok {
			out = append(out, stamped[Q3Result]{0, Q3Result{p.Name, p.City, p.State, e.Auction.ID}})
		}
	}
	return out
}

// refQ4 returns the final average per category: the winning price of an auction is the
// highest price of its bids with dateTime BETWEEN the auction's dateTime AND expires.
func refQ4(events []nexmark.Event) map[int64]int64 {
	auctions := map[int64]*nexmark.Auction{}
	for _, e := range events {
		if e.Type == nexmark.AuctionEvent {
			auctions[e.Auction.ID] = e.Auction
		}
	}
	winning := map[int64]int64{}
	for _, e := range events {
		if e.Type != nexmark.BidEvent {
			continue
		}
		a, ok := auctions[e.Bid.Auction]
		if !ok || e.Bid.DateTime < a.DateTime || e.Bid.DateTime > a.Expires {
			continue
		}
		if w, ok := winning[a.ID]; !ok || e.Bid.Price > w {
			winning[a.ID] = e.Bid.Price
		}
	}
	sum, count := map[int64]int64{}, map[int64]int64{}
	for id, price := range winning {
		c := auctions[id].Category
		sum[c] += price
		count[c]++
	}
	avg := map[int64]int64{}
	for c := range sum {
		avg[c] = sum[c] / count[c]
	}
	return avg
}

// refQ5 counts bids per auction in every 10 s window starting every 2 s and keeps, per
// window, the auctions with the highest count. Results are stamped with the window's end - 1.
func refQ5(events []nexmark.Event) []stamped[Q5Result] {
	const size, slide = 10_000, 2_000
	type windowAuction struct{ end, auction int64 }
	counts := map[windowAuction]int64{}
	for _, e := range events {
		if e.Type != nexmark.BidEvent {
			continue
		}
		ts := e.Bid.DateTime
		// Every window [start, start+size) with start a multiple of slide holding ts.
		for start := ts - ts%slide; start > ts-size; start -= slide {
			counts[windowAuction{start + size, e.Bid.Auction}]++
		}
	}
	maxOf := map[int64]int64{}
	for k, n := range counts {
		maxOf[k.end] = max(maxOf[k.end], n)
	}
	var out []stamped[Q5Result]
	for k, n := range counts {
		if n == maxOf[k.end] {
			out = append(out, stamped[Q5Result]{k.end - 1, Q5Result{k.auction, n}})
		}
	}
	return out
}

// refQ7 joins every bid with the maximum price of each 10 s tumbling window [end-10s, end)
// when its price equals it and its dateTime is BETWEEN end - 10s AND end. Results are
// stamped with the window's end.
func refQ7(events []nexmark.Event) []stamped[Q7Result] {
	const size = 10_000
	maxOf := map[int64]int64{} // by window end
	for _, e := range events {
		if e.Type == nexmark.BidEvent {
			end := e.Bid.DateTime - e.Bid.DateTime%size + size
			if m, ok := maxOf[end]; !ok || e.Bid.Price > m {
				maxOf[end] = e.Bid.Price
			}
		}
	}
	var out []stamped[Q7Result]
	for _, e := range events {
		if e.Type != nexmark.BidEvent {
			continue
		}
		b := e.Bid
		for end, m := range maxOf {
			if b.Price == m && b.DateTime >= end-size && b.DateTime <= end {
				out = append(out, stamped[Q7Result]{end, Q7Result{b.Auction, b.Bidder, b.Price, b.DateTime, b.Extra}})
			}
		}
	}
	return out
}

// refQ8: persons and sellers of auctions in the same 10 s tumbling window, one row per person
// and window. Results are stamped with the window's end - 1.
func refQ8(events []nexmark.Event) []stamped[Q8Result] {
	const size = 10_000
	type sellerWindow struct{ id, start int64 }
	sold := map[sellerWindow]bool{}
	for _, e := range events {
		if e.Type == nexmark.AuctionEvent {
			sold[sellerWindow{e.Auction.Seller, e.Auction.DateTime - e.Auction.DateTime%size}] = true
		}
	}
	seen := map[sellerWindow]bool{}
	var out []stamped[Q8Result]
	for _, e := range events {
		if e.Type != nexmark.PersonEvent {
			continue
		}
		k := sellerWindow{e.Person.ID, e.Person.DateTime - e.Person.DateTime%size}
		if sold[k] && !seen[k] {
			seen[k] = true
			out = append(out, stamped[Q8Result]{k.start + size - 1, Q8Result{e.Person.ID, e.Person.Name, k.start}})
		}
	}
	return out
}
