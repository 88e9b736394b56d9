// Package connectortest is the conformance suite every connector passes: Source checks the
// source contract (enumerator, readers, split codec, snapshots and restores) and Sink the sink
// contract (pre-commit, commit, abort, recovery), each against the connector's real external
// system, which the connector's own test provides through a harness.
//
// The suite drives the contracts of package connector directly, without the stream engine, in
// the order the runtime calls them (internal/runtime/source.go, job.go, restore.go and loop.go
// for sources; stream/sink.go for sinks):
//
//   - a run makes the enumerator (restored splits non-nil on a restore), then every reader,
//     hands each reader its restored splits, then calls Start and AddReader for every subtask;
//   - assignments reach a reader between two Reads, in order; a checkpoint snapshots the
//     enumerator, then hands each reader the splits assigned before it and snapshots the reader
//     between two Reads; readers that are CheckpointListeners learn that it completed later,
//     after they read on (and never if the run crashes first);
//   - readers run on goroutines of their own, concurrently with each other and with the
//     enumerator's Discover, so that the race detector sees what the runtime would do;
//   - a restore deals the readers' split blobs of all old subtasks round robin over the new
//     readers, as the runtime does at any parallelism;
//   - a sink has a Writer and a Committer per subtask; at a checkpoint every writer pre-commits,
//     and when the checkpoint completes each committer commits its subtask's committables; a
//     restored subtask makes its writer (with the next Attempt) before it commits the restored
//     committables again.
//
// Every check is a subtest named for the contract it checks, so a failure says which part of
// the contract is broken. Checks compare records by a key the harness derives from each record,
// as multisets: nothing lost, nothing duplicated.
package connectortest
