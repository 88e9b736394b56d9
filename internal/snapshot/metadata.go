package snapshot

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/runnel-io/runnel/checkpoint"

	"github.com/runnel-io/runnel/keygroup"
)

// Metadata describes one complete snapshot: what every operator's subtasks wrote and where.
// It is the content of the snapshot's _metadata file (see WriteMetadata and
// docs/CHECKPOINTS.md for the format). File references are relative to the snapshot's
// directory; shared files are names below <root>/shared/ (SharedFile). A Metadata is plain
// data, not safe for concurrent modification.
//
// The Go types carry the JSON field names of format version 1. When the format changes,
// freeze copies of these types as the version 1 decoder's and convert.
type Metadata struct {
	// Job is the name of the job that took the snapshot.
	Job string `json:"job"`
	// ID is the snapshot's ID (> 0).
	ID int64 `json:"id"`
	// Timestamp is when the snapshot was triggered.
	Timestamp time.Time `json:"timestamp"`
	// Savepoint says the snapshot is a savepoint: self-contained, no shared files.
	Savepoint bool `json:"savepoint"`
	// Operators maps each stateful operator's stable UID to its state. Operators without
	// state may be left out.
	Operators map[string]*OperatorState `json:"operators"`
}

// OperatorState is the state of one operator, all subtasks.
type OperatorState struct {
	// Parallelism is the operator's parallelism when the snapshot was taken (>= 1).
	Parallelism int `json:"parallelism"`
	// MaxParallelism is its number of key groups (>= Parallelism, <= 32768).
	MaxParallelism int `json:"maxParallelism"`
	// Global is state of the operator as a whole rather than of one subtask, such as a
	// source enumerator's unassigned splits: opaque blobs.
	Global [][]byte `json:"global,omitempty"`
	// Subtasks holds each subtask's state; Subtasks[i] is subtask i's, len == Parallelism.
	Subtasks []SubtaskState `json:"subtasks"`
}

// SubtaskState is the state of one subtask of an operator.
type SubtaskState struct {
	// Keyed is the subtask's keyed state; nil if it has none.
	Keyed *KeyedState `json:"keyed,omitempty"`
	// Operator is the subtask's non-keyed state, such as a source reader's splits with
	// their positions: opaque blobs, redistributed as the runtime sees fit on restore.
	Operator [][]byte `json:"operator,omitempty"`
	// Committables are the sink committables the subtask pre-committed and that were not
	// known to be committed: a restore commits them again (commits are idempotent).
	Committables [][]byte `json:"committables,omitempty"`
}

// KeyedState is a subtask's keyed state, covering the key groups [Start, End). A full
// snapshot stores one blob per key group in File (see KeyGroupWriter), so a restore at any
// parallelism reads just the groups it owns; an incremental one lists the Shared files its
// state consists of. Both may be present.
type KeyedState struct {
	Start int `json:"start"`
	End   int `json:"end"`
	// File is the file, relative to the snapshot's directory, holding the key groups'
	// blobs; Groups[i] locates key group Start+i in it. Empty when Groups is.
	File   string         `json:"file,omitempty"`
	Groups []KeyGroupSpan `json:"groups,omitempty"`
	// Shared names the shared files (below <root>/shared/) the state uses. Savepoints have
	// none.
	Shared []string `json:"shared,omitempty"`
}

// Range returns the key groups k covers.
func (k *KeyedState) Range() keygroup.Range { return keygroup.Range{Start: k.Start, End: k.End} }

// KeyGroupSpan locates one key group's blob in a file.
type KeyGroupSpan struct {
	Offset int64 `json:"offset"`
	Length int64 `json:"length"`
	// CRC is the blob's CRC-32 (Castagnoli), checked when it is read.
	CRC uint32 `json:"crc32c"`
}

// KeyGroupBlob locates the blob of key group Group: Span in File (relative to the snapshot's
// directory). OperatorState.KeyGroups returns them; ReadKeyGroup reads one.
type KeyGroupBlob struct {
	Group int
	File  string
	Span  KeyGroupSpan
}

// KeyGroups returns where the blobs of the key groups in r are, in key-group order, reading
// the full-snapshot part of every subtask's keyed state. Key groups no subtask stored are left
// out (they had no state). A restore at a new parallelism calls it with the range it owns
// (keygroup.RangeOf).
func (o *OperatorState) KeyGroups(r keygroup.Range) []KeyGroupBlob {
	var out []KeyGroupBlob
	for _, st := range o.Subtasks {
		k := st.Keyed
		if k == nil || k.File == "" {
			continue
		}
		for g := max(r.Start, k.Start); g < min(r.End, k.End); g++ {
			out = append(out, KeyGroupBlob{Group: g, File: k.File, Span: k.Groups[g-k.Start]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out
}

// Overlapping returns the indexes of the subtasks whose keyed state covers some key group of
// r, in order: the ones an incremental restore of r must open.
func (o *OperatorState) Overlapping(r keygroup.Range) []int {
	var out []int
	for i, st := range o.Subtasks {
		if k := st.Keyed; k != nil && k.Start < r.End && r.Start < k.End {
			out = append(out, i)
		}
	}
	return out
}

// SharedFiles returns the names of the shared files m references, sorted, each once.
func (m *Metadata) SharedFiles() []string {
	var out []string
	for _, op := range m.Operators {
		for _, st := range op.Subtasks {
			if st.Keyed != nil {
				out = append(out, st.Keyed.Shared...)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// maxKeyGroups is the largest max parallelism, as in Flink and runtime.Config.
const maxKeyGroups = 1 << 15

// Validate reports what makes m inconsistent: a non-positive ID, an operator without UID, a
// parallelism or max parallelism out of range, a subtask count that differs from the
// parallelism, key-group ranges out of bounds or overlapping, spans that do not match their
// range, invalid file names, and, for a savepoint, shared files (savepoints are
// self-contained). Errors name the operator and subtask.
func (m *Metadata) Validate() error {
	if m.ID <= 0 {
		return fmt.Errorf("checkpoint: metadata: invalid snapshot id %d", m.ID)
	}
	uids := make([]string, 0, len(m.Operators))
	for uid := range m.Operators {
		uids = append(uids, uid)
	}
	slices.Sort(uids)
	var errs []error
	for _, uid := range uids {
		if err := m.Operators[uid].validate(uid, m.Savepoint); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("checkpoint: metadata of snapshot %d: %w", m.ID, errors.Join(errs...))
	}
	return nil
}

func (o *OperatorState) validate(uid string, savepoint bool) error {
	switch {
	case uid == "":
		return errors.New("an operator has an empty UID")
	case o == nil:
		return fmt.Errorf("operator %q: no state (null)", uid)
	case o.Parallelism < 1:
		return fmt.Errorf("operator %q: parallelism %d", uid, o.Parallelism)
	case o.MaxParallelism < o.Parallelism || o.MaxParallelism > maxKeyGroups:
		return fmt.Errorf("operator %q: max parallelism %d not in [parallelism %d, %d]", uid, o.MaxParallelism, o.Parallelism, maxKeyGroups)
	case len(o.Subtasks) != o.Parallelism:
		return fmt.Errorf("operator %q: %d subtask states for parallelism %d", uid, len(o.Subtasks), o.Parallelism)
	}
	type span struct{ start, end, subtask int }
	var ranges []span
	for i, st := range o.Subtasks {
		k := st.Keyed
		if k == nil {
			continue
		}
		where := func(format string, args ...any) error {
			return fmt.Errorf("operator %q subtask %d: keyed state: %s", uid, i, fmt.Sprintf(format, args...))
		}
		if k.Start < 0 || k.Start > k.End || k.End > o.MaxParallelism {
			return where("key groups [%d,%d) not within [0,%d)", k.Start, k.End, o.MaxParallelism)
		}
		if k.File != "" {
			if err := checkpoint.CheckName(k.File); err != nil {
				return where("file: %v", err)
			}
			if len(k.Groups) != k.End-k.Start {
				return where("%d key-group spans for key groups [%d,%d)", len(k.Groups), k.Start, k.End)
			}
			for g, s := range k.Groups {
				if s.Offset < 0 || s.Length < 0 || s.Offset > 1<<62-s.Length {
					return where("key group %d: invalid span %d+%d", k.Start+g, s.Offset, s.Length)
				}
			}
		} else if len(k.Groups) > 0 {
			return where("%d key-group spans but no file", len(k.Groups))
		}
		for _, name := range k.Shared {
			if savepoint {
				return where("shared file %q in a savepoint: savepoints must be self-contained", name)
			}
			if err := checkpoint.CheckName(name); err != nil {
				return where("shared file: %v", err)
			}
		}
		if k.End > k.Start {
			ranges = append(ranges, span{k.Start, k.End, i})
		}
	}
	sort.Slice(ranges, func(a, b int) bool { return ranges[a].start < ranges[b].start })
	for i := 1; i < len(ranges); i++ {
		if ranges[i].start < ranges[i-1].end {
			return fmt.Errorf("operator %q: key groups of subtasks %d [%d,%d) and %d [%d,%d) overlap", uid,
				ranges[i-1].subtask, ranges[i-1].start, ranges[i-1].end, ranges[i].subtask, ranges[i].start, ranges[i].end)
		}
	}
	return nil
}
