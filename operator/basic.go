package operator

import (
	"fmt"

	"github.com/runnel-io/runnel/eventtime"
	rt "github.com/runnel-io/runnel/internal/runtime"
)

// Map applies F to every record.
type Map[T, U any] struct {
	Forward[U]
	c *rt.Context
	f func(T) U
}

// NewMap returns a map operator subtask.
func NewMap[T, U any](c *rt.Context, out rt.Output[U], f func(T) U) *Map[T, U] {
	return &Map[T, U]{Forward: Forward[U]{out}, c: c, f: f}
}

// Collect emits f(v).
func (o *Map[T, U]) Collect(v T, ts int64) { o.Out.Collect(o.apply(v), ts) }

func (o *Map[T, U]) apply(v T) U {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	return o.f(v)
}

// Filter keeps the records for which a function returns true.
type Filter[T any] struct {
	Forward[T]
	c    *rt.Context
	keep func(T) bool
}

// NewFilter returns a filter operator subtask.
func NewFilter[T any](c *rt.Context, out rt.Output[T], keep func(T) bool) *Filter[T] {
	return &Filter[T]{Forward: Forward[T]{out}, c: c, keep: keep}
}

// Collect emits v if it is kept.
func (o *Filter[T]) Collect(v T, ts int64) {
	if o.apply(v) {
		o.Out.Collect(v, ts)
	}
}

func (o *Filter[T]) apply(v T) bool {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	return o.keep(v)
}

// FlatMap calls a function for every record, which emits what it likes (to the output the
// caller gave it); an error fails the job, naming the record.
type FlatMap[T, U any] struct {
	Forward[U]
	c *rt.Context
	f func(v T, ts int64) error
}

// NewFlatMap returns a flat-map operator subtask calling f with each record and its timestamp.
func NewFlatMap[T, U any](c *rt.Context, out rt.Output[U], f func(v T, ts int64) error) *FlatMap[T, U] {
	return &FlatMap[T, U]{Forward: Forward[U]{out}, c: c, f: f}
}

// Collect calls the function.
func (o *FlatMap[T, U]) Collect(v T, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	if err := o.f(v, ts); err != nil {
		o.c.Fail(v, err)
	}
}

// Funcs are the functions of an operator that calls user code: opened before the first record
// (after the operator restored its state) and closed when the operator ends. Either may be nil.
type Funcs struct {
	Open  func() error
	Close func() error
}

func (f Funcs) open(c *rt.Context) error {
	if f.Open == nil {
		return nil
	}
	if err := f.Open(); err != nil {
		return fmt.Errorf("open %s: %w", c.Name, err)
	}
	return nil
}

func (f Funcs) close() error {
	if f.Close == nil {
		return nil
	}
	return f.Close()
}

// Process calls a function for every record of a non-keyed stream, with the operator's
// watermark at hand (WM).
type Process[T, U any] struct {
	Forward[U]
	Funcs
	c *rt.Context
	f func(v T, ts int64) error
	// WM is the operator's input watermark.
	WM int64
}

// NewProcess returns a process operator subtask; set Funcs to open and close the function.
func NewProcess[T, U any](c *rt.Context, out rt.Output[U], f func(v T, ts int64) error) *Process[T, U] {
	return &Process[T, U]{Forward: Forward[U]{out}, c: c, f: f, WM: eventtime.MinTime}
}

// Open opens the function.
func (o *Process[T, U]) Open() error { return o.open(o.c) }

// Close closes the function.
func (o *Process[T, U]) Close() error { return o.close() }

// Collect calls the function.
func (o *Process[T, U]) Collect(v T, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	if err := o.f(v, ts); err != nil {
		o.c.Fail(v, err)
	}
}

// Watermark records wm and passes it on.
func (o *Process[T, U]) Watermark(wm int64) {
	o.WM = wm
	o.c.SetWatermarks(wm, wm)
	o.Out.Watermark(wm)
}
