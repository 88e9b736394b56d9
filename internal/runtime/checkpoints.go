package runtime

import (
	"github.com/runnel-io/runnel/internal/checkpoint"
	"github.com/runnel-io/runnel/internal/restart"
)

// Checkpoints configures a job's checkpoints, the snapshot it starts from and how it restarts.
type Checkpoints struct {
	// Storage holds the checkpoints; nil takes none (savepoints are still possible when
	// SavepointStorage is set).
	Storage checkpoint.Storage
	// Coordinator sets the interval, pause, timeout and tolerated failures.
	Coordinator checkpoint.Config
	// Retain is the number of completed checkpoints kept; default 3.
	Retain int
	// Restart says whether and when a failed job restarts; nil means never.
	Restart restart.Strategy
	// Restore is the snapshot the job starts from; nil starts fresh.
	Restore *Restore
	// Handle, if set, takes savepoints of the running job.
	Handle *Handle
}

// Restore names the snapshot a job starts from.
type Restore struct {
	// Storage holds the snapshot in directory Dir; Metadata is its metadata, read.
	Storage  checkpoint.Storage
	Dir      string
	Metadata *checkpoint.Metadata
	// AllowNonRestoredState lets the job start when the snapshot has state for operators
	// the job does not have (by UID); otherwise that is an error.
	AllowNonRestoredState bool
}

func (c Checkpoints) enabled() bool { return c.Storage != nil && c.Coordinator.Interval > 0 }
