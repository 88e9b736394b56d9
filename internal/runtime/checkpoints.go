package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/internal/snapshot"
	"github.com/runnel-io/runnel/restart"
)

// Checkpoints configures a job's checkpoints, the snapshot it starts from and how it restarts.
type Checkpoints struct {
	// Storage holds the checkpoints; nil takes none (savepoints are still possible when
	// SavepointStorage is set).
	Storage checkpoint.Storage
	// Coordinator sets the interval, pause, timeout and tolerated failures.
	Coordinator snapshot.Config
	// Retain is the number of completed checkpoints kept; default 3.
	Retain int
	// Restart says whether and when a failed job restarts; nil means never.
	Restart restart.Strategy
	// Restore is the snapshot the job starts from; nil starts fresh, or from RestoreFrom or
	// the latest snapshot with RestoreLatest.
	Restore *Restore
	// RestoreFrom, when Restore is nil, is the location of the snapshot the job starts from
	// (see RestoreFrom), opened through Schemes.
	RestoreFrom string
	// Schemes opens snapshot locations other than local paths: savepoint targets and
	// snapshots to restore.
	Schemes checkpoint.Schemes
	// RestoreLatest, when Restore and RestoreFrom are not set, starts the job from the latest snapshot of
	// Storage's lineage: the newest checkpoint or stop-with-savepoint of the run that last
	// used the location, or the snapshot that run started from if it completed none (see
	// docs/CHECKPOINTS.md, "Lineage"). It is looked up once the job holds the location's
	// lease, so no other job can move it in between. A location whose lineage has no snapshot
	// starts fresh.
	RestoreLatest bool
	// AllowNonRestoredState lets the job start from a snapshot holding state of operators it
	// does not have (by UID), whichever snapshot that is; Restore.AllowNonRestoredState does
	// the same for that snapshot.
	AllowNonRestoredState bool
	// Handle, if set, takes savepoints of the running job.
	Handle *Handle
	// OnStart, if set, is called before each run of the job starts its tasks, with the
	// snapshot the run starts from (nil for a fresh start).
	OnStart func(from *Restore)
}

// Restore names the snapshot a job starts from.
type Restore struct {
	// Storage holds the snapshot in directory Dir; Metadata is its metadata, read.
	Storage  checkpoint.Storage
	Dir      string
	Metadata *snapshot.Metadata
	// Location is where the snapshot is, as the lineage records it: the absolute path or
	// storage URL of its directory. Empty means checkpoint.Location(Storage, Dir).
	Location string
	// AllowNonRestoredState lets the job start when the snapshot has state for operators
	// the job does not have (by UID); otherwise that is an error.
	AllowNonRestoredState bool
}

func (c Checkpoints) enabled() bool { return c.Storage != nil && c.Coordinator.Interval > 0 }

// RestoreFrom returns the Restore of the snapshot at location: the directory of a savepoint
// or checkpoint (a path or storage URL ending in the snapshot's directory, such as
// /sp/savepoint-7-0a1b2c or s3://b/ckpt/chk-12), opened through schemes.
func RestoreFrom(ctx context.Context, location string, schemes checkpoint.Schemes) (*Restore, error) {
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
	st, err := schemes.Open(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("runtime: restoring %s: %w", location, err)
	}
	md, err := snapshot.ReadMetadata(ctx, st, dir)
	if err != nil {
		return nil, fmt.Errorf("runtime: restoring %s: %w", location, err)
	}
	return &Restore{Storage: st, Dir: dir, Metadata: md, Location: checkpoint.Location(st, dir)}, nil
}

// RestoreLatest returns the Restore of the latest snapshot of the lineage of the checkpoint
// location st (see Checkpoints.RestoreLatest), or nil and no error if the lineage has none. A
// location without a lineage record (written before lineages) gives its newest complete
// checkpoint. It fails, never falling back to an older snapshot, when the latest cannot be
// read.
//
// It reads without holding the location's lease: a job resuming the lineage sets
// Checkpoints.RestoreLatest instead, which looks the snapshot up under the lease.
func RestoreLatest(ctx context.Context, st checkpoint.Storage, schemes checkpoint.Schemes) (*Restore, error) {
	lin, err := snapshot.ReadLineage(ctx, st)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		id, md, err := snapshot.Latest(ctx, st)
		if errors.Is(err, snapshot.ErrNoCheckpoint) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		dir := snapshot.CheckpointDir(id)
		return &Restore{Storage: st, Dir: dir, Metadata: md, Location: checkpoint.Location(st, dir)}, nil
	case err != nil:
		return nil, fmt.Errorf("runtime: the latest snapshot: %w", err)
	case lin.Latest == nil:
		return nil, nil
	}
	return resolveRef(ctx, st, lin.Latest, schemes)
}

// resolveRef returns the Restore of the snapshot ref of the location st names.
func resolveRef(ctx context.Context, st checkpoint.Storage, ref *snapshot.SnapshotRef, schemes checkpoint.Schemes) (*Restore, error) {
	var (
		r   *Restore
		err error
	)
	if ref.Local() {
		var md *snapshot.Metadata
		if md, err = snapshot.ReadMetadata(ctx, st, ref.Location); err == nil {
			r = &Restore{Storage: st, Dir: ref.Location, Metadata: md, Location: checkpoint.Location(st, ref.Location)}
		}
	} else {
		r, err = RestoreFrom(ctx, ref.Location, schemes)
	}
	if err == nil && (r.Metadata.ID != ref.ID || r.Metadata.Savepoint != ref.Savepoint) {
		err = fmt.Errorf("%w: the metadata describes snapshot %d (savepoint %t)", snapshot.ErrCorrupt, r.Metadata.ID, r.Metadata.Savepoint)
	}
	if err != nil {
		return nil, fmt.Errorf("runtime: the latest snapshot of %s, %s, cannot be restored (restore another with --from-savepoint, or start fresh without --restore): %w",
			checkpoint.Location(st, ""), ref, err)
	}
	return r, nil
}
