package pebble

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/state/blob"
)

// Snapshot takes a Pebble snapshot of the database, at once, and returns a state.Snapshot that
// serialises it per key group (package state/blob's format) on whatever goroutine calls it,
// while the owner goes on writing. State expired at the time of the call is left out. The
// caller must release it (WriteGroups does) before closing the backend.
func (b *Backend) Snapshot() (*state.Snapshot, error) {
	if b.db == nil {
		return nil, errors.New("pebble: snapshot of a closed backend")
	}
	p := &snapshotPart{
		snap:  b.db.NewSnapshot(),
		r:     b.opts.Range,
		now:   b.nowMillis(),
		byID:  make(map[uint64]stateInfo, len(b.byID)),
		label: b.opts.Dir,
	}
	for id, si := range b.byID {
		p.byID[id] = si
	}
	return state.NewSnapshot(p), nil
}

// snapshotPart is a Backend's part of a state.Snapshot.
type snapshotPart struct {
	snap  *pebble.Snapshot
	r     keygroup.Range
	now   int64
	byID  map[uint64]stateInfo
	label string
	// scratch
	payload []byte
	framed  []byte
}

func (p *snapshotPart) Range() keygroup.Range { return p.r }

func (p *snapshotPart) AppendGroup(dst []byte, kg int) ([]byte, error) {
	if p.snap == nil {
		return dst, errors.New("pebble: snapshot already released")
	}
	if !p.r.Contains(kg) {
		return dst, nil
	}
	it, err := p.snap.NewIter(&pebble.IterOptions{LowerBound: groupKey(kg), UpperBound: groupKey(kg + 1)})
	if err != nil {
		return dst, fmt.Errorf("pebble: snapshot of key group %d in %s: %w", kg, p.label, err)
	}
	w := blob.Writer{Buf: dst}
	g := groupEncoder{w: &w, now: p.now, byID: p.byID, payload: p.payload[:0], framed: p.framed[:0]}
	for it.First(); it.Valid(); it.Next() {
		v, verr := it.ValueAndErr()
		if verr == nil {
			verr = g.add(it.Key()[2:], v)
		}
		if verr != nil {
			_ = it.Close()
			return dst, fmt.Errorf("pebble: snapshot of key group %d in %s: %w", kg, p.label, verr)
		}
	}
	err = g.finish()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	p.payload, p.framed = g.payload, g.framed
	if err != nil {
		return dst, fmt.Errorf("pebble: snapshot of key group %d in %s: %w", kg, p.label, err)
	}
	return w.Buf, nil
}

func (p *snapshotPart) ReleaseGroup(int) {}

func (p *snapshotPart) Release() {
	if p.snap != nil {
		_ = p.snap.Close()
		p.snap = nil
	}
}

// groupEncoder turns the database entries of one key group, in key order, into the group's
// blob: one section per state, one record per key (a Map key's entries grouped into one).
type groupEncoder struct {
	w       *blob.Writer
	now     int64
	byID    map[uint64]stateInfo
	cur     stateInfo // the state of the open section
	open    bool
	framed  []byte // Map states: the key whose entries payload gathers
	payload []byte
}

// add adds one entry: its key after the key-group prefix, and its value.
func (g *groupEncoder) add(key, value []byte) error {
	id, n := binary.Uvarint(key)
	if n <= 0 {
		return fmt.Errorf("%w: key %x has no state id", blob.ErrCorrupt, key)
	}
	rest := key[n:]
	if !g.open || g.cur.id != id {
		if err := g.finish(); err != nil {
			return err
		}
		si, ok := g.byID[id]
		if !ok {
			return fmt.Errorf("%w: key %x of unregistered state %d", blob.ErrCorrupt, key, id)
		}
		g.cur, g.open = si, true
		g.w.BeginState(si.name, si.kind)
	}
	if g.cur.kind != blob.Map {
		var live bool
		var err error
		g.payload, live, err = blob.Live(g.payload[:0], g.cur.kind, value, g.now)
		if err != nil {
			return fmt.Errorf("state %q: %w", g.cur.name, err)
		}
		if live {
			g.w.FramedRecord(rest, g.payload)
		}
		return nil
	}
	_, ukey, err := blob.ReadStr(rest)
	if err != nil {
		return fmt.Errorf("state %q: map entry key %x: %w", g.cur.name, rest, err)
	}
	framed := rest[:len(rest)-len(ukey)]
	if string(framed) != string(g.framed) {
		g.flushMapKey()
		g.framed = append(g.framed[:0], framed...)
	}
	exp, raw, err := blob.ParseValue(value)
	if err != nil {
		return fmt.Errorf("state %q: %w", g.cur.name, err)
	}
	if !blob.Expired(exp, g.now) {
		g.payload = blob.AppendMapItem(g.payload, ukey, exp, raw)
	}
	return nil
}

// flushMapKey writes the record of the Map key gathered so far, if any entry is live.
func (g *groupEncoder) flushMapKey() {
	if len(g.framed) > 0 && len(g.payload) > 0 {
		g.w.FramedRecord(g.framed, g.payload)
	}
	g.framed, g.payload = g.framed[:0], g.payload[:0]
}

// finish closes the open section.
func (g *groupEncoder) finish() error {
	if !g.open {
		return nil
	}
	if g.cur.kind == blob.Map {
		g.flushMapKey()
	}
	g.open = false
	return g.w.End()
}

// Restore writes the state of key group kg from blob, a key group's blob of a snapshot of any
// backend, registering its states. Entries expired by now (the clock of the handles made so
// far) are dropped; timer sections (see state.RestoreTimers) and operator sections
// (blob.TagOperator: state an operator keeps and restores itself) are skipped. It returns an error
// wrapping blob.ErrCorrupt for malformed bytes, and an error for a key group outside
// Options.Range or a state of another kind than registered.
func (b *Backend) Restore(kg int, data []byte) error {
	if b.db == nil {
		return errors.New("pebble: restore into a closed backend")
	}
	if !b.opts.Range.Contains(kg) {
		return fmt.Errorf("pebble: restoring key group %d into a backend of key groups %v", kg, b.opts.Range)
	}
	now := b.nowMillis()
	batch := b.db.NewBatch()
	defer batch.Close()
	var key, val []byte
	err := blob.Sections(data, func(s blob.Section) error {
		if s.Tag != blob.TagState { // timers and operator sections are not the backend's
			return nil
		}
		if err := blob.Check(s); err != nil {
			return fmt.Errorf("pebble: restoring state %q of key group %d: %w", s.Name, kg, err)
		}
		t, err := b.table(state.TableSpec{Name: s.Name, Kind: s.Kind})
		if err != nil {
			return fmt.Errorf("pebble: restoring key group %d: %w", kg, err)
		}
		return blob.Records(s.Body, func(_, framed, payload []byte) error {
			key = append(appendPrefix(key[:0], kg, t.idBytes), framed...)
			if s.Kind != blob.Map {
				var live bool
				var err error
				if val, live, err = blob.Live(val[:0], s.Kind, payload, now); err != nil || !live {
					return err
				}
				return batch.Set(key, val, nil)
			}
			n := len(key)
			return blob.MapItems(payload, func(ukey []byte, exp int64, v []byte) error {
				if blob.Expired(exp, now) {
					return nil
				}
				key = append(key[:n], ukey...)
				val = blob.AppendValue(val[:0], exp, v)
				return batch.Set(key, val, nil)
			})
		})
	})
	if err != nil {
		return err
	}
	if err := batch.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("pebble: restoring key group %d: %w", kg, err)
	}
	return nil
}

var _ state.SnapshotPart = (*snapshotPart)(nil)
