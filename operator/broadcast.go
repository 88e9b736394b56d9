package operator

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"

	"github.com/runnel-io/runnel/eventtime"
	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/state"
)

// This file is Flink's broadcast state pattern: a low-volume control stream is broadcast to
// every subtask of an operator, which keeps what it says in broadcast state (maps that are the
// same in every subtask) and reads it while processing the main stream.
//
// Every subtask sees every broadcast element, in the order of the channel it came on, and only
// the broadcast function may change broadcast state, so the state stays identical across
// subtasks as long as the function changes it from the broadcast element alone.
//
// Broadcast state is operator state, not keyed state: every subtask holds the whole of it, and
// it is kept in memory whatever the state backend, as Flink does (it is meant to be small: rules,
// configuration, reference data). Checkpoints write it as one Operator blob per subtask.

// BroadcastStore holds one operator subtask's broadcast states by name: Flink's broadcast
// state, a map per name that is the same in every subtask because only broadcast elements
// change it. The zero BroadcastStore is empty and ready. It belongs to the task goroutine.
//
// A restored store does not know the states' types until a function asks for them by
// descriptor, so it keeps each restored state encoded (in restored) and decodes it on first
// use; a snapshot taken before that writes the encoding back unchanged.
type BroadcastStore struct {
	states   map[string]broadcastEncoder // name -> *BroadcastMap[BK, BV]
	restored map[string][]byte           // name -> encoded entries, until first used
}

// BroadcastStateOf returns the broadcast state called name of s, with keys BK and values BV,
// creating it empty, or decoding it from what s restored. It panics if name was used with
// other types, or its restored entries cannot be decoded as BK and BV.
func BroadcastStateOf[BK comparable, BV any](s *BroadcastStore, name string) *BroadcastMap[BK, BV] {
	if st, ok := s.states[name]; ok {
		m, ok := st.(*BroadcastMap[BK, BV])
		if !ok {
			panic(fmt.Sprintf("operator: broadcast state %q used with types %T and %T", name, st, m))
		}
		return m
	}
	if s.states == nil {
		s.states = map[string]broadcastEncoder{}
	}
	m := &BroadcastMap[BK, BV]{m: map[BK]BV{}}
	if body, ok := s.restored[name]; ok {
		if err := m.decodeEntries(body); err != nil {
			panic(fmt.Sprintf("operator: restoring broadcast state %q: %v", name, err))
		}
		delete(s.restored, name)
	}
	s.states[name] = m
	return m
}

// BroadcastMap is one broadcast state: a map from BK to BV.
type BroadcastMap[BK comparable, BV any] struct {
	m map[BK]BV
}

// Get returns the value of k, and false if there is none.
func (s *BroadcastMap[BK, BV]) Get(k BK) (BV, bool) { v, ok := s.m[k]; return v, ok }

// Contains reports whether k has a value.
func (s *BroadcastMap[BK, BV]) Contains(k BK) bool { _, ok := s.m[k]; return ok }

// Len returns the number of entries.
func (s *BroadcastMap[BK, BV]) Len() int { return len(s.m) }

// Put sets the value of k.
func (s *BroadcastMap[BK, BV]) Put(k BK, v BV) { s.m[k] = v }

// Remove removes k's value, if any.
func (s *BroadcastMap[BK, BV]) Remove(k BK) { delete(s.m, k) }

// Clear removes every entry.
func (s *BroadcastMap[BK, BV]) Clear() { clear(s.m) }

// All iterates over the entries in no particular order.
func (s *BroadcastMap[BK, BV]) All() iter.Seq2[BK, BV] {
	return func(yield func(BK, BV) bool) {
		for k, v := range s.m {
			if !yield(k, v) {
				return
			}
		}
	}
}

// Checkpoints. Every subtask holds the same copy of the broadcast state, so each writes its
// whole store as one Operator blob, and a restored subtask reads the first of Restored.Union
// (every old subtask's copy, whatever the new parallelism). Keys and values are encoded with
// state.CodecFor.
//
// A blob (version 1) is
//
//	byte 1 (the version)
//	uvarint number of states, then per state in name order:
//	  uvarint len, name; uvarint len, entries
//
// and a state's entries are a uvarint count followed, in the order of their encoded keys, by
// uvarint len, key; uvarint len, value. Snapshots of equal states are therefore equal bytes.

// broadcastStateVersion is the version of the blob format snapshotBroadcast writes.
const broadcastStateVersion = 1

// broadcastEncoder is a broadcast state whose types are known: it can encode its entries.
type broadcastEncoder interface {
	encodeEntries() ([]byte, error)
}

func (s *BroadcastMap[BK, BV]) encodeEntries() (b []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*state.EncodeError)
			if !ok {
				panic(r)
			}
			err = e
		}
	}()
	kc, vc := state.CodecFor[BK](), state.CodecFor[BV]()
	type entry struct{ k, v []byte }
	entries := make([]entry, 0, len(s.m))
	for k, v := range s.m {
		entries = append(entries, entry{kc.Append(nil, k), vc.Append(nil, v)})
	}
	slices.SortFunc(entries, func(a, b entry) int { return bytes.Compare(a.k, b.k) })
	b = binary.AppendUvarint(nil, uint64(len(entries)))
	for _, e := range entries {
		b = appendBytes(appendBytes(b, e.k), e.v)
	}
	return b, nil
}

func (s *BroadcastMap[BK, BV]) decodeEntries(b []byte) error {
	kc, vc := state.CodecFor[BK](), state.CodecFor[BV]()
	return walkBroadcastEntries(b, func(kb, vb []byte) error {
		k, err := kc.Decode(kb)
		if err != nil {
			return fmt.Errorf("key: %w", err)
		}
		v, err := vc.Decode(vb)
		if err != nil {
			return fmt.Errorf("value of key %v: %w", k, err)
		}
		s.m[k] = v
		return nil
	})
}

// walkBroadcastEntries calls fn with every entry of a state's encoded entries, checking their
// framing; fn nil only checks.
func walkBroadcastEntries(b []byte, fn func(k, v []byte) error) error {
	n, b, err := readUvarint(b, "entry count")
	if err != nil {
		return err
	}
	if n > uint64(len(b)) { // every entry takes at least two bytes
		return fmt.Errorf("%d entries in %d bytes", n, len(b))
	}
	for i := range n {
		var k, v []byte
		if k, b, err = readBytes(b, "key"); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		if v, b, err = readBytes(b, "value"); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		if fn != nil {
			if err := fn(k, v); err != nil {
				return fmt.Errorf("entry %d: %w", i, err)
			}
		}
	}
	if len(b) > 0 {
		return fmt.Errorf("%d bytes after the last entry", len(b))
	}
	return nil
}

// snapshot encodes the store as one blob. States restored but not used since are written back
// as they came.
func (s *BroadcastStore) snapshot() ([]byte, error) {
	bodies := make(map[string][]byte, len(s.states)+len(s.restored))
	maps.Copy(bodies, s.restored)
	for name, st := range s.states {
		b, err := st.encodeEntries()
		if err != nil {
			return nil, fmt.Errorf("broadcast state %q: %w", name, err)
		}
		bodies[name] = b
	}
	b := []byte{broadcastStateVersion}
	b = binary.AppendUvarint(b, uint64(len(bodies)))
	for _, name := range slices.Sorted(maps.Keys(bodies)) {
		b = appendBytes(appendBytes(b, []byte(name)), bodies[name])
	}
	return b, nil
}

// restore replaces the store's content with the states of blob, which snapshot wrote. The
// entries are decoded when a function first asks for their state; their framing is checked
// here. It does not keep blob.
func (s *BroadcastStore) restore(blob []byte) error {
	if len(blob) == 0 {
		return errors.New("empty blob")
	}
	if blob[0] != broadcastStateVersion {
		return fmt.Errorf("blob version %d, this build reads version %d", blob[0], broadcastStateVersion)
	}
	n, b, err := readUvarint(blob[1:], "state count")
	if err != nil {
		return err
	}
	if n > uint64(len(b)) {
		return fmt.Errorf("%d states in %d bytes", n, len(b))
	}
	restored := make(map[string][]byte, n)
	for range n {
		var name, body []byte
		if name, b, err = readBytes(b, "state name"); err != nil {
			return err
		}
		if body, b, err = readBytes(b, "state entries"); err != nil {
			return fmt.Errorf("state %q: %w", name, err)
		}
		if _, dup := restored[string(name)]; dup {
			return fmt.Errorf("state %q appears twice", name)
		}
		if err := walkBroadcastEntries(body, nil); err != nil {
			return fmt.Errorf("state %q: %w", name, err)
		}
		restored[string(name)] = slices.Clone(body)
	}
	if len(b) > 0 {
		return fmt.Errorf("%d bytes after the last state", len(b))
	}
	s.states, s.restored = nil, restored
	return nil
}

// Snapshot returns the broadcast state of the operator subtask as Operator blobs of
// a snapshot: one blob, the whole store.
func (s *BroadcastStore) Snapshot() ([][]byte, error) {
	b, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	return [][]byte{b}, nil
}

// Restore restores the broadcast state from the Operator blobs given to the subtask:
// the first one, since they are copies of the same state. Without blobs it leaves the store
// empty.
func (s *BroadcastStore) Restore(blobs [][]byte) error {
	if len(blobs) == 0 {
		return nil
	}
	return s.restore(blobs[0])
}

// RestoreFrom restores the store from what c says the subtask restores, if anything.
func (s *BroadcastStore) RestoreFrom(c *rt.Context) error {
	r := c.Restored()
	if r == nil {
		return nil
	}
	// Every old subtask wrote the same copy; Union holds them all whatever the new
	// parallelism, so every new subtask gets one (Flink's union redistribution).
	if err := s.Restore(r.Union); err != nil {
		return fmt.Errorf("restore broadcast state of %s (subtask %d) from checkpoint %d: %w", c.Name, c.Subtask, r.CheckpointID, err)
	}
	return nil
}

func appendBytes(dst, b []byte) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(b))), b...)
}

func readUvarint(b []byte, what string) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, fmt.Errorf("truncated or malformed %s", what)
	}
	return v, b[n:], nil
}

func readBytes(b []byte, what string) (v, rest []byte, err error) {
	n, b, err := readUvarint(b, what+" length")
	if err != nil {
		return nil, nil, err
	}
	if n > uint64(len(b)) {
		return nil, nil, fmt.Errorf("%s of %d bytes, %d left", what, n, len(b))
	}
	return b[:n], b[n:], nil
}

// Broadcast processes a non-keyed main stream (input 0) with broadcast state written by a
// broadcast control stream (input 1): Flink's co-broadcast-with-non-keyed operator.
type Broadcast[T, B, U any] struct {
	Forward[U]
	Funcs
	c                *rt.Context
	process          func(v T, ts int64) error
	processBroadcast func(v B, ts int64) error
	// Store is the broadcast state.
	Store BroadcastStore
	// WM is the operator's input watermark.
	WM int64
}

// NewBroadcast returns a broadcast operator subtask; set Funcs to open and close the function.
func NewBroadcast[T, B, U any](c *rt.Context, out rt.Output[U], process func(v T, ts int64) error, processBroadcast func(v B, ts int64) error) *Broadcast[T, B, U] {
	return &Broadcast[T, B, U]{Forward: Forward[U]{out}, c: c, process: process, processBroadcast: processBroadcast, WM: eventtime.MinTime}
}

// Input returns the output of input i for the runtime.
func (o *Broadcast[T, B, U]) Input(i int) any {
	if i == 0 {
		return Input[T](o.collectMain)
	}
	return Input[B](o.collectBroadcast)
}

// Open restores the broadcast state, if the job is restored, then opens the function.
func (o *Broadcast[T, B, U]) Open() error {
	if err := o.Store.RestoreFrom(o.c); err != nil {
		return err
	}
	return o.open(o.c)
}

// Close closes the function.
func (o *Broadcast[T, B, U]) Close() error { return o.close() }

// SnapshotState implements rt.Snapshotter: the broadcast state as one Operator blob.
func (o *Broadcast[T, B, U]) SnapshotState(int64) (rt.OperatorSnapshot, error) {
	blobs, err := o.Store.Snapshot()
	if err != nil {
		return rt.OperatorSnapshot{}, fmt.Errorf("snapshot %s (subtask %d): %w", o.c.Name, o.c.Subtask, err)
	}
	return rt.OperatorSnapshot{Operator: blobs}, nil
}

func (o *Broadcast[T, B, U]) collectMain(v T, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	if err := o.process(v, ts); err != nil {
		o.c.Fail(v, err)
	}
}

func (o *Broadcast[T, B, U]) collectBroadcast(v B, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	if err := o.processBroadcast(v, ts); err != nil {
		o.c.Fail(v, err)
	}
}

// Watermark records wm and passes it on.
func (o *Broadcast[T, B, U]) Watermark(wm int64) {
	o.WM = wm
	o.c.SetWatermarks(wm, wm)
	o.Out.Watermark(wm)
}

// KeyedBroadcast processes a keyed main stream (input 0), with keyed state and timers, and
// broadcast state written by a broadcast control stream (input 1): Flink's
// co-broadcast-with-keyed operator. Broadcast elements have no current key.
type KeyedBroadcast[T any, K comparable, B, U any] struct {
	Forward[U]
	Keyed[K]
	Funcs
	key              func(T) K
	process          func(v T, ts int64) error
	processBroadcast func(v B, ts int64) error
	// OnTimer handles firing timers; nil fails the job when one fires, naming TimerOwner.
	OnTimer    KeyedTimerFunc[K]
	TimerOwner any
	// Store is the broadcast state.
	Store BroadcastStore
}

// NewKeyedBroadcast returns a keyed broadcast operator subtask. Set OnTimer, and Funcs to open
// and close the function (Open runs after the state is restored).
func NewKeyedBroadcast[T any, K comparable, B, U any](c *rt.Context, out rt.Output[U], key func(T) K,
	process func(v T, ts int64) error, processBroadcast func(v B, ts int64) error) (*KeyedBroadcast[T, K, B, U], error) {
	o := &KeyedBroadcast[T, K, B, U]{Forward: Forward[U]{out}, key: key, process: process, processBroadcast: processBroadcast}
	if err := o.Init(c); err != nil {
		return nil, err
	}
	o.Timers.OnProcTime = o.onProcTime
	return o, nil
}

// Input returns the output of input i for the runtime.
func (o *KeyedBroadcast[T, K, B, U]) Input(i int) any {
	if i == 0 {
		return Input[T](o.collectMain)
	}
	return Input[B](o.collectBroadcast)
}

var (
	_ rt.Snapshotter = (*KeyedBroadcast[int, int, int, int])(nil)
	_ rt.Snapshotter = (*Broadcast[int, int, int])(nil)
)

// Open restores the broadcast state, if the job is restored, then the keyed state, and opens
// the function.
func (o *KeyedBroadcast[T, K, B, U]) Open() error {
	if err := o.Store.RestoreFrom(o.C); err != nil {
		return err
	}
	return o.openKeyed(o.Funcs)
}

// Close closes the function.
func (o *KeyedBroadcast[T, K, B, U]) Close() error { return o.close() }

// SnapshotState implements rt.Snapshotter: the broadcast state as one Operator blob, and the
// keyed state and timers as Keyed captures them.
func (o *KeyedBroadcast[T, K, B, U]) SnapshotState(id int64) (rt.OperatorSnapshot, error) {
	blobs, err := o.Store.Snapshot()
	if err != nil {
		return rt.OperatorSnapshot{}, fmt.Errorf("snapshot %s (subtask %d): %w", o.C.Name, o.C.Subtask, err)
	}
	ks, err := o.snapshotKeyed()
	if err != nil {
		return rt.OperatorSnapshot{}, err
	}
	return rt.OperatorSnapshot{Keyed: ks, Operator: blobs}, nil
}

func (o *KeyedBroadcast[T, K, B, U]) collectMain(v T, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.C.Recovered(r, v)
		}
	}()
	o.SetKey(o.key(v))
	if err := o.process(v, ts); err != nil {
		o.C.Fail(v, err)
	}
}

func (o *KeyedBroadcast[T, K, B, U]) collectBroadcast(v B, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.C.Recovered(r, v)
		}
	}()
	o.ClearKey()
	if err := o.processBroadcast(v, ts); err != nil {
		o.C.Fail(v, err)
	}
}

func (o *KeyedBroadcast[T, K, B, U]) fire(tm Timer[K], domain TimeDomain) {
	fireTimer(&o.Keyed, o.OnTimer, o.TimerOwner, tm, domain)
}

// Watermark fires the event-time timers wm makes due, then passes it on.
func (o *KeyedBroadcast[T, K, B, U]) Watermark(wm int64) {
	o.FireEventTimers(wm, o.fire)
	o.C.SetWatermarks(wm, wm)
	o.Out.Watermark(wm)
}

func (o *KeyedBroadcast[T, K, B, U]) onProcTime(at int64) { o.FireProcTimers(at, o.fire) }
