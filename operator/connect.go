package operator

import (
	"github.com/runnel-io/runnel/eventtime"
	rt "github.com/runnel-io/runnel/internal/runtime"
)

// This file holds the two-input operators over streams of different types: CoProcess and
// KeyedCoProcess. A two-input node has In = [A, B]; the runtime delivers input i's records to
// Input(i) of the operator instance, and watermarks, idleness and the end of input to the
// instance itself, combined over both inputs (the watermark is the minimum over every channel
// of both inputs).

// CoProcess calls one function for the records of its first input and another for those of
// its second, never concurrently (Flink's CoProcessOperator).
type CoProcess[A, B, U any] struct {
	Forward[U]
	Funcs
	c        *rt.Context
	process1 func(v A, ts int64) error
	process2 func(v B, ts int64) error
	// WM is the operator's input watermark, the minimum over both inputs.
	WM int64
}

// NewCoProcess returns a co-process operator subtask; set Funcs to open and close the
// function.
func NewCoProcess[A, B, U any](c *rt.Context, out rt.Output[U], process1 func(v A, ts int64) error, process2 func(v B, ts int64) error) *CoProcess[A, B, U] {
	return &CoProcess[A, B, U]{Forward: Forward[U]{out}, c: c, process1: process1, process2: process2, WM: eventtime.MinTime}
}

// Input returns the output of input i for the runtime.
func (o *CoProcess[A, B, U]) Input(i int) any {
	if i == 0 {
		return Input[A](o.collect1)
	}
	return Input[B](o.collect2)
}

// Open opens the function.
func (o *CoProcess[A, B, U]) Open() error { return o.open(o.c) }

// Close closes the function.
func (o *CoProcess[A, B, U]) Close() error { return o.close() }

func (o *CoProcess[A, B, U]) collect1(v A, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	if err := o.process1(v, ts); err != nil {
		o.c.Fail(v, err)
	}
}

func (o *CoProcess[A, B, U]) collect2(v B, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	if err := o.process2(v, ts); err != nil {
		o.c.Fail(v, err)
	}
}

// Watermark records wm and passes it on.
func (o *CoProcess[A, B, U]) Watermark(wm int64) {
	o.WM = wm
	o.c.SetWatermarks(wm, wm)
	o.Out.Watermark(wm)
}

// KeyedCoProcess is CoProcess over two inputs keyed by the same key type: records of both
// inputs with one key reach one subtask and share its keyed state and timers (Flink's
// KeyedCoProcessOperator). Event-time timers fire when the watermark, the minimum over both
// inputs, passes them.
type KeyedCoProcess[A, B any, K comparable, U any] struct {
	Forward[U]
	Keyed[K]
	Funcs
	key1     func(A) K
	key2     func(B) K
	process1 func(v A, ts int64) error
	process2 func(v B, ts int64) error
	// OnTimer handles firing timers; nil fails the job when one fires, naming TimerOwner.
	OnTimer    KeyedTimerFunc[K]
	TimerOwner any
}

// NewKeyedCoProcess returns a keyed co-process operator subtask. Set OnTimer, and Funcs to open
// and close the function (Open runs after the keyed state is restored).
func NewKeyedCoProcess[A, B any, K comparable, U any](c *rt.Context, out rt.Output[U], key1 func(A) K, key2 func(B) K,
	process1 func(v A, ts int64) error, process2 func(v B, ts int64) error) (*KeyedCoProcess[A, B, K, U], error) {
	o := &KeyedCoProcess[A, B, K, U]{Forward: Forward[U]{out}, key1: key1, key2: key2, process1: process1, process2: process2}
	if err := o.Init(c); err != nil {
		return nil, err
	}
	o.Timers.OnProcTime = o.onProcTime
	return o, nil
}

// Input returns the output of input i for the runtime.
func (o *KeyedCoProcess[A, B, K, U]) Input(i int) any {
	if i == 0 {
		return Input[A](o.collect1)
	}
	return Input[B](o.collect2)
}

// Open restores the keyed state and timers, then opens the function.
func (o *KeyedCoProcess[A, B, K, U]) Open() error { return o.openKeyed(o.Funcs) }

// Close closes the function.
func (o *KeyedCoProcess[A, B, K, U]) Close() error { return o.close() }

func (o *KeyedCoProcess[A, B, K, U]) collect1(v A, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.C.Recovered(r, v)
		}
	}()
	o.SetKey(o.key1(v))
	if err := o.process1(v, ts); err != nil {
		o.C.Fail(v, err)
	}
}

func (o *KeyedCoProcess[A, B, K, U]) collect2(v B, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.C.Recovered(r, v)
		}
	}()
	o.SetKey(o.key2(v))
	if err := o.process2(v, ts); err != nil {
		o.C.Fail(v, err)
	}
}

func (o *KeyedCoProcess[A, B, K, U]) fire(tm Timer[K], domain TimeDomain) {
	fireTimer(&o.Keyed, o.OnTimer, o.TimerOwner, tm, domain)
}

// Watermark fires the event-time timers wm makes due, then passes it on.
func (o *KeyedCoProcess[A, B, K, U]) Watermark(wm int64) {
	o.FireEventTimers(wm, o.fire)
	o.C.SetWatermarks(wm, wm)
	o.Out.Watermark(wm)
}

func (o *KeyedCoProcess[A, B, K, U]) onProcTime(at int64) { o.FireProcTimers(at, o.fire) }

var _ rt.Snapshotter = (*KeyedCoProcess[int, int, int, int])(nil)
