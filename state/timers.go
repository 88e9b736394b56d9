package state

import (
	"slices"

	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/state/blob"
)

// TimerSnapshot holds the timers of a keyed operator subtask for a snapshot. Timers are keyed
// state too: a timer of key k lives in k's key group and moves with it when parallelism
// changes. When the operator takes a snapshot it adds every live timer, on its own goroutine
// (Add copies what it is given), and adds the TimerSnapshot to the backend's Snapshot
// (Snapshot.Add); every key group's blob then carries a timer section after its state. On
// restore, RestoreTimers reads the timers back from each key group's blob.
//
// The zero TimerSnapshot is empty and ready. It is not safe for concurrent use.
type TimerSnapshot struct {
	groups map[int][]byte // key group -> timer records (see package blob)
}

// Add records a timer of key group kg: the key's encoding (use KeyCodecOf(keys), the codec of
// the subtask's state keys), its time and its domain (the operator's own numbering, such as
// event time 0 and processing time 1).
func (t *TimerSnapshot) Add(kg int, key []byte, at int64, domain uint8) {
	if t.groups == nil {
		t.groups = map[int][]byte{}
	}
	t.groups[kg] = blob.AppendTimer(t.groups[kg], key, at, domain)
}

// Len returns the number of key groups with timers.
func (t *TimerSnapshot) Len() int { return len(t.groups) }

// Range returns the smallest range holding every key group with timers.
func (t *TimerSnapshot) Range() keygroup.Range {
	if len(t.groups) == 0 {
		return keygroup.Range{}
	}
	kgs := make([]int, 0, len(t.groups))
	for kg := range t.groups {
		kgs = append(kgs, kg)
	}
	return keygroup.Range{Start: slices.Min(kgs), End: slices.Max(kgs) + 1}
}

// AppendGroup appends the timer section of key group kg, if it has timers.
func (t *TimerSnapshot) AppendGroup(dst []byte, kg int) ([]byte, error) {
	recs := t.groups[kg]
	if len(recs) == 0 {
		return dst, nil
	}
	w := blob.Writer{Buf: dst}
	w.BeginTimers()
	w.Raw(recs)
	err := w.End()
	return w.Buf, err
}

// ReleaseGroup drops the timers of key group kg.
func (t *TimerSnapshot) ReleaseGroup(kg int) { delete(t.groups, kg) }

// Release drops every timer.
func (t *TimerSnapshot) Release() { t.groups = nil }

var _ SnapshotPart = (*TimerSnapshot)(nil)
