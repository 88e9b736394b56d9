package nexmark

import (
	"fmt"
	"strings"

	"github.com/runnel-io/runnel/connector/nexmark"
	"github.com/runnel-io/runnel/stream"
)

// Query is one Nexmark query the runner can run. The zero Query is not usable; get one from
// Queries or Lookup.
type Query struct {
	// Name is the query's name: "q0", "q1", ...
	Name string
	// Summary says in a line what the query computes.
	Summary string

	// attach adds the query to a job, reading events, and sends its results to sink.
	attach func(env *stream.Env, events stream.Stream[nexmark.Event], sink *resultSink)
}

// query makes a Query of a query function; the sink is typed by its results.
func query[T any](name, summary string, q func(*stream.Env, stream.Stream[nexmark.Event]) stream.Stream[T]) Query {
	return Query{Name: name, Summary: summary, attach: func(env *stream.Env, events stream.Stream[nexmark.Event], sink *resultSink) {
		q(env, events).SinkTo(sinkOf[T]{sink}).Name("results")
	}}
}

// Queries returns every query, in order of their names. The slice is the caller's.
func Queries() []Query {
	return []Query{
		query("q0", "pass-through of bids", Q0),
		query("q1", "currency conversion: bid prices × 0.908", Q1),
		query("q2", "selection: bids on every 123rd auction", Q2),
		query("q3", "local item suggestion: sellers in OR, ID, CA joined with their category-10 auctions", Q3),
		query("q4", "average winning price per category", Q4),
		query("q5", "hot items: auctions with the most bids per 10 s window sliding by 2 s", Q5),
		query("q7", "highest bids per 10 s tumbling window", Q7),
		query("q8", "new users: persons who opened an auction in the 10 s window they joined in", Q8),
	}
}

// Lookup returns the query called name ("q5" or "5"); the error lists the known names.
func Lookup(name string) (Query, error) {
	want := strings.ToLower(name)
	if !strings.HasPrefix(want, "q") {
		want = "q" + want
	}
	var names []string
	for _, q := range Queries() {
		if q.Name == want {
			return q, nil
		}
		names = append(names, q.Name)
	}
	return Query{}, fmt.Errorf("nexmark: unknown query %q (known: %s)", name, strings.Join(names, ", "))
}
