package stream

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/operator"
)

// RuntimeContext tells a user function where it runs. It is valid from Open until Close and
// must be used from the function's own calls only (it is not safe for concurrent use).
type RuntimeContext struct {
	c *rt.Context
}

// OperatorName is the name of the operator the function runs in.
func (r *RuntimeContext) OperatorName() string { return r.c.Name }

// Subtask is the index of this parallel instance, in [0, Parallelism()).
func (r *RuntimeContext) Subtask() int { return r.c.Subtask }

// Parallelism is the number of parallel instances of the operator.
func (r *RuntimeContext) Parallelism() int { return r.c.Parallelism }

// MaxParallelism is the number of key groups.
func (r *RuntimeContext) MaxParallelism() int { return r.c.MaxParallelism }

// Attempt counts restarts of the job, from 0.
func (r *RuntimeContext) Attempt() int { return r.c.Attempt }

// Logger logs with the operator's name and subtask attached.
func (r *RuntimeContext) Logger() *slog.Logger { return r.c.Logger }

// Ctx is cancelled when the job stops; use it for blocking calls.
func (r *RuntimeContext) Ctx() context.Context { return r.c.Ctx() }

// Counter returns the operator subtask's counter called name, created at zero on first use and
// published with the operator's metrics (metrics.Operator.Counters). It is safe for concurrent
// use; create counters in Open.
func (r *RuntimeContext) Counter(name string) *atomic.Int64 { return r.c.Counter(name) }

// Now returns processing time from the job's clock.
func (r *RuntimeContext) Now() time.Time { return r.c.Clock.Now() }

// Opener is implemented by user functions that acquire resources before the first record
// (connections, caches). An error fails the job.
type Opener interface {
	Open(rc *RuntimeContext) error
}

// Closer is implemented by user functions that release resources when the operator ends,
// normally or not.
type Closer interface {
	Close() error
}

// checkFunc panics, when the job is built, if fn has an Open method that matches none of
// openers, the interfaces through which the operator op opens its function (Opener, and
// KeyedOpener[K] for keyed functions), or a Close method that does not match Closer: such a
// method would never be called, and the function would fail at its first record with a handle
// it never made.
func checkFunc(op string, fn any, openers ...reflect.Type) {
	t := reflect.TypeOf(fn)
	if t == nil {
		return
	}
	if m, ok := t.MethodByName("Open"); ok && !slices.ContainsFunc(openers, t.Implements) {
		want := make([]string, len(openers))
		for i, o := range openers {
			om, _ := o.MethodByName("Open")
			want[i] = fmt.Sprintf("%v (Open%s)", o, signature(om.Type, 0))
		}
		panic(fmt.Sprintf("stream: %s: %v has a method Open%s, which matches neither %s: the operator would never call it; give it one of those signatures",
			op, t, signature(m.Type, 1), strings.Join(want, " nor ")))
	}
	if m, ok := t.MethodByName("Close"); ok && !t.Implements(reflect.TypeFor[Closer]()) {
		panic(fmt.Sprintf("stream: %s: %v has a method Close%s, which does not match %v (Close() error): the operator would never call it",
			op, t, signature(m.Type, 1), reflect.TypeFor[Closer]()))
	}
}

// signature formats the parameters and results of function type f, leaving out its first skip
// parameters (a method's receiver): "(*stream.RuntimeContext, int) error".
func signature(f reflect.Type, skip int) string {
	var in, out []string
	for i := skip; i < f.NumIn(); i++ {
		in = append(in, f.In(i).String())
	}
	for i := range f.NumOut() {
		out = append(out, f.Out(i).String())
	}
	s := "(" + strings.Join(in, ", ") + ")"
	switch len(out) {
	case 0:
	case 1:
		s += " " + out[0]
	default:
		s += " (" + strings.Join(out, ", ") + ")"
	}
	return s
}

// openers are the interfaces a keyed function with key K may open through.
func keyedOpeners[K comparable]() []reflect.Type {
	return []reflect.Type{reflect.TypeFor[KeyedOpener[K]](), reflect.TypeFor[Opener]()}
}

var plainOpeners = []reflect.Type{reflect.TypeFor[Opener]()}

// funcsOf returns the Open and Close of a user function f that runs in the operator subtask
// of c: Opener and Closer, if f implements them.
func funcsOf(f any, c *rt.Context) operator.Funcs {
	var fs operator.Funcs
	if o, ok := f.(Opener); ok {
		fs.Open = func() error { return o.Open(&RuntimeContext{c: c}) }
	}
	if o, ok := f.(Closer); ok {
		fs.Close = o.Close
	}
	return fs
}

// Collector receives what a function emits.
type Collector[T any] interface {
	// Collect emits v with the timestamp of the record (or timer) being processed.
	Collect(v T)
	// CollectAt emits v with timestamp ts (epoch ms).
	CollectAt(v T, ts int64)
}

// collector is the Collector of a user function: its records go to out with timestamp ts.
// Builders allocate one per operator subtask, and the subtask writes ts for every record:
// the padding keeps two subtasks' collectors off one cache line (without it, q0 at
// parallelism 2 lost a quarter of its throughput in some runs to the two cores writing one
// line).
type collector[T any] struct {
	out rt.Output[T]
	ts  int64
	_   [cacheLine]byte
}

// cacheLine is the padding that keeps a small object written per record by one task off the
// cache lines of objects other tasks write.
const cacheLine = 64

func (c *collector[T]) Collect(v T)             { c.out.Collect(v, c.ts) }
func (c *collector[T]) CollectAt(v T, ts int64) { c.out.Collect(v, ts) }

// Context is what a ProcessFunction sees of the record being processed.
type Context struct {
	c  *rt.Context
	ts int64
	wm *int64
	_  [cacheLine]byte // see collector
}

// Timestamp is the event time of the current record (or the time of the firing timer).
func (x *Context) Timestamp() int64 { return x.ts }

// CurrentWatermark is the operator's current input watermark.
func (x *Context) CurrentWatermark() int64 { return *x.wm }

// CurrentProcessingTime is processing time in epoch ms from the job's clock.
func (x *Context) CurrentProcessingTime() int64 { return x.c.Clock.Now().UnixMilli() }

// OutputTag names a side output carrying records of type T. Create tags once, at job build
// time, and use the same tag value to emit and to read the side output.
type OutputTag[T any] struct {
	name string
}

// NewOutputTag returns a tag for side output name.
func NewOutputTag[T any](name string) OutputTag[T] {
	if name == "" {
		panic("stream: empty side output name")
	}
	return OutputTag[T]{name: name}
}

// Name returns the tag's name.
func (t OutputTag[T]) Name() string { return t.name }

// Emit sends v to the side output with the current record's timestamp. The operator must have
// declared the tag (Process(..., tags) / SideOutput).
func (t OutputTag[T]) Emit(x *Context, v T) {
	o, ok := x.c.SideOutput(t.name).(rt.Output[T])
	if !ok {
		x.c.Fail(v, errUndeclaredTag(t.name))
	}
	o.Collect(v, x.ts)
}

// SideOutput returns the stream of side output tag of the operator that produces s. The
// operator must have been built with the tag declared.
func SideOutput[T, S any](s Stream[S], tag OutputTag[T]) Stream[T] {
	n := s.node()
	if _, ok := n.Side[tag.name]; !ok {
		if n.Side == nil {
			n.Side = map[string]rt.Type{}
		}
		n.Side[tag.name] = rt.TypeOf[T]()
	} else if n.Side[tag.name] != rt.TypeOf[T]() {
		panic("stream: side output " + tag.name + " read with a different type than declared")
	}
	return Stream[T]{env: s.env, parts: []part{{node: n, tag: tag.name}}}
}

type undeclaredTag string

func (e undeclaredTag) Error() string {
	return "side output " + string(e) + " is not read by any stream: call stream.SideOutput on this operator's stream"
}

func errUndeclaredTag(name string) error { return undeclaredTag(name) }

// instance returns the function object one parallel instance uses. A pointer to a struct is
// copied (shallowly), so fields that Open sets, such as state handles, belong to one instance,
// as they do in Flink where every instance deserialises its own copy of the function. Anything
// else is shared as it is.
func instance[F any](f F) F {
	v := reflect.ValueOf(f)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return f
	}
	c := reflect.New(v.Elem().Type())
	c.Elem().Set(v.Elem())
	return c.Interface().(F)
}
