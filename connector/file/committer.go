package file

import (
	"context"
	"errors"
	"fmt"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/filesystem"
)

// ErrMissing is filesystem.ErrMissing, wrapped by Committer.Commit when neither the pending
// file of a committable nor its committed file exists: the part was aborted, deleted or never
// made durable (or its S3 upload expired), and its rows are lost.
var ErrMissing = filesystem.ErrMissing

// committer is the sink's Committer. It holds no resources.
type committer struct {
	fs  filesystem.FS
	dir string
	// run is the sink's run token ("" for Recover). cleaned is the highest attempt below
	// which this committer aborted the run's orphaned files.
	run     string
	cleaned int
}

// parse decodes a committable and checks that it names a part file below the sink's
// directory.
func (c *committer) parse(b connector.Committable) (filesystem.Pending, error) {
	p, err := c.fs.DecodePending(b)
	if err != nil {
		return p, fmt.Errorf("file: committable: %w", err)
	}
	if rel, ok := filesystem.Rel(c.dir, p.Name); !ok || rel == "" {
		return p, fmt.Errorf("file: committable %q does not name a file below %s", b, c.dir)
	}
	if _, ok := parsePartName(baseName(p.Name)); !ok {
		return p, fmt.Errorf("file: committable %q does not name a part file", b)
	}
	return p, nil
}

// Commit makes each committable's pending file visible under its name (filesystem.FS.Commit).
// It is idempotent: a part committed before, of the recorded size, is no error. It commits
// what it can and returns the errors of the others joined: ErrMissing (wrapped) when neither
// the pending nor the committed file exists, filesystem.ErrMismatch when a file of another size
// has the part's name. Once it committed a part of attempt a of its sink's job run, it aborts
// the run's uncommitted files of attempts before a (see removeOrphans).
func (c *committer) Commit(ctx context.Context, cs []connector.Committable) error {
	var errs []error
	attempt := 0 // the highest attempt of this run whose output is committed
	for _, b := range cs {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("file: commit: %w", err))
			break
		}
		p, err := c.parse(b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := c.fs.Commit(ctx, p); err != nil {
			errs = append(errs, fmt.Errorf("file: commit: %w", err))
		}
		if n, _ := parsePartName(baseName(p.Name)); c.run != "" && n.run == c.run {
			attempt = max(attempt, n.attempt)
		}
	}
	if attempt > c.cleaned && ctx.Err() == nil {
		c.removeOrphans(ctx, attempt)
	}
	return errors.Join(errs...)
}

// removeOrphans aborts the uncommitted files of this job run (c.run) written by attempts
// before attempt, once a committable of attempt was committed: they are orphans. Committables
// reach a Committer only from completed checkpoints (or the end of input without checkpoints);
// a checkpoint of attempt completes only after every subtask of attempt opened, and opening
// re-commits the committables of the restored checkpoint, which holds every committable not
// yet committed. So a file of an earlier attempt still uncommitted now was being written by a
// writer that failed, or pre-committed at a checkpoint that never completed, and its rows are
// replayed. Files of other runs (another process, another job) are left to Recover. Errors
// are not returned: an orphan costs space, never correctness, and must not fail the job;
// Recover reports them.
func (c *committer) removeOrphans(ctx context.Context, attempt int) {
	pending, _ := c.fs.ListPending(ctx, c.dir)
	for _, p := range pending {
		if n, ok := parsePartName(baseName(p.Name)); ok && n.run == c.run && n.attempt < attempt {
			_ = c.fs.Abort(ctx, p)
		}
	}
	c.cleaned = attempt
}

// Abort discards the pending files of the committables, if present; it never touches
// committed files. It returns the errors of undecodable committables and failed aborts,
// joined.
func (c *committer) Abort(ctx context.Context, cs []connector.Committable) error {
	var errs []error
	for _, b := range cs {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("file: abort: %w", err))
			break
		}
		p, err := c.parse(b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := c.fs.Abort(ctx, p); err != nil {
			errs = append(errs, fmt.Errorf("file: abort: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Close does nothing: the committer holds no resources.
func (c *committer) Close() error { return nil }
