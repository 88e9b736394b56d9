package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/runnel-io/runnel/checkpoint"
)

// Info describes one snapshot directory below a root, for listings. A directory is in one of
// three states: complete (Complete), with a metadata file that cannot be used (Err), or
// incomplete (neither).
type Info struct {
	// Dir is the directory, "chk-<id>" or "savepoint-<id>-<random>".
	Dir       string
	ID        int64
	Savepoint bool
	// Complete says the snapshot exists and can be restored: the directory has its metadata
	// file, which reads and describes this snapshot. Directories without a metadata file are
	// checkpoints in progress, or leftovers of aborted or crashed ones.
	Complete bool
	// Timestamp is the trigger time from the metadata (zero unless Complete).
	Timestamp time.Time
	// Files and Size count the files in the directory and their bytes (shared files not
	// included).
	Files int
	Size  int64
	// Err is why the directory's metadata file cannot be used, which restoring it would fail
	// on too: an error of ReadMetadata (wrapping ErrCorrupt, ErrUnsupportedVersion or the
	// storage's error), or one wrapping ErrCorrupt when the metadata describes another snapshot.
	// Complete is false when Err is set; Err is nil for directories without a metadata file.
	Err error
}

// List returns the snapshot directories below the root of st, checkpoints ("chk-<id>") and
// savepoints ("savepoint-<id>-<random>") alike, in increasing ID order (checkpoints first on a
// tie), reading the metadata files. Other files are ignored. It fails only if listing fails; a
// metadata file that cannot be used is reported in its Info.
func List(ctx context.Context, st checkpoint.Storage) ([]Info, error) {
	files, err := st.List(ctx, "")
	if err != nil {
		return nil, err
	}
	byDir := map[string]*Info{}
	hasMetadata := map[*Info]bool{}
	var out []*Info
	for _, f := range files {
		dir, rest, ok := strings.Cut(f.Name, "/")
		if !ok {
			continue
		}
		info := byDir[dir]
		if info == nil {
			if id, ok := ParseCheckpointDir(dir); ok {
				info = &Info{Dir: dir, ID: id}
			} else if id, ok := ParseSavepointDir(dir); ok {
				info = &Info{Dir: dir, ID: id, Savepoint: true}
			} else {
				continue
			}
			byDir[dir] = info
			out = append(out, info)
		}
		info.Files++
		info.Size += f.Size
		if rest == MetadataFile {
			hasMetadata[info] = true
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		if out[i].Savepoint != out[j].Savepoint {
			return !out[i].Savepoint
		}
		return out[i].Dir < out[j].Dir
	})
	infos := make([]Info, len(out))
	for i, info := range out {
		if hasMetadata[info] {
			m, err := ReadMetadata(ctx, st, info.Dir)
			if err == nil && (m.ID != info.ID || m.Savepoint != info.Savepoint) {
				err = fmt.Errorf("checkpoint: %s: %w: metadata describes snapshot %d (savepoint %t)", info.Dir, ErrCorrupt, m.ID, m.Savepoint)
			}
			if err != nil {
				info.Err = err
			} else {
				info.Complete, info.Timestamp = true, m.Timestamp
			}
		}
		infos[i] = *info
	}
	return infos, nil
}

// Latest returns the complete checkpoint with the highest ID below the root of st and its
// metadata: the one to restore from. Incomplete checkpoint directories (no metadata file) are
// ignored; savepoints are not considered. It returns ErrNoCheckpoint if there is no complete
// checkpoint, and an error (never an older checkpoint) if the latest one's metadata cannot be
// read: restoring older state than the sinks already committed would duplicate output.
func Latest(ctx context.Context, st checkpoint.Storage) (int64, *Metadata, error) {
	ids, err := completeCheckpoints(ctx, st)
	if err != nil {
		return 0, nil, err
	}
	if len(ids) == 0 {
		return 0, nil, ErrNoCheckpoint
	}
	id := ids[len(ids)-1]
	m, err := ReadMetadata(ctx, st, CheckpointDir(id))
	if err != nil {
		return 0, nil, fmt.Errorf("checkpoint: latest checkpoint %d: %w", id, err)
	}
	if m.ID != id || m.Savepoint {
		return 0, nil, fmt.Errorf("checkpoint: latest checkpoint %d: %w: metadata describes snapshot %d (savepoint %t)", id, ErrCorrupt, m.ID, m.Savepoint)
	}
	return id, m, nil
}

// completeCheckpoints returns the IDs of the checkpoint directories holding a metadata file, in
// increasing order.
func completeCheckpoints(ctx context.Context, st checkpoint.Storage) ([]int64, error) {
	files, err := st.List(ctx, "chk-")
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, f := range files {
		dir, rest, _ := strings.Cut(f.Name, "/")
		if id, ok := ParseCheckpointDir(dir); ok && rest == MetadataFile {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids, nil
}

// DeleteSnapshot deletes every file of the snapshot in dir: its metadata file first, so the
// snapshot stops existing before any of its files goes, whatever happens next. Shared files
// are not touched (Retain deletes those). Deleting a snapshot that does not exist succeeds.
func DeleteSnapshot(ctx context.Context, st checkpoint.Storage, dir string) error {
	if err := checkpoint.CheckName(dir); err != nil {
		return err
	}
	if err := st.Delete(ctx, MetadataPath(dir)); err != nil {
		return fmt.Errorf("checkpoint: deleting snapshot %s: %w", dir, err)
	}
	files, err := st.List(ctx, dir+"/")
	if err != nil {
		return fmt.Errorf("checkpoint: deleting snapshot %s: %w", dir, err)
	}
	var errs []error
	for _, f := range files {
		if err := st.Delete(ctx, f.Name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("checkpoint: deleting snapshot %s: %w", dir, errors.Join(errs...))
	}
	return nil
}
