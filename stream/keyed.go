package stream

import (
	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/operator"
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
	n := operatorNode[T, U](k.s, name, make)
	n.Keyed = true
	return n
}

// KeyedRuntime is the RuntimeContext of a keyed function: it can also create keyed state.
type KeyedRuntime[K comparable] struct {
	RuntimeContext
	b *operator.Keyed[K]
}

// NewValueState returns the Value state called name, scoped to the current key.
func NewValueState[V any, K comparable](rc *KeyedRuntime[K], d state.Descriptor) state.Value[V] {
	return state.NewValue[K, V](rc.b.Backend, &rc.b.Keys, d)
}

// NewListState returns the List state called name, scoped to the current key.
func NewListState[V any, K comparable](rc *KeyedRuntime[K], d state.Descriptor) state.List[V] {
	return state.NewList[K, V](rc.b.Backend, &rc.b.Keys, d)
}

// NewMapState returns the Map state called name, scoped to the current key.
func NewMapState[UK comparable, UV any, K comparable](rc *KeyedRuntime[K], d state.Descriptor) state.Map[UK, UV] {
	return state.NewMap[K, UK, UV](rc.b.Backend, &rc.b.Keys, d)
}

// NewReducingState returns the Reducing state called name, scoped to the current key.
func NewReducingState[V any, K comparable](rc *KeyedRuntime[K], d state.Descriptor, reduce func(acc, v V) V) state.Reducing[V] {
	return state.NewReducing[K, V](rc.b.Backend, &rc.b.Keys, d, reduce)
}

// NewAggregatingState returns the Aggregating state called name, scoped to the current key.
func NewAggregatingState[IN, ACC, OUT any, K comparable](rc *KeyedRuntime[K], d state.Descriptor, f state.AggregateFunction[IN, ACC, OUT]) state.Aggregating[IN, OUT] {
	return state.NewAggregating[K, IN, ACC, OUT](rc.b.Backend, &rc.b.Keys, d, f)
}

// KeyedContext is what a KeyedProcessFunction sees of the record or timer being processed.
type KeyedContext[K comparable] struct {
	Context
	b      *operator.Keyed[K]
	domain TimeDomain
}

// Key returns the current key.
func (x *KeyedContext[K]) Key() K { return x.b.Keys.Key }

// RegisterEventTimeTimer makes OnTimer run for the current key when the watermark reaches at.
// Registering the same key and time twice gives one firing.
func (x *KeyedContext[K]) RegisterEventTimeTimer(at int64) { x.b.RegisterEventTimeTimer(at) }

// RegisterProcessingTimeTimer makes OnTimer run for the current key when processing time
// reaches at (epoch ms).
func (x *KeyedContext[K]) RegisterProcessingTimeTimer(at int64) { x.b.RegisterProcessingTimeTimer(at) }

// DeleteEventTimeTimer removes a timer of the current key, if registered.
func (x *KeyedContext[K]) DeleteEventTimeTimer(at int64) { x.b.DeleteEventTimeTimer(at) }

// DeleteProcessingTimeTimer removes a timer of the current key, if registered.
func (x *KeyedContext[K]) DeleteProcessingTimeTimer(at int64) { x.b.DeleteProcessingTimeTimer(at) }

// TimeDomain says which kind of timer is firing; valid in OnTimer only.
func (x *KeyedContext[K]) TimeDomain() TimeDomain { return x.domain }

// newKeyedContext returns the KeyedContext of the operator subtask b.
func newKeyedContext[K comparable](c *rt.Context, b *operator.Keyed[K]) *KeyedContext[K] {
	return &KeyedContext[K]{Context: Context{c: c, wm: &b.WM}, b: b}
}

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

// keyedFuncs returns the Open and Close of a keyed user function: KeyedOpener if it has it,
// else Opener, and Closer.
func keyedFuncs[K comparable](fn any, b *operator.Keyed[K]) operator.Funcs {
	fs := funcsOf(fn, b.C)
	if ko, ok := fn.(KeyedOpener[K]); ok {
		fs.Open = func() error { return ko.Open(&KeyedRuntime[K]{RuntimeContext: RuntimeContext{c: b.C}, b: b}) }
	}
	return fs
}

// onTimerOf returns the operator's timer function for a TimerHandler h (nil if h is), which
// calls it with ctx and col set for the timer.
func onTimerOf[K comparable, U any](h TimerHandler[K, U], ctx *KeyedContext[K], col *collector[U]) operator.KeyedTimerFunc[K] {
	if h == nil {
		return nil
	}
	return func(tm operator.Timer[K], d operator.TimeDomain) error {
		at := tm.At()
		col.ts, ctx.ts, ctx.domain = at, at, TimeDomain(d)
		defer func() { ctx.domain = EventTime }()
		return h.OnTimer(ctx, at, col)
	}
}

// KeyedProcess applies a KeyedProcessFunction to a keyed stream.
func KeyedProcess[T any, K comparable, U any](k Keyed[T, K], fn KeyedProcessFunction[K, T, U]) Stream[U] {
	checkFunc("KeyedProcess", fn, keyedOpeners[K]()...)
	n := keyedOperator[T, K, U](k, "KeyedProcess", func(c *rt.Context, out any) (rt.Instance, error) {
		fn := instance(fn)
		col := &collector[U]{out: operator.OutputOf[U](out)}
		var ctx *KeyedContext[K]
		o, err := operator.NewKeyedProcess[T, K, U](c, col.out, k.key, func(v T, ts int64) error {
			col.ts, ctx.ts = ts, ts
			return fn.ProcessElement(ctx, v, col)
		})
		if err != nil {
			return nil, err
		}
		ctx = newKeyedContext(c, &o.Keyed)
		h, _ := any(fn).(TimerHandler[K, U])
		o.OnTimer, o.TimerOwner = onTimerOf(h, ctx, col), fn
		o.Funcs = keyedFuncs(fn, &o.Keyed)
		return o, nil
	})
	return single[U](k.s.env, n)
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
