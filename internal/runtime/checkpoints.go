package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"

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

// RestoreFrom returns the Restore of the snapshot at location: the directory of a savepoint
// or checkpoint (a path or storage URL ending in the snapshot's directory, such as
// /sp/savepoint-7-0a1b2c or s3://b/ckpt/chk-12).
func RestoreFrom(ctx context.Context, location string) (*Restore, error) {
	loc := strings.TrimRight(location, "/")
	i := strings.LastIndex(loc, "/")
	if i < 0 {
		loc, i = "./"+loc, 1
	}
	root, dir := loc[:i], loc[i+1:]
	if root == "" {
		root = "/"
	}
	if q := strings.IndexByte(dir, '?'); q >= 0 { // s3://b/p/chk-1?endpoint=...: keep the query on the root
		root, dir = root+dir[q:], dir[:q]
	}
	st, err := checkpoint.Open(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("runtime: restoring %s: %w", location, err)
	}
	md, err := checkpoint.ReadMetadata(ctx, st, dir)
	if err != nil {
		return nil, fmt.Errorf("runtime: restoring %s: %w", location, err)
	}
	return &Restore{Storage: st, Dir: dir, Metadata: md}, nil
}

// RestoreLatest returns the Restore of the newest complete checkpoint in st, or nil and no
// error if there is none.
func RestoreLatest(ctx context.Context, st checkpoint.Storage) (*Restore, error) {
	id, md, err := checkpoint.Latest(ctx, st)
	if errors.Is(err, checkpoint.ErrNoCheckpoint) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &Restore{Storage: st, Dir: checkpoint.CheckpointDir(id), Metadata: md}, nil
}
