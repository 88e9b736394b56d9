package stream

import (
	"fmt"

	"github.com/runnel-io/runnel/eventtime"
	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/state"
)

// Keyed is a stream partitioned by key: all records with the same key go to the same subtask,
// in order, and keyed state and timers are scoped to the key.
type Keyed[T any, K comparable] struct {
	s   Stream[T]
	key func(T) K
}

// KeyBy partitions s by key. The key type must hash stably: strings, numbers, booleans, and
// arrays or structs of them, or a type with a KeyHash() uint64 method.
func KeyBy[T any, K comparable](s Stream[T], key func(T) K) Keyed[T, K] {
	hash := keygroup.HasherFor[K]()
	maxP := s.env.maxParallelism()
	s.how, s.explicit = rt.Hash, true
	s.route = rt.Router[T](func(p int) func(T) int {
		return func(v T) int { return keygroup.Subtask(keygroup.Of(hash(key(v)), maxP), maxP, p) }
	})
	return Keyed[T, K]{s: s, key: key}
}

// Stream returns the keyed stream's records as a plain stream (still partitioned by key for the
// next operator).
func (k Keyed[T, K]) Stream() Stream[T] { return k.s }

// keyedOperator adds a one-input keyed node.
func keyedOperator[T any, K comparable, U any](k Keyed[T, K], name string, make func(c *rt.Context, out any) (rt.Instance, error)) *rt.Node {
	n := operator[T, U](k.s, name, make)
	n.Keyed = true
	return n
}

// keyed is the part every keyed operator shares: the current key, the state backend and the
// timers.
type keyed[K comparable] struct {
	c       *rt.Context
	hash    keygroup.Hasher[K]
	keys    state.Keys[K]
	backend state.Backend
	timers  timerService[K]
	wm      int64
}

func (b *keyed[K]) init(c *rt.Context) error {
	b.c = c
	b.hash = keygroup.HasherFor[K]()
	b.keys = state.Keys[K]{First: c.KeyGroups.Start, Count: c.KeyGroups.Len(),
		Now: func() int64 { return c.Clock.Now().UnixMilli() }}
	b.timers.c = c
	b.wm = eventtime.MinTime
	var err error
	b.backend, err = c.NewStateBackend()
	return err
}

func (b *keyed[K]) setKey(k K) {
	b.keys.Key = k
	b.keys.Group = keygroup.Of(b.hash(k), b.c.MaxParallelism)
	if !b.c.KeyGroups.Contains(b.keys.Group) {
		panic(fmt.Sprintf("stream: key %v of key group %d reached subtask %d which owns %v", k, b.keys.Group, b.c.Subtask, b.c.KeyGroups))
	}
}

func (b *keyed[K]) setTimerKey(k K, group int) {
	b.keys.Key, b.keys.Group = k, group
}

// KeyedRuntime is the RuntimeContext of a keyed function: it can also create keyed state.
type KeyedRuntime[K comparable] struct {
	RuntimeContext
	b *keyed[K]
}

// NewValueState returns the Value state called name, scoped to the current key.
func NewValueState[V any, K comparable](rc *KeyedRuntime[K], d state.Descriptor) state.Value[V] {
	return state.NewValue[K, V](rc.b.backend, &rc.b.keys, d)
}

// NewListState returns the List state called name, scoped to the current key.
func NewListState[V any, K comparable](rc *KeyedRuntime[K], d state.Descriptor) state.List[V] {
	return state.NewList[K, V](rc.b.backend, &rc.b.keys, d)
}

// NewMapState returns the Map state called name, scoped to the current key.
func NewMapState[UK comparable, UV any, K comparable](rc *KeyedRuntime[K], d state.Descriptor) state.Map[UK, UV] {
	return state.NewMap[K, UK, UV](rc.b.backend, &rc.b.keys, d)
}

// NewReducingState returns the Reducing state called name, scoped to the current key.
func NewReducingState[V any, K comparable](rc *KeyedRuntime[K], d state.Descriptor, reduce func(acc, v V) V) state.Reducing[V] {
	return state.NewReducing[K, V](rc.b.backend, &rc.b.keys, d, reduce)
}

// NewAggregatingState returns the Aggregating state called name, scoped to the current key.
func NewAggregatingState[IN, ACC, OUT any, K comparable](rc *KeyedRuntime[K], d state.Descriptor, f state.AggregateFunction[IN, ACC, OUT]) state.Aggregating[IN, OUT] {
	return state.NewAggregating[K, IN, ACC, OUT](rc.b.backend, &rc.b.keys, d, f)
}

// KeyedContext is what a KeyedProcessFunction sees of the record or timer being processed.
type KeyedContext[K comparable] struct {
	Context
	b      *keyed[K]
	domain TimeDomain
}

// Key returns the current key.
func (x *KeyedContext[K]) Key() K { return x.b.keys.Key }

// RegisterEventTimeTimer makes OnTimer run for the current key when the watermark reaches at.
// Registering the same key and time twice gives one firing.
func (x *KeyedContext[K]) RegisterEventTimeTimer(at int64) {
	x.b.timers.event.add(x.b.keys.Key, x.b.keys.Group, at)
}

// RegisterProcessingTimeTimer makes OnTimer run for the current key when processing time
// reaches at (epoch ms).
func (x *KeyedContext[K]) RegisterProcessingTimeTimer(at int64) {
	x.b.timers.registerProc(x.b.keys.Key, x.b.keys.Group, at)
}

// DeleteEventTimeTimer removes a timer of the current key, if registered.
func (x *KeyedContext[K]) DeleteEventTimeTimer(at int64) { x.b.timers.event.remove(x.b.keys.Key, at) }

// DeleteProcessingTimeTimer removes a timer of the current key, if registered.
func (x *KeyedContext[K]) DeleteProcessingTimeTimer(at int64) {
	x.b.timers.proc.remove(x.b.keys.Key, at)
}

// TimeDomain says which kind of timer is firing; valid in OnTimer only.
func (x *KeyedContext[K]) TimeDomain() TimeDomain { return x.domain }

// KeyedProcessFunction handles each record of a keyed stream with keyed state and timers. It
// may implement Opener (OpenKeyed to create state), Closer and TimerHandler.
type KeyedProcessFunction[K comparable, T, U any] interface {
	ProcessElement(ctx *KeyedContext[K], v T, out Collector[U]) error
}

// KeyedOpener is implemented by keyed functions that create state before the first record.
type KeyedOpener[K comparable] interface {
	Open(rc *KeyedRuntime[K]) error
}

// TimerHandler is implemented by keyed functions that register timers: OnTimer runs when one
// fires, with the key and time set on ctx.
type TimerHandler[K comparable, U any] interface {
	OnTimer(ctx *KeyedContext[K], at int64, out Collector[U]) error
}

// KeyedProcess applies a KeyedProcessFunction to a keyed stream.
func KeyedProcess[T any, K comparable, U any](k Keyed[T, K], fn KeyedProcessFunction[K, T, U]) Stream[U] {
	n := keyedOperator[T, K, U](k, "KeyedProcess", func(c *rt.Context, out any) (rt.Instance, error) {
		fn := instance(fn)
		o := &keyedProcessOp[T, K, U]{forward: forward[U]{outputOf[U](out)}, fn: fn, key: k.key}
		if err := o.init(c); err != nil {
			return nil, err
		}
		o.col.out = o.out
		o.ctx = KeyedContext[K]{Context: Context{c: c, wm: &o.wm}, b: &o.keyed}
		o.timers.onProcTime = o.onProcTime
		o.onTimer, _ = fn.(TimerHandler[K, U])
		return o, nil
	})
	return single[U](k.s.env, n)
}

type keyedProcessOp[T any, K comparable, U any] struct {
	forward[U]
	keyed[K]
	fn      KeyedProcessFunction[K, T, U]
	onTimer TimerHandler[K, U]
	key     func(T) K
	col     collector[U]
	ctx     KeyedContext[K]
}

func (o *keyedProcessOp[T, K, U]) Open() error { return openKeyedFn(o.fn, &o.keyed) }

func (o *keyedProcessOp[T, K, U]) Close() error { return closeFn(o.fn) }

func (o *keyedProcessOp[T, K, U]) Collect(v T, ts int64) {
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

func (o *keyedProcessOp[T, K, U]) fire(tm timer[K], domain TimeDomain) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, fmt.Sprintf("timer %s for key %v", eventtime.Format(tm.at), tm.key))
		}
	}()
	if o.onTimer == nil {
		o.c.Fail(nil, fmt.Errorf("a timer fired but %T has no OnTimer method", o.fn))
	}
	o.setTimerKey(tm.key, tm.group)
	o.col.ts, o.ctx.ts, o.ctx.domain = tm.at, tm.at, domain
	if err := o.onTimer.OnTimer(&o.ctx, tm.at, &o.col); err != nil {
		o.c.Fail(fmt.Sprintf("timer %s for key %v", eventtime.Format(tm.at), tm.key), err)
	}
	o.ctx.domain = EventTime
}

func (o *keyedProcessOp[T, K, U]) Watermark(wm int64) {
	o.wm = wm
	for {
		tm, ok := o.timers.event.next(wm)
		if !ok {
			break
		}
		o.fire(tm, EventTime)
	}
	o.c.SetWatermarks(wm, wm)
	o.out.Watermark(wm)
}

func (o *keyedProcessOp[T, K, U]) onProcTime(at int64) {
	now := o.c.Clock.Now().UnixMilli()
	for {
		tm, ok := o.timers.proc.next(max(at, now))
		if !ok {
			break
		}
		o.fire(tm, ProcessingTime)
	}
	o.timers.rearm(at)
}

// Reduce keeps a running reduction per key and emits the updated value for every record.
func Reduce[T any, K comparable](k Keyed[T, K], reduce func(acc, v T) T) Stream[T] {
	fn := &reduceFn[T, K]{reduce: reduce}
	return KeyedProcess[T, K, T](k, fn).Name("Reduce")
}

type reduceFn[T any, K comparable] struct {
	reduce func(acc, v T) T
	st     state.Reducing[T]
}

func (f *reduceFn[T, K]) Open(rc *KeyedRuntime[K]) error {
	f.st = NewReducingState[T](rc, state.Descriptor{Name: "reduce"}, f.reduce)
	return nil
}

func (f *reduceFn[T, K]) ProcessElement(_ *KeyedContext[K], v T, out Collector[T]) error {
	f.st.Add(v)
	acc, _ := f.st.Get()
	out.Collect(acc)
	return nil
}

// Aggregate keeps a running aggregate per key and emits the updated result for every record.
func Aggregate[T any, K comparable, ACC, OUT any](k Keyed[T, K], f state.AggregateFunction[T, ACC, OUT]) Stream[OUT] {
	fn := &aggregateFn[T, K, ACC, OUT]{f: f}
	return KeyedProcess[T, K, OUT](k, fn).Name("Aggregate")
}

type aggregateFn[T any, K comparable, ACC, OUT any] struct {
	f  state.AggregateFunction[T, ACC, OUT]
	st state.Aggregating[T, OUT]
}

func (a *aggregateFn[T, K, ACC, OUT]) Open(rc *KeyedRuntime[K]) error {
	a.st = NewAggregatingState[T, ACC, OUT](rc, state.Descriptor{Name: "aggregate"}, a.f)
	return nil
}

func (a *aggregateFn[T, K, ACC, OUT]) ProcessElement(_ *KeyedContext[K], v T, out Collector[OUT]) error {
	a.st.Add(v)
	r, _ := a.st.Get()
	out.Collect(r)
	return nil
}
