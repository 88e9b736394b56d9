package file

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/runnel-io/runnel/connector"
)

// ErrMissing is wrapped by Committer.Commit when neither the pending file nor the final file of
// a committable exists: the part was aborted, deleted or never made durable, and its rows are
// lost.
var ErrMissing = errors.New("part file missing")

// record is the content of a Committable: one pending file.
type record struct {
	Pending string `json:"pending"`
	Final   string `json:"final"`
	Size    int64  `json:"size"`
}

func (r record) marshal() connector.Committable {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // strings and an integer always marshal
	}
	return b
}

// committer is the sink's Committer. It holds no resources.
type committer struct {
	dir string
	// run is the sink's run token ("" for Recover's parser). cleaned is the highest attempt
	// below which this committer deleted the run's orphaned pending files.
	run     string
	cleaned int
}

// parse decodes a committable and checks that it names a pending file and its final name in the
// same directory below the sink's root.
func (c *committer) parse(b connector.Committable) (record, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("file: decoding committable %q: %w", b, err)
	}
	if !c.inside(r.Pending) || !c.inside(r.Final) || filepath.Dir(r.Pending) != filepath.Dir(r.Final) {
		return r, fmt.Errorf("file: committable %q does not name a pending file and its final name below %s", b, c.dir)
	}
	if n, ok := parsePartName(filepath.Base(r.Pending)); !ok || n.state != statePending {
		return r, fmt.Errorf("file: committable %q does not name a pending file", b)
	}
	return r, nil
}

func (c *committer) inside(path string) bool {
	rel, err := filepath.Rel(c.dir, path)
	return err == nil && filepath.IsLocal(rel) && filepath.IsAbs(path)
}

// Commit renames each pending file to its final name and then syncs the directories. It is
// idempotent: a committable whose pending file is gone and whose final file has the recorded
// size was committed already. It commits what it can and returns the errors of the others
// joined: ErrMissing (wrapped) when neither file exists, or an error naming the file whose size
// differs from the recorded one, or that the rename would overwrite. Once it committed a part of
// attempt a of its sink's job run, it deletes the run's pending files of attempts before a (see
// removeOrphans).
func (c *committer) Commit(ctx context.Context, cs []connector.Committable) error {
	var errs []error
	attempt := 0 // the highest attempt of this run whose output is committed
	dirs := map[string]bool{}
	for _, b := range cs {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("file: commit: %w", err))
			break
		}
		r, err := c.parse(b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		renamed, err := commitOne(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("file: commit: %w", err))
		}
		if renamed {
			dirs[filepath.Dir(r.Final)] = true
		}
		if n, _ := parsePartName(filepath.Base(r.Pending)); c.run != "" && n.run == c.run {
			attempt = max(attempt, n.attempt)
		}
	}
	if attempt > c.cleaned && ctx.Err() == nil {
		c.removeOrphans(ctx, attempt)
	}
	for _, d := range slices.Sorted(maps.Keys(dirs)) {
		if err := syncDir(d); err != nil {
			errs = append(errs, fmt.Errorf("file: commit: %w", err))
		}
	}
	return errors.Join(errs...)
}

// commitOne commits one pending file; renamed reports whether it renamed it.
func commitOne(r record) (renamed bool, err error) {
	pst, perr := os.Stat(r.Pending)
	fst, ferr := os.Lstat(r.Final)
	switch {
	case perr == nil:
		if pst.Size() != r.Size {
			return false, fmt.Errorf("pending file %s has %d bytes, the checkpoint recorded %d", r.Pending, pst.Size(), r.Size)
		}
		if ferr == nil {
			return false, fmt.Errorf("final file %s already exists; not overwriting it with %s", r.Final, r.Pending)
		}
		if !errors.Is(ferr, fs.ErrNotExist) {
			return false, ferr
		}
		if err := os.Rename(r.Pending, r.Final); err != nil {
			return false, fmt.Errorf("renaming pending file to final: %w", err)
		}
		return true, nil
	case !errors.Is(perr, fs.ErrNotExist):
		return false, perr
	case ferr == nil:
		if fst.Size() != r.Size {
			return false, fmt.Errorf("final file %s has %d bytes, the checkpoint recorded %d", r.Final, fst.Size(), r.Size)
		}
		return false, nil // committed before
	case errors.Is(ferr, fs.ErrNotExist):
		return false, fmt.Errorf("%w: neither pending file %s nor final file %s exists", ErrMissing, r.Pending, r.Final)
	default:
		return false, ferr
	}
}

// removeOrphans deletes the pending files of this job run (c.run) written by attempts before
// attempt, once a committable of attempt was committed: they are orphans. Committables reach a
// Committer only from completed checkpoints (or the end of input without checkpoints); a
// checkpoint of attempt completes only after every subtask of attempt opened, and opening
// re-commits the committables of the restored checkpoint, which holds every committable not yet
// committed. So a pending file of an earlier attempt still pending now was pre-committed at a
// checkpoint that never completed, and its rows are replayed. Files of other runs (another
// process, another job) are left to Recover. Deletion errors are not returned: an orphan costs
// disk space, never correctness, and must not fail the job; Recover reports them.
func (c *committer) removeOrphans(ctx context.Context, attempt int) {
	_, _ = removeLeftovers(ctx, c.dir, func(n partName) bool {
		return n.state == statePending && n.run == c.run && n.attempt < attempt
	}, nil)
	c.cleaned = attempt
}

// Abort deletes the pending files of the committables, if present; it never touches final
// files. It returns the errors of undecodable committables and failed deletions, joined.
func (c *committer) Abort(ctx context.Context, cs []connector.Committable) error {
	var errs []error
	for _, b := range cs {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("file: abort: %w", err))
			break
		}
		r, err := c.parse(b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.Remove(r.Pending); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("file: abort: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Close does nothing: the committer holds no resources.
func (c *committer) Close() error { return nil }
