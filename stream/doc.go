// Package stream is Runnel's DataStream API: typed streams of records, built into a job graph
// and run with Apache Flink's semantics (event time and watermarks, keyed state and timers,
// windows, exactly-once checkpoints). It is the package a program imports to write a job; it
// links no connector, state backend or storage a program does not import itself.
//
// # A job
//
// An Env collects a job: sources make streams, transformations make streams from streams,
// sinks end them, and Execute runs the whole graph until the sources end or ctx is cancelled.
//
//	env := stream.New("page-views", stream.Config{Parallelism: 4})
//	clicks := stream.FromSource(env, source,
//		eventtime.BoundedOutOfOrderness(2*time.Second, func(c Click) int64 { return c.Time }))
//	counts := stream.WindowAggregate(
//		stream.Window(stream.KeyBy(clicks, func(c Click) string { return c.Page }),
//			window.TumblingEventTime(time.Minute)),
//		countClicks)
//	counts.Print()
//	err := env.Execute(ctx)
//
// Transformations that change the record type are functions (Map, FlatMap, Process, KeyBy,
// Window, ...), because Go methods cannot have type parameters; those that keep it are
// methods (Filter, Union, Rebalance, Name, Uid, Parallelism, ...).
//
// # Sources and sinks
//
// FromSource reads a connector.Source (package connector/kafka, connector/kinesis,
// connector/file, connector/s3, connector/datagen, connector/nexmark) with a watermark
// strategy from package eventtime; FromSlice reads a slice. SinkTo writes to a connector.Sink;
// sinks that commit in two phases (the file, S3 and Kafka sinks) make output exactly once
// with checkpoints. Print, Collect and Discard are sinks for trying things out and for tests.
//
// # Keys, state and timers
//
// KeyBy partitions a stream by key: records of one key go to one subtask, in order, and keyed
// state (NewValueState, NewListState, NewMapState, NewReducingState, NewAggregatingState; the
// handle types and TTL are in package state) belongs to the current key. KeyedProcess runs a
// KeyedProcessFunction with keyed state and event- or processing-time timers; Reduce and
// Aggregate keep a running value per key. Keyed state lives in key groups
// (Config.MaxParallelism), the unit in which it moves when a job is rescaled.
//
// # Time and windows
//
// Event time comes from the records through the source's watermark strategy; a watermark says
// no earlier record will come. Window assigns keyed records to windows (package window:
// tumbling, sliding, session, global; event or processing time) and WindowReduce,
// WindowAggregate and WindowProcess compute their results; late records can go to a side
// output. Joins: WindowJoin and IntervalJoin. Connect and ConnectBroadcast combine two
// streams; AsyncOrdered and AsyncUnordered call a service without blocking the stream.
//
// # Checkpoints, savepoints and restores
//
// With Config.Checkpoints a job takes consistent snapshots of its state and source positions
// (checkpoint.NewLocal or package checkpoint/s3 for where), restarts from the latest after a
// failure (package restart), resumes a checkpoint location's latest snapshot
// (Checkpoints.RestoreLatest) or a savepoint (Checkpoints.RestoreFrom), and takes savepoints
// on request (Savepoints). Give every stateful operator a stable UID with Uid: state is
// matched to operators by it. For state larger than memory set Config.StateBackend to package
// statebackend/pebble's Factory. docs/CHECKPOINTS.md describes the guarantees.
//
// # Errors
//
// A failure of user code (an error returned, or a panic) fails the job with an
// *OperatorError naming the operator, the subtask and the record; Execute returns it after
// the restart strategy gives up.
package stream
