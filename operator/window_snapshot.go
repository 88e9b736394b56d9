package operator

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"sync"

	"github.com/runnel-io/runnel/eventtime"
	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/state/blob"
	"github.com/runnel-io/runnel/window"
)

// Checkpoints. Every key group's blob holds the window state of its keys as three state
// sections, window/panes, window/timers and window/wm (their encodings are in
// window_store.go), whether the panes live in the operator's tables (the memory backend) or in
// a bytes backend: with Pebble the backend's own snapshot (or incremental checkpoint) writes
// them, and restores them by key group like any state. With the memory backend the operator
// writes them itself:
//
//   - window/panes, for each key with panes: a record of the key whose map entries are its
//     panes by window;
//   - window/timers: the timers that point at an existing pane, with their index in their
//     bucket as their sequence number, so that timers of one time fire in the same order after
//     a restore. Entries for panes that are gone are left out: a pane is never made again for a
//     window once dropped (it is late by then) or merged away (a larger window covers it);
//   - window/wm: the subtask's watermark. The restoring subtask starts from the least of its
//     key groups', so that records late before the snapshot are late after it.
//
// Keys are encoded with state.CodecFor[K], the codec of keyed state, and contents with
// state.CodecFor[ACC]. Snapshots of the window operator before this format (an operator
// section called "window", windowFormat 1) still restore with the memory backend.
//
// Snapshots are asynchronous: SnapshotState copies the panes and timers into flat slices
// (groupCopy) on the task goroutine, and the snapshot encodes the copy in the format above on
// the goroutine that writes it. The copy costs a quarter to a third of encoding in place
// (BenchmarkWindowSnapshot), so the task pauses that much less; the slices are kept for the
// next snapshot once written. Pane contents that assignment does not copy whole are encoded
// during the copy instead, since the task may change them in place.

// windowSection names the window operator's operator sections of the earlier format.
const windowSection = "window"

const windowFormat = 1

// pane flags
const (
	paneHas   = 1
	paneDirty = 2
)

// windowSnapshot is the window operator's part of a snapshot. SnapshotState copies the panes
// and timers of each key group with panes into a groupCopy on the task goroutine; AppendGroup
// encodes a group's copy into its operator section later, on the goroutine that writes the
// snapshot, while the task goes on changing its panes.
type windowSnapshot[K comparable, ACC any] struct {
	r        keygroup.Range
	what     string // "checkpoint N of OP subtask I", for errors
	wm       int64
	keyCodec state.Codec[K]
	accCodec state.Codec[ACC]
	copied   bool // pane contents were copied by assignment, not encoded at once
	listed   bool // pane contents are lists, encoded as List payloads for window/lists
	groups   map[int]*groupCopy[K, ACC]
	pool     *copyPool[K, ACC]
}

// copyPool keeps the group copies of written snapshots for the next snapshot: a copy into
// slices that have the room already costs a fraction of one that grows them from empty.
type copyPool[K comparable, ACC any] struct {
	mu   sync.Mutex
	free []*groupCopy[K, ACC]
	max  int // the most kept: the subtask's key groups
}

func (p *copyPool[K, ACC]) get() *groupCopy[K, ACC] {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.free)
	if n == 0 {
		return &groupCopy[K, ACC]{}
	}
	g := p.free[n-1]
	p.free = p.free[:n-1]
	return g
}

// put takes back g, emptied (so that it holds no references), once its snapshot is done with it.
func (p *copyPool[K, ACC]) put(g *groupCopy[K, ACC]) {
	clear(g.keys)
	clear(g.panes)
	clear(g.timers)
	g.keys, g.keyEnds, g.panes, g.ptimers, g.accs, g.timers = g.keys[:0], g.keyEnds[:0], g.panes[:0], g.ptimers[:0], g.accs[:0], g.timers[:0]
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) < p.max {
		p.free = append(p.free, g)
	}
}

// groupCopy is one key group's panes and timers as they were when the snapshot was taken.
type groupCopy[K comparable, ACC any] struct {
	keys    []K
	keyEnds []int32 // the panes of keys[i] are panes[keyEnds[i-1]:keyEnds[i]]
	panes   []paneCopy[ACC]
	ptimers []timerRef // the panes' timers, ntimers per pane in pane order
	accs    []byte     // encoded pane contents, when they are not copied (paneCopy.accEnd)
	timers  []timerCopy[K]
}

// paneCopy is a windowPane as a snapshot keeps it.
type paneCopy[ACC any] struct {
	w       window.Window
	trig    int64
	flags   byte
	ntimers int32
	accEnd  int // the end of its contents in groupCopy.accs, when they are encoded at once
	acc     ACC // its contents, when copied by assignment
}

// timerCopy is a bucket entry of a timer, with its time, domain and index in its bucket.
type timerCopy[K comparable] struct {
	key    K
	w      window.Window
	at     int64
	seq    int32
	domain TimeDomain
}

func (s *windowSnapshot[K, ACC]) Range() keygroup.Range { return s.r }

// AppendGroup encodes key group kg's window state sections. It returns an error if a key or
// contents cannot be encoded.
func (s *windowSnapshot[K, ACC]) AppendGroup(dst []byte, kg int) (out []byte, err error) {
	g := s.groups[kg]
	if g == nil {
		return dst, nil
	}
	defer func() {
		if r := recover(); r != nil {
			var ee *state.EncodeError
			e, ok := r.(error)
			if !ok || !errors.As(e, &ee) {
				panic(r)
			}
			out, err = dst, fmt.Errorf("operator: %s: %w", s.what, e)
		}
	}()
	w := blob.Writer{Buf: dst}
	w.BeginState(paneState, blob.Map)
	s.appendPanes(&w, g)
	if err := w.End(); err != nil {
		return dst, err
	}
	if s.listed {
		w.BeginState(listState, blob.List)
		s.appendLists(&w, g)
		if err := w.End(); err != nil {
			return dst, err
		}
	}
	w.BeginState(timerState, blob.Value)
	s.appendTimers(&w, g)
	if err := w.End(); err != nil {
		return dst, err
	}
	w.BeginState(wmState, blob.Value)
	w.Record([]byte("wm"), binary.AppendVarint(blob.AppendValue(nil, 0, nil), s.wm))
	err = w.End()
	return w.Buf, err
}

// appendPanes appends the records of g's keys to the open window/panes section.
func (s *windowSnapshot[K, ACC]) appendPanes(w *blob.Writer, g *groupCopy[K, ACC]) {
	var kbuf, payload, value, ukey []byte
	pi, ti, ai := 0, 0, 0 // the next pane, pane timer and encoded contents
	for i, k := range g.keys {
		kbuf = s.keyCodec.Append(kbuf[:0], k)
		payload = payload[:0]
		for end := int(g.keyEnds[i]); pi < end; pi++ {
			p := &g.panes[pi]
			value = appendPaneHead(value[:0], p.trig, p.flags, g.ptimers[ti:ti+int(p.ntimers)])
			ti += int(p.ntimers)
			switch {
			case p.flags&paneHas == 0 || s.listed:
			case s.copied:
				value = s.accCodec.Append(value, p.acc)
			default:
				value = append(value, g.accs[ai:p.accEnd]...)
				ai = p.accEnd
			}
			ukey = appendWindow(ukey[:0], p.w)
			payload = blob.AppendMapItem(payload, ukey, 0, value)
		}
		w.Record(kbuf, payload)
	}
}

// appendLists appends to the open window/lists section the records of g's list panes.
func (s *windowSnapshot[K, ACC]) appendLists(w *blob.Writer, g *groupCopy[K, ACC]) {
	var kbuf []byte
	pi, ai := 0, 0
	for i, k := range g.keys {
		for end := int(g.keyEnds[i]); pi < end; pi++ {
			p := &g.panes[pi]
			if p.flags&paneHas == 0 {
				continue
			}
			kbuf = appendWindow(s.keyCodec.Append(kbuf[:0], k), p.w)
			w.Record(kbuf, g.accs[ai:p.accEnd])
			ai = p.accEnd
		}
	}
}

// appendTimers appends to the open window/timers section the bucket entries of g that point
// at a pane of the copy.
func (s *windowSnapshot[K, ACC]) appendTimers(w *blob.Writer, g *groupCopy[K, ACC]) {
	var index map[K]int
	if len(g.timers) > 0 {
		index = make(map[K]int, len(g.keys))
		for i, k := range g.keys {
			index[k] = i
		}
	}
	var key, payload []byte
	for _, t := range g.timers {
		ki, ok := index[t.key]
		if !ok {
			continue // stale: the key's panes are gone
		}
		first := int32(0)
		if ki > 0 {
			first = g.keyEnds[ki-1]
		}
		panes := g.panes[first:g.keyEnds[ki]]
		if _, ok := slices.BinarySearchFunc(panes, t.w, func(p paneCopy[ACC], w window.Window) int { return cmpWindow(p.w, w) }); !ok {
			continue // stale: the pane was dropped or merged away
		}
		key = appendTimerKey(key[:0], t.domain, t.at, uint64(t.seq))
		payload = blob.AppendValue(payload[:0], 0, nil)
		payload = appendWindow(blob.AppendStr(payload, s.keyCodec.Append(nil, t.key)), t.w)
		w.Record(key, payload)
	}
}

func (s *windowSnapshot[K, ACC]) ReleaseGroup(kg int) {
	if g := s.groups[kg]; g != nil {
		delete(s.groups, kg)
		s.pool.put(g)
	}
}

func (s *windowSnapshot[K, ACC]) Release() {
	for _, g := range s.groups {
		s.pool.put(g)
	}
	s.groups = nil
}

var (
	_ state.SnapshotPart = (*windowSnapshot[int, int])(nil)
	_ rt.Snapshotter     = (*Window[int, int, int, int])(nil)
)

func (o *Window[T, K, ACC, OUT]) codecs() {
	if o.keyCodec == nil {
		o.keyCodec, o.accCodec = state.CodecFor[K](), state.CodecFor[ACC]()
		o.accCopied = copiedByAssignment(reflect.TypeFor[ACC]())
		o.copies = &copyPool[K, ACC]{max: len(o.groups)}
	}
}

// copiedByAssignment reports whether assigning a value of type t copies all of it: t holds
// no pointers, slices, maps, channels, functions or interfaces (strings are immutable).
func copiedByAssignment(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return true
	case reflect.Array:
		return copiedByAssignment(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !copiedByAssignment(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}

// SnapshotState copies every pane and timer of the subtask, per key group, for the snapshot to
// encode in the background: the task may change its panes as soon as it returns. The copy is
// flat (no encoding, no map), so the task pauses for a fraction of what encoding would take.
// Keys are copied by assignment (keys must not change, as in Flink), and so are pane contents
// whose type holds no references; other contents (record lists, pointers that an aggregate
// function may change in place) are encoded here. It returns an error if contents cannot be
// encoded.
func (o *Window[T, K, ACC, OUT]) SnapshotState(id int64) (snap rt.OperatorSnapshot, err error) {
	if o.bytes != nil {
		return o.snapshotBytes(id)
	}
	what := fmt.Sprintf("checkpoint %d of %s subtask %d", id, o.c.Name, o.c.Subtask)
	defer func() {
		if r := recover(); r != nil {
			var ee *state.EncodeError
			e, ok := r.(error)
			if !ok || !errors.As(e, &ee) {
				panic(r)
			}
			snap, err = rt.OperatorSnapshot{}, fmt.Errorf("operator: %s: %w", what, e)
		}
	}()
	o.codecs()
	ws := &windowSnapshot[K, ACC]{r: o.c.KeyGroups, what: what, wm: o.WM, keyCodec: o.keyCodec, listed: o.list,
		accCodec: o.accCodec, copied: o.accCopied, groups: make(map[int]*groupCopy[K, ACC]), pool: o.copies}
	copies := make([]*groupCopy[K, ACC], len(o.groups))
	var buf []byte
	for gi, m := range o.groups {
		if len(m) == 0 {
			continue
		}
		g := o.copies.get()
		for k, kp := range m {
			g.keys = append(g.keys, k)
			for i := range kp.panes {
				buf = o.copyPane(g, &kp.panes[i], buf)
			}
			g.keyEnds = append(g.keyEnds, int32(len(g.panes)))
		}
		copies[gi] = g
		ws.groups[o.first+gi] = g
	}
	for _, d := range []TimeDomain{EventTime, ProcessingTime} {
		bs := &o.timers.event
		if d == ProcessingTime {
			bs = &o.timers.proc
		}
		for _, at := range slices.Sorted(maps.Keys(bs.at)) {
			for i, e := range bs.at[at].entries {
				if g := copies[e.group-o.first]; g != nil {
					g.timers = append(g.timers, timerCopy[K]{key: e.key, w: e.w, at: at, seq: int32(i), domain: d})
				}
			}
		}
	}
	return rt.OperatorSnapshot{Keyed: state.NewSnapshot(ws)}, nil
}

// copyPane appends a copy of p to g; buf is scratch space, returned for reuse.
func (o *Window[T, K, ACC, OUT]) copyPane(g *groupCopy[K, ACC], p *windowPane[ACC], buf []byte) []byte {
	c := paneCopy[ACC]{w: p.w, trig: p.trig, ntimers: int32(p.timers.len())}
	if p.has {
		c.flags |= paneHas
	}
	if p.dirty {
		c.flags |= paneDirty
	}
	g.ptimers = append(g.ptimers, p.timers.t[:p.timers.n]...)
	g.ptimers = append(g.ptimers, p.timers.more...)
	if p.has {
		switch {
		case o.list:
			for _, e := range any(p.acc).([]T) {
				buf = o.elemCodec.Append(buf[:0], e)
				g.accs = blob.AppendItem(g.accs, 0, buf)
			}
			c.accEnd = len(g.accs)
		case o.accCopied:
			c.acc = p.acc
		default:
			buf = o.accCodec.Append(buf[:0], p.acc)
			g.accs = append(g.accs, buf...)
			c.accEnd = len(g.accs)
		}
	}
	g.panes = append(g.panes, c)
	return buf
}

// snapshotBytes snapshots the panes and timers a bytes backend holds: the backend's snapshot,
// or for a checkpoint its incremental files, after recording the watermark.
func (o *Window[T, K, ACC, OUT]) snapshotBytes(id int64) (rt.OperatorSnapshot, error) {
	if err := o.bytes.writeWM(o.WM); err != nil {
		return rt.OperatorSnapshot{}, fmt.Errorf("operator: snapshot of %s subtask %d: %w", o.c.Name, o.c.Subtask, err)
	}
	if fb, ok := o.backend.(state.FileCheckpointer); ok && !o.c.IsSavepoint(id) {
		files, err := fb.CheckpointFiles(id)
		return rt.OperatorSnapshot{Files: files}, err
	}
	sn, ok := o.backend.(state.Snapshotter)
	if !ok {
		return rt.OperatorSnapshot{}, fmt.Errorf("operator: the %s state backend cannot take snapshots", o.backend.Name())
	}
	snap, err := sn.Snapshot()
	return rt.OperatorSnapshot{Keyed: snap}, err
}

// restore adds the panes and timers of the key groups the subtask restores, from any subset
// of the key groups of a snapshot taken at any parallelism. It returns an error wrapping
// blob.ErrCorrupt for malformed bytes, or an error when a key or contents cannot be decoded
// (their type changed incompatibly) or a key is not in the key group it was stored in.
func (o *Window[T, K, ACC, OUT]) restore() error {
	var err error
	if o.bytes != nil {
		err = o.restoreBytes()
	} else {
		err = o.restoreMemory()
	}
	if err != nil {
		return fmt.Errorf("operator: restoring %s subtask %d: %w", o.c.Name, o.c.Subtask, err)
	}
	return nil
}

// restoreBytes restores the key groups' blobs into the bytes backend (whose factory restored
// the files of an incremental checkpoint), then lists the due times of the timers it holds and
// takes up the watermark.
func (o *Window[T, K, ACC, OUT]) restoreBytes() error {
	if r := o.c.Restored(); r != nil {
		sn, ok := o.backend.(state.Snapshotter)
		if !ok {
			return fmt.Errorf("the %s state backend cannot restore snapshots", o.backend.Name())
		}
		if len(r.Files()) > 0 {
			if fb, ok := o.backend.(state.FileCheckpointer); !ok || !fb.RestoredFiles() {
				return fmt.Errorf("the snapshot holds the window state as Pebble files (an incremental checkpoint); restore it with the pebble state backend, or take a savepoint to change backends")
			}
		}
		err := r.KeyGroups(func(kg int, b []byte) error {
			if !o.c.KeyGroups.Contains(kg) {
				return fmt.Errorf("key group %d is not one of the subtask's %v", kg, o.c.KeyGroups)
			}
			if err := blob.Sections(b, func(s blob.Section) error {
				if s.Tag == blob.TagOperator && s.Name == windowSection {
					return fmt.Errorf("key group %d holds window state of an earlier format, which only the memory backend restores: restore it with the memory backend and take a savepoint", kg)
				}
				return nil
			}); err != nil {
				return err
			}
			return sn.Restore(kg, b)
		})
		if err != nil {
			return err
		}
	}
	err := o.bytes.scanTimers(func(d TimeDomain, at int64) {
		if d == EventTime {
			o.timers.event.addTime(at)
		} else {
			o.timers.proc.addTime(at)
		}
	})
	if err != nil {
		return err
	}
	wm, ok, err := o.bytes.readWM()
	if err != nil {
		return err
	}
	if ok {
		o.WM = max(o.WM, wm)
	}
	o.timers.rearm()
	return nil
}

// restoreMemory decodes the window state sections of the restored key groups into the
// operator's tables.
func (o *Window[T, K, ACC, OUT]) restoreMemory() error {
	if len(o.c.Restored().Files()) > 0 {
		return fmt.Errorf("the snapshot holds the window state as Pebble files (an incremental checkpoint); restore it with the pebble state backend, or take a savepoint to change backends")
	}
	var ts []restoredTimer[K]
	restored := false
	wm := eventtime.MaxTime
	err := o.c.Restored().KeyGroups(func(kg int, b []byte) error {
		if !o.c.KeyGroups.Contains(kg) {
			return fmt.Errorf("key group %d is not one of the subtask's %v", kg, o.c.KeyGroups)
		}
		return blob.Sections(b, func(s blob.Section) error {
			var gwm int64
			var err error
			switch {
			case s.Tag == blob.TagOperator && s.Name == windowSection:
				gwm, err = o.restoreGroup(kg, s.Body, &ts)
			case s.Tag != blob.TagState:
				return nil
			case s.Name == paneState && s.Kind == blob.Map:
				return wrapKG(kg, o.restorePanes(kg, s.Body))
			case s.Name == timerState && s.Kind == blob.Value:
				return wrapKG(kg, o.restoreTimers(kg, s.Body, &ts))
			case s.Name == listState && s.Kind == blob.List:
				return wrapKG(kg, o.restoreLists(kg, s.Body))
			case s.Name == wmState && s.Kind == blob.Value:
				gwm, err = restoreWM(s.Body)
			default:
				return nil
			}
			if err != nil {
				return wrapKG(kg, err)
			}
			restored, wm = true, min(wm, gwm)
			return nil
		})
	})
	if err != nil {
		return err
	}
	if restored {
		o.WM = max(o.WM, wm)
	}
	o.timers.restore(ts)
	return nil
}

func wrapKG(kg int, err error) error {
	if err != nil {
		return fmt.Errorf("key group %d: %w", kg, err)
	}
	return nil
}

// restoreKey decodes a restored key of key group kg, checking that it belongs there.
func (o *Window[T, K, ACC, OUT]) restoreKey(kg int, kb []byte) (K, error) {
	k, err := o.keyCodec.Decode(kb)
	if err != nil {
		return k, fmt.Errorf("key %x: %w", kb, err)
	}
	if g := keygroup.Of(o.hash(k), o.c.MaxParallelism); g != kg {
		return k, fmt.Errorf("key %v belongs to key group %d, not %d (the key type or the number of key groups changed)", k, g, kg)
	}
	return k, nil
}

// restorePanes decodes a window/panes section of key group kg into the operator's tables.
func (o *Window[T, K, ACC, OUT]) restorePanes(kg int, body []byte) error {
	o.codecs()
	m := o.groups[kg-o.first]
	if m == nil {
		m = make(map[K]*keyPanes[ACC])
		o.groups[kg-o.first] = m
	}
	return blob.Records(body, func(kb, _, payload []byte) error {
		k, err := o.restoreKey(kg, kb)
		if err != nil {
			return err
		}
		if _, dup := m[k]; dup {
			return fmt.Errorf("%w: key %v restored twice", blob.ErrCorrupt, k)
		}
		kp := &keyPanes[ACC]{}
		err = blob.MapItems(payload, func(ukey []byte, _ int64, value []byte) error {
			w, err := readWindow(ukey)
			if err != nil {
				return err
			}
			p := windowPane[ACC]{w: w}
			if err := decodePane(value, &p, o.accCodec, o.list); err != nil {
				return err
			}
			if l := len(kp.panes); l > 0 && cmpWindow(kp.panes[l-1].w, w) >= 0 {
				return fmt.Errorf("%w: windows %v and %v out of order", blob.ErrCorrupt, kp.panes[l-1].w, w)
			}
			kp.panes = append(kp.panes, p)
			return nil
		})
		if err != nil {
			return fmt.Errorf("key %v: %w", k, err)
		}
		if len(kp.panes) == 0 {
			return fmt.Errorf("%w: key %v without windows", blob.ErrCorrupt, k)
		}
		m[k] = kp
		return nil
	})
}

// restoreLists decodes a window/lists section of key group kg: the records of list panes
// restored before it.
func (o *Window[T, K, ACC, OUT]) restoreLists(kg int, body []byte) error {
	if !o.list {
		return fmt.Errorf("the snapshot holds window records (window/lists), but the window function keeps no record lists: it changed")
	}
	m := o.groups[kg-o.first]
	return blob.Records(body, func(rk, _, payload []byte) error {
		if len(rk) < windowLen {
			return fmt.Errorf("%w: window list key %x", blob.ErrCorrupt, rk)
		}
		w, err := readWindow(rk[len(rk)-windowLen:])
		if err != nil {
			return err
		}
		k, err := o.restoreKey(kg, rk[:len(rk)-windowLen])
		if err != nil {
			return err
		}
		var i int
		ok := false
		kp := m[k]
		if kp != nil {
			i, ok = kp.find(w)
		}
		if !ok || !kp.panes[i].has {
			return fmt.Errorf("%w: records of window %v of key %v, which has no such pane", blob.ErrCorrupt, w, k)
		}
		var elems []T
		err = blob.Items(payload, func(_ int64, b []byte) error {
			e, err := o.elemCodec.Decode(b)
			elems = append(elems, e)
			return err
		})
		if err != nil {
			return fmt.Errorf("records of window %v of key %v: %w", w, k, err)
		}
		kp.panes[i].acc = any(elems).(ACC)
		return nil
	})
}

// restoreTimers decodes a window/timers section of key group kg, appending its timers to ts.
func (o *Window[T, K, ACC, OUT]) restoreTimers(kg int, body []byte, ts *[]restoredTimer[K]) error {
	o.codecs()
	return blob.Records(body, func(key, _, payload []byte) error {
		d, at, seq, err := readTimerKey(key)
		if err != nil {
			return err
		}
		_, raw, err := blob.ParseValue(payload)
		if err != nil {
			return err
		}
		kb, rest, err := blob.ReadStr(raw)
		if err != nil {
			return err
		}
		k, err := o.restoreKey(kg, kb)
		if err != nil {
			return err
		}
		w, err := readWindow(rest)
		if err != nil {
			return err
		}
		if seq > math.MaxInt64 {
			return fmt.Errorf("%w: timer sequence number %d", blob.ErrCorrupt, seq)
		}
		*ts = append(*ts, restoredTimer[K]{ref: timerRef{at, d}, seq: int(seq), e: timerEntry[K]{key: k, w: w, group: kg}})
		return nil
	})
}

// restoreWM decodes a window/wm section.
func restoreWM(body []byte) (int64, error) {
	var wm int64
	n := 0
	err := blob.Records(body, func(_, _, payload []byte) error {
		_, raw, err := blob.ParseValue(payload)
		if err != nil {
			return err
		}
		v, k := binary.Varint(raw)
		if k <= 0 || k != len(raw) {
			return fmt.Errorf("%w: bad window watermark", blob.ErrCorrupt)
		}
		wm, n = v, n+1
		return nil
	})
	if err == nil && n != 1 {
		err = fmt.Errorf("%w: %d window watermarks", blob.ErrCorrupt, n)
	}
	return wm, err
}

// restoreGroup decodes the body of key group kg's section, adds its panes and appends its
// timers to ts. It returns the watermark the section holds.
func (o *Window[T, K, ACC, OUT]) restoreGroup(kg int, body []byte, ts *[]restoredTimer[K]) (int64, error) {
	o.codecs()
	d := decoder{b: body}
	if v := d.byte(); d.err == nil && v != windowFormat {
		return 0, fmt.Errorf("%w: window state of format %d, this build reads %d", blob.ErrCorrupt, v, windowFormat)
	}
	wm := d.varint()
	nkeys := d.count()
	keys, kps := make([]K, 0, nkeys), make([]*keyPanes[ACC], 0, nkeys)
	m := o.groups[kg-o.first]
	if m == nil && nkeys > 0 {
		m = make(map[K]*keyPanes[ACC], nkeys)
		o.groups[kg-o.first] = m
	}
	for range nkeys {
		kb := d.str()
		if d.err != nil {
			return 0, d.err
		}
		k, err := o.keyCodec.Decode(kb)
		if err != nil {
			return 0, fmt.Errorf("key %x: %w", kb, err)
		}
		if g := keygroup.Of(o.hash(k), o.c.MaxParallelism); g != kg {
			return 0, fmt.Errorf("key %v belongs to key group %d, not %d (the key type or the number of key groups changed)", k, g, kg)
		}
		if _, dup := m[k]; dup {
			return 0, fmt.Errorf("%w: key %v restored twice", blob.ErrCorrupt, k)
		}
		kp := &keyPanes[ACC]{}
		if err := o.decodePanes(&d, kp); err != nil {
			return 0, fmt.Errorf("key %v: %w", k, err)
		}
		m[k] = kp
		keys, kps = append(keys, k), append(kps, kp)
	}
	for range d.count() {
		ki, pi := d.uvarint(), d.uvarint()
		dom := TimeDomain(d.byte())
		at, seq := d.varint(), d.uvarint()
		if d.err != nil {
			return 0, d.err
		}
		if ki >= uint64(len(kps)) || pi >= uint64(len(kps[ki].panes)) || dom > ProcessingTime || seq > math.MaxInt32 {
			return 0, fmt.Errorf("%w: bad timer record", blob.ErrCorrupt)
		}
		*ts = append(*ts, restoredTimer[K]{ref: timerRef{at, dom}, seq: int(seq),
			e: timerEntry[K]{key: keys[ki], w: kps[ki].panes[pi].w, group: kg}})
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%w: %d bytes after the window state", blob.ErrCorrupt, len(d.b))
	}
	return wm, d.err
}

// decodePanes decodes the panes of a key record into kp.
func (o *Window[T, K, ACC, OUT]) decodePanes(d *decoder, kp *keyPanes[ACC]) error {
	n := d.count()
	kp.panes = make([]windowPane[ACC], 0, n)
	for range n {
		var p windowPane[ACC]
		p.w.Start, p.w.End, p.trig = d.varint(), d.varint(), d.varint()
		flags := d.byte()
		p.has, p.dirty = flags&paneHas != 0, flags&paneDirty != 0
		for range d.count() {
			at, dom := d.varint(), TimeDomain(d.byte())
			if dom > ProcessingTime {
				return fmt.Errorf("%w: timer of unknown domain %d", blob.ErrCorrupt, dom)
			}
			p.timers.add(timerRef{at, dom})
		}
		if p.has {
			ab := d.str()
			if d.err != nil {
				return d.err
			}
			acc, err := o.accCodec.Decode(ab)
			if err != nil {
				return fmt.Errorf("contents of window %v: %w", p.w, err)
			}
			p.acc = acc
		}
		if d.err != nil {
			return d.err
		}
		if l := len(kp.panes); l > 0 && cmpWindow(kp.panes[l-1].w, p.w) >= 0 {
			return fmt.Errorf("%w: windows %v and %v out of order", blob.ErrCorrupt, kp.panes[l-1].w, p.w)
		}
		kp.panes = append(kp.panes, p)
	}
	if n == 0 && d.err == nil {
		return fmt.Errorf("%w: a key without windows", blob.ErrCorrupt)
	}
	return d.err
}

// decoder reads the window operator's section; the first error sticks, and reads after it
// return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: window state: bad %s", blob.ErrCorrupt, what)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail("byte")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a number of records, each at least one byte long.
func (d *decoder) count() int {
	v := d.uvarint()
	if v > uint64(len(d.b)) {
		d.fail("count")
		return 0
	}
	return int(v)
}

func (d *decoder) str() []byte {
	if d.err != nil {
		return nil
	}
	s, rest, err := blob.ReadStr(d.b)
	if err != nil {
		d.fail("string")
		return nil
	}
	d.b = rest
	return s
}
