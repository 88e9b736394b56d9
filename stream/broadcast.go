package stream

import (
	"iter"

	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/operator"
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
	broadcastStore() *operator.BroadcastStore
}

// BroadcastStateOf returns broadcast state d for reading and writing, from
// ProcessBroadcastElement; it is empty until something is put into it. It panics (failing the
// job) if d's name was used with other types.
func BroadcastStateOf[BK comparable, BV any](ctx *BroadcastContext, d BroadcastStateDescriptor[BK, BV]) BroadcastState[BK, BV] {
	return operator.BroadcastStateOf[BK, BV](ctx.store, d.Name)
}

// ReadOnlyBroadcastStateOf returns broadcast state d for reading, from any call of a broadcast
// function. It panics (failing the job) if d's name was used with other types.
func ReadOnlyBroadcastStateOf[BK comparable, BV any](ctx BroadcastReader, d BroadcastStateDescriptor[BK, BV]) ReadOnlyBroadcastState[BK, BV] {
	return operator.BroadcastStateOf[BK, BV](ctx.broadcastStore(), d.Name)
}

// BroadcastContext is what ProcessBroadcastElement sees: the broadcast element's timestamp, the
// watermark, side outputs (&ctx.Context) and, through BroadcastStateOf, broadcast state to read
// and write. There is no current key: keyed state must not be used here (doing so fails the
// job). It is valid only during the call it is passed to.
type BroadcastContext struct {
	Context
	store *operator.BroadcastStore
}

func (x *BroadcastContext) broadcastStore() *operator.BroadcastStore { return x.store }

// KeyedBroadcastContext is what ProcessElement and OnTimer of a KeyedBroadcastProcessFunction
// see: the KeyedContext of the record or timer (key, keyed state, timers) and, through
// ReadOnlyBroadcastStateOf, broadcast state to read.
type KeyedBroadcastContext[K comparable] struct {
	KeyedContext[K]
	store *operator.BroadcastStore
}

func (x *KeyedBroadcastContext[K]) broadcastStore() *operator.BroadcastStore { return x.store }

// ReadOnlyBroadcastContext is what ProcessElement of a (non-keyed) BroadcastProcessFunction
// sees: the Context of the record and, through ReadOnlyBroadcastStateOf, broadcast state to
// read.
type ReadOnlyBroadcastContext struct {
	Context
	store *operator.BroadcastStore
}

func (x *ReadOnlyBroadcastContext) broadcastStore() *operator.BroadcastStore { return x.store }

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
	checkFunc("KeyedBroadcastProcess", fn, keyedOpeners[K]()...)
	n := twoInputOperator[T, B, U](c.main.s, c.control, "KeyedBroadcastProcess", func(rc *rt.Context, out any) (rt.Instance, error) {
		fn := instance(fn)
		col := &collector[U]{out: operator.OutputOf[U](out)}
		var ctx *KeyedBroadcastContext[K]
		var bctx *BroadcastContext
		o, err := operator.NewKeyedBroadcast[T, K, B, U](rc, col.out, c.main.key,
			func(v T, ts int64) error {
				col.ts, ctx.ts = ts, ts
				return fn.ProcessElement(ctx, v, col)
			},
			func(v B, ts int64) error {
				col.ts, bctx.ts = ts, ts
				return fn.ProcessBroadcastElement(bctx, v, col)
			})
		if err != nil {
			return nil, err
		}
		ctx = &KeyedBroadcastContext[K]{KeyedContext: *newKeyedContext(rc, &o.Keyed), store: &o.Store}
		bctx = &BroadcastContext{Context: Context{c: rc, wm: &o.WM}, store: &o.Store}
		var onTimer func(ctx *KeyedBroadcastContext[K], at int64, out Collector[U]) error
		switch h := any(fn).(type) {
		case KeyedBroadcastTimerHandler[K, U]:
			onTimer = h.OnTimer
		case TimerHandler[K, U]:
			onTimer = func(ctx *KeyedBroadcastContext[K], at int64, out Collector[U]) error {
				return h.OnTimer(&ctx.KeyedContext, at, out)
			}
		}
		if onTimer != nil {
			o.OnTimer = func(tm operator.Timer[K], d operator.TimeDomain) error {
				at := tm.At()
				col.ts, ctx.ts, ctx.domain = at, at, TimeDomain(d)
				defer func() { ctx.domain = EventTime }()
				return onTimer(ctx, at, col)
			}
		}
		o.TimerOwner = fn
		o.Funcs = keyedFuncs(fn, &o.Keyed)
		return o, nil
	})
	n.Keyed = true
	return single[U](c.main.s.env, n)
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
	checkFunc("BroadcastProcess", fn, plainOpeners...)
	n := twoInputOperator[T, B, U](c.main, c.control, "BroadcastProcess", func(rc *rt.Context, out any) (rt.Instance, error) {
		fn := instance(fn)
		col := &collector[U]{out: operator.OutputOf[U](out)}
		ctx := &ReadOnlyBroadcastContext{Context: Context{c: rc}}
		bctx := &BroadcastContext{Context: Context{c: rc}}
		o := operator.NewBroadcast[T, B, U](rc, col.out,
			func(v T, ts int64) error {
				col.ts, ctx.ts = ts, ts
				return fn.ProcessElement(ctx, v, col)
			},
			func(v B, ts int64) error {
				col.ts, bctx.ts = ts, ts
				return fn.ProcessBroadcastElement(bctx, v, col)
			})
		ctx.wm, ctx.store = &o.WM, &o.Store
		bctx.wm, bctx.store = &o.WM, &o.Store
		o.Funcs = funcsOf(fn, rc)
		return o, nil
	})
	return single[U](c.main.env, n)
}
