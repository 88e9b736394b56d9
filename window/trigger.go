package window

import (
	"fmt"

	"github.com/runnel-io/runnel/eventtime"
)

// TriggerResult is what a Trigger decides for a window: whether to evaluate the window function
// over the window's contents now (fire) and whether to drop the contents (purge).
type TriggerResult uint8

const (
	// Continue does nothing.
	Continue TriggerResult = 0
	// Fire evaluates the window and keeps its contents, so later firings see them again.
	Fire TriggerResult = 1
	// Purge drops the window's contents without evaluating them. The window's timers and
	// trigger state stay until the window is cleaned up.
	Purge TriggerResult = 2
	// FireAndPurge evaluates the window, then drops its contents.
	FireAndPurge = Fire | Purge
)

// IsFire reports whether r evaluates the window.
func (r TriggerResult) IsFire() bool { return r&Fire != 0 }

// IsPurge reports whether r drops the window's contents.
func (r TriggerResult) IsPurge() bool { return r&Purge != 0 }

// String returns the result's name as Flink spells it: CONTINUE, FIRE, PURGE, FIRE_AND_PURGE.
func (r TriggerResult) String() string {
	switch r {
	case Continue:
		return "CONTINUE"
	case Fire:
		return "FIRE"
	case Purge:
		return "PURGE"
	case FireAndPurge:
		return "FIRE_AND_PURGE"
	}
	return fmt.Sprintf("TriggerResult(%d)", uint8(r))
}

// TriggerContext is what a Trigger may do for the key and window it is called for. The window
// operator owns it; it is valid only during the Trigger call it is passed to and is not safe
// for concurrent use.
type TriggerContext interface {
	// CurrentWatermark is the operator's input watermark (eventtime.MinTime before the first).
	CurrentWatermark() int64
	// CurrentProcessingTime is processing time in epoch milliseconds from the job's clock.
	CurrentProcessingTime() int64
	// RegisterEventTimeTimer makes OnEventTime run for this key and window when the watermark
	// reaches at. Registering the same time twice gives one call.
	RegisterEventTimeTimer(at int64)
	// RegisterProcessingTimeTimer makes OnProcessingTime run for this key and window when
	// processing time reaches at (epoch ms).
	RegisterProcessingTimeTimer(at int64)
	// DeleteEventTimeTimer removes a timer registered for this key and window, if any.
	DeleteEventTimeTimer(at int64)
	// DeleteProcessingTimeTimer removes a timer registered for this key and window, if any.
	DeleteProcessingTimeTimer(at int64)
	// State is the trigger's state for this key and window: one int64, 0 for a new window,
	// dropped when the window is cleaned up (purging the contents keeps it). A trigger that
	// wraps another shares it with the wrapped one.
	State() *int64
}

// Trigger decides when a window fires, in the manner of Flink's Trigger: the window operator
// calls it for every record added to a window and for every timer the trigger registered, and
// acts on the TriggerResult. A Trigger value is shared by every key, window and parallel
// instance of an operator, so it keeps per-window data in TriggerContext.State only; its methods
// are called from one operator subtask's goroutine at a time. Triggers see a record's
// timestamp, not the record.
//
// Independently of the trigger, the operator drops a window's contents, state and timers at
// its cleanup time (for event time, when the watermark reaches MaxTimestamp plus the allowed
// lateness; for processing time, at MaxTimestamp).
type Trigger interface {
	// OnElement is called after a record with timestamp ts was added to window w.
	OnElement(ts int64, w Window, ctx TriggerContext) TriggerResult
	// OnEventTime is called when an event-time timer registered for w fires at time at.
	OnEventTime(at int64, w Window, ctx TriggerContext) TriggerResult
	// OnProcessingTime is called when a processing-time timer registered for w fires.
	OnProcessingTime(at int64, w Window, ctx TriggerContext) TriggerResult
	// Clear deletes the timers the trigger registered for w and resets its state; it is called
	// when w is cleaned up or merged into another window.
	Clear(w Window, ctx TriggerContext)
	fmt.Stringer
}

// MergingTrigger is a Trigger that works with merging (session) windows. Window operators
// reject a merging assigner with a trigger that does not implement it.
type MergingTrigger interface {
	Trigger
	// OnMerge is called when windows merge into the new window w, before Clear is called for
	// each of them. ctx.State() is w's state, 0, and states holds the merged windows' states
	// (the slice is the operator's: do not keep it); OnMerge combines them and registers the
	// timers w needs.
	OnMerge(w Window, states []int64, ctx TriggerContext)
}

// DefaultTrigger returns the trigger a window operator uses when none is set: the assigner's
// own if it has a DefaultTrigger() Trigger method, NeverTrigger for GlobalWindows,
// EventTimeTrigger for event-time assigners and ProcessingTimeTrigger for processing-time
// ones.
func DefaultTrigger(a Assigner) Trigger {
	if d, ok := a.(interface{ DefaultTrigger() Trigger }); ok {
		return d.DefaultTrigger()
	}
	if _, ok := a.(global); ok {
		return NeverTrigger()
	}
	if a.EventTime() {
		return EventTimeTrigger()
	}
	return ProcessingTimeTrigger()
}

// EventTimeTrigger fires a window once the watermark reaches its MaxTimestamp, and again for
// every record added later (within the allowed lateness): Flink's EventTimeTrigger. It is the
// default trigger of event-time assigners.
func EventTimeTrigger() MergingTrigger { return eventTimeTrigger{} }

type eventTimeTrigger struct{}

func (eventTimeTrigger) OnElement(_ int64, w Window, ctx TriggerContext) TriggerResult {
	if w.MaxTimestamp() <= ctx.CurrentWatermark() {
		return Fire // late record: fire at once with the updated contents
	}
	ctx.RegisterEventTimeTimer(w.MaxTimestamp())
	return Continue
}

func (eventTimeTrigger) OnEventTime(at int64, w Window, _ TriggerContext) TriggerResult {
	if at == w.MaxTimestamp() {
		return Fire
	}
	return Continue
}

func (eventTimeTrigger) OnProcessingTime(int64, Window, TriggerContext) TriggerResult {
	return Continue
}

func (eventTimeTrigger) Clear(w Window, ctx TriggerContext) {
	ctx.DeleteEventTimeTimer(w.MaxTimestamp())
}

func (eventTimeTrigger) OnMerge(w Window, _ []int64, ctx TriggerContext) {
	if w.MaxTimestamp() > ctx.CurrentWatermark() {
		ctx.RegisterEventTimeTimer(w.MaxTimestamp())
	}
}

func (eventTimeTrigger) String() string { return "EventTimeTrigger" }

// ProcessingTimeTrigger fires a window when processing time reaches its MaxTimestamp: Flink's
// ProcessingTimeTrigger. It is the default trigger of processing-time assigners.
func ProcessingTimeTrigger() MergingTrigger { return processingTimeTrigger{} }

type processingTimeTrigger struct{}

func (processingTimeTrigger) OnElement(_ int64, w Window, ctx TriggerContext) TriggerResult {
	ctx.RegisterProcessingTimeTimer(w.MaxTimestamp())
	return Continue
}

func (processingTimeTrigger) OnEventTime(int64, Window, TriggerContext) TriggerResult {
	return Continue
}

func (processingTimeTrigger) OnProcessingTime(int64, Window, TriggerContext) TriggerResult {
	return Fire
}

func (processingTimeTrigger) Clear(w Window, ctx TriggerContext) {
	ctx.DeleteProcessingTimeTimer(w.MaxTimestamp())
}

func (processingTimeTrigger) OnMerge(w Window, _ []int64, ctx TriggerContext) {
	if w.MaxTimestamp() > ctx.CurrentProcessingTime() {
		ctx.RegisterProcessingTimeTimer(w.MaxTimestamp())
	}
}

func (processingTimeTrigger) String() string { return "ProcessingTimeTrigger" }

// CountTrigger fires a window every n records added to it (Flink's CountTrigger); it keeps the
// count in the trigger state, and merged windows add their counts. It does not purge: wrap it
// in PurgingTrigger to evaluate each group of n records on its own. It panics if n < 1.
func CountTrigger(n int64) MergingTrigger {
	if n < 1 {
		panic(fmt.Sprintf("window: CountTrigger(%d): the count must be at least 1", n))
	}
	return countTrigger{n: n}
}

type countTrigger struct{ n int64 }

func (t countTrigger) OnElement(_ int64, _ Window, ctx TriggerContext) TriggerResult {
	c := ctx.State()
	*c++
	if *c >= t.n {
		*c = 0
		return Fire
	}
	return Continue
}

func (countTrigger) OnEventTime(int64, Window, TriggerContext) TriggerResult      { return Continue }
func (countTrigger) OnProcessingTime(int64, Window, TriggerContext) TriggerResult { return Continue }
func (countTrigger) Clear(_ Window, ctx TriggerContext)                           { *ctx.State() = 0 }

func (countTrigger) OnMerge(_ Window, states []int64, ctx TriggerContext) {
	var sum int64
	for _, s := range states {
		sum += s
	}
	*ctx.State() = sum
}

func (t countTrigger) String() string { return fmt.Sprintf("CountTrigger(%d)", t.n) }

// PurgingTrigger turns every Fire of t into FireAndPurge (Flink's PurgingTrigger), so each
// firing evaluates only the records added since the previous one. The result is a
// MergingTrigger when t is one.
func PurgingTrigger(t Trigger) Trigger {
	if mt, ok := t.(MergingTrigger); ok {
		return purgingMerging{purging{mt}, mt}
	}
	return purging{t}
}

type purging struct{ t Trigger }

func purge(r TriggerResult) TriggerResult {
	if r.IsFire() {
		return FireAndPurge
	}
	return r
}

func (p purging) OnElement(ts int64, w Window, ctx TriggerContext) TriggerResult {
	return purge(p.t.OnElement(ts, w, ctx))
}

func (p purging) OnEventTime(at int64, w Window, ctx TriggerContext) TriggerResult {
	return purge(p.t.OnEventTime(at, w, ctx))
}

func (p purging) OnProcessingTime(at int64, w Window, ctx TriggerContext) TriggerResult {
	return purge(p.t.OnProcessingTime(at, w, ctx))
}

func (p purging) Clear(w Window, ctx TriggerContext) { p.t.Clear(w, ctx) }
func (p purging) String() string                     { return "PurgingTrigger(" + p.t.String() + ")" }

type purgingMerging struct {
	purging
	mt MergingTrigger
}

func (p purgingMerging) OnMerge(w Window, states []int64, ctx TriggerContext) {
	p.mt.OnMerge(w, states, ctx)
}

// NeverTrigger never fires; it is the default trigger of GlobalWindows, whose window then fires
// only at end of input (see the stream package's window operators).
func NeverTrigger() MergingTrigger { return neverTrigger{} }

type neverTrigger struct{}

func (neverTrigger) OnElement(int64, Window, TriggerContext) TriggerResult        { return Continue }
func (neverTrigger) OnEventTime(int64, Window, TriggerContext) TriggerResult      { return Continue }
func (neverTrigger) OnProcessingTime(int64, Window, TriggerContext) TriggerResult { return Continue }
func (neverTrigger) Clear(Window, TriggerContext)                                 {}
func (neverTrigger) OnMerge(Window, []int64, TriggerContext)                      {}
func (neverTrigger) String() string                                               { return "NeverTrigger" }

// CleanupTime returns when a window operator drops window w and everything it keeps for it: for
// an event-time assigner, MaxTimestamp plus the allowed lateness (eventtime.MaxTime if that
// overflows); for a processing-time one, MaxTimestamp. A window whose cleanup time is
// eventtime.MaxTime is dropped at end of input.
func CleanupTime(w Window, eventTime bool, allowedLateness int64) int64 {
	maxTS := w.MaxTimestamp()
	if !eventTime {
		return maxTS
	}
	if t := maxTS + allowedLateness; t >= maxTS {
		return t
	}
	return eventtime.MaxTime
}
