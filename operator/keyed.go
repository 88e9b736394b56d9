package operator

import (
	"fmt"

	"github.com/runnel-io/runnel/eventtime"
	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/state"
)

// Keyed is the part every keyed operator shares: the subtask's context, the current key (Keys,
// which state handles read), the state backend, the keyed timers and the watermark. Operators
// embed it and call Init when they are made.
type Keyed[K comparable] struct {
	// C is the subtask's context.
	C *rt.Context
	// Keys is the current key and the key groups the subtask owns; state handles read it.
	Keys state.Keys[K]
	// Backend holds the subtask's keyed state.
	Backend state.Backend
	// Timers are the subtask's keyed timers.
	Timers TimerService[K]
	// WM is the operator's input watermark.
	WM int64
	// Hash hashes keys to key groups (keygroup.HasherFor[K]).
	Hash keygroup.Hasher[K]
}

// Init sets the base up for subtask c and makes its state backend (c.NewStateBackend).
func (b *Keyed[K]) Init(c *rt.Context) error {
	b.C = c
	b.Hash = keygroup.HasherFor[K]()
	b.Keys = state.Keys[K]{First: c.KeyGroups.Start, Count: c.KeyGroups.Len(),
		Now: func() int64 { return c.Clock.Now().UnixMilli() }}
	b.Timers.c = c
	b.WM = eventtime.MinTime
	var err error
	b.Backend, err = c.NewStateBackend()
	return err
}

// SetKey makes k the current key. It panics if k's key group is not the subtask's: the
// records were partitioned by another key function.
func (b *Keyed[K]) SetKey(k K) {
	b.Keys.Key = k
	b.Keys.Group = keygroup.Of(b.Hash(k), b.C.MaxParallelism)
	if !b.C.KeyGroups.Contains(b.Keys.Group) {
		panic(fmt.Sprintf("operator: key %v of key group %d reached subtask %d which owns %v", k, b.Keys.Group, b.C.Subtask, b.C.KeyGroups))
	}
}

// SetTimerKey makes the key of a firing timer the current key.
func (b *Keyed[K]) SetTimerKey(t Timer[K]) { b.Keys.Key, b.Keys.Group = t.key, t.Group }

// ClearKey leaves no current key: keyed state handles used then panic (their key group is
// outside the subtask's range) instead of silently using the previous record's key.
func (b *Keyed[K]) ClearKey() {
	var zero K
	b.Keys.Key, b.Keys.Group = zero, b.Keys.First-1
}

// RegisterEventTimeTimer registers an event-time timer of the current key at at; registering a
// key and time twice gives one firing.
func (b *Keyed[K]) RegisterEventTimeTimer(at int64) { b.Timers.event.add(b.Keys.Key, b.Keys.Group, at) }

// RegisterProcessingTimeTimer registers a processing-time timer of the current key.
func (b *Keyed[K]) RegisterProcessingTimeTimer(at int64) {
	b.Timers.registerProc(b.Keys.Key, b.Keys.Group, at)
}

// DeleteEventTimeTimer removes an event-time timer of the current key, if registered.
func (b *Keyed[K]) DeleteEventTimeTimer(at int64) { b.Timers.event.remove(b.Keys.Key, at) }

// DeleteProcessingTimeTimer removes a processing-time timer of the current key, if registered.
func (b *Keyed[K]) DeleteProcessingTimeTimer(at int64) { b.Timers.proc.remove(b.Keys.Key, at) }

// FireEventTimers advances the watermark to wm and fires, in time order, the event-time timers
// it makes due.
func (b *Keyed[K]) FireEventTimers(wm int64, fire func(Timer[K], TimeDomain)) {
	b.WM = wm
	for {
		tm, ok := b.Timers.event.next(wm)
		if !ok {
			return
		}
		fire(tm, EventTime)
	}
}

// FireProcTimers fires the processing-time timers due at the later of at and now, then asks
// the runtime to wake the operator for the next one. Operators call it from
// Timers.OnProcTime.
func (b *Keyed[K]) FireProcTimers(at int64, fire func(Timer[K], TimeDomain)) {
	now := b.C.Clock.Now().UnixMilli()
	for {
		tm, ok := b.Timers.proc.next(max(at, now))
		if !ok {
			break
		}
		fire(tm, ProcessingTime)
	}
	b.Timers.rearm(at)
}

// openKeyed restores the keyed state and timers, then opens fs.
func (b *Keyed[K]) openKeyed(fs Funcs) error {
	if err := b.RestoreKeyed(); err != nil {
		return fmt.Errorf("restore %s: %w", b.C.Name, err)
	}
	return fs.open(b.C)
}

// KeyedTimerFunc handles a firing keyed timer; the key is current.
type KeyedTimerFunc[K comparable] func(t Timer[K], domain TimeDomain) error

// KeyedProcess calls a function for every record of a keyed stream with its key current, and
// another for every timer that fires (Flink's KeyedProcessOperator).
type KeyedProcess[T any, K comparable, U any] struct {
	Forward[U]
	Keyed[K]
	Funcs
	key     func(T) K
	process func(v T, ts int64) error
	// OnTimer handles firing timers; nil fails the job when one fires, naming TimerOwner.
	OnTimer KeyedTimerFunc[K]
	// TimerOwner names, in that error, what should have handled the timer.
	TimerOwner any
}

// NewKeyedProcess returns a keyed process operator subtask: key extracts each record's key,
// process handles the record. Set OnTimer, and Funcs to open and close the function (Open runs
// after the keyed state is restored, so it may make state handles on Backend).
func NewKeyedProcess[T any, K comparable, U any](c *rt.Context, out rt.Output[U], key func(T) K, process func(v T, ts int64) error) (*KeyedProcess[T, K, U], error) {
	o := &KeyedProcess[T, K, U]{Forward: Forward[U]{out}, key: key, process: process}
	if err := o.Init(c); err != nil {
		return nil, err
	}
	o.Timers.OnProcTime = o.onProcTime
	return o, nil
}

// Open restores the keyed state and timers, then opens the function.
func (o *KeyedProcess[T, K, U]) Open() error { return o.openKeyed(o.Funcs) }

// Close closes the function.
func (o *KeyedProcess[T, K, U]) Close() error { return o.close() }

// Collect calls the function with the record's key current.
func (o *KeyedProcess[T, K, U]) Collect(v T, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.C.Recovered(r, v)
		}
	}()
	o.SetKey(o.key(v))
	if err := o.process(v, ts); err != nil {
		o.C.Fail(v, err)
	}
}

// fire runs the timer function for tm.
func (o *KeyedProcess[T, K, U]) fire(tm Timer[K], domain TimeDomain) {
	fireTimer(&o.Keyed, o.OnTimer, o.TimerOwner, tm, domain)
}

// fireTimer calls onTimer for tm with its key current. The timer is named only on failure:
// formatting it for every firing cost 10% of Nexmark q4.
func fireTimer[K comparable](b *Keyed[K], onTimer KeyedTimerFunc[K], owner any, tm Timer[K], domain TimeDomain) {
	defer func() {
		if r := recover(); r != nil {
			b.C.Recovered(r, tm)
		}
	}()
	if onTimer == nil {
		b.C.Fail(tm, fmt.Errorf("a timer fired but %T has no OnTimer method", owner))
	}
	b.SetTimerKey(tm)
	if err := onTimer(tm, domain); err != nil {
		b.C.Fail(tm, err)
	}
}

// Watermark fires the event-time timers wm makes due, then passes it on.
func (o *KeyedProcess[T, K, U]) Watermark(wm int64) {
	o.FireEventTimers(wm, o.fire)
	o.C.SetWatermarks(wm, wm)
	o.Out.Watermark(wm)
}

func (o *KeyedProcess[T, K, U]) onProcTime(at int64) { o.FireProcTimers(at, o.fire) }

var _ rt.Snapshotter = (*KeyedProcess[int, int, int])(nil)
