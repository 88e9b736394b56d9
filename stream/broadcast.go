package stream

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
// ProcessBroadcastElement may change broadcast state, so the state stays identical across
// subtasks as long as the function changes it from the broadcast element alone (not from
// subtask-specific things such as keyed state, the subtask index or processing time). With a
// control stream of parallelism above 1, elements from different control subtasks may reach
// different subtasks in different interleavings: updates must then not depend on their order,
// as in Flink.

// BroadcastStateDescriptor names a broadcast state: a map from BK to BV. Names are unique
// within an operator; using one name with two different types fails the job.
type BroadcastStateDescriptor[BK comparable, BV any] struct {
	Name string
}

// ReadOnlyBroadcastState is what the main-stream side of a broadcast function sees of a
// broadcast state. It belongs to the operator subtask and is valid only during the call it was
// obtained in.
type ReadOnlyBroadcastState[BK comparable, BV any] interface {
	// Get returns the value of k, and false if there is none.
	Get(k BK) (BV, bool)
	// Contains reports whether k has a value.
	Contains(k BK) bool
	// All iterates over the entries in no particular order; the state must not change during
	// the iteration.
	All() iter.Seq2[BK, BV]
	// Len returns the number of entries.
	Len() int
}

// BroadcastState is a broadcast state as ProcessBroadcastElement sees it: readable and
// writable.
type BroadcastState[BK comparable, BV any] interface {
	ReadOnlyBroadcastState[BK, BV]
	// Put sets the value of k.
	Put(k BK, v BV)
	// Remove removes k's value, if any.
	Remove(k BK)
	// Clear removes every entry.
	Clear()
}

// BroadcastReader is a context that may read broadcast state: *BroadcastContext,
// *KeyedBroadcastContext[K] and *ReadOnlyBroadcastContext.
type BroadcastReader interface {
	broadcastStore() *broadcastStore
}

// BroadcastStateOf returns broadcast state d for reading and writing, from
// ProcessBroadcastElement; it is empty until something is put into it. It panics (failing the
// job) if d's name was used with other types.
func BroadcastStateOf[BK comparable, BV any](ctx *BroadcastContext, d BroadcastStateDescriptor[BK, BV]) BroadcastState[BK, BV] {
	return broadcastStateFor[BK, BV](ctx.store, d.Name)
}

// ReadOnlyBroadcastStateOf returns broadcast state d for reading, from any call of a broadcast
// function. It panics (failing the job) if d's name was used with other types.
func ReadOnlyBroadcastStateOf[BK comparable, BV any](ctx BroadcastReader, d BroadcastStateDescriptor[BK, BV]) ReadOnlyBroadcastState[BK, BV] {
	return broadcastStateFor[BK, BV](ctx.broadcastStore(), d.Name)
}

// broadcastStore holds one operator subtask's broadcast states by name.
//
// A restored store does not know the states' types until a function asks for them by
// descriptor, so it keeps each restored state encoded (in restored) and decodes it on first
// use; a snapshot taken before that writes the encoding back unchanged.
type broadcastStore struct {
	states   map[string]broadcastEncoder // name -> *broadcastMap[BK, BV]
	restored map[string][]byte           // name -> encoded entries, until first used
}

func broadcastStateFor[BK comparable, BV any](s *broadcastStore, name string) *broadcastMap[BK, BV] {
	if st, ok := s.states[name]; ok {
		m, ok := st.(*broadcastMap[BK, BV])
		if !ok {
			panic(fmt.Sprintf("stream: broadcast state %q used with types %T and %T", name, st, m))
		}
		return m
	}
	if s.states == nil {
		s.states = map[string]broadcastEncoder{}
	}
	m := &broadcastMap[BK, BV]{m: map[BK]BV{}}
	if body, ok := s.restored[name]; ok {
		if err := m.decodeEntries(body); err != nil {
			panic(fmt.Sprintf("stream: restoring broadcast state %q: %v", name, err))
		}
		delete(s.restored, name)
	}
	s.states[name] = m
	return m
}

type broadcastMap[BK comparable, BV any] struct {
	m map[BK]BV
}

func (s *broadcastMap[BK, BV]) Get(k BK) (BV, bool) { v, ok := s.m[k]; return v, ok }
func (s *broadcastMap[BK, BV]) Contains(k BK) bool  { _, ok := s.m[k]; return ok }
func (s *broadcastMap[BK, BV]) Len() int            { return len(s.m) }
func (s *broadcastMap[BK, BV]) Put(k BK, v BV)      { s.m[k] = v }
func (s *broadcastMap[BK, BV]) Remove(k BK)         { delete(s.m, k) }
func (s *broadcastMap[BK, BV]) Clear()              { clear(s.m) }

func (s *broadcastMap[BK, BV]) All() iter.Seq2[BK, BV] {
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

func (s *broadcastMap[BK, BV]) encodeEntries() (b []byte, err error) {
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

func (s *broadcastMap[BK, BV]) decodeEntries(b []byte) error {
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
func (s *broadcastStore) snapshot() ([]byte, error) {
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
func (s *broadcastStore) restore(blob []byte) error {
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

// snapshotBroadcast returns the broadcast state of the operator subtask as Operator blobs of
// a snapshot: one blob, the whole store.
func (s *broadcastStore) snapshotBroadcast() ([][]byte, error) {
	b, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	return [][]byte{b}, nil
}

// restoreBroadcast restores the broadcast state from the Operator blobs given to the subtask:
// the first one, since they are copies of the same state. Without blobs it leaves the store
// empty.
func (s *broadcastStore) restoreBroadcast(blobs [][]byte) error {
	if len(blobs) == 0 {
		return nil
	}
	return s.restore(blobs[0])
}

// restoreBroadcastFrom restores the store from what c says the subtask restores, if anything.
func (s *broadcastStore) restoreBroadcastFrom(c *rt.Context) error {
	r := c.Restored()
	if r == nil {
		return nil
	}
	// Every old subtask wrote the same copy; Union holds them all whatever the new
	// parallelism, so every new subtask gets one (Flink's union redistribution).
	if err := s.restoreBroadcast(r.Union); err != nil {
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

// BroadcastContext is what ProcessBroadcastElement sees: the broadcast element's timestamp, the
// watermark, side outputs (&ctx.Context) and, through BroadcastStateOf, broadcast state to read
// and write. There is no current key: keyed state must not be used here (doing so fails the
// job). It is valid only during the call it is passed to.
type BroadcastContext struct {
	Context
	store *broadcastStore
}

func (x *BroadcastContext) broadcastStore() *broadcastStore { return x.store }

// KeyedBroadcastContext is what ProcessElement and OnTimer of a KeyedBroadcastProcessFunction
// see: the KeyedContext of the record or timer (key, keyed state, timers) and, through
// ReadOnlyBroadcastStateOf, broadcast state to read.
type KeyedBroadcastContext[K comparable] struct {
	KeyedContext[K]
	store *broadcastStore
}

func (x *KeyedBroadcastContext[K]) broadcastStore() *broadcastStore { return x.store }

// ReadOnlyBroadcastContext is what ProcessElement of a (non-keyed) BroadcastProcessFunction
// sees: the Context of the record and, through ReadOnlyBroadcastStateOf, broadcast state to
// read.
type ReadOnlyBroadcastContext struct {
	Context
	store *broadcastStore
}

func (x *ReadOnlyBroadcastContext) broadcastStore() *broadcastStore { return x.store }

// KeyedBroadcastConnected is a keyed main stream connected to a broadcast control stream,
// waiting for KeyedBroadcastProcess. Make one with ConnectBroadcast.
type KeyedBroadcastConnected[T any, K comparable, B any] struct {
	main    Keyed[T, K]
	control Stream[B]
}

// ConnectBroadcast connects the keyed stream main to control, whose every record goes to every
// subtask of the operator (control is broadcast, whatever partitioning it had). It panics if
// the streams belong to different jobs.
func ConnectBroadcast[T any, K comparable, B any](main Keyed[T, K], control Stream[B]) KeyedBroadcastConnected[T, K, B] {
	sameEnv(main.s.env, control.env, "ConnectBroadcast")
	return KeyedBroadcastConnected[T, K, B]{main: main, control: control.Broadcast()}
}

// KeyedBroadcastProcessFunction processes a keyed main stream with broadcast state written by
// a control stream (Flink's KeyedBroadcastProcessFunction). ProcessElement handles a main
// record with keyed state and timers of its key and read-only broadcast state;
// ProcessBroadcastElement handles a control record, which every subtask receives, with
// read-write broadcast state. They are never called concurrently.
//
// The function may implement KeyedOpener (to create keyed state) or Opener, Closer, and either
// KeyedBroadcastTimerHandler or TimerHandler for the timers it registers. A pointer to a struct
// is copied per parallel instance. An error fails the job, naming the record or timer.
type KeyedBroadcastProcessFunction[K comparable, T, B, U any] interface {
	ProcessElement(ctx *KeyedBroadcastContext[K], v T, out Collector[U]) error
	ProcessBroadcastElement(ctx *BroadcastContext, v B, out Collector[U]) error
}

// KeyedBroadcastTimerHandler is implemented by keyed broadcast functions that register timers
// and read broadcast state when one fires.
type KeyedBroadcastTimerHandler[K comparable, U any] interface {
	OnTimer(ctx *KeyedBroadcastContext[K], at int64, out Collector[U]) error
}

// KeyedBroadcastProcess applies fn to c: main records on input 0, broadcast records on input 1.
func KeyedBroadcastProcess[T any, K comparable, B, U any](c KeyedBroadcastConnected[T, K, B], fn KeyedBroadcastProcessFunction[K, T, B, U]) Stream[U] {
	if fn == nil {
		panic("stream: KeyedBroadcastProcess with a nil function")
	}
	n := twoInputOperator[T, B, U](c.main.s, c.control, "KeyedBroadcastProcess", func(rc *rt.Context, out any) (rt.Instance, error) {
		fn := instance(fn)
		o := &keyedBroadcastOp[T, K, B, U]{forward: forward[U]{outputOf[U](out)}, fn: fn, key: c.main.key}
		if err := o.init(rc); err != nil {
			return nil, err
		}
		o.col.out = o.out
		o.ctx = KeyedBroadcastContext[K]{KeyedContext: KeyedContext[K]{Context: Context{c: rc, wm: &o.wm}, b: &o.keyed}, store: &o.store}
		o.bctx = BroadcastContext{Context: Context{c: rc, wm: &o.wm}, store: &o.store}
		o.timers.onProcTime = o.onProcTime
		switch h := any(fn).(type) {
		case KeyedBroadcastTimerHandler[K, U]:
			o.onTimer = h.OnTimer
		case TimerHandler[K, U]:
			o.onTimer = func(ctx *KeyedBroadcastContext[K], at int64, out Collector[U]) error {
				return h.OnTimer(&ctx.KeyedContext, at, out)
			}
		}
		return o, nil
	})
	n.Keyed = true
	return single[U](c.main.s.env, n)
}

type keyedBroadcastOp[T any, K comparable, B, U any] struct {
	forward[U]
	keyed[K]
	fn      KeyedBroadcastProcessFunction[K, T, B, U]
	onTimer func(ctx *KeyedBroadcastContext[K], at int64, out Collector[U]) error
	key     func(T) K
	store   broadcastStore
	col     collector[U]
	ctx     KeyedBroadcastContext[K]
	bctx    BroadcastContext
}

func (o *keyedBroadcastOp[T, K, B, U]) Input(i int) any {
	if i == 0 {
		return inputFunc[T](o.collectMain)
	}
	return inputFunc[B](o.collectBroadcast)
}

var (
	_ rt.Snapshotter = (*keyedBroadcastOp[int, int, int, int])(nil)
	_ rt.Snapshotter = (*broadcastOp[int, int, int])(nil)
)

// Open restores the broadcast state, if the job is restored, then (openKeyedFn) the keyed
// state, and opens the function.
func (o *keyedBroadcastOp[T, K, B, U]) Open() error {
	if err := o.store.restoreBroadcastFrom(o.c); err != nil {
		return err
	}
	return openKeyedFn(o.fn, &o.keyed)
}

func (o *keyedBroadcastOp[T, K, B, U]) Close() error { return closeFn(o.fn) }

// SnapshotState implements rt.Snapshotter: the broadcast state as one Operator blob, and the
// keyed state and timers as keyed[K] captures them.
func (o *keyedBroadcastOp[T, K, B, U]) SnapshotState(int64) (rt.OperatorSnapshot, error) {
	blobs, err := o.snapshotBroadcast()
	if err != nil {
		return rt.OperatorSnapshot{}, err
	}
	ks, err := o.snapshotKeyed()
	if err != nil {
		return rt.OperatorSnapshot{}, err
	}
	return rt.OperatorSnapshot{Keyed: ks, Operator: blobs}, nil
}

// snapshotBroadcast returns the broadcast state as the Operator blobs of a snapshot.
func (o *keyedBroadcastOp[T, K, B, U]) snapshotBroadcast() ([][]byte, error) {
	blobs, err := o.store.snapshotBroadcast()
	if err != nil {
		return nil, fmt.Errorf("snapshot %s (subtask %d): %w", o.c.Name, o.c.Subtask, err)
	}
	return blobs, nil
}

// restoreBroadcast restores the broadcast state from the Operator blobs of a snapshot.
func (o *keyedBroadcastOp[T, K, B, U]) restoreBroadcast(blobs [][]byte) error {
	return o.store.restoreBroadcast(blobs)
}

func (o *keyedBroadcastOp[T, K, B, U]) collectMain(v T, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	o.setKey(o.key(v))
	o.col.ts, o.ctx.ts = ts, ts
	if err := o.fn.ProcessElement(&o.ctx, v, &o.col); err != nil {
		o.c.Fail(v, err)
	}
}

func (o *keyedBroadcastOp[T, K, B, U]) collectBroadcast(v B, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	// There is no current key: a key group outside the subtask's range makes keyed state
	// handles panic instead of silently using the previous record's key.
	var zero K
	o.keys.Key, o.keys.Group = zero, o.keys.First-1
	o.col.ts, o.bctx.ts = ts, ts
	if err := o.fn.ProcessBroadcastElement(&o.bctx, v, &o.col); err != nil {
		o.c.Fail(v, err)
	}
}

func (o *keyedBroadcastOp[T, K, B, U]) fire(tm timer[K], domain TimeDomain) {
	what := timerRecord(tm)
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, what)
		}
	}()
	if o.onTimer == nil {
		o.c.Fail(what, fmt.Errorf("a timer fired but %T has no OnTimer method", o.fn))
	}
	o.setTimerKey(tm.key, tm.group)
	o.col.ts, o.ctx.ts, o.ctx.domain = tm.at, tm.at, domain
	defer func() { o.ctx.domain = EventTime }()
	if err := o.onTimer(&o.ctx, tm.at, &o.col); err != nil {
		o.c.Fail(what, err)
	}
}

func (o *keyedBroadcastOp[T, K, B, U]) Watermark(wm int64) {
	fireEventTimers(&o.keyed, wm, o.fire)
	o.c.SetWatermarks(wm, wm)
	o.out.Watermark(wm)
}

func (o *keyedBroadcastOp[T, K, B, U]) onProcTime(at int64) {
	fireProcTimers(&o.keyed, at, o.fire)
}

// BroadcastConnected is a non-keyed main stream connected to a broadcast control stream,
// waiting for BroadcastProcess. Make one with ConnectBroadcastNonKeyed.
type BroadcastConnected[T, B any] struct {
	main    Stream[T]
	control Stream[B]
}

// ConnectBroadcastNonKeyed connects the non-keyed stream main to control, whose every record
// goes to every subtask of the operator. It panics if the streams belong to different jobs.
func ConnectBroadcastNonKeyed[T, B any](main Stream[T], control Stream[B]) BroadcastConnected[T, B] {
	sameEnv(main.env, control.env, "ConnectBroadcastNonKeyed")
	return BroadcastConnected[T, B]{main: main, control: control.Broadcast()}
}

// BroadcastProcessFunction processes a non-keyed main stream with broadcast state written by a
// control stream (Flink's BroadcastProcessFunction): ProcessElement reads broadcast state,
// ProcessBroadcastElement, which every subtask receives, reads and writes it. They are never
// called concurrently. The function may implement Opener and Closer; a pointer to a struct is
// copied per parallel instance. An error fails the job, naming the record.
type BroadcastProcessFunction[T, B, U any] interface {
	ProcessElement(ctx *ReadOnlyBroadcastContext, v T, out Collector[U]) error
	ProcessBroadcastElement(ctx *BroadcastContext, v B, out Collector[U]) error
}

// BroadcastProcess applies fn to c: main records on input 0, broadcast records on input 1.
func BroadcastProcess[T, B, U any](c BroadcastConnected[T, B], fn BroadcastProcessFunction[T, B, U]) Stream[U] {
	if fn == nil {
		panic("stream: BroadcastProcess with a nil function")
	}
	n := twoInputOperator[T, B, U](c.main, c.control, "BroadcastProcess", func(rc *rt.Context, out any) (rt.Instance, error) {
		o := &broadcastOp[T, B, U]{forward: forward[U]{outputOf[U](out)}, c: rc, fn: instance(fn), wm: eventtime.MinTime}
		o.col.out = o.out
		o.ctx = ReadOnlyBroadcastContext{Context: Context{c: rc, wm: &o.wm}, store: &o.store}
		o.bctx = BroadcastContext{Context: Context{c: rc, wm: &o.wm}, store: &o.store}
		return o, nil
	})
	return single[U](c.main.env, n)
}

type broadcastOp[T, B, U any] struct {
	forward[U]
	c     *rt.Context
	fn    BroadcastProcessFunction[T, B, U]
	store broadcastStore
	col   collector[U]
	ctx   ReadOnlyBroadcastContext
	bctx  BroadcastContext
	wm    int64
}

func (o *broadcastOp[T, B, U]) Input(i int) any {
	if i == 0 {
		return inputFunc[T](o.collectMain)
	}
	return inputFunc[B](o.collectBroadcast)
}

// Open restores the broadcast state, if the job is restored, then opens the function.
func (o *broadcastOp[T, B, U]) Open() error {
	if err := o.store.restoreBroadcastFrom(o.c); err != nil {
		return err
	}
	if err := openFn(o.fn, o.c); err != nil {
		return fmt.Errorf("open %s: %w", o.c.Name, err)
	}
	return nil
}

func (o *broadcastOp[T, B, U]) Close() error { return closeFn(o.fn) }

// SnapshotState implements rt.Snapshotter: the broadcast state as one Operator blob.
func (o *broadcastOp[T, B, U]) SnapshotState(int64) (rt.OperatorSnapshot, error) {
	blobs, err := o.snapshotBroadcast()
	if err != nil {
		return rt.OperatorSnapshot{}, err
	}
	return rt.OperatorSnapshot{Operator: blobs}, nil
}

// snapshotBroadcast returns the broadcast state as the Operator blobs of a snapshot.
func (o *broadcastOp[T, B, U]) snapshotBroadcast() ([][]byte, error) {
	blobs, err := o.store.snapshotBroadcast()
	if err != nil {
		return nil, fmt.Errorf("snapshot %s (subtask %d): %w", o.c.Name, o.c.Subtask, err)
	}
	return blobs, nil
}

// restoreBroadcast restores the broadcast state from the Operator blobs of a snapshot.
func (o *broadcastOp[T, B, U]) restoreBroadcast(blobs [][]byte) error {
	return o.store.restoreBroadcast(blobs)
}

func (o *broadcastOp[T, B, U]) collectMain(v T, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	o.col.ts, o.ctx.ts = ts, ts
	if err := o.fn.ProcessElement(&o.ctx, v, &o.col); err != nil {
		o.c.Fail(v, err)
	}
}

func (o *broadcastOp[T, B, U]) collectBroadcast(v B, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	o.col.ts, o.bctx.ts = ts, ts
	if err := o.fn.ProcessBroadcastElement(&o.bctx, v, &o.col); err != nil {
		o.c.Fail(v, err)
	}
}

func (o *broadcastOp[T, B, U]) Watermark(wm int64) {
	o.wm = wm
	o.c.SetWatermarks(wm, wm)
	o.out.Watermark(wm)
}
