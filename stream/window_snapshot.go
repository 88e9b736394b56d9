package stream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/internal/keygroup"
	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/state/blob"
)

// Checkpoints. The panes and timers live in the operator, not in a state backend, so the
// operator writes them itself: for each key group with panes, an operator section (package
// state/blob) called windowSection. Its body is
//
//	body    = version:byte(1) wm:varint nkeys:uvarint *keyrec ntimers:uvarint *timer
//	keyrec  = key:str npanes:uvarint *pane                     panes in the key's order
//	pane    = start:varint end:varint trig:varint flags:byte ntimers:uvarint
//	          *(at:varint domain:byte) [acc:str]               acc iff flags has paneHas
//	timer   = keyidx:uvarint paneidx:uvarint domain:byte at:varint seq:uvarint
//
// (str: a uvarint length and the bytes). Keys are encoded with state.CodecFor[K], the codec of
// keyed state, and contents with state.CodecFor[ACC]. A pane's timers are the set it holds (the
// timers that fire it); the timer records are the bucket entries that point at existing panes,
// with their index in their bucket (seq), so that timers of one time fire in the same order
// after a restore. Entries for panes that are gone are left out: a pane is never made again
// for a window once dropped (it is late by then) or merged away (a larger window covers it). wm is the subtask's watermark: the restoring subtask starts from the least
// of its key groups', so that records late before the snapshot are late after it.

// windowSection names the window operator's operator sections.
const windowSection = "window"

const windowFormat = 1

// pane flags
const (
	paneHas   = 1
	paneDirty = 2
)

// windowSnapshot is the window operator's part of a snapshot: the operator section of each
// key group, encoded when the snapshot was taken.
type windowSnapshot struct {
	r      keygroup.Range
	groups map[int][]byte
}

func (s *windowSnapshot) Range() keygroup.Range { return s.r }

func (s *windowSnapshot) AppendGroup(dst []byte, kg int) ([]byte, error) {
	body := s.groups[kg]
	if len(body) == 0 {
		return dst, nil
	}
	w := blob.Writer{Buf: dst}
	w.BeginOperator(windowSection)
	w.Raw(body)
	err := w.End()
	return w.Buf, err
}

func (s *windowSnapshot) ReleaseGroup(kg int) { delete(s.groups, kg) }
func (s *windowSnapshot) Release()            { s.groups = nil }

var (
	_ state.SnapshotPart = (*windowSnapshot)(nil)
	_ rt.Snapshotter     = (*windowOp[int, int, int, int])(nil)
)

func (o *windowOp[T, K, ACC, OUT]) codecs() {
	if o.keyCodec == nil {
		o.keyCodec, o.accCodec = state.CodecFor[K](), state.CodecFor[ACC]()
	}
}

// SnapshotState encodes every pane and timer of the subtask, per key group. It encodes them at
// once, on the task goroutine, rather than copying on write: simple, and the task may change
// its panes as soon as it returns, but the task waits for the encoding (a known cost, in
// proportion to the state; an incremental or copy-on-write snapshot would avoid it). It
// returns an error if a key or contents cannot be encoded.
func (o *windowOp[T, K, ACC, OUT]) SnapshotState(id int64) (snap rt.OperatorSnapshot, err error) {
	defer func() {
		if r := recover(); r != nil {
			var ee *state.EncodeError
			e, ok := r.(error)
			if !ok || !errors.As(e, &ee) {
				panic(r)
			}
			snap, err = rt.OperatorSnapshot{}, fmt.Errorf("stream: checkpoint %d of %s subtask %d: %w", id, o.c.Name, o.c.Subtask, e)
		}
	}()
	o.codecs()
	index := make(map[*keyPanes[ACC]]int) // the index of each key's record in its group
	keys := make([][]byte, len(o.groups))
	var buf []byte
	for gi, m := range o.groups {
		if len(m) == 0 {
			continue
		}
		b := binary.AppendUvarint(nil, uint64(len(m)))
		i := 0
		for k, kp := range m {
			index[kp] = i
			i++
			buf = o.keyCodec.Append(buf[:0], k)
			b = blob.AppendStr(b, buf)
			b = o.appendPanes(b, kp, &buf)
		}
		keys[gi] = b
	}
	timers := make([][]byte, len(o.groups))
	ntimers := make([]int, len(o.groups))
	for _, d := range []TimeDomain{EventTime, ProcessingTime} {
		bs := &o.timers.event
		if d == ProcessingTime {
			bs = &o.timers.proc
		}
		bs.each(func(at int64, seq int, e timerEntry[K]) {
			gi := e.group - o.first
			kp := o.groups[gi][e.key]
			if kp == nil {
				return // stale: the key's panes are gone
			}
			pi, ok := kp.find(e.w)
			if !ok {
				return // stale: the pane was dropped or merged away
			}
			t := binary.AppendUvarint(timers[gi], uint64(index[kp]))
			t = binary.AppendUvarint(t, uint64(pi))
			t = append(t, byte(d))
			t = binary.AppendVarint(t, at)
			timers[gi] = binary.AppendUvarint(t, uint64(seq))
			ntimers[gi]++
		})
	}
	ws := &windowSnapshot{r: o.c.KeyGroups, groups: make(map[int][]byte)}
	for gi := range o.groups {
		if keys[gi] == nil {
			continue
		}
		b := make([]byte, 0, 1+binary.MaxVarintLen64+len(keys[gi])+binary.MaxVarintLen64+len(timers[gi]))
		b = append(b, windowFormat)
		b = binary.AppendVarint(b, o.wm)
		b = append(b, keys[gi]...)
		b = binary.AppendUvarint(b, uint64(ntimers[gi]))
		ws.groups[o.first+gi] = append(b, timers[gi]...)
	}
	return rt.OperatorSnapshot{Keyed: state.NewSnapshot(ws)}, nil
}

// appendPanes appends the panes of a key record; buf is scratch space.
func (o *windowOp[T, K, ACC, OUT]) appendPanes(b []byte, kp *keyPanes[ACC], buf *[]byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(kp.panes)))
	for i := range kp.panes {
		p := &kp.panes[i]
		b = binary.AppendVarint(b, p.w.Start)
		b = binary.AppendVarint(b, p.w.End)
		b = binary.AppendVarint(b, p.trig)
		var flags byte
		if p.has {
			flags |= paneHas
		}
		if p.dirty {
			flags |= paneDirty
		}
		b = append(b, flags)
		b = binary.AppendUvarint(b, uint64(p.timers.len()))
		p.timers.each(func(r timerRef) {
			b = binary.AppendVarint(b, r.at)
			b = append(b, byte(r.domain))
		})
		if p.has {
			*buf = o.accCodec.Append((*buf)[:0], p.acc)
			b = blob.AppendStr(b, *buf)
		}
	}
	return b
}

// restore adds the panes and timers of the key groups the subtask restores, from any subset
// of the key groups of a snapshot taken at any parallelism. It returns an error wrapping
// blob.ErrCorrupt for malformed bytes, or an error when a key or contents cannot be decoded
// (their type changed incompatibly) or a key is not in the key group it was stored in.
func (o *windowOp[T, K, ACC, OUT]) restore() error {
	var ts []restoredTimer[K]
	restored := false
	wm := eventtime.MaxTime
	err := o.env.RestoredKeyGroups(func(kg int, b []byte) error {
		if !o.c.KeyGroups.Contains(kg) {
			return fmt.Errorf("key group %d is not one of the subtask's %v", kg, o.c.KeyGroups)
		}
		return blob.Sections(b, func(s blob.Section) error {
			if s.Tag != blob.TagOperator || s.Name != windowSection {
				return nil
			}
			gwm, err := o.restoreGroup(kg, s.Body, &ts)
			if err != nil {
				return fmt.Errorf("key group %d: %w", kg, err)
			}
			restored, wm = true, min(wm, gwm)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("stream: restoring %s subtask %d: %w", o.c.Name, o.c.Subtask, err)
	}
	if restored {
		o.wm = max(o.wm, wm)
	}
	o.timers.restore(ts)
	return nil
}

// restoreGroup decodes the body of key group kg's section, adds its panes and appends its
// timers to ts. It returns the watermark the section holds.
func (o *windowOp[T, K, ACC, OUT]) restoreGroup(kg int, body []byte, ts *[]restoredTimer[K]) (int64, error) {
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
func (o *windowOp[T, K, ACC, OUT]) decodePanes(d *decoder, kp *keyPanes[ACC]) error {
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
