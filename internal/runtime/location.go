package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/internal/snapshot"
)

// This file is a job's hold on its checkpoint location for the whole of Run: the location's
// lease, taken before anything is read or written there, and its lineage record, which says
// which snapshot "restore latest" resumes and keeps snapshot IDs going up across runs (see
// docs/CHECKPOINTS.md, "Lineage" and "Lease").

// location is the checkpoint location of a job while Run runs. Its methods are called by
// Run before the first run, then by the checkpoint loop of one run at a time.
type location struct {
	st    checkpoint.Storage
	lease checkpoint.Lease // nil if the storage cannot lease
	lin   snapshot.Lineage
	log   func(msg string, args ...any)
}

// takeLocation takes the lease of the checkpoint location of cfg for the job's run run, and
// reads the location's lineage. Another job holding the lease is an error naming it.
func takeLocation(ctx context.Context, cfg *Config, job, run string) (*location, error) {
	st := cfg.Checkpoints.Storage
	loc := &location{st: st, log: cfg.Logger.Info}
	where := checkpoint.Location(st, "")
	if l, ok := st.(checkpoint.Leaser); ok {
		lease, err := l.Lease(ctx, checkpoint.NewHolder(job, run, cfg.Clock.Now()))
		switch {
		case errors.Is(err, errors.ErrUnsupported):
			cfg.Logger.Warn("the checkpoint location cannot be leased: nothing keeps a second job off it", "location", where, "err", err)
		case errors.Is(err, checkpoint.ErrLeased):
			return nil, fmt.Errorf("runtime: %w; stop that job, or give this one another checkpoint location", err)
		case err != nil:
			return nil, fmt.Errorf("runtime: checkpoint location %s: %w", where, err)
		default:
			loc.lease = lease
		}
	} else {
		cfg.Logger.Warn("the checkpoint storage has no lease: nothing keeps a second job off it", "location", where)
	}
	lin, err := snapshot.ReadLineage(ctx, st)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		loc.lin = snapshot.Lineage{}
	case err != nil:
		loc.release()
		return nil, fmt.Errorf("runtime: %w (move the file away to start a new lineage on the location)", err)
	default:
		loc.lin = *lin
	}
	loc.lin.Job, loc.lin.Run = job, run
	return loc, nil
}

// held reports whether the job still holds the location: its lease was not lost.
func (loc *location) held() bool {
	return loc.lease == nil || loc.lease.Err() == nil
}

// release gives the lease up.
func (loc *location) release() {
	if loc.lease == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = loc.lease.Release(ctx)
}

// start settles where the job starts: restore if set, else with latest the lineage's latest
// snapshot (a location without a lineage record: its newest complete checkpoint), else
// nothing. It records the start in the lineage, before any task runs, and returns the
// snapshot and the first ID of the job's own snapshots, above every ID the location has seen.
func (loc *location) start(ctx context.Context, restore *Restore, latest bool, schemes checkpoint.Schemes, now time.Time) (*Restore, int64, error) {
	if restore == nil && latest {
		var err error
		if restore, err = RestoreLatest(ctx, loc.st, schemes); err != nil {
			return nil, 0, err
		}
		if restore == nil {
			loc.log("no snapshot to restore on the checkpoint location; starting fresh", "location", checkpoint.Location(loc.st, ""))
		}
	}
	highest, err := snapshot.HighestID(ctx, loc.st, &loc.lin)
	if err != nil {
		return nil, 0, fmt.Errorf("runtime: %w", err)
	}
	loc.lin.Latest = nil
	if restore != nil {
		highest = max(highest, restore.Metadata.ID)
		loc.lin.Latest = restore.ref()
		if _, ok := snapshot.ParseCheckpointDir(restore.Dir); ok &&
			checkpoint.Location(restore.Storage, "") == checkpoint.Location(loc.st, "") {
			loc.lin.Latest.Location = restore.Dir // one of the location's own checkpoints
		}
	}
	loc.lin.HighestID = highest
	if err := loc.write(ctx, now); err != nil {
		return nil, 0, err
	}
	from := "nothing (a fresh start)"
	if r := loc.lin.Latest; r != nil {
		from = r.String()
	}
	loc.log("checkpoint location held", "location", checkpoint.Location(loc.st, ""), "run", loc.lin.Run,
		"starts_from", from, "first_id", highest+1)
	return restore, highest + 1, nil
}

// completed records the completion of snapshot ref: with resumes it becomes the lineage's
// latest (a checkpoint, or a stop-with-savepoint, whose output sinks commit next); an
// intermediate savepoint only raises the highest ID. It fails if the lease was lost: the job
// must then commit nothing.
func (loc *location) completed(ctx context.Context, ref *snapshot.SnapshotRef, resumes bool, now time.Time) error {
	if loc.lease != nil {
		select {
		case <-loc.lease.Done():
			return fmt.Errorf("runtime: not recording %s: %w", ref, loc.lease.Err())
		default:
		}
	}
	prev := loc.lin
	loc.lin.HighestID = max(loc.lin.HighestID, ref.ID)
	if resumes {
		loc.lin.Latest = ref
	}
	if err := loc.write(ctx, now); err != nil {
		loc.lin = prev
		return err
	}
	return nil
}

func (loc *location) write(ctx context.Context, now time.Time) error {
	loc.lin.Updated = now.UTC()
	if err := snapshot.WriteLineage(ctx, loc.st, &loc.lin); err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	return nil
}

// ref returns how the lineage names r.
func (r *Restore) ref() *snapshot.SnapshotRef {
	where := r.Location
	if where == "" {
		where = checkpoint.Location(r.Storage, r.Dir)
	}
	return &snapshot.SnapshotRef{ID: r.Metadata.ID, Savepoint: r.Metadata.Savepoint, Location: where, Timestamp: r.Metadata.Timestamp}
}
