package nexmark

import (
	"time"

	"github.com/runnel-io/runnel/connector/nexmark"
	"github.com/runnel-io/runnel/stream"
	"github.com/runnel-io/runnel/window"
)

// Q8Size is the length of query 8's tumbling windows in milliseconds.
const Q8Size int64 = 10_000

// Q8 monitors new users: the persons who joined and opened an auction (as its seller) in the
// same 10 s tumbling window, as (id, name, starttime), once per person and window. Each
// result's timestamp is its window's last millisecond.
//
// It is Flink's plan written with the window operators: the sellers of each window are made
// distinct (a window reduce keyed by seller, as the SQL's GROUP BY seller, window_start), then
// a WindowJoin pairs them with the persons of the same window. Persons need no GROUP BY: their
// ids are unique. WindowJoin gives the join function the two records only, so the window start
// comes from the person's time.
func Q8(_ *stream.Env, events stream.Stream[nexmark.Event]) stream.Stream[Q8Result] {
	persons := stream.FlatMap(events, func(e nexmark.Event, out stream.Collector[q8Person]) error {
		if p := e.Person; p != nil {
			out.Collect(q8Person{id: p.ID, name: p.Name, start: windowStart(p.DateTime, Q8Size)})
		}
		return nil
	}).Name("q8 persons")
	sellers := stream.FlatMap(events, func(e nexmark.Event, out stream.Collector[int64]) error {
		if e.Auction != nil {
			out.Collect(e.Auction.Seller)
		}
		return nil
	}).Name("q8 sellers")
	distinct := stream.WindowReduce(stream.Window(stream.KeyBy(sellers, identity), q8Windows()), func(a, _ int64) int64 { return a }).Name("q8 distinct sellers")
	return stream.WindowJoin(stream.KeyBy(persons, func(p q8Person) int64 { return p.id }), stream.KeyBy(distinct, identity), q8Windows(),
		func(p q8Person, _ int64) Q8Result { return Q8Result{ID: p.id, Name: p.name, StartTime: p.start} }).Name("q8 window join")
}

// q8Windows are query 8's windows.
func q8Windows() window.Assigner {
	return window.TumblingEventTime(time.Duration(Q8Size) * time.Millisecond)
}

// q8Person is a person and the start of the window it joined in.
type q8Person struct {
	id    int64
	name  string
	start int64
}

// windowStart returns the start of the tumbling window of length size that holds ts.
func windowStart(ts, size int64) int64 {
	r := ts % size
	if r < 0 {
		r += size
	}
	return ts - r
}
