package operator

import (
	rt "github.com/runnel-io/runnel/internal/runtime"
)

// Forward passes the Control calls (watermarks, idleness, end of input) of an operator on to
// its output, and has no-op Open and Close; operators embed it and override what they act on.
type Forward[U any] struct {
	// Out is the operator's main output.
	Out rt.Output[U]
}

// Watermark passes wm on.
func (f Forward[U]) Watermark(wm int64) { f.Out.Watermark(wm) }

// Idle passes idleness on.
func (f Forward[U]) Idle(idle bool) { f.Out.Idle(idle) }

// Finish passes the end of input on.
func (f Forward[U]) Finish() { f.Out.Finish() }

// Open does nothing.
func (Forward[U]) Open() error { return nil }

// Close does nothing.
func (Forward[U]) Close() error { return nil }

// OutputOf returns out, the output the runtime hands an operator factory, as an Output[U]; an
// operator whose output nobody reads gets nil, and a Discard.
func OutputOf[U any](out any) rt.Output[U] {
	if out == nil {
		return rt.Discard[U]{}
	}
	return out.(rt.Output[U])
}

// Input is the rt.Output a two-input operator hands the runtime for one of its inputs
// (rt.Inputs): the runtime calls only Collect on it, and sends watermarks, idleness and the end
// of input, combined over both inputs, to the operator itself. Its Control methods do nothing.
type Input[T any] func(v T, ts int64)

// Collect calls f.
func (f Input[T]) Collect(v T, ts int64) { f(v, ts) }

// Watermark does nothing.
func (Input[T]) Watermark(int64) {}

// Idle does nothing.
func (Input[T]) Idle(bool) {}

// Finish does nothing.
func (Input[T]) Finish() {}

// TimeDomain says which clock a timer follows.
type TimeDomain uint8

const (
	// EventTime timers fire when the watermark passes them.
	EventTime TimeDomain = iota
	// ProcessingTime timers fire when the job's clock reaches them.
	ProcessingTime
)

// String returns "event time" or "processing time".
func (d TimeDomain) String() string {
	if d == ProcessingTime {
		return "processing time"
	}
	return "event time"
}
