package nexmark

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connector/nexmark"
	"github.com/runnel-io/runnel/stream"
)

// Hand-made inputs for the corner cases of each query's semantics. Events are listed in the
// order the source emits them, which may differ from time order by less than the watermark
// delay; each case checks the exact expected results and the batch reference.

func person(id int64, name, st string, ts int64) nexmark.Event {
	return nexmark.Event{Type: nexmark.PersonEvent, Person: &nexmark.Person{ID: id, Name: name, City: "Boise", State: st, DateTime: ts}}
}

func auction(id, seller, category, ts, expires int64) nexmark.Event {
	return nexmark.Event{Type: nexmark.AuctionEvent, Auction: &nexmark.Auction{ID: id, Seller: seller, Category: category, DateTime: ts, Expires: expires}}
}

func bid(auction, price, ts int64) nexmark.Event {
	return nexmark.Event{Type: nexmark.BidEvent, Bid: &nexmark.Bid{Auction: auction, Bidder: 7, Price: price, DateTime: ts, Extra: "x"}}
}

// runSlice runs q over events at parallelism p with a watermark delay of one second.
func runSlice[T any](t *testing.T, q func(*stream.Env, stream.Stream[nexmark.Event]) stream.Stream[T], events []nexmark.Event, p int) []stamped[T] {
	t.Helper()
	env := stream.New("edge", stream.Config{Parallelism: p, WatermarkInterval: -1})
	out := stream.Collect(q(env, stream.FromSlice(env, events, watermarks(time.Second))))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := env.Execute(ctx); err != nil {
		t.Fatal(err)
	}
	vals, ts := out.Values(), out.Timestamps()
	rs := make([]stamped[T], len(vals))
	for i := range vals {
		rs[i] = stamped[T]{ts[i], vals[i]}
	}
	return rs
}

func checkEdge[T any](t *testing.T, q func(*stream.Env, stream.Stream[nexmark.Event]) stream.Stream[T], ref func([]nexmark.Event) []stamped[T], events []nexmark.Event, withTS bool, want []stamped[T]) {
	t.Helper()
	w := render(want, withTS)
	if r := render(ref(events), withTS); !slices.Equal(r, w) {
		t.Fatalf("the reference disagrees with the expected results:\n got  %q\n want %q", r, w)
	}
	for _, p := range []int{1, 2} {
		t.Run(fmt.Sprintf("p%d", p), func(t *testing.T) {
			diff(t, render(runSlice(t, q, events, p), withTS), w)
		})
	}
}

func TestQ3Edges(t *testing.T) {
	events := []nexmark.Event{
		auction(100, 1, 10, 1000, 9000), // before its seller: waits
		person(1, "ann", "OR", 1100),
		auction(101, 1, 10, 1200, 9000), // after its seller
		auction(102, 1, 11, 1300, 9000), // other category
		person(2, "bob", "WA", 1400),    // other state
		auction(103, 2, 10, 1500, 9000),
		auction(104, 3, 10, 1600, 9000), // seller never seen
	}
	checkEdge(t, Q3, refQ3, events, false, []stamped[Q3Result]{
		{0, Q3Result{"ann", "Boise", "OR", 100}},
		{0, Q3Result{"ann", "Boise", "OR", 101}},
	})
}

func TestQ4Edges(t *testing.T) {
	events := []nexmark.Event{
		bid(1, 500, 999), // before the auction opens, and before it in the stream
		auction(1, 9, 10, 1000, 2000),
		bid(1, 10, 1000), // at the opening: counts
		bid(2, 40, 1600), // before its auction in the stream, after its opening in time
		auction(2, 9, 10, 1500, 5000),
		bid(1, 20, 2000),              // at the expiry: counts
		bid(1, 1000, 2001),            // after the expiry
		auction(3, 9, 11, 2100, 3000), // no bids: no winner
		bid(99, 70, 2200),             // an auction never seen
		bid(2, 30, 4000),              // lower than the best
	}
	// Auction 1 closes at 2000 with 20, auction 2 at 5000 with 40: the final average is 30.
	// Both may close at the final watermark, on different subtasks, so the order of the two
	// updates is not fixed.
	for _, p := range []int{1, 2} {
		rs := runSlice(t, Q4, events, p)
		if len(rs) != 2 || rs[1].v != (Q4Result{10, 30}) {
			t.Errorf("p%d: got %v, want two updates of category 10 ending with an average of 30", p, rs)
		}
	}
	if r := refQ4(events); fmt.Sprint(r) != fmt.Sprint(map[int64]int64{10: 30}) {
		t.Errorf("reference: got %v", r)
	}
}

func TestQ5Edges(t *testing.T) {
	events := []nexmark.Event{
		bid(1, 1, 100), bid(2, 1, 100), bid(1, 1, 200), bid(3, 1, 200), bid(2, 1, 300),
		bid(3, 1, 2500), // only in the windows ending at 4000..12000
	}
	var want []stamped[Q5Result]
	// Windows ending at 2000: auctions 1 and 2 tie with 2 bids.
	want = append(want, stamped[Q5Result]{1999, Q5Result{1, 2}}, stamped[Q5Result]{1999, Q5Result{2, 2}})
	// Ending at 4000..10000: 1, 2 and 3 all have 2.
	for end := int64(4000); end <= 10_000; end += 2000 {
		for a := int64(1); a <= 3; a++ {
			want = append(want, stamped[Q5Result]{end - 1, Q5Result{a, 2}})
		}
	}
	// Ending at 12000: only the bid at 2500.
	want = append(want, stamped[Q5Result]{11_999, Q5Result{3, 1}})
	checkEdge(t, Q5, refQ5, events, true, want)
}

func TestQ7Edges(t *testing.T) {
	events := []nexmark.Event{
		bid(1, 100, 1000),
		bid(2, 50, 5000),
		bid(5, 100, 9999),   // ties with the first
		bid(3, 100, 10_000), // at the end of window 0: counts there too
		bid(4, 70, 15_000),
		bid(6, 80, 30_000), // alone in window 3, and at its start
	}
	r := func(end int64, e nexmark.Event) stamped[Q7Result] {
		b := e.Bid
		return stamped[Q7Result]{end, Q7Result{b.Auction, b.Bidder, b.Price, b.DateTime, b.Extra}}
	}
	checkEdge(t, Q7, refQ7, events, true, []stamped[Q7Result]{
		r(10_000, events[0]), r(10_000, events[2]), r(10_000, events[3]),
		r(20_000, events[3]),
		r(40_000, events[5]),
	})
}

func TestQ8Edges(t *testing.T) {
	events := []nexmark.Event{
		person(1, "ann", "OR", 1000),
		auction(10, 3, 10, 500, 9000), // before its seller joined, in the same window
		person(3, "cid", "CA", 600),
		auction(11, 1, 10, 9999, 20_000),
		auction(12, 1, 10, 9999, 20_000), // a second auction: still one result
		person(2, "bob", "ID", 9999),
		auction(13, 2, 10, 10_000, 20_000), // the next window
	}
	checkEdge(t, Q8, refQ8, events, true, []stamped[Q8Result]{
		{9999, Q8Result{1, "ann", 0}},
		{9999, Q8Result{3, "cid", 0}},
	})
}
