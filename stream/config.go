package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/internal/snapshot"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/restart"
	"github.com/runnel-io/runnel/state"
)

// Config configures how a job runs. The zero Config is valid: every field has the default its
// comment states.
type Config struct {
	// Parallelism is the parallelism of the operators that set none. Default: GOMAXPROCS.
	Parallelism int
	// MaxParallelism is the number of key groups, the unit in which keyed state moves between
	// subtasks when a job is rescaled: the highest parallelism a keyed operator can ever have.
	// Fixed for the life of the job's state. Default 128.
	MaxParallelism int
	// BatchSize is the number of records an exchange sends in one batch. Default 256.
	BatchSize int
	// BufferBatches is the number of batches an input channel holds before its sender blocks
	// (backpressure). Default 4.
	BufferBatches int
	// AlignmentBufferBatches bounds the batches a task holds back while it aligns checkpoint
	// barriers; past it the task declines the checkpoint. Default 4096.
	AlignmentBufferBatches int
	// FlushInterval bounds how long a partial batch waits while its task stays busy.
	// Default 10 ms.
	FlushInterval time.Duration
	// WatermarkInterval is how often sources emit watermarks. Default 200 ms; negative means
	// after every read (deterministic watermarks, for tests).
	WatermarkInterval time.Duration
	// MetricsInterval is how often Metrics receives a snapshot. Default 1 s.
	MetricsInterval time.Duration
	// Clock tells processing time; tests pass a fake one. Default: the wall clock.
	Clock clockwork.Clock
	// Logger receives the job's logs. Default: none.
	Logger *slog.Logger
	// Metrics receives metric snapshots. Default: none.
	Metrics metrics.Listener
	// StateBackend makes the keyed-state backend of each operator subtask. Default (nil): the
	// in-memory backend, state.NewMemory. For state larger than memory, import
	// statebackend/pebble and set pebble.Factory(dir, 0).
	StateBackend state.BackendFactory
	// Checkpoints configures checkpoints, the snapshot the job starts from and its restarts.
	// The zero value takes no checkpoints and starts fresh.
	Checkpoints Checkpoints
}

// Validate reports a Config that cannot work, naming the field.
func (c Config) Validate() error {
	rc, err := c.runtime()
	if err != nil {
		return err
	}
	if err := rc.Validate(); err != nil {
		return err
	}
	return rc.Checkpoints.Coordinator.Validate()
}

// Checkpoints configures a job's checkpoints (Flink's asynchronous barrier snapshots), the
// snapshot it starts from and how it restarts after a failure. docs/CHECKPOINTS.md says how
// they work.
type Checkpoints struct {
	// Storage is the checkpoint location: checkpoint.NewLocal(dir), an S3 location from
	// package checkpoint/s3, or another checkpoint.Storage. Nil takes no checkpoints
	// (savepoints through Savepoints still work). A job holds the location's lease while it
	// runs: a second job on the same location fails to start.
	Storage checkpoint.Storage
	// Interval is the time between two periodic checkpoints; 0 (the default) takes none.
	Interval time.Duration
	// MinPause is the least time from the end of one snapshot to the next periodic
	// checkpoint. Default 0.
	MinPause time.Duration
	// Timeout aborts a checkpoint that not every task acknowledged within it. Default 10 min.
	Timeout time.Duration
	// TolerableFailures is the number of consecutive failed checkpoints tolerated; the next
	// failure fails the job (which may then restart). Default 0, as in Flink.
	TolerableFailures int
	// Retain is the number of completed checkpoints kept. Default 3.
	Retain int
	// Restart says whether and when a failed job restarts, from its latest checkpoint
	// (package restart: FixedDelay, ExponentialDelay, FailureRate, Parse). Default (nil):
	// never.
	Restart restart.Strategy
	// RestoreFrom is the location of the snapshot the job starts from: the directory of a
	// savepoint or checkpoint, as a path or URL (/sp/savepoint-7-3fa2c0d1e4b5,
	// s3://b/ckpt/chk-12). Locations of schemes other than local paths open through
	// Schemes.
	RestoreFrom string
	// RestoreLatest, when RestoreFrom is empty, starts the job from the latest snapshot of
	// Storage's lineage: the newest checkpoint or stop-with-savepoint of the run that last
	// used the location, or the snapshot that run started from if it completed none; a
	// location without one starts fresh. It is looked up once the job holds the location's
	// lease (docs/CHECKPOINTS.md, "Lineage").
	RestoreLatest bool
	// AllowNonRestoredState lets the job start from a snapshot holding state for operators it
	// does not have (matched by UID); that state is dropped. Default: that is an error.
	AllowNonRestoredState bool
	// Schemes opens snapshot locations other than local paths, by URL scheme: savepoint
	// targets and RestoreFrom. Give checkpoint.Schemes{"s3": s3.Scheme()} (package
	// checkpoint/s3) for s3:// locations. Default: local paths only.
	Schemes checkpoint.Schemes
	// Savepoints, if set, takes savepoints of the running job on request.
	Savepoints *Savepoints
	// OnStart, if set, is called before each run of the job (the first, and each restart)
	// starts its tasks, with the snapshot the run starts from; nil for a fresh start.
	OnStart func(from *Snapshot)
}

// Snapshot describes a checkpoint or savepoint.
type Snapshot struct {
	// ID is the snapshot's ID; IDs grow over a checkpoint location's life.
	ID int64
	// Savepoint says whether it is a savepoint (taken on request, self-contained).
	Savepoint bool
	// Location is the path or URL of its directory: what Checkpoints.RestoreFrom takes.
	Location string
	// Timestamp is when it was triggered.
	Timestamp time.Time
}

// LatestSnapshot returns the latest snapshot of the lineage of the checkpoint location st, the
// one Checkpoints.RestoreLatest would start from, or nil if there is none. It is for looking:
// it does not take the location's lease, so a running job may move the latest on.
func LatestSnapshot(ctx context.Context, st checkpoint.Storage, schemes checkpoint.Schemes) (*Snapshot, error) {
	r, err := runtime.RestoreLatest(ctx, st, schemes)
	if err != nil || r == nil {
		return nil, err
	}
	return snapshotOf(r), nil
}

func snapshotOf(r *runtime.Restore) *Snapshot {
	if r == nil {
		return nil
	}
	loc := r.Location
	if loc == "" {
		loc = checkpoint.Location(r.Storage, r.Dir)
	}
	return &Snapshot{ID: r.Metadata.ID, Savepoint: r.Metadata.Savepoint, Location: loc, Timestamp: r.Metadata.Timestamp}
}

// Savepoints takes savepoints of a running job (Checkpoints.Savepoints): the job's REST API
// and tests use it. Make one with NewSavepoints; it serves one job run at a time. It is safe
// for concurrent use.
type Savepoints struct {
	h *runtime.Handle
}

// NewSavepoints returns a Savepoints for Checkpoints.Savepoints.
func NewSavepoints() *Savepoints { return &Savepoints{h: runtime.NewHandle()} }

// Take takes a savepoint of the running job into location dir (a path or URL; see
// Checkpoints.Schemes) and returns the savepoint's directory. With stop the job stops once the
// savepoint is complete and its sinks committed (stop-with-savepoint). It waits until the job
// takes the request or ctx ends. Errors of requests not worth repeating as they are wrap
// checkpoint.ErrUnusableLocation or checkpoint.ErrUnsupportedScheme (dir cannot hold a
// savepoint), ErrStopInProgress or ErrStopping.
func (s *Savepoints) Take(ctx context.Context, dir string, stop bool) (string, error) {
	return s.h.Savepoint(ctx, dir, stop)
}

// Errors of Savepoints.Take.
var (
	// ErrStopInProgress: a stop-with-savepoint is already queued or in flight.
	ErrStopInProgress = snapshot.ErrStopInProgress
	// ErrStopping: the job is stopping.
	ErrStopping = snapshot.ErrStopped
)

// runtime returns c as the runtime's configuration.
func (c Config) runtime() (runtime.Config, error) {
	ck := c.Checkpoints
	rc := runtime.Config{
		Parallelism: c.Parallelism, MaxParallelism: c.MaxParallelism, BatchSize: c.BatchSize,
		BufferBatches: c.BufferBatches, AlignmentBufferBatches: c.AlignmentBufferBatches,
		FlushInterval: c.FlushInterval, WatermarkInterval: c.WatermarkInterval,
		MetricsInterval: c.MetricsInterval, Clock: c.Clock, Logger: c.Logger, Metrics: c.Metrics,
		StateBackend: c.StateBackend,
		Checkpoints: runtime.Checkpoints{
			Storage: ck.Storage,
			Coordinator: snapshot.Config{Interval: ck.Interval, MinPause: ck.MinPause, Timeout: ck.Timeout,
				TolerableFailures: ck.TolerableFailures},
			Retain: ck.Retain, Restart: ck.Restart, RestoreFrom: ck.RestoreFrom, RestoreLatest: ck.RestoreLatest,
			AllowNonRestoredState: ck.AllowNonRestoredState, Schemes: ck.Schemes,
		},
	}
	if ck.Savepoints != nil {
		rc.Checkpoints.Handle = ck.Savepoints.h
	}
	if ck.OnStart != nil {
		rc.Checkpoints.OnStart = func(r *runtime.Restore) { ck.OnStart(snapshotOf(r)) }
	}
	switch {
	case ck.Retain < 0:
		return rc, fmt.Errorf("stream: Checkpoints.Retain %d is negative", ck.Retain)
	case ck.RestoreLatest && ck.Storage == nil:
		return rc, errors.New("stream: Checkpoints.RestoreLatest needs Checkpoints.Storage")
	}
	return rc, nil
}
