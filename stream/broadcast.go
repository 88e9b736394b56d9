package stream

import (
	"fmt"
	"iter"

	"github.com/runnel-io/runnel/eventtime"
	rt "github.com/runnel-io/runnel/internal/runtime"
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
type broadcastStore struct {
	states map[string]any // name -> *broadcastMap[BK, BV]
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
		s.states = map[string]any{}
	}
	m := &broadcastMap[BK, BV]{m: map[BK]BV{}}
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

func (o *keyedBroadcastOp[T, K, B, U]) Open() error  { return openKeyedFn(o.fn, &o.keyed) }
func (o *keyedBroadcastOp[T, K, B, U]) Close() error { return closeFn(o.fn) }

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

func (o *broadcastOp[T, B, U]) Open() error {
	if err := openFn(o.fn, o.c); err != nil {
		return fmt.Errorf("open %s: %w", o.c.Name, err)
	}
	return nil
}

func (o *broadcastOp[T, B, U]) Close() error { return closeFn(o.fn) }

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
