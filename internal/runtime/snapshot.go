package runtime

import (
	"github.com/runnel-io/runnel/state"
)

// Snapshotter is implemented by operator instances that hold state a checkpoint must record.
// The task calls SnapshotState on its goroutine when checkpoint id's barrier has arrived on
// every input, for every instance of its chain from head to tail, before it forwards the
// barrier: an operator that still holds records it has not emitted (async I/O in flight) emits
// or records them here, and what it emits reaches the operators after it before they are
// snapshotted.
type Snapshotter interface {
	SnapshotState(id int64) (OperatorSnapshot, error)
}

// OperatorSnapshot is what one operator subtask contributes to a snapshot.
type OperatorSnapshot struct {
	// Keyed is the subtask's keyed state and timers, captured cheaply (copy-on-write or a
	// backend snapshot); the runtime serialises it per key group on another goroutine while the
	// task goes on, and releases it. Nil when the operator has no keyed state.
	Keyed *state.Snapshot
	// Operator is the subtask's non-keyed state as opaque blobs (a source reader's splits,
	// broadcast state). On restore the blobs of all old subtasks are spread over the new
	// ones: with the same parallelism subtask i gets exactly what subtask i wrote.
	Operator [][]byte
	// Committables are a sink's pre-committed transactions, committed when the checkpoint
	// completes (CheckpointListener) and again, idempotently, after a restore.
	Committables [][]byte
	// Files, if set, is an incremental snapshot of keyed state kept in files (a Pebble
	// checkpoint); Keyed then holds what is not in the files (timers). Only checkpoints take
	// them (savepoints are self-contained: see Context.IsSavepoint).
	Files *state.FileSnapshot
}

// Files returns the file snapshots that overlap the subtask's key groups.
func (r *Restored) Files() []state.RestoredFiles {
	if r == nil {
		return nil
	}
	return r.files
}

// IsSavepoint reports whether snapshot id is a savepoint; for operators that take incremental
// snapshots of checkpoints only.
func (c *Context) IsSavepoint(id int64) bool {
	if c.t.standalone != nil {
		return c.t.standalone.savepoints[id]
	}
	trig := c.t.j.trigger(id)
	return trig != nil && trig.savepoint
}

// CheckpointListener is implemented by operator instances that act when a checkpoint is
// complete: sinks commit what they pre-committed up to and including id. It is called on the
// task goroutine.
type CheckpointListener interface {
	CheckpointComplete(id int64) error
}

// Restored is the state an operator subtask starts from after a restore; Context.Restored
// returns it, or nil on a fresh start and for operators the snapshot has no state for.
type Restored struct {
	// CheckpointID is the ID of the snapshot restored from.
	CheckpointID int64
	// Operator holds the non-keyed state blobs given to this subtask (see
	// OperatorSnapshot.Operator).
	Operator [][]byte
	// Committables holds the committables given to this subtask: a sink commits them again.
	Committables [][]byte
	// Union holds the non-keyed state blobs of every old subtask, in subtask order (Flink's
	// union redistribution): for state every subtask keeps a copy of, like broadcast state.
	Union [][]byte

	groups func(fn func(kg int, blob []byte) error) error
	files  []state.RestoredFiles
	seed   map[string]string // immutable files of the same range: local name -> shared name
}

// KeyGroups calls fn with the blob of every key group of the subtask's range that has state,
// in increasing order, reading them from the snapshot as it goes. fn must not keep blob.
func (r *Restored) KeyGroups(fn func(kg int, blob []byte) error) error {
	if r == nil || r.groups == nil {
		return nil
	}
	return r.groups(fn)
}

// Restored returns the state this operator subtask restores, nil if none.
func (c *Context) Restored() *Restored { return c.restored }

// Checkpointing reports whether the job takes checkpoints. Sinks then commit only when a
// checkpoint completes, the end of input included (the runtime takes a final checkpoint).
func (c *Context) Checkpointing() bool {
	if c.t.standalone != nil {
		return c.t.standalone.checkpointing
	}
	return c.t.cfg.Checkpoints.enabled()
}
