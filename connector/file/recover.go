package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/runnel-io/runnel/connector"
)

// Recover deletes, below dir, every in-progress part file and every pending part file that
// keep does not name; keep is the committables of the checkpoint being restored, which the
// runtime commits (again) afterwards. It returns the paths it deleted, sorted.
//
// Call it at restore, before the new writers start and with no other job writing to dir: it
// would delete the in-progress files of running writers. Without it, leftovers stay hidden and
// only cost disk space; NewWriter itself deletes only its own subtask's in-progress files of
// earlier attempts. It returns an error if a committable in keep cannot be decoded or a file
// cannot be listed or deleted; it deletes what it can.
func Recover(ctx context.Context, dir string, keep []connector.Committable) ([]string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("file: recover %s: %w", dir, err)
	}
	c := committer{dir: abs}
	kept := map[string]bool{}
	for _, b := range keep {
		r, err := c.parse(b)
		if err != nil {
			return nil, fmt.Errorf("file: recover %s: %w", abs, err)
		}
		kept[r.Pending] = true
	}
	removed, err := removeLeftovers(ctx, abs, func(partName) bool { return true }, kept)
	if err != nil {
		return removed, fmt.Errorf("file: recover %s: %w", abs, err)
	}
	return removed, nil
}

// removeLeftovers deletes the hidden part files below root for which match is true, except the
// paths in keep (which may be nil), and returns the deleted paths, sorted.
func removeLeftovers(ctx context.Context, root string, match func(partName) bool, keep map[string]bool) ([]string, error) {
	var removed []string
	var errs []error
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, err)
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		n, ok := parsePartName(d.Name())
		if !ok || !match(n) {
			return nil
		}
		if keep[path] {
			return nil
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			return nil
		}
		removed = append(removed, path)
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	slices.Sort(removed)
	return removed, errors.Join(errs...)
}
