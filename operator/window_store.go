package operator

import (
	"encoding/binary"
	"fmt"

	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/state/blob"
	"github.com/runnel-io/runnel/window"
)

// Where the window operator's panes and timers live. With the in-memory backend they are the
// operator's own object tables (window_op.go: per key group a map from key to the key's
// sorted panes; window_timers.go: timer buckets by due time), the fastest structure for them.
// With a bytes backend (state.BytesBackend: Pebble) they are three states of the backend, so
// that their memory is bounded by the backend's cache and they grow on disk:
//
//	window/panes   Map    key -> window -> pane        one entry per (key, window)
//	window/timers  Value  (domain, at, seq) -> (key, window)
//	window/wm      Value  "wm" -> the subtask's watermark, written at each snapshot
//	window/lists   List   (key, window) -> the pane's records, for list panes (ListPanes)
//
// A list pane's records are kept apart from the pane, so that adding one appends to the list
// (BytesTable.Merge) instead of reading and writing the whole list, whose size grows with the
// pane: the pane's own value then holds no contents, here and in snapshots of either backend.
//
// Both keep the same snapshot format: these three state sections in each key group's blob
// (state/blob), whichever structure wrote them, so window state moves between backends and
// parallelisms like keyed state. The encodings:
//
//	window   = start:8 end:8                     big-endian, sign bit flipped: sorts by start, end
//	pane     = trig:varint flags:byte ntimers:uvarint *(at:varint domain:byte) [acc]
//	                                              acc (the rest) iff flags has paneHas
//	timerkey = domain:1 at:8 seq:8                at big-endian, sign bit flipped
//	timer    = key:str window                     the pane the timer fires
//
// The bytes backend orders a key's panes by window, and a key group's timers by domain, time
// and registration (seq); the operator keeps in memory only the distinct times timers are due
// at (windows come in few), and on each due time reads and deletes that time's timers one key
// group at a time. Timer entries whose pane is gone or no longer holds the timer are stale and
// skipped, as in memory.

// Names of the window operator's states.
const (
	paneState  = "window/panes"
	timerState = "window/timers"
	wmState    = "window/wm"
	listState  = "window/lists"
)

// wmKey is the framed key of the watermark record.
var wmKey = blob.AppendKey(nil, []byte("wm"))

const windowLen = 16

func appendWindow(dst []byte, w window.Window) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(w.Start)^1<<63)
	return binary.BigEndian.AppendUint64(dst, uint64(w.End)^1<<63)
}

func readWindow(b []byte) (window.Window, error) {
	if len(b) != windowLen {
		return window.Window{}, fmt.Errorf("%w: window of %d bytes", blob.ErrCorrupt, len(b))
	}
	return window.Window{Start: int64(binary.BigEndian.Uint64(b) ^ 1<<63), End: int64(binary.BigEndian.Uint64(b[8:]) ^ 1<<63)}, nil
}

// appendTimerKey appends the unframed key of a timer record.
func appendTimerKey(dst []byte, d TimeDomain, at int64, seq uint64) []byte {
	dst = append(dst, byte(d))
	dst = binary.BigEndian.AppendUint64(dst, uint64(at)^1<<63)
	return binary.BigEndian.AppendUint64(dst, seq)
}

const timerKeyLen = 17

func readTimerKey(b []byte) (d TimeDomain, at int64, seq uint64, err error) {
	if len(b) != timerKeyLen || b[0] > byte(ProcessingTime) {
		return 0, 0, 0, fmt.Errorf("%w: bad window timer key %x", blob.ErrCorrupt, b)
	}
	return TimeDomain(b[0]), int64(binary.BigEndian.Uint64(b[1:]) ^ 1<<63), binary.BigEndian.Uint64(b[9:]), nil
}

// appendPaneHead appends a pane's encoding up to its contents: trigger state, flags, timers.
func appendPaneHead(dst []byte, trig int64, flags byte, timers []timerRef) []byte {
	dst = binary.AppendVarint(dst, trig)
	dst = append(dst, flags)
	dst = binary.AppendUvarint(dst, uint64(len(timers)))
	for _, r := range timers {
		dst = binary.AppendVarint(dst, r.at)
		dst = append(dst, byte(r.domain))
	}
	return dst
}

// decodePane decodes a pane's encoding into p (its window already set), the contents with
// codec; listed panes hold none (window/lists does).
func decodePane[ACC any](b []byte, p *windowPane[ACC], codec state.Codec[ACC], listed bool) error {
	d := decoder{b: b}
	p.trig = d.varint()
	flags := d.byte()
	p.has, p.dirty = flags&paneHas != 0, flags&paneDirty != 0
	p.timers = paneTimers{}
	for range d.count() {
		at, dom := d.varint(), TimeDomain(d.byte())
		if dom > ProcessingTime {
			return fmt.Errorf("%w: timer of unknown domain %d", blob.ErrCorrupt, dom)
		}
		p.timers.add(timerRef{at, dom})
	}
	if d.err != nil {
		return d.err
	}
	if p.has && !listed {
		acc, err := codec.Decode(d.b)
		if err != nil {
			return fmt.Errorf("contents of window %v: %w", p.w, err)
		}
		p.acc = acc
	} else if len(d.b) > 0 {
		return fmt.Errorf("%w: %d bytes after an empty pane", blob.ErrCorrupt, len(d.b))
	}
	return nil
}

// paneFlags returns the flags byte of p.
func paneFlags[ACC any](p *windowPane[ACC]) byte {
	var f byte
	if p.has {
		f |= paneHas
	}
	if p.dirty {
		f |= paneDirty
	}
	return f
}

// windowBytes holds a window operator subtask's panes and timers in a bytes backend. It
// belongs to the task goroutine.
type windowBytes[K comparable, ACC any] struct {
	panes, timers, wm state.BytesTable
	lists             state.BytesTable
	listed            bool // the panes are list panes, their records in lists
	keyCodec          state.Codec[K]
	accCodec          state.Codec[ACC]
	hash              keygroup.Hasher[K]
	maxPar            int
	r                 keygroup.Range

	kp     keyPanes[ACC]   // the panes of the key being processed, loaded
	loaded []window.Window // the windows kp held when loaded: what save may have to delete
	seq    uint64          // the last timer sequence number given

	kbuf, fbuf, wbuf, vbuf, gbuf []byte
	lbuf, ibuf, rbuf             []byte
	tbuf                         []timerRef
}

func newWindowBytes[K comparable, ACC any](b state.BytesBackend, r keygroup.Range, maxPar int) (*windowBytes[K, ACC], error) {
	s := &windowBytes[K, ACC]{keyCodec: state.CodecFor[K](), accCodec: state.CodecFor[ACC](),
		hash: keygroup.HasherFor[K](), maxPar: maxPar, r: r}
	for _, t := range []struct {
		dst  *state.BytesTable
		name string
		kind blob.Kind
	}{{&s.panes, paneState, blob.Map}, {&s.timers, timerState, blob.Value}, {&s.wm, wmState, blob.Value}, {&s.lists, listState, blob.List}} {
		tb, err := b.Table(state.TableSpec{Name: t.name, Kind: t.kind})
		if err != nil {
			return nil, fmt.Errorf("window state on backend %s: %w", b.Name(), err)
		}
		*t.dst = tb
	}
	return s, nil
}

// framed returns the framed encoding of k, in a buffer reused by the next call.
func (s *windowBytes[K, ACC]) framed(k K) []byte {
	s.kbuf = s.keyCodec.Append(s.kbuf[:0], k)
	s.fbuf = blob.AppendKey(s.fbuf[:0], s.kbuf)
	return s.fbuf
}

// paneKey returns the stored key of key k's pane of w (after framed(k)), in a reused buffer.
func (s *windowBytes[K, ACC]) paneKey(w window.Window) []byte {
	s.wbuf = appendWindow(append(s.wbuf[:0], s.fbuf...), w)
	return s.wbuf
}

// load reads the panes of key k in key group g into the scratch keyPanes and returns it: the
// panes of windows ws, or every pane of the key if ws is nil. It returns nil if the key has
// none of them and create is false.
func (s *windowBytes[K, ACC]) load(k K, g int, ws []window.Window, create bool) *keyPanes[ACC] {
	s.kp.panes = s.kp.panes[:0]
	s.loaded = s.loaded[:0]
	s.framed(k)
	if ws == nil {
		err := s.panes.Scan(g, s.fbuf, func(suffix, value []byte) bool {
			w, err := readWindow(suffix)
			if err == nil {
				err = s.decodeInto(w, value)
			}
			if err != nil {
				panic(fmt.Errorf("operator: reading the windows of key %v: %w", k, err))
			}
			return true
		})
		if err != nil {
			panic(fmt.Errorf("operator: reading the windows of key %v: %w", k, err))
		}
	} else {
		for _, w := range ws {
			if _, ok := s.kp.find(w); ok {
				continue // assigned twice
			}
			v, ok, err := s.panes.Get(s.gbuf[:0], g, s.paneKey(w))
			s.gbuf = v
			if err == nil && ok {
				err = s.decodeInto(w, v)
			}
			if err != nil {
				panic(fmt.Errorf("operator: reading window %v of key %v: %w", w, k, err))
			}
		}
	}
	if len(s.kp.panes) == 0 && !create {
		return nil
	}
	return &s.kp
}

// decodeInto adds the pane of window w, stored as value, to the scratch keyPanes in window
// order.
func (s *windowBytes[K, ACC]) decodeInto(w window.Window, value []byte) error {
	_, raw, err := blob.ParseValue(value)
	if err != nil {
		return err
	}
	i, _ := s.kp.find(w)
	s.kp.panes = append(s.kp.panes, windowPane[ACC]{})
	copy(s.kp.panes[i+1:], s.kp.panes[i:])
	s.kp.panes[i] = windowPane[ACC]{w: w}
	if err := decodePane(raw, &s.kp.panes[i], s.accCodec, s.listed); err != nil {
		return err
	}
	s.loaded = append(s.loaded, w)
	return nil
}

// save writes kp, the panes of key k that load returned, back: every pane it holds, and
// deletes those it loaded and no longer holds.
func (s *windowBytes[K, ACC]) save(k K, g int, kp *keyPanes[ACC]) {
	s.framed(k)
	for _, w := range s.loaded {
		if _, ok := kp.find(w); !ok {
			if err := s.panes.Delete(g, s.paneKey(w)); err != nil {
				panic(fmt.Errorf("operator: deleting window %v of key %v: %w", w, k, err))
			}
		}
	}
	for i := range kp.panes {
		p := &kp.panes[i]
		s.tbuf = append(append(s.tbuf[:0], p.timers.t[:p.timers.n]...), p.timers.more...)
		s.vbuf = appendPaneHead(blob.AppendValue(s.vbuf[:0], 0, nil), p.trig, paneFlags(p), s.tbuf)
		if p.has && !s.listed {
			s.vbuf = s.accCodec.Append(s.vbuf, p.acc)
		}
		if err := s.panes.Set(g, s.paneKey(p.w), s.vbuf); err != nil {
			panic(fmt.Errorf("operator: writing window %v of key %v: %w", p.w, k, err))
		}
	}
	s.loaded = s.loaded[:0]
}

// addTimer stores a timer entry of domain d at at.
func (s *windowBytes[K, ACC]) addTimer(d TimeDomain, at int64, e timerEntry[K]) {
	s.seq++
	s.wbuf = blob.AppendKey(s.wbuf[:0], appendTimerKey(s.gbuf[:0], d, at, s.seq))
	s.vbuf = blob.AppendValue(s.vbuf[:0], 0, nil)
	s.kbuf = s.keyCodec.Append(s.kbuf[:0], e.key)
	s.vbuf = appendWindow(blob.AppendStr(s.vbuf, s.kbuf), e.w)
	if err := s.timers.Set(e.group, s.wbuf, s.vbuf); err != nil {
		panic(fmt.Errorf("operator: writing a window timer: %w", err))
	}
}

// takeTimers reads and deletes the timers of domain d due at at in key group kg, appending
// their entries to dst in registration order.
func (s *windowBytes[K, ACC]) takeTimers(dst []timerEntry[K], d TimeDomain, at int64, kg int) []timerEntry[K] {
	prefix := appendTimerKey(nil, d, at, 0)[:9]
	prefix = append([]byte{timerKeyLen}, prefix...) // the frame: every timer key is 17 bytes
	n := len(dst)
	err := s.timers.Scan(kg, prefix, func(_, value []byte) bool {
		e, err := s.decodeTimer(kg, value)
		if err != nil {
			panic(err)
		}
		dst = append(dst, e)
		return true
	})
	if err == nil && len(dst) > n {
		err = s.timers.DeletePrefix(kg, prefix)
	}
	if err != nil {
		panic(fmt.Errorf("operator: reading the window timers of key group %d: %w", kg, err))
	}
	return dst
}

// decodeTimer decodes a timer record's value (exp, key, window).
func (s *windowBytes[K, ACC]) decodeTimer(kg int, value []byte) (timerEntry[K], error) {
	_, raw, err := blob.ParseValue(value)
	if err != nil {
		return timerEntry[K]{}, err
	}
	kb, rest, err := blob.ReadStr(raw)
	if err != nil {
		return timerEntry[K]{}, err
	}
	k, err := s.keyCodec.Decode(kb)
	if err != nil {
		return timerEntry[K]{}, fmt.Errorf("operator: a window timer's key %x: %w", kb, err)
	}
	w, err := readWindow(rest)
	if err != nil {
		return timerEntry[K]{}, err
	}
	return timerEntry[K]{key: k, w: w, group: kg}, nil
}

// scanTimers calls fn for every stored timer of the subtask, and sets seq above every one.
func (s *windowBytes[K, ACC]) scanTimers(fn func(d TimeDomain, at int64)) error {
	for kg := s.r.Start; kg < s.r.End; kg++ {
		var ferr error
		err := s.timers.Scan(kg, nil, func(suffix, _ []byte) bool {
			kb, _, err := blob.ReadStr(suffix)
			var d TimeDomain
			var at int64
			var seq uint64
			if err == nil {
				d, at, seq, err = readTimerKey(kb)
			}
			if err != nil {
				ferr = err
				return false
			}
			s.seq = max(s.seq, seq)
			fn(d, at)
			return true
		})
		if err == nil {
			err = ferr
		}
		if err != nil {
			return fmt.Errorf("key group %d: %w", kg, err)
		}
	}
	return nil
}

// writeWM records the subtask's watermark in every key group it owns.
func (s *windowBytes[K, ACC]) writeWM(wm int64) error {
	s.vbuf = binary.AppendVarint(blob.AppendValue(s.vbuf[:0], 0, nil), wm)
	for kg := s.r.Start; kg < s.r.End; kg++ {
		if err := s.wm.Set(kg, wmKey, s.vbuf); err != nil {
			return err
		}
	}
	return nil
}

// readWM returns the least watermark recorded in the subtask's key groups, and false if none
// is.
func (s *windowBytes[K, ACC]) readWM() (int64, bool, error) {
	var out int64
	found := false
	for kg := s.r.Start; kg < s.r.End; kg++ {
		v, ok, err := s.wm.Get(s.gbuf[:0], kg, wmKey)
		s.gbuf = v
		if err != nil {
			return 0, false, err
		}
		if !ok {
			continue
		}
		_, raw, err := blob.ParseValue(v)
		if err != nil {
			return 0, false, err
		}
		wm, n := binary.Varint(raw)
		if n <= 0 {
			return 0, false, fmt.Errorf("%w: bad window watermark", blob.ErrCorrupt)
		}
		if !found || wm < out {
			out = wm
		}
		found = true
	}
	return out, found, nil
}

// forAll calls fn for every pane of the subtask, key group by key group, then deletes every
// pane and timer.
func (s *windowBytes[K, ACC]) forAllAndClear(fn func(k K, g int, p *windowPane[ACC])) {
	for kg := s.r.Start; kg < s.r.End; kg++ {
		var p windowPane[ACC]
		err := s.panes.Scan(kg, nil, func(suffix, value []byte) bool {
			kb, rest, err := blob.ReadStr(suffix)
			var k K
			if err == nil {
				k, err = s.keyCodec.Decode(kb)
			}
			if err == nil {
				p = windowPane[ACC]{}
				p.w, err = readWindow(rest)
			}
			var raw []byte
			if err == nil {
				_, raw, err = blob.ParseValue(value)
			}
			if err == nil {
				err = decodePane(raw, &p, s.accCodec, s.listed)
			}
			if err != nil {
				panic(fmt.Errorf("operator: reading the windows of key group %d: %w", kg, err))
			}
			fn(k, kg, &p)
			return true
		})
		if err == nil {
			err = s.panes.DeletePrefix(kg, nil)
		}
		if err == nil {
			err = s.timers.DeletePrefix(kg, nil)
		}
		if err == nil {
			err = s.lists.DeletePrefix(kg, nil)
		}
		if err != nil {
			panic(fmt.Errorf("operator: clearing the windows of key group %d: %w", kg, err))
		}
	}
}

// listKey returns the stored key of the records of key k's pane of w: the framed encoding of
// the key's encoding and the window.
func (s *windowBytes[K, ACC]) listKey(k K, w window.Window) []byte {
	s.kbuf = appendWindow(s.keyCodec.Append(s.kbuf[:0], k), w)
	s.lbuf = blob.AppendKey(s.lbuf[:0], s.kbuf)
	return s.lbuf
}

// appendElem appends a record, encoded as elem, to the records of key k's pane of w.
func (s *windowBytes[K, ACC]) appendElem(k K, g int, w window.Window, elem []byte) {
	s.ibuf = blob.AppendItem(s.ibuf[:0], 0, elem)
	if err := s.lists.Merge(g, s.listKey(k, w), s.ibuf); err != nil {
		panic(fmt.Errorf("operator: adding to window %v of key %v: %w", w, k, err))
	}
}

// getList returns the records of key k's pane of w, as a List payload, in a buffer reused by
// the next call.
func (s *windowBytes[K, ACC]) getList(k K, g int, w window.Window) []byte {
	b, _, err := s.lists.Get(s.rbuf[:0], g, s.listKey(k, w))
	if err != nil {
		panic(fmt.Errorf("operator: reading window %v of key %v: %w", w, k, err))
	}
	s.rbuf = b
	return b
}

// deleteList drops the records of key k's pane of w.
func (s *windowBytes[K, ACC]) deleteList(k K, g int, w window.Window) {
	if err := s.lists.Delete(g, s.listKey(k, w)); err != nil {
		panic(fmt.Errorf("operator: deleting window %v of key %v: %w", w, k, err))
	}
}

// mergeLists moves the records of key k's panes of ws, in that order, to its pane of result.
func (s *windowBytes[K, ACC]) mergeLists(k K, g int, ws []window.Window, result window.Window) {
	var all []byte
	for _, w := range ws {
		b, _, err := s.lists.Get(all, g, s.listKey(k, w))
		if err != nil {
			panic(fmt.Errorf("operator: reading window %v of key %v: %w", w, k, err))
		}
		all = b
		s.deleteList(k, g, w)
	}
	if len(all) > 0 {
		if err := s.lists.Set(g, s.listKey(k, result), all); err != nil {
			panic(fmt.Errorf("operator: writing window %v of key %v: %w", result, k, err))
		}
	}
}
