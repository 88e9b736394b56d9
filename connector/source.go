// Package connector is the contract between Runnel's runtime and the systems it reads from and
// writes to: split-based sources (in the manner of Flink's FLIP-27) and two-phase-commit sinks.
//
// A Source is an Enumerator that hands out Splits plus parallel Readers that read them. The
// runtime calls an Enumerator from one goroutine and each Reader from its subtask's goroutine,
// so neither needs locks. A split's position is state: Reader.Snapshot returns the splits with
// their current positions, and a restored job hands them back through AddSplits.
//
// A Sink's Writer writes records; at a checkpoint it pre-commits, returning Committables that
// become visible only when a Committer commits them after the checkpoint completed. That is how
// output becomes exactly-once. Sinks that need no commit return no Committables.
package connector

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/runnel-io/runnel/eventtime"
)

// Split is one independently readable piece of a source: a Kafka partition, a Kinesis shard,
// an object, a range of generated events. A Split value carries its own read position.
type Split interface {
	// SplitID names the split, unique within its source and stable across restarts.
	SplitID() string
}

// Boundedness says whether a source ends.
type Boundedness uint8

const (
	// Bounded sources end: when every split is read the job's input is complete.
	Bounded Boundedness = iota
	// Unbounded sources run until the job is stopped.
	Unbounded
)

// Source is a split-based source of records of type T.
type Source[T any] interface {
	// Boundedness says whether the source ends.
	Boundedness() Boundedness
	// NewEnumerator makes the enumerator. restored holds the unassigned splits of a checkpoint,
	// non-nil (possibly empty) on a restore, or is nil on a fresh start. On a restore the
	// splits that readers held are handed back to the readers by the runtime, so the
	// enumerator must not make them again.
	NewEnumerator(ctx EnumeratorContext, restored []Split) (Enumerator, error)
	// NewReader makes the reader of one subtask.
	NewReader(ctx ReaderContext) (Reader[T], error)
}

// SplitCodec is implemented by Sources whose splits can be checkpointed: it turns a split,
// with its position, into bytes and back. A job that takes checkpoints fails at the first one
// if a source lacks it. Encodings should carry a version so that newer code reads older
// checkpoints, or rejects them with a clear error.
type SplitCodec interface {
	EncodeSplit(s Split) ([]byte, error)
	DecodeSplit(b []byte) (Split, error)
}

// EnumeratorContext is what an Enumerator may do. Its methods are safe to call only from the
// goroutine that calls the Enumerator.
type EnumeratorContext interface {
	// Parallelism is the number of readers.
	Parallelism() int
	// Assign hands splits to the reader of subtask.
	Assign(subtask int, splits ...Split)
	// NoMoreSplits tells the reader of subtask that it will get no further splits, so it may
	// end when it has read the ones it has (bounded sources).
	NoMoreSplits(subtask int)
	// Logger logs on behalf of the source.
	Logger() *slog.Logger
}

// Enumerator discovers splits and assigns them to readers.
type Enumerator interface {
	// Start is called once, before any reader is added.
	Start(ctx context.Context) error
	// AddReader is called when the reader of subtask is ready for splits.
	AddReader(ctx context.Context, subtask int) error
	// AddSplitsBack returns splits that were assigned to a reader that failed before a
	// checkpoint recorded them.
	AddSplitsBack(splits []Split, subtask int)
	// Snapshot returns the splits not yet assigned, for a checkpoint.
	Snapshot() ([]Split, error)
	// Close releases the enumerator's resources.
	Close() error
}

// Discoverer is an optional capability of an Enumerator that finds new splits while the job
// runs (new Kafka partitions, Kinesis child shards). The runtime calls Discover every
// DiscoveryInterval from the enumerator's goroutine; an interval of 0 or less turns discovery
// off.
type Discoverer interface {
	Discover(ctx context.Context) error
	DiscoveryInterval() time.Duration
}

// ReaderContext describes the subtask a Reader runs in.
type ReaderContext struct {
	Subtask     int
	Parallelism int
	Logger      *slog.Logger
	// Clock tells processing time; readers use it for rates, polling and timeouts.
	Clock eventtime.Clock
	// Gauges returns the subtask's gauge called name, creating it at zero; the runtime sets it
	// and publishes the gauges with the source's metrics (metrics.Operator.Gauges), read when
	// each snapshot is taken. It is safe for concurrent use. Readers call Gauge, usually once,
	// when they are made.
	Gauges func(name string) *atomic.Int64
}

// Gauge returns the subtask's gauge called name, safe to set from any goroutine. When the
// context has no Gauges (a reader made outside a job, as in tests) it returns a gauge nothing
// publishes.
func (c ReaderContext) Gauge(name string) *atomic.Int64 {
	if c.Gauges == nil {
		return new(atomic.Int64)
	}
	return c.Gauges(name)
}

// ReadStatus is what a Reader says after Read.
type ReadStatus uint8

const (
	// MoreAvailable means Read should be called again at once.
	MoreAvailable ReadStatus = iota
	// NothingAvailable means the reader has nothing now; the runtime waits for Available (if
	// the reader implements Availability) or polls with a growing backoff.
	NothingAvailable
	// EndOfInput means every assigned split is read and NoMoreSplits was received.
	EndOfInput
)

// Reader reads the splits assigned to one subtask. Its methods are called from that subtask's
// goroutine only.
type Reader[T any] interface {
	// AddSplits adds splits to read, fresh or restored with their positions.
	AddSplits(splits []Split)
	// NoMoreSplits says no further splits will be added.
	NoMoreSplits()
	// Read emits what is available now into out (a batch, not everything: the runtime needs
	// the goroutine back regularly) and says what to do next. Read must not block for long.
	Read(ctx context.Context, out ReaderOutput[T]) (ReadStatus, error)
	// Snapshot returns the unfinished splits with their current positions.
	Snapshot(checkpointID int64) ([]Split, error)
	// Close releases the reader's resources.
	Close() error
}

// CheckpointListener is an optional capability of a Reader that acts when a checkpoint it took
// part in is complete, such as committing Kafka offsets back to the consumer group for
// monitoring tools. It is called from the reader's goroutine; an error fails the job.
type CheckpointListener interface {
	NotifyCheckpointComplete(ctx context.Context, checkpointID int64) error
}

// Availability is an optional capability of a Reader: a channel that is ready when Read
// would find something, after it returned NothingAvailable.
type Availability interface {
	Available() <-chan struct{}
}

// ReaderOutput receives what a Reader reads. Watermarks are generated per split, so records go
// through the output of their split.
type ReaderOutput[T any] interface {
	// Split returns the output for the split with this id, creating it on first use. The reader
	// may keep the result for as long as the split is assigned.
	Split(id string) SplitOutput[T]
	// ReleaseSplit says a split is finished: its watermark no longer holds the reader back,
	// and the watermark its records reached counts for the one the reader emits at end of
	// input, before the final one.
	ReleaseSplit(id string)
}

// SplitOutput receives the records of one split.
type SplitOutput[T any] interface {
	// Collect emits a record with the timestamp the source knows for it (the Kafka record
	// timestamp, the Kinesis arrival time; 0 if none). The job's watermark strategy may
	// replace the timestamp.
	Collect(v T, ts int64)
}
