// Package operator holds Runnel's operators: the window operator, window and interval joins,
// keyed process, co-process and broadcast operators, async I/O, and the stateless ones (map,
// filter, flat map, process). Each is an rt.Instance (internal/runtime) made for one subtask
// from typed functions, with no user API in its signature: package stream builds them from
// the DataStream API's functions and contexts, and a SQL planner can instantiate them directly
// with its own typed functions.
//
// One package, split by files, rather than one package per operator: the operators share the
// keyed base (Keyed: current key, state backend, timers, snapshots), the output helpers and the
// time domains, which separate packages would all have to export to each other, and a planner
// imports one path. The files:
//
//	operator.go            Forward, OutputOf, Input, TimeDomain: what every operator shares
//	basic.go               Map, Filter, FlatMap, Process
//	keyed.go               Keyed (the keyed base) and KeyedProcess
//	timers.go              the keyed timer service
//	keyed_snapshot.go      snapshots and restore of keyed state and timers
//	connect.go             CoProcess, KeyedCoProcess
//	broadcast.go           broadcast state (BroadcastStore) and the Broadcast operators
//	async.go               Async (asynchronous I/O)
//	window.go              WindowConfig and the window operator's pane functions
//	window_op.go           the window operator (Window)
//	window_timers.go       its timers
//	window_store.go        where its panes and timers live: memory, or a bytes backend
//	window_snapshot.go     its snapshots and restore
//	join.go                WindowJoin, IntervalJoin
//
// Operators call user code under a deferred recover that turns a panic into an
// *rt.OperatorError naming the operator, subtask and record; an error a function returns
// fails the job the same way (rt.Context.Fail). Every operator belongs to its task goroutine
// (async I/O's calls excepted, see async.go).
package operator
