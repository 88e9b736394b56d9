package stream

import (
	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/operator"
)

// This file holds the two-input builders: Connect and CoProcess for streams of different
// types, ConnectKeyed and KeyedCoProcess for two streams keyed by the same key type, and the
// plumbing the other two-input builders (broadcast.go, join.go) share. The operators are in
// package operator (connect.go).
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
	checkFunc("CoProcess", fn, plainOpeners...)
	n := twoInputOperator[A, B, U](c.a, c.b, "CoProcess", func(rc *rt.Context, out any) (rt.Instance, error) {
		fn := instance(fn)
		col := &collector[U]{out: operator.OutputOf[U](out)}
		ctx := &Context{c: rc}
		o := operator.NewCoProcess[A, B, U](rc, col.out,
			func(v A, ts int64) error {
				col.ts, ctx.ts = ts, ts
				return fn.ProcessElement1(ctx, v, col)
			},
			func(v B, ts int64) error {
				col.ts, ctx.ts = ts, ts
				return fn.ProcessElement2(ctx, v, col)
			})
		ctx.wm = &o.WM
		o.Funcs = funcsOf(fn, rc)
		return o, nil
	})
	return single[U](c.a.env, n)
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
	checkFunc("KeyedCoProcess", fn, keyedOpeners[K]()...)
	n := twoInputOperator[A, B, U](c.a.s, c.b.s, "KeyedCoProcess", func(rc *rt.Context, out any) (rt.Instance, error) {
		fn := instance(fn)
		col := &collector[U]{out: operator.OutputOf[U](out)}
		var ctx *KeyedContext[K]
		o, err := operator.NewKeyedCoProcess[A, B, K, U](rc, col.out, c.a.key, c.b.key,
			func(v A, ts int64) error {
				col.ts, ctx.ts = ts, ts
				return fn.ProcessElement1(ctx, v, col)
			},
			func(v B, ts int64) error {
				col.ts, ctx.ts = ts, ts
				return fn.ProcessElement2(ctx, v, col)
			})
		if err != nil {
			return nil, err
		}
		ctx = newKeyedContext(rc, &o.Keyed)
		h, _ := any(fn).(TimerHandler[K, U])
		o.OnTimer, o.TimerOwner = onTimerOf(h, ctx, col), fn
		o.Funcs = keyedFuncs(fn, &o.Keyed)
		return o, nil
	})
	n.Keyed = true
	return single[U](c.a.s.env, n)
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
