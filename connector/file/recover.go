package file

import (
	"context"
	"errors"
	"fmt"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/filesystem"
)

// Recover discards, below dir of fsys (nil: filesystem.Local{}), every uncommitted part file
// (in progress, or finished and never committed: hidden files locally, multipart uploads on
// S3) that keep does not name; keep is the committables of the checkpoint being restored,
// which the runtime commits (again) afterwards. It returns the files it discarded. Other
// uncommitted files below dir (whose names are not part names) are left alone.
//
// Call it at restore, before the new writers start and with no other job writing to dir: it
// would discard the files of running writers. Without it, leftovers stay hidden and only cost
// space; NewWriter itself discards only its own subtask's in-progress files of earlier
// attempts, and the Committer the files of its own job run's failed attempts. It returns an
// error if a committable in keep cannot be decoded or a file cannot be listed or discarded; it
// discards what it can.
func Recover(ctx context.Context, fsys filesystem.FS, dir string, keep []connector.Committable) ([]filesystem.Pending, error) {
	if fsys == nil {
		fsys = filesystem.Local{}
	}
	root, err := fsys.Resolve(dir)
	if err != nil {
		return nil, fmt.Errorf("file: recover: %w", err)
	}
	c := committer{fs: fsys, dir: root}
	kept := map[string]bool{}
	for _, b := range keep {
		p, err := c.parse(b)
		if err != nil {
			return nil, fmt.Errorf("file: recover %s: %w", root, err)
		}
		kept[p.ID] = true
	}
	pending, err := fsys.ListPending(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("file: recover %s: %w", root, err)
	}
	var removed []filesystem.Pending
	var errs []error
	for _, p := range pending {
		if _, ok := parsePartName(baseName(p.Name)); !ok || kept[p.ID] {
			continue
		}
		if err := fsys.Abort(ctx, p); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, p)
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("file: recover %s: %w", root, err)
	}
	return removed, nil
}
