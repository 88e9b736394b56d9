package state

import (
	"context"
	"io"
	"log/slog"

	"github.com/runnel-io/runnel/keygroup"
)

// This file is the part of the backend SPI that is about making backends: what a factory is
// told (BackendContext), and the optional capability of backends that checkpoint their state
// as files (FileCheckpointer). The storage contracts are Backend (backend.go) and
// BytesBackend (bytes.go); snapshots are Snapshotter (snapshot.go).

// BackendFactory makes the keyed-state backend of one operator subtask. A job's configuration
// names one (nil means NewMemory); statebackend/pebble's Factory is the other this module
// has. The runtime calls it on the subtask's goroutine when the operator opens, and closes
// what it returns after the operator closed, also when the job fails.
type BackendFactory func(ctx context.Context, c BackendContext) (Backend, error)

// BackendContext is what a BackendFactory knows of the operator subtask it makes a backend for.
type BackendContext struct {
	// Operator is the operator's name, NodeID its node's ID in the job graph: unique in a job.
	Operator string
	NodeID   int
	// Subtask is the subtask's index; KeyGroups the key groups it owns.
	Subtask   int
	KeyGroups keygroup.Range
	// Logger receives the backend's logs.
	Logger *slog.Logger
	// Restored are the file snapshots (see FileCheckpointer) of the old subtasks whose key
	// groups overlap KeyGroups, when the job restores a checkpoint taken with file snapshots:
	// one with exactly KeyGroups at unchanged parallelism, several after a rescale. The
	// backend restores its state from them; the state of snapshots without files arrives
	// through Snapshotter's Restore instead.
	Restored []RestoredFiles
}

// RestoredFiles are the files of one old subtask's file snapshot, covering the key groups
// Range.
type RestoredFiles struct {
	Range keygroup.Range
	// Names are the files' names as the backend listed them in its FileSnapshot.
	Names []string
	// Open opens the file name of the snapshot for reading.
	Open func(ctx context.Context, name string) (io.ReadCloser, error)
}

// FileCheckpointer is the optional capability of a Backend whose checkpoints are files it
// already keeps (Pebble's SST files): the runtime uploads only the files that are new, and a
// restore at unchanged parallelism gives the backend its files back (BackendContext.Restored)
// instead of every key group's state. Savepoints, which must be self-contained, are always
// taken through Snapshotter.
type FileCheckpointer interface {
	// CheckpointFiles takes the file snapshot of checkpoint id in a local directory, which the
	// runtime removes once it uploaded the files.
	CheckpointFiles(id int64) (*FileSnapshot, error)
	// RestoredFiles reports whether the backend restored its state from the files of
	// BackendContext.Restored.
	RestoredFiles() bool
}

// FileSnapshot is a backend checkpoint in a local directory. The runtime uploads its files to
// the checkpoint storage's shared directory, immutable files only once for as long as
// retained checkpoints reference them, and removes the directory.
type FileSnapshot struct {
	Dir   string
	Files []SnapshotFile
}

// SnapshotFile is one file of a FileSnapshot. Immutable files never change under their name
// for the life of the backend, so one uploaded for an earlier checkpoint is referenced again.
type SnapshotFile struct {
	Name      string
	Size      int64
	Immutable bool
}
