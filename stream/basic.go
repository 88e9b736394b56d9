package stream

import (
	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/operator"
)

// Map applies f to every record.
func Map[T, U any](s Stream[T], f func(T) U) Stream[U] {
	n := operatorNode[T, U](s, "Map", func(c *rt.Context, out any) (rt.Instance, error) {
		return operator.NewMap[T, U](c, operator.OutputOf[U](out), f), nil
	})
	return single[U](s.env, n)
}

// Filter keeps the records for which keep returns true.
func (s Stream[T]) Filter(keep func(T) bool) Stream[T] {
	n := operatorNode[T, T](s, "Filter", func(c *rt.Context, out any) (rt.Instance, error) {
		return operator.NewFilter[T](c, operator.OutputOf[T](out), keep), nil
	})
	return single[T](s.env, n)
}

// FlatMap calls f for every record; f emits zero or more records through out. An error fails
// the job, naming the record.
func FlatMap[T, U any](s Stream[T], f func(v T, out Collector[U]) error) Stream[U] {
	n := operatorNode[T, U](s, "FlatMap", func(c *rt.Context, out any) (rt.Instance, error) {
		col := &collector[U]{out: operator.OutputOf[U](out)}
		return operator.NewFlatMap[T, U](c, col.out, func(v T, ts int64) error {
			col.ts = ts
			return f(v, col)
		}), nil
	})
	return single[U](s.env, n)
}

// ProcessFunction handles each record of a non-keyed stream with access to its timestamp, the
// watermark and side outputs. It may implement Opener and Closer.
type ProcessFunction[T, U any] interface {
	ProcessElement(ctx *Context, v T, out Collector[U]) error
}

// ProcessFunc adapts a function to a ProcessFunction.
type ProcessFunc[T, U any] func(ctx *Context, v T, out Collector[U]) error

// ProcessElement calls f.
func (f ProcessFunc[T, U]) ProcessElement(ctx *Context, v T, out Collector[U]) error {
	return f(ctx, v, out)
}

// Process applies a ProcessFunction to every record.
func Process[T, U any](s Stream[T], fn ProcessFunction[T, U]) Stream[U] {
	checkFunc("Process", fn, plainOpeners...)
	n := operatorNode[T, U](s, "Process", func(c *rt.Context, out any) (rt.Instance, error) {
		fn := instance(fn)
		col := &collector[U]{out: operator.OutputOf[U](out)}
		ctx := &Context{c: c}
		o := operator.NewProcess[T, U](c, col.out, func(v T, ts int64) error {
			col.ts, ctx.ts = ts, ts
			return fn.ProcessElement(ctx, v, col)
		})
		ctx.wm = &o.WM
		o.Funcs = funcsOf(fn, c)
		return o, nil
	})
	return single[U](s.env, n)
}
