package stream

import (
	"fmt"

	"github.com/runnel-io/runnel/eventtime"
	rt "github.com/runnel-io/runnel/internal/runtime"
)

// This file holds the two-input operators: Connect and CoProcess for streams of different
// types, ConnectKeyed and KeyedCoProcess for two streams keyed by the same key type, and the
// plumbing the other two-input operators (broadcast.go, join.go) share.
//
// A two-input node has In = [A, B]; the runtime delivers input i's records to Input(i) of the
// operator instance, and watermarks, idleness and the end of input to the instance itself,
// combined over both inputs (the watermark is the minimum over every channel of both inputs).

// Connected is two streams, possibly of different types, that one operator will read as its
// first and second input: Flink's ConnectedStreams. Make one with Connect and process it with
// CoProcess. A Connected is a build-time value, like Stream.
type Connected[A, B any] struct {
	a Stream[A]
	b Stream[B]
}

// Connect joins a and b into one operator with two inputs. Records of the two inputs are not
// ordered with respect to each other; each keeps its own partitioning (default: forward,
// rebalancing where the parallelism changes). It panics if the streams belong to different jobs.
func Connect[A, B any](a Stream[A], b Stream[B]) Connected[A, B] {
	sameEnv(a.env, b.env, "Connect")
	return Connected[A, B]{a: a, b: b}
}

// CoProcessFunction handles the records of two connected streams: ProcessElement1 those of the
// first input, ProcessElement2 those of the second, both called from the operator's task
// goroutine, never concurrently. It may implement Opener and Closer; a pointer to a struct is
// copied per parallel instance. An error fails the job, naming the record.
type CoProcessFunction[A, B, U any] interface {
	ProcessElement1(ctx *Context, v A, out Collector[U]) error
	ProcessElement2(ctx *Context, v B, out Collector[U]) error
}

// CoProcess applies fn to the two inputs of c. The operator's watermark is the minimum of its
// inputs' watermarks.
func CoProcess[A, B, U any](c Connected[A, B], fn CoProcessFunction[A, B, U]) Stream[U] {
	if fn == nil {
		panic("stream: CoProcess with a nil function")
	}
	n := twoInputOperator[A, B, U](c.a, c.b, "CoProcess", func(rc *rt.Context, out any) (rt.Instance, error) {
		o := &coProcessOp[A, B, U]{forward: forward[U]{outputOf[U](out)}, c: rc, fn: instance(fn), wm: eventtime.MinTime}
		o.col.out = o.out
		o.ctx = Context{c: rc, wm: &o.wm}
		return o, nil
	})
	return single[U](c.a.env, n)
}

type coProcessOp[A, B, U any] struct {
	forward[U]
	c   *rt.Context
	fn  CoProcessFunction[A, B, U]
	col collector[U]
	ctx Context
	wm  int64
}

func (o *coProcessOp[A, B, U]) Input(i int) any {
	if i == 0 {
		return inputFunc[A](o.collect1)
	}
	return inputFunc[B](o.collect2)
}

func (o *coProcessOp[A, B, U]) Open() error {
	if err := openFn(o.fn, o.c); err != nil {
		return fmt.Errorf("open %s: %w", o.c.Name, err)
	}
	return nil
}

func (o *coProcessOp[A, B, U]) Close() error { return closeFn(o.fn) }

func (o *coProcessOp[A, B, U]) collect1(v A, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	o.col.ts, o.ctx.ts = ts, ts
	if err := o.fn.ProcessElement1(&o.ctx, v, &o.col); err != nil {
		o.c.Fail(v, err)
	}
}

func (o *coProcessOp[A, B, U]) collect2(v B, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	o.col.ts, o.ctx.ts = ts, ts
	if err := o.fn.ProcessElement2(&o.ctx, v, &o.col); err != nil {
		o.c.Fail(v, err)
	}
}

func (o *coProcessOp[A, B, U]) Watermark(wm int64) {
	o.wm = wm
	o.c.SetWatermarks(wm, wm)
	o.out.Watermark(wm)
}

// ConnectedKeyed is two keyed streams with the same key type that one keyed operator will read:
// records of both inputs with the same key reach the same subtask and share its keyed state and
// timers. Make one with ConnectKeyed and process it with KeyedCoProcess.
type ConnectedKeyed[A, B any, K comparable] struct {
	a Keyed[A, K]
	b Keyed[B, K]
}

// ConnectKeyed joins two keyed streams into one keyed operator with two inputs. It panics if
// the streams belong to different jobs.
func ConnectKeyed[A, B any, K comparable](a Keyed[A, K], b Keyed[B, K]) ConnectedKeyed[A, B, K] {
	sameEnv(a.s.env, b.s.env, "ConnectKeyed")
	return ConnectedKeyed[A, B, K]{a: a, b: b}
}

// KeyedCoProcessFunction handles the records of two keyed streams with keyed state and timers
// scoped to the record's key: ProcessElement1 those of the first input, ProcessElement2 those
// of the second, never concurrently. It may implement KeyedOpener (to create state) or Opener,
// Closer, and TimerHandler (for the timers it registers); a pointer to a struct is copied per
// parallel instance. An error fails the job, naming the record or timer.
type KeyedCoProcessFunction[K comparable, A, B, U any] interface {
	ProcessElement1(ctx *KeyedContext[K], v A, out Collector[U]) error
	ProcessElement2(ctx *KeyedContext[K], v B, out Collector[U]) error
}

// KeyedCoProcess applies fn to the two keyed inputs of c (Flink's KeyedCoProcessFunction).
// Event-time timers fire when the operator's watermark, the minimum over both inputs, passes
// them.
func KeyedCoProcess[A, B any, K comparable, U any](c ConnectedKeyed[A, B, K], fn KeyedCoProcessFunction[K, A, B, U]) Stream[U] {
	if fn == nil {
		panic("stream: KeyedCoProcess with a nil function")
	}
	n := twoInputOperator[A, B, U](c.a.s, c.b.s, "KeyedCoProcess", func(rc *rt.Context, out any) (rt.Instance, error) {
		fn := instance(fn)
		o := &keyedCoProcessOp[A, B, K, U]{forward: forward[U]{outputOf[U](out)}, fn: fn, key1: c.a.key, key2: c.b.key}
		if err := o.init(rc); err != nil {
			return nil, err
		}
		o.col.out = o.out
		o.ctx = KeyedContext[K]{Context: Context{c: rc, wm: &o.wm}, b: &o.keyed}
		o.timers.onProcTime = o.onProcTime
		o.onTimer, _ = fn.(TimerHandler[K, U])
		return o, nil
	})
	n.Keyed = true
	return single[U](c.a.s.env, n)
}

type keyedCoProcessOp[A, B any, K comparable, U any] struct {
	forward[U]
	keyed[K]
	fn      KeyedCoProcessFunction[K, A, B, U]
	onTimer TimerHandler[K, U]
	key1    func(A) K
	key2    func(B) K
	col     collector[U]
	ctx     KeyedContext[K]
}

func (o *keyedCoProcessOp[A, B, K, U]) Input(i int) any {
	if i == 0 {
		return inputFunc[A](o.collect1)
	}
	return inputFunc[B](o.collect2)
}

func (o *keyedCoProcessOp[A, B, K, U]) Open() error { return openKeyedFn(o.fn, &o.keyed) }

func (o *keyedCoProcessOp[A, B, K, U]) Close() error { return closeFn(o.fn) }

func (o *keyedCoProcessOp[A, B, K, U]) collect1(v A, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	o.setKey(o.key1(v))
	o.col.ts, o.ctx.ts = ts, ts
	if err := o.fn.ProcessElement1(&o.ctx, v, &o.col); err != nil {
		o.c.Fail(v, err)
	}
}

func (o *keyedCoProcessOp[A, B, K, U]) collect2(v B, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	o.setKey(o.key2(v))
	o.col.ts, o.ctx.ts = ts, ts
	if err := o.fn.ProcessElement2(&o.ctx, v, &o.col); err != nil {
		o.c.Fail(v, err)
	}
}

func (o *keyedCoProcessOp[A, B, K, U]) fire(tm timer[K], domain TimeDomain) {
	// The timer is named only on failure: formatting it for every firing cost 10% of q4.
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, timerRecord(tm))
		}
	}()
	if o.onTimer == nil {
		o.c.Fail(timerRecord(tm), fmt.Errorf("a timer fired but %T has no OnTimer method", o.fn))
	}
	o.setTimerKey(tm.key, tm.group)
	o.col.ts, o.ctx.ts, o.ctx.domain = tm.at, tm.at, domain
	defer func() { o.ctx.domain = EventTime }()
	if err := o.onTimer.OnTimer(&o.ctx, tm.at, &o.col); err != nil {
		o.c.Fail(timerRecord(tm), err)
	}
}

func (o *keyedCoProcessOp[A, B, K, U]) Watermark(wm int64) {
	fireEventTimers(&o.keyed, wm, o.fire)
	o.c.SetWatermarks(wm, wm)
	o.out.Watermark(wm)
}

func (o *keyedCoProcessOp[A, B, K, U]) onProcTime(at int64) {
	fireProcTimers(&o.keyed, at, o.fire)
}

// sameEnv panics unless two streams belong to the same job.
func sameEnv(a, b *Env, op string) {
	if a == nil || b == nil {
		panic("stream: " + op + " of a zero stream")
	}
	if a != b {
		panic("stream: " + op + " of streams from different jobs")
	}
}

// twoInputOperator adds a node reading a as its input 0 and b as its input 1.
func twoInputOperator[A, B, U any](a Stream[A], b Stream[B], name string, newOp func(c *rt.Context, out any) (rt.Instance, error)) *rt.Node {
	sameEnv(a.env, b.env, name)
	n := a.env.g.Add(&rt.Node{Name: name, In: []rt.Type{rt.TypeOf[A](), rt.TypeOf[B]()}, Out: rt.TypeOf[U](), Operator: newOp})
	a.connect(n, 0)
	b.connect(n, 1)
	return n
}

// inputFunc is the rt.Output a two-input operator hands the runtime for one of its inputs
// (rt.Inputs): the runtime calls only Collect on it, and sends watermarks, idleness and the end
// of input, combined over both inputs, to the operator itself. Its Control methods do nothing.
type inputFunc[T any] func(v T, ts int64)

func (f inputFunc[T]) Collect(v T, ts int64) { f(v, ts) }
func (inputFunc[T]) Watermark(int64)         {}
func (inputFunc[T]) Idle(bool)               {}
func (inputFunc[T]) Finish()                 {}

// openKeyedFn opens a keyed user function: KeyedOpener if it has it, else Opener.
// It restores the operator's keyed state first.
func openKeyedFn[K comparable](fn any, b *keyed[K]) error {
	if err := b.restoreKeyed(); err != nil {
		return fmt.Errorf("restore %s: %w", b.c.Name, err)
	}
	var err error
	if ko, ok := fn.(KeyedOpener[K]); ok {
		err = ko.Open(&KeyedRuntime[K]{RuntimeContext: RuntimeContext{c: b.c}, b: b})
	} else {
		err = openFn(fn, b.c)
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", b.c.Name, err)
	}
	return nil
}

// fireEventTimers advances b's watermark to wm and fires, in time order, the event-time timers
// it makes due.
func fireEventTimers[K comparable](b *keyed[K], wm int64, fire func(timer[K], TimeDomain)) {
	b.wm = wm
	for {
		tm, ok := b.timers.event.next(wm)
		if !ok {
			return
		}
		fire(tm, EventTime)
	}
}

// fireProcTimers fires b's processing-time timers due at the later of at and now, then asks the
// runtime to wake the operator for the next one.
func fireProcTimers[K comparable](b *keyed[K], at int64, fire func(timer[K], TimeDomain)) {
	now := b.c.Clock.Now().UnixMilli()
	for {
		tm, ok := b.timers.proc.next(max(at, now))
		if !ok {
			break
		}
		fire(tm, ProcessingTime)
	}
	b.timers.rearm(at)
}

// timerRecord names a firing timer in errors.
func timerRecord[K comparable](tm timer[K]) string {
	return fmt.Sprintf("timer %s for key %v", eventtime.Format(tm.at), tm.key)
}
