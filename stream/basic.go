package stream

import (
	"fmt"

	"github.com/runnel-io/runnel/eventtime"
	rt "github.com/runnel-io/runnel/internal/runtime"
)

// forward passes Control calls on to an operator's output; operators embed it.
type forward[U any] struct {
	out rt.Output[U]
}

func (f forward[U]) Watermark(wm int64) { f.out.Watermark(wm) }
func (f forward[U]) Idle(idle bool)     { f.out.Idle(idle) }
func (f forward[U]) Finish()            { f.out.Finish() }
func (forward[U]) Open() error          { return nil }
func (forward[U]) Close() error         { return nil }

func outputOf[U any](out any) rt.Output[U] {
	if out == nil {
		return rt.Discard[U]{}
	}
	return out.(rt.Output[U])
}

// Map applies f to every record.
func Map[T, U any](s Stream[T], f func(T) U) Stream[U] {
	n := operator[T, U](s, "Map", func(c *rt.Context, out any) (rt.Instance, error) {
		return &mapOp[T, U]{forward: forward[U]{outputOf[U](out)}, c: c, f: f}, nil
	})
	return single[U](s.env, n)
}

type mapOp[T, U any] struct {
	forward[U]
	c *rt.Context
	f func(T) U
}

func (o *mapOp[T, U]) Collect(v T, ts int64) { o.out.Collect(o.apply(v), ts) }

func (o *mapOp[T, U]) apply(v T) U {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	return o.f(v)
}

// Filter keeps the records for which keep returns true.
func (s Stream[T]) Filter(keep func(T) bool) Stream[T] {
	n := operator[T, T](s, "Filter", func(c *rt.Context, out any) (rt.Instance, error) {
		return &filterOp[T]{forward: forward[T]{outputOf[T](out)}, c: c, keep: keep}, nil
	})
	return single[T](s.env, n)
}

type filterOp[T any] struct {
	forward[T]
	c    *rt.Context
	keep func(T) bool
}

func (o *filterOp[T]) Collect(v T, ts int64) {
	if o.apply(v) {
		o.out.Collect(v, ts)
	}
}

func (o *filterOp[T]) apply(v T) bool {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	return o.keep(v)
}

// FlatMap calls f for every record; f emits zero or more records through out. An error fails
// the job, naming the record.
func FlatMap[T, U any](s Stream[T], f func(v T, out Collector[U]) error) Stream[U] {
	n := operator[T, U](s, "FlatMap", func(c *rt.Context, out any) (rt.Instance, error) {
		o := &flatMapOp[T, U]{forward: forward[U]{outputOf[U](out)}, c: c, f: f}
		o.col.out = o.out
		return o, nil
	})
	return single[U](s.env, n)
}

type flatMapOp[T, U any] struct {
	forward[U]
	c   *rt.Context
	f   func(T, Collector[U]) error
	col collector[U]
}

func (o *flatMapOp[T, U]) Collect(v T, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	o.col.ts = ts
	if err := o.f(v, &o.col); err != nil {
		o.c.Fail(v, err)
	}
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
	n := operator[T, U](s, "Process", func(c *rt.Context, out any) (rt.Instance, error) {
		o := &processOp[T, U]{forward: forward[U]{outputOf[U](out)}, c: c, fn: instance(fn), wm: eventtime.MinTime}
		o.col.out = o.out
		o.ctx = Context{c: c, wm: &o.wm}
		return o, nil
	})
	return single[U](s.env, n)
}

type processOp[T, U any] struct {
	forward[U]
	c   *rt.Context
	fn  ProcessFunction[T, U]
	col collector[U]
	ctx Context
	wm  int64
}

func (o *processOp[T, U]) Open() error {
	if err := openFn(o.fn, o.c); err != nil {
		return fmt.Errorf("open %s: %w", o.c.Name, err)
	}
	return nil
}

func (o *processOp[T, U]) Close() error { return closeFn(o.fn) }

func (o *processOp[T, U]) Collect(v T, ts int64) {
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

func (o *processOp[T, U]) Watermark(wm int64) {
	o.wm = wm
	o.c.SetWatermarks(wm, wm)
	o.out.Watermark(wm)
}
