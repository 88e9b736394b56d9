package state

import (
	"errors"
	"fmt"

	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/state/blob"
)

// Snapshotter is implemented by backends that take full snapshots of their state per key
// group and restore them: Memory and the Pebble backend. Snapshots of all of them share one
// format (package state/blob), so state moves between backends and parallelisms.
type Snapshotter interface {
	// Snapshot captures the state as it is now, cheaply, on the goroutine that owns the
	// backend; the result is serialised later, possibly on another goroutine, while the
	// owner goes on changing the state. The caller must Release it (WriteGroups does).
	Snapshot() (*Snapshot, error)
	// Restore adds the state of key group kg from blob, a key group's blob of a snapshot of
	// any backend (Snapshot.Encode or WriteGroups wrote it). Call it for every key group the
	// subtask owns, before or after the operator made its state handles. It does not keep
	// blob. It returns an error wrapping blob.ErrCorrupt for malformed bytes.
	Restore(kg int, blob []byte) error
}

// GroupWriter receives the blobs of a snapshot's key groups in increasing key-group order;
// *checkpoint.KeyGroupWriter is one. It must not keep blob after it returns.
type GroupWriter interface {
	WriteGroup(kg int, blob []byte) error
}

// SnapshotPart is one contributor to a Snapshot: a backend's state, or a subtask's timers
// (TimerSnapshot). Its methods are called from one goroutine at a time, possibly not the one
// that made it. Implementations live with the backends; users only pass them around.
type SnapshotPart interface {
	// Range is the key groups the part may have state for.
	Range() keygroup.Range
	// AppendGroup appends the sections of key group kg (see package blob) to dst.
	AppendGroup(dst []byte, kg int) ([]byte, error)
	// ReleaseGroup tells the part that key group kg will not be asked for again.
	ReleaseGroup(kg int)
	// Release frees what the part holds; it is idempotent.
	Release()
}

// Snapshot is a snapshot of the keyed state (and timers) of one operator subtask, ready to be
// serialised per key group. It is not safe for concurrent use, but it may be used on another
// goroutine than the one that took it, concurrently with that goroutine's processing.
type Snapshot struct {
	parts []SnapshotPart
}

// NewSnapshot returns a snapshot made of parts; for backend implementations.
func NewSnapshot(parts ...SnapshotPart) *Snapshot { return &Snapshot{parts: parts} }

// Add adds a part, such as the subtask's timers, to s. Its key groups' sections follow those
// of the parts before it in each key group's blob.
func (s *Snapshot) Add(p SnapshotPart) { s.parts = append(s.parts, p) }

// Range returns the smallest range holding every part's range; empty when s has no state.
func (s *Snapshot) Range() keygroup.Range {
	var r keygroup.Range
	for _, p := range s.parts {
		pr := p.Range()
		if pr.Len() <= 0 {
			continue
		}
		if r.Len() <= 0 {
			r = pr
			continue
		}
		r.Start, r.End = min(r.Start, pr.Start), max(r.End, pr.End)
	}
	return r
}

// AppendGroup appends the blob of key group kg to dst: the sections of every part. A key group
// without state has an empty blob. Encoding errors (a value its codec cannot encode) are
// returned, naming the key group.
func (s *Snapshot) AppendGroup(dst []byte, kg int) ([]byte, error) {
	for _, p := range s.parts {
		var err error
		if dst, err = p.AppendGroup(dst, kg); err != nil {
			return dst, fmt.Errorf("state: snapshot of key group %d: %w", kg, err)
		}
	}
	return dst, nil
}

// Encode returns the blob of key group kg, a new slice.
func (s *Snapshot) Encode(kg int) ([]byte, error) { return s.AppendGroup(nil, kg) }

// WriteGroups writes the blob of every key group with state to w, in increasing key-group
// order, releasing each key group as soon as it is written (so the owner stops copying it on
// write), then releases s. On error it releases s too and returns the error.
func (s *Snapshot) WriteGroups(w GroupWriter) error {
	defer s.Release()
	r := s.Range()
	var buf []byte
	for kg := r.Start; kg < r.End; kg++ {
		var err error
		buf, err = s.AppendGroup(buf[:0], kg)
		if err == nil && len(buf) > 0 {
			err = w.WriteGroup(kg, buf)
		}
		if err != nil {
			return err
		}
		for _, p := range s.parts {
			p.ReleaseGroup(kg)
		}
	}
	return nil
}

// Release frees what s holds: the backend stops keeping the snapshot's view. It is idempotent;
// s must not be used after.
func (s *Snapshot) Release() {
	for _, p := range s.parts {
		p.Release()
	}
}

// recoverEncode turns the panic of a codec that cannot encode a value into *err.
func recoverEncode(err *error) {
	if r := recover(); r != nil {
		var ee *EncodeError
		if e, ok := r.(error); ok && errors.As(e, &ee) {
			*err = e
			return
		}
		panic(r)
	}
}

// RestoreTimers calls fn for every timer in a key group's blob, in the order they were added
// to the TimerSnapshot; state sections are skipped. key aliases blob. It returns fn's first
// error or one wrapping blob.ErrCorrupt.
func RestoreTimers(b []byte, fn func(key []byte, at int64, domain uint8) error) error {
	return blob.Sections(b, func(s blob.Section) error {
		if s.Tag != blob.TagTimers {
			return nil
		}
		return blob.Timers(s.Body, fn)
	})
}
