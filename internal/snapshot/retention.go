package snapshot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/runnel-io/runnel/checkpoint"
)

// DefaultRetained is RetainOptions.Keep when it is zero.
const DefaultRetained = 3

// RetainOptions says which checkpoints Retain keeps.
type RetainOptions struct {
	// Keep is the number of most recent complete checkpoints kept; 0 means DefaultRetained
	// (3). Negative is an error.
	Keep int
	// DeleteUnreferenced also deletes shared files that no retained checkpoint references
	// and that no deleted checkpoint referenced either: uploads of checkpoints that never
	// completed, or leftovers of a Retain that crashed. Set it only when no checkpoint is in
	// progress (the job is stopped): otherwise it deletes the new shared files of a checkpoint
	// that has not written its metadata yet.
	DeleteUnreferenced bool
}

// Retained reports what Retain did.
type Retained struct {
	// Kept are the IDs of the complete checkpoints kept, in increasing order.
	Kept []int64
	// Deleted are the checkpoint directories deleted (complete and incomplete), in
	// increasing ID order; DeletedShared the shared files deleted, sorted.
	Deleted       []string
	DeletedShared []string
}

// Retain deletes the checkpoints below the root of st that are no longer needed:
//
//   - complete checkpoints older than the opts.Keep most recent ones (their metadata file
//     first, so each stops existing before its files go);
//   - incomplete checkpoint directories (no metadata) with an ID below the newest complete
//     checkpoint: aborted or crashed checkpoints. Newer incomplete ones may be in progress and
//     are left alone;
//   - shared files referenced by a deleted checkpoint and by no retained one (reference
//     counting over the retained checkpoints' metadata), and with opts.DeleteUnreferenced
//     every shared file no retained checkpoint references.
//
// Call it after a checkpoint completed (Finalized), from one goroutine at a time. The
// coordinator finalizes in ID order, so no checkpoint older than the newest complete one is
// still being written then. Savepoint directories are never touched. If the metadata of a
// retained checkpoint cannot be read, Retain deletes nothing and fails: it could not tell
// which shared files are still in use. A failure part-way leaves storage consistent; the next
// Retain finishes the work (shared files of checkpoints whose metadata was already deleted may
// then leak until a Retain with DeleteUnreferenced).
func Retain(ctx context.Context, st checkpoint.Storage, opts RetainOptions) (Retained, error) {
	var res Retained
	keep := opts.Keep
	switch {
	case keep < 0:
		return res, fmt.Errorf("checkpoint: retain: negative number of checkpoints to keep %d", keep)
	case keep == 0:
		keep = DefaultRetained
	}
	files, err := st.List(ctx, "chk-")
	if err != nil {
		return res, fmt.Errorf("checkpoint: retain: %w", err)
	}
	dirs := map[int64]bool{} // id -> complete
	for _, f := range files {
		dir, rest, _ := strings.Cut(f.Name, "/")
		if id, ok := ParseCheckpointDir(dir); ok {
			dirs[id] = dirs[id] || rest == MetadataFile
		}
	}
	var complete, incomplete []int64
	for id, ok := range dirs {
		if ok {
			complete = append(complete, id)
		} else {
			incomplete = append(incomplete, id)
		}
	}
	slices.Sort(complete)
	slices.Sort(incomplete)
	if len(complete) == 0 {
		return res, nil
	}
	newest := complete[len(complete)-1]
	cut := max(0, len(complete)-keep)
	res.Kept = complete[cut:]
	discard := complete[:cut]

	inUse := map[string]bool{}
	for _, id := range res.Kept {
		m, err := ReadMetadata(ctx, st, CheckpointDir(id))
		if err != nil {
			return Retained{}, fmt.Errorf("checkpoint: retain: retained checkpoint %d: %w", id, err)
		}
		for _, s := range m.SharedFiles() {
			inUse[s] = true
		}
	}
	candidates := map[string]bool{}
	for _, id := range discard {
		// A checkpoint whose metadata cannot be read is deleted all the same; its shared
		// files are then left to DeleteUnreferenced.
		if m, err := ReadMetadata(ctx, st, CheckpointDir(id)); err == nil {
			for _, s := range m.SharedFiles() {
				candidates[s] = true
			}
		}
	}

	var errs []error
	// Make every discarded checkpoint invisible before deleting any of its files.
	for _, id := range discard {
		if err := st.Delete(ctx, MetadataPath(CheckpointDir(id))); err != nil {
			return res, fmt.Errorf("checkpoint: retain: %w", err)
		}
	}
	gone := slices.Clone(discard)
	for _, id := range incomplete {
		if id < newest {
			gone = append(gone, id)
		}
	}
	slices.Sort(gone)
	for _, id := range gone {
		if err := DeleteSnapshot(ctx, st, CheckpointDir(id)); err != nil {
			errs = append(errs, err)
			continue
		}
		res.Deleted = append(res.Deleted, CheckpointDir(id))
	}

	if opts.DeleteUnreferenced {
		shared, err := st.List(ctx, SharedDir+"/")
		if err != nil {
			errs = append(errs, err)
		}
		for _, f := range shared {
			candidates[strings.TrimPrefix(f.Name, SharedDir+"/")] = true
		}
	}
	var names []string
	for s := range candidates {
		if !inUse[s] {
			names = append(names, s)
		}
	}
	slices.Sort(names)
	for _, s := range names {
		if err := st.Delete(ctx, SharedFile(s)); err != nil {
			errs = append(errs, err)
			continue
		}
		res.DeletedShared = append(res.DeletedShared, s)
	}
	if len(errs) > 0 {
		return res, fmt.Errorf("checkpoint: retain: %w", errors.Join(errs...))
	}
	return res, nil
}
