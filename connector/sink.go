package connector

import (
	"context"
	"log/slog"
)

// Committable is a serialised piece of pre-committed output (a pending file, an open Kafka
// transaction, a multipart upload). It is stored in the checkpoint, so it must be self-contained.
type Committable []byte

// SinkContext describes the subtask a sink Writer runs in.
type SinkContext struct {
	Subtask     int
	Parallelism int
	// Attempt counts restarts of the job, from 0; transactional sinks use it to fence old writers.
	Attempt int
	Logger  *slog.Logger
}

// Sink writes records of type T.
type Sink[T any] interface {
	// NewWriter makes the writer of one subtask.
	NewWriter(ctx context.Context, sc SinkContext) (Writer[T], error)
}

// Writer writes one subtask's records. Its methods are called from that subtask's goroutine.
type Writer[T any] interface {
	// Write writes one record with its timestamp.
	Write(ctx context.Context, v T, ts int64) error
	// PreCommit makes everything written since the previous PreCommit durable but not yet
	// visible, and returns what a Committer needs to make it visible. It is called at every
	// checkpoint barrier and once at end of input. Sinks without commits return nil.
	PreCommit(ctx context.Context, checkpointID int64) ([]Committable, error)
	// Close releases resources; anything not pre-committed is abandoned.
	Close() error
}

// TwoPhaseCommitter is the optional capability of a Sink whose output becomes visible only
// when committed.
type TwoPhaseCommitter interface {
	NewCommitter(ctx context.Context) (Committer, error)
}

// Committer makes pre-committed output visible once the checkpoint that recorded it is
// complete. The runtime calls it from one goroutine.
type Committer interface {
	// Commit makes the committables visible. It must be idempotent: after a failure the same
	// committables are committed again, and committing one that is already visible succeeds.
	Commit(ctx context.Context, committables []Committable) error
	// Abort discards pre-committed output that no completed snapshot recorded. The runtime
	// calls it when a job restarts after a failure, in the same process: with what the
	// failed run pre-committed at checkpoints that never completed (their records are
	// replayed), after it committed the restored checkpoint's committables. A failed Abort
	// is logged, not fatal. Leftovers of a process that crashed never reach it; a sink cleans
	// those up itself (file.Recover, Kafka's fencing) or leaves them invisible.
	Abort(ctx context.Context, committables []Committable) error
	// Close releases the committer's resources.
	Close() error
}
