package snapshot

import "errors"

// Reasons a snapshot is aborted. An Abort action's Reason wraps exactly one of them (test with
// errors.Is); the ones marked "counted" count towards Config.TolerableFailures when the
// snapshot is a checkpoint.
var (
	// ErrTimeout: not every task acknowledged within Config.Timeout. Counted.
	ErrTimeout = errors.New("checkpoint: expired before every task acknowledged")
	// ErrDeclined: a task declined the snapshot (its snapshot failed). Counted, unless the
	// decline's error also wraps ErrTaskNotReady.
	ErrDeclined = errors.New("checkpoint: declined")
	// ErrFinalizeFailed: writing the metadata failed (FinalizeFailed). Counted.
	ErrFinalizeFailed = errors.New("checkpoint: writing the metadata failed")
	// ErrSubsumed: a newer checkpoint or stop-with-savepoint was fully acknowledged first.
	// Not counted.
	ErrSubsumed = errors.New("checkpoint: subsumed by newer snapshot")
	// ErrTaskFailed: a task failed and the job restarts (TaskFailed). Not counted.
	ErrTaskFailed = errors.New("checkpoint: aborted by a task failure")
	// ErrStopped: the coordinator was stopped (Stop, or a completed stop-with-savepoint).
	// Not counted.
	ErrStopped = errors.New("checkpoint: coordinator stopped")
	// ErrTooManyFailures is the reason of FailJob, and of the aborts that come with it: more
	// consecutive checkpoints failed than Config.TolerableFailures allows.
	ErrTooManyFailures = errors.New("checkpoint: too many consecutive checkpoint failures")
)

// ErrTaskNotReady is what a task (or the runtime on its behalf) wraps in the error it passes to
// Decline when it cannot take part in a snapshot for a reason that says nothing about the
// snapshot itself: it is not running yet after a restart, or it has finished its input. Such a
// decline aborts the snapshot without counting as a failure.
var ErrTaskNotReady = errors.New("checkpoint: task not ready")

// ErrNoCheckpoint is returned by Latest when the storage holds no complete checkpoint.
var ErrNoCheckpoint = errors.New("checkpoint: no complete checkpoint")

// ErrUnsupportedVersion is wrapped by the error of ReadMetadata and DecodeMetadata for a
// metadata file written in a format version this build cannot read.
var ErrUnsupportedVersion = errors.New("checkpoint: unsupported metadata format version")

// ErrCorrupt is wrapped by errors about files that fail their checksum or do not parse.
var ErrCorrupt = errors.New("checkpoint: corrupt file")

// ErrStopInProgress is wrapped by the error of StopWithSavepoint while another
// stop-with-savepoint is queued or in flight: the job is already stopping.
var ErrStopInProgress = errors.New("checkpoint: a stop-with-savepoint is already in progress")
