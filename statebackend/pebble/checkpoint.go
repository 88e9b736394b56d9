package pebble

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/state"
)

// File is a file of a checkpoint directory made by Checkpoint.
type File struct {
	// Name is the file's name in the directory (and in the directory RestoreFiles fills).
	Name string
	// Size is its size in bytes.
	Size int64
	// Immutable is true for SSTs and blob files: Pebble never changes a file of that name in
	// this database, so one uploaded for an earlier checkpoint can be referenced again
	// instead of uploaded (checkpoint.KeyedState.Shared). The others (MANIFEST, OPTIONS,
	// markers) are small and belong to one checkpoint.
	Immutable bool
}

// Checkpoint flushes the memtable and writes into dir, which must not exist, a consistent copy
// of the database as it is now: hard links to its immutable files (copies across file
// systems) and the few small files describing them. It runs on the owner goroutine and costs
// a memtable flush plus the links; the caller then uploads the files at leisure (the links keep
// them even if compactions delete them from the database) and removes dir. It returns the
// files, sorted by name.
//
// File names are unique within this database's life, including after RestoreFiles (Pebble
// goes on numbering from the restored files), but not across databases: name shared uploads
// with something unique to the database, and remember which files were uploaded under which
// name (seed that from the restored checkpoint after a restore).
func (b *Backend) Checkpoint(dir string) ([]File, error) {
	if b.db == nil {
		return nil, errors.New("pebble: checkpoint of a closed backend")
	}
	if err := b.db.Flush(); err != nil {
		return nil, fmt.Errorf("pebble: flushing %s for a checkpoint: %w", b.opts.Dir, err)
	}
	if err := b.db.Checkpoint(dir); err != nil {
		return nil, fmt.Errorf("pebble: checkpoint of %s into %s: %w", b.opts.Dir, dir, err)
	}
	return Files(dir)
}

// immutable reports whether Pebble never changes the file called name once made.
func immutable(name string) bool {
	return strings.HasSuffix(name, ".sst") || strings.HasSuffix(name, ".blob")
}

// Files lists the files of a checkpoint directory, sorted by name.
func Files(dir string) ([]File, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("pebble: listing checkpoint %s: %w", dir, err)
	}
	var out []File
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("pebble: listing checkpoint %s: %w", dir, err)
		}
		name := e.Name()
		out = append(out, File{Name: name, Size: info.Size(),
			Immutable: immutable(name)})
	}
	slices.SortFunc(out, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// RestoreFiles restores a checkpoint taken by Checkpoint on a subtask whose key groups include
// opts.Range: it copies the files names (as Checkpoint listed them) from open into opts.Dir,
// which must be empty or missing, opens the database there, and deletes the key groups outside
// opts.Range (a range deletion: cheap, space comes back with compactions). That is the restore
// at unchanged parallelism, and the first step of a restore that splits a subtask's key groups;
// RestoreRange adds the groups of further checkpoints. It checks ctx between files.
func RestoreFiles(ctx context.Context, opts Options, names []string, open func(ctx context.Context, name string) (io.ReadCloser, error)) (*Backend, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if ents, err := os.ReadDir(opts.Dir); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("pebble: restoring into %s: directory is not empty", opts.Dir)
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("pebble: restoring into %s: %w", opts.Dir, err)
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if name != filepath.Base(name) || name == "." || name == ".." {
			return nil, fmt.Errorf("pebble: restoring into %s: bad file name %q", opts.Dir, name)
		}
		if err := copyFile(ctx, filepath.Join(opts.Dir, name), name, open); err != nil {
			return nil, fmt.Errorf("pebble: restoring %s into %s: %w", name, opts.Dir, err)
		}
	}
	b, err := Open(opts)
	if err != nil {
		return nil, err
	}
	if err := b.trim(); err != nil {
		_ = b.Close()
		return nil, err
	}
	return b, nil
}

// copyFile copies the file name that open opens to dst. When open gives a local file (a
// checkpoint in a file:// directory) and name is immutable (an SST or blob file: Pebble never
// writes to one after making it, and drops it by unlinking), it hard-links the file instead,
// which costs nothing however large it is; it copies when it cannot link (another file system).
func copyFile(ctx context.Context, dst, name string, open func(context.Context, string) (io.ReadCloser, error)) error {
	r, err := open(ctx, name)
	if err != nil {
		return err
	}
	defer r.Close()
	if f, ok := r.(*os.File); ok && immutable(name) {
		if err := os.Link(f.Name(), dst); err == nil {
			return nil
		}
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// trim deletes the key groups outside the backend's range.
func (b *Backend) trim() error {
	r := b.opts.Range
	if r.Start > 0 {
		if err := b.db.DeleteRange(groupKey(0), groupKey(r.Start), pebble.NoSync); err != nil {
			return fmt.Errorf("pebble: trimming %s to %v: %w", b.opts.Dir, r, err)
		}
	}
	if err := b.db.DeleteRange(groupKey(r.End), []byte{metaPrefix}, pebble.NoSync); err != nil {
		return fmt.Errorf("pebble: trimming %s to %v: %w", b.opts.Dir, r, err)
	}
	return nil
}

// RestoreRange copies into b the state of the key groups of b's range that the checkpoint in
// dir holds (a directory made by Checkpoint, or filled with its files), translating state ids
// between the two databases. dir is opened read-only and left unchanged. It is the restore of
// a subtask whose key groups come from several old subtasks: call it once per overlapping old
// subtask's checkpoint (checkpoint.OperatorState.Overlapping), into a fresh backend or one made
// by RestoreFiles. It checks ctx between batches of 4 MiB.
func (b *Backend) RestoreRange(ctx context.Context, dir string) error {
	if b.db == nil {
		return errors.New("pebble: restore into a closed backend")
	}
	cache := pebble.NewCache(cacheSize(b.opts))
	defer cache.Unref()
	src, err := pebble.Open(dir, pebbleOptions(b.opts, cache, true))
	if err != nil {
		return fmt.Errorf("pebble: opening checkpoint %s: %w", dir, err)
	}
	defer src.Close()
	reg, err := readRegistry(src)
	if err != nil {
		return fmt.Errorf("pebble: checkpoint %s: %w", dir, err)
	}
	ids := make(map[uint64][]byte, len(reg)) // source id -> our id's bytes
	for _, si := range reg {
		t, err := b.table(state.TableSpec{Name: si.name, Kind: si.kind})
		if err != nil {
			return fmt.Errorf("pebble: restoring from checkpoint %s: %w", dir, err)
		}
		ids[si.id] = t.idBytes
	}
	it, err := src.NewIter(&pebble.IterOptions{LowerBound: groupKey(b.opts.Range.Start), UpperBound: groupKey(b.opts.Range.End)})
	if err != nil {
		return fmt.Errorf("pebble: reading checkpoint %s: %w", dir, err)
	}
	defer it.Close()
	batch := b.db.NewBatch()
	defer func() { _ = batch.Close() }()
	var key []byte
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		id, m := binary.Uvarint(k[2:])
		if m <= 0 {
			return fmt.Errorf("pebble: checkpoint %s: key %x has no state id", dir, k)
		}
		ours, ok := ids[id]
		if !ok {
			return fmt.Errorf("pebble: checkpoint %s: key %x of unregistered state %d", dir, k, id)
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("pebble: reading checkpoint %s: %w", dir, err)
		}
		key = append(append(append(key[:0], k[:2]...), ours...), k[2+m:]...)
		if err := batch.Set(key, v, nil); err != nil {
			return err
		}
		if batch.Len() >= 4<<20 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := batch.Commit(pebble.NoSync); err != nil {
				return fmt.Errorf("pebble: restoring from checkpoint %s: %w", dir, err)
			}
			batch.Reset()
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("pebble: reading checkpoint %s: %w", dir, err)
	}
	if err := batch.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("pebble: restoring from checkpoint %s: %w", dir, err)
	}
	return nil
}

// Range returns the key groups the backend owns.
func (b *Backend) Range() keygroup.Range { return b.opts.Range }

// Compact rewrites the key groups' data into the database's bottom level, dropping deleted and
// overwritten entries (such as the key groups RestoreFiles deleted). It blocks until done or
// ctx ends. Optional: Pebble compacts in the background anyway; compacting right after a
// restore or a bulk load keeps the next incremental checkpoints small, since files of the
// bottom level change only when the keys they hold do.
func (b *Backend) Compact(ctx context.Context) error {
	if b.db == nil {
		return errors.New("pebble: compaction of a closed backend")
	}
	if err := b.db.Compact(ctx, groupKey(0), []byte{metaPrefix}, true); err != nil {
		return fmt.Errorf("pebble: compacting %s: %w", b.opts.Dir, err)
	}
	return nil
}
