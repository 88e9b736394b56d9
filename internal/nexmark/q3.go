package nexmark

import (
	"github.com/runnel-io/runnel/connector/nexmark"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/stream"
)

// Q3Category is the auction category query 3 selects.
const Q3Category = 10

// q3States are the person states query 3 selects.
func q3State(s string) bool { return s == "OR" || s == "ID" || s == "CA" }

// Q3 suggests local items: the persons in Oregon, Idaho or California joined with their
// auctions in category 10 (auction.seller = person.id), as (name, city, state, auction id).
//
// It is Flink's incremental inner join, a KeyedCoProcess over persons and auctions keyed by
// person id: the person is kept in keyed state, and an auction that arrives before its seller
// waits in keyed state until the seller does. Like the SQL join without a state TTL, state is
// never dropped: a person may sell again at any time.
func Q3(_ *stream.Env, events stream.Stream[nexmark.Event]) stream.Stream[Q3Result] {
	persons := stream.FlatMap(events, func(e nexmark.Event, out stream.Collector[*nexmark.Person]) error {
		if e.Person != nil && q3State(e.Person.State) {
			out.Collect(e.Person)
		}
		return nil
	}).Name("q3 persons")
	auctions := stream.FlatMap(events, func(e nexmark.Event, out stream.Collector[q3Auction]) error {
		if e.Auction != nil && e.Auction.Category == Q3Category {
			out.Collect(q3Auction{id: e.Auction.ID, seller: e.Auction.Seller})
		}
		return nil
	}).Name("q3 auctions")
	joined := stream.ConnectKeyed(stream.KeyBy(persons, personID), stream.KeyBy(auctions, func(a q3Auction) int64 { return a.seller }))
	return stream.KeyedCoProcess[*nexmark.Person, q3Auction, int64, Q3Result](joined, &q3Join{}).Name("q3 join")
}

func personID(p *nexmark.Person) int64 { return p.ID }

// q3Auction is an auction of the selected category.
type q3Auction struct {
	id, seller int64
}

type q3Join struct {
	person  state.Value[*nexmark.Person]
	pending state.List[int64] // auctions that came before their seller
}

func (j *q3Join) Open(rc *stream.KeyedRuntime[int64]) error {
	j.person = stream.NewValueState[*nexmark.Person](rc, state.Descriptor{Name: "person"})
	j.pending = stream.NewListState[int64](rc, state.Descriptor{Name: "pending-auctions"})
	return nil
}

// ProcessElement1 handles a person.
func (j *q3Join) ProcessElement1(_ *stream.KeyedContext[int64], p *nexmark.Person, out stream.Collector[Q3Result]) error {
	j.person.Update(p)
	for _, id := range j.pending.Get() {
		out.Collect(Q3Result{Name: p.Name, City: p.City, State: p.State, ID: id})
	}
	j.pending.Clear()
	return nil
}

// ProcessElement2 handles an auction.
func (j *q3Join) ProcessElement2(_ *stream.KeyedContext[int64], a q3Auction, out stream.Collector[Q3Result]) error {
	if p, ok := j.person.Value(); ok {
		out.Collect(Q3Result{Name: p.Name, City: p.City, State: p.State, ID: a.id})
		return nil
	}
	j.pending.Add(a.id)
	return nil
}
