package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"sync/atomic"

	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/state/blob"
)

// tableOps is what a memory table of stored values V needs beyond its map: how to copy a value
// (copy-on-write) and how to turn one into a record payload of the snapshot format and back.
// The handle constructors make them, knowing the element types.
type tableOps[V any] struct {
	kind blob.Kind
	// clone deep-copies a stored value whose parts the handles change in place; nil when
	// assignment copies it.
	clone func(V) V
	// encode appends v's payload, leaving out what expired at now; false if nothing is live.
	// sc is scratch space of the calling snapshot.
	encode func(dst []byte, v V, now int64, sc *scratch) ([]byte, bool)
	// decode reads a payload, leaving out what expired at now; false if nothing is live.
	decode func(p []byte, now int64) (V, bool, error)
}

func valueCodec[V any](d Descriptor) Codec[V] {
	if d.Codec == nil {
		return CodecFor[V]()
	}
	c, ok := d.Codec.(Codec[V])
	if !ok {
		panic(fmt.Sprintf("state: state %q: Descriptor.Codec is a %T, not a state.Codec of the state's values", d.Name, d.Codec))
	}
	return c
}

func userKeyCodec[UK any](d Descriptor) Codec[UK] {
	if d.UserKeyCodec == nil {
		return CodecFor[UK]()
	}
	c, ok := d.UserKeyCodec.(Codec[UK])
	if !ok {
		panic(fmt.Sprintf("state: state %q: Descriptor.UserKeyCodec is a %T, not a state.Codec of the map's keys", d.Name, d.UserKeyCodec))
	}
	return c
}

func valueOps[X any](c Codec[X]) tableOps[entry[X]] {
	return tableOps[entry[X]]{
		kind: blob.Value,
		encode: func(dst []byte, e entry[X], now int64, _ *scratch) ([]byte, bool) {
			if blob.Expired(e.exp, now) {
				return dst, false
			}
			dst = binary.AppendVarint(dst, e.exp)
			return c.Append(dst, e.v), true
		},
		decode: func(p []byte, now int64) (entry[X], bool, error) {
			exp, raw, err := blob.ParseValue(p)
			if err != nil || blob.Expired(exp, now) {
				return entry[X]{}, false, err
			}
			v, err := c.Decode(raw)
			return entry[X]{v, exp}, err == nil, err
		},
	}
}

func listOps[X any](c Codec[X]) tableOps[[]entry[X]] {
	return tableOps[[]entry[X]]{
		kind:  blob.List,
		clone: slices.Clone[[]entry[X]],
		encode: func(dst []byte, es []entry[X], now int64, sc *scratch) ([]byte, bool) {
			live := false
			for _, e := range es {
				if blob.Expired(e.exp, now) {
					continue
				}
				sc.a = c.Append(sc.a[:0], e.v)
				dst = blob.AppendItem(dst, e.exp, sc.a)
				live = true
			}
			return dst, live
		},
		decode: func(p []byte, now int64) ([]entry[X], bool, error) {
			var es []entry[X]
			err := blob.Items(p, func(exp int64, raw []byte) error {
				if blob.Expired(exp, now) {
					return nil
				}
				v, err := c.Decode(raw)
				es = append(es, entry[X]{v, exp})
				return err
			})
			return es, err == nil && len(es) > 0, err
		},
	}
}

func mapOps[UK comparable, UV any](kc Codec[UK], vc Codec[UV]) tableOps[map[UK]entry[UV]] {
	return tableOps[map[UK]entry[UV]]{
		kind:  blob.Map,
		clone: maps.Clone[map[UK]entry[UV]],
		encode: func(dst []byte, m map[UK]entry[UV], now int64, sc *scratch) ([]byte, bool) {
			live := false
			for k, e := range m {
				if blob.Expired(e.exp, now) {
					continue
				}
				sc.a = kc.Append(sc.a[:0], k)
				sc.b = vc.Append(sc.b[:0], e.v)
				dst = blob.AppendMapItem(dst, sc.a, e.exp, sc.b)
				live = true
			}
			return dst, live
		},
		decode: func(p []byte, now int64) (map[UK]entry[UV], bool, error) {
			m := map[UK]entry[UV]{}
			err := blob.MapItems(p, func(rk []byte, exp int64, rv []byte) error {
				if blob.Expired(exp, now) {
					return nil
				}
				k, err := kc.Decode(rk)
				if err != nil {
					return err
				}
				v, err := vc.Decode(rv)
				m[k] = entry[UV]{v, exp}
				return err
			})
			return m, err == nil && len(m) > 0, err
		},
	}
}

// tableView is a table's maps as a snapshot captured them.
type tableView interface {
	// appendGroup appends the state section of local key group i to w.
	appendGroup(w *blob.Writer, i int, now int64) error
}

// scratch is reusable encoding space, one per table of a snapshot.
type scratch struct{ a, b []byte }

type tableSnap[K comparable, V any] struct {
	t    *table[K, V]
	maps []map[K]V
	kbuf []byte
	pbuf []byte
	sc   scratch
}

func (t *table[K, V]) capture() tableView {
	s := &tableSnap[K, V]{t: t, maps: make([]map[K]V, len(t.groups))}
	for i := range t.groups {
		g := &t.groups[i]
		if len(g.m) > 0 {
			s.maps[i] = g.m
			g.shared = true
		}
	}
	return s
}

func (s *tableSnap[K, V]) appendGroup(w *blob.Writer, i int, now int64) (err error) {
	m := s.maps[i]
	if len(m) == 0 {
		return nil
	}
	defer recoverEncode(&err)
	w.BeginState(s.t.name, s.t.ops.kind)
	for k, v := range m {
		var live bool
		s.pbuf, live = s.t.ops.encode(s.pbuf[:0], v, now, &s.sc)
		if !live {
			continue
		}
		s.kbuf = s.t.keyCodec.Append(s.kbuf[:0], k)
		w.Record(s.kbuf, s.pbuf)
	}
	if err := w.End(); err != nil {
		return fmt.Errorf("state %q: %w", s.t.name, err)
	}
	return nil
}

func (t *table[K, V]) restore(kg int, body []byte, now int64) error {
	i := kg - t.first
	if i < 0 || i >= len(t.groups) {
		return fmt.Errorf("key group %d is not one of this subtask's [%d,%d)", kg, t.first, t.first+len(t.groups))
	}
	g := t.writeAt(i)
	return blob.Records(body, func(rk, _, p []byte) error {
		k, err := t.keyCodec.Decode(rk)
		if err != nil {
			return fmt.Errorf("key: %w", err)
		}
		v, live, err := t.ops.decode(p, now)
		if err != nil {
			return fmt.Errorf("value: %w", err)
		}
		if live {
			g[k] = v
		}
		return nil
	})
}

// pendingSection is a restored state section kept until a handle for its state is made.
type pendingSection struct {
	kg   int
	kind blob.Kind
	body []byte
}

// Snapshot captures the backend's state for a snapshot: it marks every table's key groups
// shared and returns at once; the result's serialisation (on any goroutine) reads the maps as
// they were, while writes from the owner copy a key group first if the snapshot still holds
// it (until WriteGroups passed that group, or Release). State expired at the time of the call
// is left out. Restored state of states no handle was made for is carried over unchanged.
func (m *Memory) Snapshot() (*Snapshot, error) {
	if m.tables == nil {
		return nil, errors.New("state: snapshot of a closed memory backend")
	}
	now := int64(math.MinInt64)
	if m.now != nil {
		now = m.now()
	}
	s := &memSnapshot{first: m.first, count: m.count, now: now, pins: m.pins}
	names := slices.Sorted(maps.Keys(m.tables))
	for _, name := range names {
		s.tables = append(s.tables, m.tables[name].capture())
	}
	s.held = make([]bool, len(m.pins))
	for i := range m.pins {
		m.pins[i].Add(1)
		s.held[i] = true
	}
	if len(m.pending) > 0 {
		s.pending = map[int][]pendingSnap{}
		for _, name := range slices.Sorted(maps.Keys(m.pending)) {
			for _, p := range m.pending[name] {
				s.pending[p.kg] = append(s.pending[p.kg], pendingSnap{name, p})
			}
		}
	}
	return NewSnapshot(s), nil
}

type pendingSnap struct {
	name string
	pendingSection
}

// memSnapshot is a Memory's part of a Snapshot.
type memSnapshot struct {
	first, count int
	now          int64
	tables       []tableView
	pending      map[int][]pendingSnap // by key group
	pins         []atomic.Int32
	held         []bool // held[i]: this snapshot still counts in pins[i]
}

func (s *memSnapshot) Range() keygroup.Range {
	r := keygroup.Range{Start: s.first, End: s.first + s.count}
	for kg := range s.pending {
		if r.Len() <= 0 {
			r = keygroup.Range{Start: kg, End: kg + 1}
		}
		r.Start, r.End = min(r.Start, kg), max(r.End, kg+1)
	}
	return r
}

func (s *memSnapshot) AppendGroup(dst []byte, kg int) ([]byte, error) {
	w := blob.Writer{Buf: dst}
	if i := kg - s.first; i >= 0 && i < s.count {
		if !s.held[i] {
			return dst, fmt.Errorf("state: key group %d of the snapshot was already released", kg)
		}
		for _, t := range s.tables {
			if err := t.appendGroup(&w, i, s.now); err != nil {
				return dst, err
			}
		}
	}
	for _, p := range s.pending[kg] {
		w.BeginState(p.name, p.kind)
		w.Raw(p.body)
		if err := w.End(); err != nil {
			return dst, err
		}
	}
	return w.Buf, nil
}

func (s *memSnapshot) ReleaseGroup(kg int) {
	if i := kg - s.first; i >= 0 && i < len(s.held) && s.held[i] {
		s.held[i] = false
		s.pins[i].Add(-1)
	}
}

func (s *memSnapshot) Release() {
	for i, h := range s.held {
		if h {
			s.held[i] = false
			s.pins[i].Add(-1)
		}
	}
	s.tables, s.pending = nil, nil
}

// Restore adds the state in blob, key group kg's blob of a snapshot (of this or any other
// backend), to the backend. State of a state no handle was made for yet is kept, undecoded,
// until one is: then it is decoded with the handle's codecs, and a failure to decode panics
// in the handle's constructor with an error naming the state (the state's type changed
// incompatibly). Timer sections (see RestoreTimers) and operator sections (blob.TagOperator:
// state an operator keeps itself and restores itself) are skipped. Entries expired by now are
// dropped. It returns an error wrapping blob.ErrCorrupt for malformed bytes, and an error for
// a key group outside the subtask's range or a state restored with another kind than its
// handle's.
func (m *Memory) Restore(kg int, b []byte) error {
	if m.tables == nil {
		return errors.New("state: restore into a closed memory backend")
	}
	if m.ranged && (kg < m.first || kg >= m.first+m.count) {
		return fmt.Errorf("state: restoring key group %d into a backend of key groups [%d,%d)", kg, m.first, m.first+m.count)
	}
	now := int64(math.MinInt64)
	if m.now != nil {
		now = m.now()
	}
	return blob.Sections(b, func(s blob.Section) error {
		if s.Tag != blob.TagState { // timers and operator sections are not the backend's
			return nil
		}
		if err := blob.Check(s); err != nil {
			return fmt.Errorf("state: restoring state %q of key group %d: %w", s.Name, kg, err)
		}
		if t, ok := m.tables[s.Name]; ok {
			if t.kind() != s.Kind {
				return fmt.Errorf("state: restoring state %q of key group %d: snapshot holds %v state, the handle is %v state", s.Name, kg, s.Kind, t.kind())
			}
			if err := t.restore(kg, s.Body, now); err != nil {
				return fmt.Errorf("state: restoring state %q of key group %d: %w", s.Name, kg, err)
			}
			return nil
		}
		if m.pending == nil {
			m.pending = map[string][]pendingSection{}
		}
		m.pending[s.Name] = append(m.pending[s.Name], pendingSection{kg, s.Kind, bytes.Clone(s.Body)})
		return nil
	})
}

// applyPending decodes the restored state waiting for the table just made for name.
func (m *Memory) applyPending(name string, t memTable) error {
	ps := m.pending[name]
	if len(ps) == 0 {
		return nil
	}
	delete(m.pending, name)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].kg < ps[j].kg })
	now := int64(math.MinInt64)
	if m.now != nil {
		now = m.now()
	}
	for _, p := range ps {
		if p.kind != t.kind() {
			return fmt.Errorf("state: restoring state %q of key group %d: snapshot holds %v state, the handle is %v state", name, p.kg, p.kind, t.kind())
		}
		if err := t.restore(p.kg, p.body, now); err != nil {
			return fmt.Errorf("state: restoring state %q of key group %d: %w", name, p.kg, err)
		}
	}
	return nil
}

// Restored returns the names of restored states no handle was made for yet, sorted: state
// the restored snapshot has and the operator does not use (any more). It is kept, and written
// into later snapshots as it was.
func (m *Memory) Restored() []string { return slices.Sorted(maps.Keys(m.pending)) }

var (
	_ Snapshotter  = (*Memory)(nil)
	_ SnapshotPart = (*memSnapshot)(nil)
)
