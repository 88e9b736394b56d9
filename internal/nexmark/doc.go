// Package nexmark holds the Nexmark benchmark queries written with the DataStream API, and the
// runner behind `runnel bench nexmark`.
//
// # Queries
//
// Each query is a function from the stream of Nexmark events to a stream of results:
//
//	func Q5(env *stream.Env, events stream.Stream[nexmark.Event]) stream.Stream[Q5Result]
//
// Their semantics are those of the Flink SQL versions in the nexmark/nexmark repository; every
// result type's JSON field names are that query's output columns. Where the SQL leaves a choice
// the query's doc comment says which one was made:
//
//	q0  pass-through of bids                                   Q0
//	q1  currency conversion, price × 0.908, exact to 3 places   Q1
//	q2  bids on every 123rd auction                             Q2
//	q3  local item suggestion: an incremental keyed join        Q3
//	q4  average winning price per category                      Q4
//	q5  hot items: most bid auctions per sliding window         Q5
//	q7  highest bids per tumbling window                        Q7
//	q8  new users: a tumbling window join                       Q8
//
// The queries use the DataStream API as a user would: FlatMap for projections, the window
// operators (Window with WindowAggregateProcess, WindowProcess and WindowReduce, and
// WindowJoin) for q5, q7 and q8, KeyedCoProcess with keyed state and event-time timers for the
// joins of q3 and q4. Results are exact: the generator is in order within each source split and
// watermarks are per split, so no record is ever late.
//
// # Source
//
// Source adds the generator (connector/nexmark) as a deterministic, parallel, optionally bounded
// and rate-limited source: event n is the same whatever the parallelism.
//
// # Runner
//
// Run builds one query over the source, bounded to Options.Events events, runs it in-process
// and measures wall time, process CPU time, and, when the source is rate-limited, end-to-end
// latency (see Result). Queries lists the queries by name.
package nexmark
