package stream

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/internal/statebackend/pebble"
	"github.com/runnel-io/runnel/state"
)

// PebbleState returns a Config.StateBackend that keeps keyed state on disk in Pebble, for state
// larger than memory. Each operator subtask gets its own database under dir, named after the
// operator and subtask; dir is scratch space owned by the job (a database left there by an
// earlier run is removed first, and each is removed when its task ends), so concurrent jobs
// need different directories. cacheBytes bounds the block cache per subtask (0: the default,
// 8 MiB). Keyed state made through the state handles (KeyedProcess, Reduce, Aggregate,
// KeyedCoProcess, keyed broadcast functions, the join buffers) and the window operator's panes
// and timers live there. Keyed timers of the process and join operators, and broadcast state
// (operator state, as in Flink), stay in memory.
func PebbleState(dir string, cacheBytes int64) func(c *rt.Context) (state.Backend, error) {
	return func(c *rt.Context) (state.Backend, error) {
		name := strings.Map(func(r rune) rune {
			if r == '/' || r == '\\' || r == ' ' || r == ':' {
				return '_'
			}
			return r
		}, c.Name)
		db := filepath.Join(dir, fmt.Sprintf("%s-%d-%d", name, c.NodeID, c.Subtask))
		if err := os.RemoveAll(db); err != nil {
			return nil, fmt.Errorf("clearing %s: %w", db, err)
		}
		opts := pebble.Options{Dir: db, Range: c.KeyGroups, CacheSize: cacheBytes, Logger: c.Logger}
		files := c.Restored().Files()
		if len(files) == 1 && files[0].Range == c.KeyGroups {
			// Unchanged parallelism: the checkpoint's files are this subtask's database.
			b, err := pebble.RestoreFiles(c.Ctx(), opts, files[0].Names, files[0].Open)
			if err != nil {
				return nil, err
			}
			return &removeOnClose{Backend: b, dir: db, restored: true}, nil
		}
		b, err := pebble.Open(opts)
		if err != nil {
			return nil, err
		}
		r := &removeOnClose{Backend: b, dir: db, restored: len(files) > 0}
		// Rescaled: copy this subtask's key groups out of each overlapping old database.
		for i, f := range files {
			if err := restoreRange(c, b, f, fmt.Sprintf("%s-restore-%d", db, i)); err != nil {
				_ = r.Close()
				return nil, err
			}
		}
		return r, nil
	}
}

// restoreRange downloads the files of an old subtask's database into scratch and copies the
// key groups of b's range from it.
func restoreRange(c *rt.Context, b *pebble.Backend, f rt.RestoredFiles, scratch string) error {
	defer os.RemoveAll(scratch)
	if err := os.MkdirAll(scratch, 0o755); err != nil {
		return err
	}
	for _, name := range f.Names {
		if err := download(c.Ctx(), f, name, filepath.Join(scratch, name)); err != nil {
			return fmt.Errorf("restoring %s: %w", name, err)
		}
	}
	return b.RestoreRange(c.Ctx(), scratch)
}

func download(ctx context.Context, f rt.RestoredFiles, name, dst string) error {
	r, err := f.Open(ctx, name)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		_ = w.Close()
		return err
	}
	return w.Close()
}

// removeOnClose deletes a scratch database when its backend closes.
type removeOnClose struct {
	*pebble.Backend
	dir      string
	restored bool // restored from the files of an incremental checkpoint
}

// RestoredFiles reports whether the backend restored the files of an incremental checkpoint.
func (r *removeOnClose) RestoredFiles() bool { return r.restored }

// CheckpointFiles takes an incremental snapshot: a Pebble checkpoint in a directory next to
// the database (hard links, so it costs a memtable flush).
func (r *removeOnClose) CheckpointFiles(id int64) (*rt.FileSnapshot, error) {
	dir := fmt.Sprintf("%s-chk-%d", r.dir, id)
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	files, err := r.Backend.Checkpoint(dir)
	if err != nil {
		return nil, err
	}
	fs := &rt.FileSnapshot{Dir: dir, Files: make([]rt.SnapshotFile, len(files))}
	for i, f := range files {
		fs.Files[i] = rt.SnapshotFile{Name: f.Name, Size: f.Size, Immutable: f.Immutable}
	}
	return fs, nil
}

func (r *removeOnClose) Close() error {
	err := r.Backend.Close()
	if rerr := os.RemoveAll(r.dir); err == nil {
		err = rerr
	}
	return err
}
