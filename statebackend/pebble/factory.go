package pebble

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/runnel-io/runnel/state"
)

// Factory returns the state.BackendFactory that keeps keyed state on disk in Pebble, for state
// larger than memory: Config.StateBackend = pebble.Factory(dir, 0). Each operator subtask gets
// its own database under dir, named after the operator and subtask; dir is scratch space owned
// by the job (a database left there by an earlier run is removed first, and each is removed
// when its task ends), so concurrent jobs need different directories. cacheBytes bounds the
// block cache per subtask (0: the default, 8 MiB). Keyed state made through the state handles
// (KeyedProcess, Reduce, Aggregate, KeyedCoProcess, keyed broadcast functions, the join
// buffers) and the window operator's panes and timers live there; keyed timers of the process
// and join operators, and broadcast state (operator state, as in Flink), stay in memory.
// Checkpoints of a Pebble backend are incremental (state.FileCheckpointer): only new SST
// files are uploaded.
func Factory(dir string, cacheBytes int64) state.BackendFactory {
	return func(ctx context.Context, c state.BackendContext) (state.Backend, error) {
		name := strings.Map(func(r rune) rune {
			if r == '/' || r == '\\' || r == ' ' || r == ':' {
				return '_'
			}
			return r
		}, c.Operator)
		db := filepath.Join(dir, fmt.Sprintf("%s-%d-%d", name, c.NodeID, c.Subtask))
		if err := os.RemoveAll(db); err != nil {
			return nil, fmt.Errorf("pebble: clearing %s: %w", db, err)
		}
		opts := Options{Dir: db, Range: c.KeyGroups, CacheSize: cacheBytes, Logger: c.Logger}
		files := c.Restored
		if len(files) == 1 && files[0].Range == c.KeyGroups {
			// Unchanged parallelism: the checkpoint's files are this subtask's database.
			b, err := RestoreFiles(ctx, opts, files[0].Names, files[0].Open)
			if err != nil {
				return nil, err
			}
			return &scratch{Backend: b, dir: db, restored: true}, nil
		}
		b, err := Open(opts)
		if err != nil {
			return nil, err
		}
		r := &scratch{Backend: b, dir: db, restored: len(files) > 0}
		// Rescaled: copy this subtask's key groups out of each overlapping old database.
		for i, f := range files {
			if err := restoreRange(ctx, b, f, fmt.Sprintf("%s-restore-%d", db, i)); err != nil {
				_ = r.Close()
				return nil, err
			}
		}
		return r, nil
	}
}

// restoreRange downloads the files of an old subtask's database into dir and copies the key
// groups of b's range from it.
func restoreRange(ctx context.Context, b *Backend, f state.RestoredFiles, dir string) error {
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, name := range f.Names {
		if err := download(ctx, f, name, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("pebble: restoring %s: %w", name, err)
		}
	}
	return b.RestoreRange(ctx, dir)
}

func download(ctx context.Context, f state.RestoredFiles, name, dst string) error {
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

// scratch is a Backend in a scratch database, deleted when the backend closes.
type scratch struct {
	*Backend
	dir      string
	restored bool // restored from the files of a file snapshot
}

var _ state.FileCheckpointer = (*scratch)(nil)

// RestoredFiles implements state.FileCheckpointer.
func (r *scratch) RestoredFiles() bool { return r.restored }

// CheckpointFiles implements state.FileCheckpointer: a Pebble checkpoint in a directory next
// to the database (hard links, so it costs a memtable flush).
func (r *scratch) CheckpointFiles(id int64) (*state.FileSnapshot, error) {
	dir := fmt.Sprintf("%s-chk-%d", r.dir, id)
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	files, err := r.Backend.Checkpoint(dir)
	if err != nil {
		return nil, err
	}
	fs := &state.FileSnapshot{Dir: dir, Files: make([]state.SnapshotFile, len(files))}
	for i, f := range files {
		fs.Files[i] = state.SnapshotFile{Name: f.Name, Size: f.Size, Immutable: f.Immutable}
	}
	return fs, nil
}

func (r *scratch) Close() error {
	err := r.Backend.Close()
	if rerr := os.RemoveAll(r.dir); err == nil {
		err = rerr
	}
	return err
}
