package runtime

// Control carries what is not a record through a chain of operators: watermarks, idleness and
// the end of input. Every operator forwards Control calls to its main output once it has acted
// on them (a window operator fires its windows before it forwards a watermark); the runtime
// passes them on to the operator's side outputs too, so operators must not.
type Control interface {
	// Watermark says that no record with timestamp <= wm follows.
	Watermark(wm int64)
	// Idle says the input has become idle (true) or active again (false).
	Idle(idle bool)
	// Finish says the input has ended; the final watermark came before it.
	Finish()
}

// Output receives the records of type T that an operator emits, with their timestamps.
// Operators use the Output of the next operator in the chain, or a writer into an exchange.
// Output methods are called from the task goroutine only.
type Output[T any] interface {
	Collect(v T, ts int64)
	Control
}

// Discard is an Output that drops everything, for operators whose output nobody consumes.
type Discard[T any] struct{}

// Collect drops v.
func (Discard[T]) Collect(T, int64) {}

// Watermark does nothing.
func (Discard[T]) Watermark(int64) {}

// Idle does nothing.
func (Discard[T]) Idle(bool) {}

// Finish does nothing.
func (Discard[T]) Finish() {}

// fanOut sends everything to several outputs.
type fanOut[T any] []Output[T]

func (f fanOut[T]) Collect(v T, ts int64) {
	for _, o := range f {
		o.Collect(v, ts)
	}
}

func (f fanOut[T]) Watermark(wm int64) {
	for _, o := range f {
		o.Watermark(wm)
	}
}

func (f fanOut[T]) Idle(idle bool) {
	for _, o := range f {
		o.Idle(idle)
	}
}

func (f fanOut[T]) Finish() {
	for _, o := range f {
		o.Finish()
	}
}

// counted counts the records that pass into next; the count belongs to the task goroutine.
type counted[T any] struct {
	next Output[T]
	n    *int64
}

func (c counted[T]) Collect(v T, ts int64) {
	*c.n++
	c.next.Collect(v, ts)
}

func (c counted[T]) Watermark(wm int64) { c.next.Watermark(wm) }
func (c counted[T]) Idle(idle bool)     { c.next.Idle(idle) }
func (c counted[T]) Finish()            { c.next.Finish() }

// withSides is an operator's main output when some of its side outputs are read: Control calls
// go to the side outputs as well, since a watermark, idleness or the end of input holds for
// every output of the operator.
type withSides[T any] struct {
	Output[T]
	sides []Control
}

func (w withSides[T]) Watermark(wm int64) {
	w.Output.Watermark(wm)
	for _, s := range w.sides {
		s.Watermark(wm)
	}
}

func (w withSides[T]) Idle(idle bool) {
	w.Output.Idle(idle)
	for _, s := range w.sides {
		s.Idle(idle)
	}
}

func (w withSides[T]) Finish() {
	w.Output.Finish()
	for _, s := range w.sides {
		s.Finish()
	}
}
