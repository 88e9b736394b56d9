// Package metrics is the contract through which the engine publishes what it measures. The
// engine imports no metrics library: a Listener receives snapshots and exports them however it
// likes (Prometheus, the dashboard, a log line).
package metrics

import "time"

// Operator is a snapshot of one operator subtask.
type Operator struct {
	// Operator is the operator's name and ID is its unique node id in the job graph.
	Operator string
	ID       int
	Subtask  int
	// RecordsIn and RecordsOut count records since the job started (side outputs included in out).
	RecordsIn, RecordsOut int64
	// InputWatermark and OutputWatermark are the current watermarks in epoch milliseconds
	// (eventtime.MinTime before the first one).
	InputWatermark, OutputWatermark int64
	// Counters holds the operator's named counters: the engine's own (such as
	// numLateRecordsDropped) and those user functions create through their runtime context.
	// Nil when there are none.
	Counters map[string]int64
	// Gauges holds the operator's named gauges: values that go up and down, such as a
	// source's lag (RecordsLagMax, MillisBehindLatest). Nil when there are none.
	Gauges map[string]int64
}

// LateRecordsDropped is the counter of records a window operator or join dropped because they
// arrived later than the allowed lateness and no late-data side output took them.
const LateRecordsDropped = "numLateRecordsDropped"

// DeadLettered is the counter of records an operator handed to a dead-letter output (such as
// malformed input under format.DeadLetter) instead of failing the job. The engine does not count
// it: the operator that routes a record to a dead letter does, so that a job's summary can say
// how many there were.
const DeadLettered = "numRecordsDeadLettered"

// Gauges of sources, named as Amazon Managed Service for Apache Flink shows them.
const (
	// RecordsLagMax is a Kafka source subtask's largest lag over its partitions: the records
	// between the last it read and the partition's high watermark.
	RecordsLagMax = "records_lag_max"
	// MillisBehindLatest is a Kinesis source subtask's largest MillisBehindLatest over its
	// shards: how far behind the tip of the stream its reads are, in milliseconds.
	MillisBehindLatest = "millisBehindLatest"
)

// Task is a snapshot of one task (a chain of operators run by one goroutine).
type Task struct {
	Name    string
	Subtask int
	// Backpressured is the time the task spent blocked sending to a full downstream buffer,
	// Idle the time it spent waiting for input, both since the job started.
	Backpressured, Idle time.Duration
}

// Snapshot is everything measured at one moment.
type Snapshot struct {
	Time      time.Time
	Operators []Operator
	Tasks     []Task
	// Checkpoints describes the job's checkpoints; nil when it takes none.
	Checkpoints *Checkpoints
}

// Checkpoints are a job's checkpoint figures, as Flink reports them.
type Checkpoints struct {
	// Completed and Failed count snapshots (checkpoints and savepoints) since the job started.
	Completed, Failed int64
	// Restarts counts the job's restarts after failures.
	Restarts int
	// LastID is the ID of the last completed snapshot; LastDuration the time from its
	// trigger to its completion; LastSize the bytes its tasks wrote; LastAlignment the longest
	// time a task spent aligning its barriers.
	LastID        int64
	LastDuration  time.Duration
	LastSize      int64
	LastAlignment time.Duration
	// LastPause is the longest time a task stopped processing for the last completed
	// snapshot: the synchronous part (copy-on-write marks, a backend snapshot or a Pebble
	// memtable flush), not the upload, which runs in the background.
	LastPause time.Duration
	// Restored is the ID of the snapshot the current run started from, 0 if none.
	Restored int64
	// LastFailure says why the last snapshot that failed failed ("" if none did); snapshots
	// subsumed by newer ones are not failures.
	LastFailure string
}

// Listener receives snapshots periodically and once more when the job ends. Report is called
// from a single goroutine; it must not keep the snapshot's slices after it returns.
type Listener interface {
	Report(s Snapshot)
}

// ListenerFunc adapts a function to a Listener.
type ListenerFunc func(Snapshot)

// Report calls f(s).
func (f ListenerFunc) Report(s Snapshot) { f(s) }
