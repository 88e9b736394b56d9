package stream

import (
	"fmt"
	"sync/atomic"
	"time"

	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/operator"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/window"
)

// Windowed is a keyed stream cut into windows, waiting for the function that evaluates them
// (WindowReduce, WindowAggregate, WindowProcess, WindowAggregateProcess). Make one with Window
// or WindowAll; the methods configure it and return the changed copy. A Windowed is a build-time
// value, like Stream.
//
// The window operator has Flink's WindowOperator semantics:
//
//   - The assigner puts each record into windows by its timestamp (event time) or by the
//     operator's clock (processing time). Each key and window (a pane) keeps the running
//     reduction, the accumulator or the records, per key group.
//   - The trigger (window.DefaultTrigger unless set) fires panes. An event-time window fires
//     when the watermark reaches its MaxTimestamp, before the watermark is passed downstream; a
//     processing-time window when the clock reaches it. Results carry the timestamp
//     Window.MaxTimestamp.
//   - With allowed lateness L, a pane is kept until the watermark reaches MaxTimestamp+L; a
//     record for a window that already fired re-fires it with the updated result (a late
//     firing). A record whose every window is past MaxTimestamp+L is late: it goes to the late
//     side output if one is set, else it is dropped and counted (see CountLateDropped), and
//     the count is logged when the operator closes.
//   - Merging assigners (sessions) merge a key's intersecting windows: their contents merge
//     (AggregateFunction.Merge, or the reduce function, or the record lists) and their timers
//     move to the merged window.
//   - At end of input (the watermark eventtime.MaxTime) every event-time pane still holding
//     records that no firing has evaluated fires once more before it is dropped: windows that
//     a count trigger has not filled, and the global window. Processing-time panes that the
//     clock has not fired by then are dropped, and their number is logged.
//   - Panes whose timers come due at the same time fire in the order the timers were
//     registered. (The end-of-input firings of panes without a cleanup time, such as the
//     global window's, come in no particular order.)
//
// The window functions panic when the configuration cannot work (a merging assigner with an
// AggregateFunction lacking Merge, or with a trigger that cannot merge): mistakes in building
// the job, found before it runs.
type Windowed[T any, K comparable] struct {
	k        Keyed[T, K]
	assigner window.Assigner
	trigger  window.Trigger
	lateness int64 // ms
	lateTag  string
	dropped  *atomic.Int64
	all      bool // WindowAll: one subtask
}

// Window cuts the keyed stream k into the windows assigner a makes, per key.
func Window[T any, K comparable](k Keyed[T, K], a window.Assigner) Windowed[T, K] {
	if a == nil {
		panic("stream: Window with a nil assigner")
	}
	return Windowed[T, K]{k: k, assigner: a}
}

// WindowAll cuts the whole stream s into windows, as one key: the window operator runs as a
// single subtask (parallelism 1), like Flink's windowAll.
func WindowAll[T any](s Stream[T], a window.Assigner) Windowed[T, struct{}] {
	w := Window(KeyBy(s, func(T) struct{} { return struct{}{} }), a)
	w.all = true
	return w
}

// Trigger replaces the assigner's default trigger (window.DefaultTrigger). With a merging
// assigner the trigger must implement window.MergingTrigger.
func (w Windowed[T, K]) Trigger(t window.Trigger) Windowed[T, K] {
	if t == nil {
		panic("stream: Windowed.Trigger(nil)")
	}
	w.trigger = t
	return w
}

// AllowedLateness keeps event-time panes for d after their window's end, so that records up to
// d late still update them (each one re-fires the window); default 0. It has no effect on
// processing-time windows. d must be a non-negative whole number of milliseconds.
func (w Windowed[T, K]) AllowedLateness(d time.Duration) Windowed[T, K] {
	if d < 0 || d%time.Millisecond != 0 {
		panic(fmt.Sprintf("stream: allowed lateness %v must be a non-negative whole number of milliseconds", d))
	}
	w.lateness = d.Milliseconds()
	return w
}

// SideOutputLateData sends late records (those whose every window is past its allowed lateness)
// to the side output tag instead of dropping them. Read them with SideOutput on the stream the
// window function returns.
func (w Windowed[T, K]) SideOutputLateData(tag OutputTag[T]) Windowed[T, K] {
	w.lateTag = tag.Name()
	return w
}

// CountLateDropped makes every subtask of the operator add the number of late records it drops
// to n (records sent to the late side output are not dropped). The operator also logs its
// count when it closes. n is updated atomically and may be read while the job runs.
func (w Windowed[T, K]) CountLateDropped(n *atomic.Int64) Windowed[T, K] {
	w.dropped = n
	return w
}

// WindowContext is what a ProcessWindowFunction sees of the pane it evaluates: the key, the
// window, the watermark and processing time. Its Timestamp is the window's MaxTimestamp, the
// timestamp of what the function emits; side outputs take &ctx.Context. It is valid only during
// the call it is passed to.
type WindowContext[K comparable] struct {
	Context
	key K
	w   window.Window
}

// Key returns the key of the pane being evaluated (struct{}{} after WindowAll).
func (x *WindowContext[K]) Key() K { return x.key }

// Window returns the window being evaluated.
func (x *WindowContext[K]) Window() window.Window { return x.w }

// ProcessWindowFunction evaluates a whole pane when its window fires: Flink's
// ProcessWindowFunction. elems holds the pane's records in arrival order (after
// WindowAggregateProcess, the single aggregate result); the slice belongs to the operator and is
// valid only during the call. It may implement Opener and Closer; a pointer to a struct is
// copied per parallel instance. An error fails the job.
type ProcessWindowFunction[K comparable, IN, OUT any] interface {
	Process(ctx *WindowContext[K], elems []IN, out Collector[OUT]) error
}

// ProcessWindowFunc adapts a function to a ProcessWindowFunction.
type ProcessWindowFunc[K comparable, IN, OUT any] func(ctx *WindowContext[K], elems []IN, out Collector[OUT]) error

// Process calls f.
func (f ProcessWindowFunc[K, IN, OUT]) Process(ctx *WindowContext[K], elems []IN, out Collector[OUT]) error {
	return f(ctx, elems, out)
}

// WindowReduce folds each pane's records with reduce as they arrive and emits the reduction
// when the window fires. reduce gets the reduction so far and the next record (or, when
// session windows merge, two reductions).
func WindowReduce[T any, K comparable](w Windowed[T, K], reduce func(a, b T) T) Stream[T] {
	if reduce == nil {
		panic("stream: WindowReduce with a nil function")
	}
	return windowOperator(w, "WindowReduce", func(c *rt.Context, out rt.Output[T], _ *int64) (operator.Panes[T, K, T], operator.Funcs) {
		p := operator.ReducePanes[T, K](reduce)
		p.Emit = func(_ K, win window.Window, acc T) error {
			out.Collect(acc, win.MaxTimestamp())
			return nil
		}
		return p, operator.Funcs{}
	})
}

// WindowAggregate folds each pane's records into an accumulator as they arrive and emits
// f.Result when the window fires. Merging (session) windows need f.Merge.
func WindowAggregate[T any, K comparable, ACC, OUT any](w Windowed[T, K], f state.AggregateFunction[T, ACC, OUT]) Stream[OUT] {
	checkAggregate(w.assigner, f, "WindowAggregate")
	return windowOperator(w, "WindowAggregate", func(c *rt.Context, out rt.Output[OUT], _ *int64) (operator.Panes[T, K, ACC], operator.Funcs) {
		p := operator.AggregatePanes[T, K](f)
		p.Emit = func(_ K, win window.Window, acc ACC) error {
			out.Collect(f.Result(acc), win.MaxTimestamp())
			return nil
		}
		return p, operator.Funcs{}
	})
}

// WindowProcess keeps each pane's records and hands them to fn when the window fires.
func WindowProcess[T any, K comparable, OUT any](w Windowed[T, K], fn ProcessWindowFunction[K, T, OUT]) Stream[OUT] {
	if fn == nil {
		panic("stream: WindowProcess with a nil function")
	}
	checkFunc("WindowProcess", fn, plainOpeners...)
	return windowOperator(w, "WindowProcess", func(c *rt.Context, out rt.Output[OUT], wm *int64) (operator.Panes[T, K, []T], operator.Funcs) {
		fn := instance(fn)
		p := operator.ListPanes[T, K]()
		p.Emit = processEmit[K, []T](c, out, wm, func(ctx *WindowContext[K], acc []T, col *collector[OUT]) error {
			return fn.Process(ctx, acc, col)
		})
		return p, funcsOf(fn, c)
	})
}

// processEmit returns the Emit of a window operator whose pane contents go to a
// ProcessWindowFunction through process, with the WindowContext and collector set for the pane.
func processEmit[K comparable, ACC, OUT any](c *rt.Context, out rt.Output[OUT], wm *int64, process func(ctx *WindowContext[K], acc ACC, col *collector[OUT]) error) func(K, window.Window, ACC) error {
	ctx := &WindowContext[K]{Context: Context{c: c, wm: wm}}
	col := &collector[OUT]{out: out}
	return func(k K, win window.Window, acc ACC) error {
		ctx.key, ctx.w, ctx.ts = k, win, win.MaxTimestamp()
		col.ts = win.MaxTimestamp()
		return process(ctx, acc, col)
	}
}

// WindowAggregateProcess folds each pane's records into an accumulator as they arrive, like
// WindowAggregate, and when the window fires hands the single result to fn with the key and
// window (Flink's aggregate(AggregateFunction, ProcessWindowFunction)). Merging (session)
// windows need f.Merge.
func WindowAggregateProcess[T any, K comparable, ACC, R, OUT any](w Windowed[T, K], f state.AggregateFunction[T, ACC, R], fn ProcessWindowFunction[K, R, OUT]) Stream[OUT] {
	checkAggregate(w.assigner, f, "WindowAggregateProcess")
	if fn == nil {
		panic("stream: WindowAggregateProcess with a nil ProcessWindowFunction")
	}
	checkFunc("WindowAggregateProcess", fn, plainOpeners...)
	return windowOperator(w, "WindowAggregateProcess", func(c *rt.Context, out rt.Output[OUT], wm *int64) (operator.Panes[T, K, ACC], operator.Funcs) {
		fn := instance(fn)
		p := operator.AggregatePanes[T, K](f)
		result := make([]R, 1)
		p.Emit = processEmit[K, ACC](c, out, wm, func(ctx *WindowContext[K], acc ACC, col *collector[OUT]) error {
			result[0] = f.Result(acc)
			return fn.Process(ctx, result, col)
		})
		return p, funcsOf(fn, c)
	})
}

func checkAggregate[T, ACC, OUT any](a window.Assigner, f state.AggregateFunction[T, ACC, OUT], op string) {
	if f.Create == nil || f.Add == nil || f.Result == nil {
		panic(fmt.Sprintf("stream: %s: the AggregateFunction needs Create, Add and Result", op))
	}
	if a != nil && a.Merging() && f.Merge == nil {
		panic(fmt.Sprintf("stream: %s over merging windows %v needs AggregateFunction.Merge to merge the accumulators of merged windows", op, a))
	}
}

// windowOperator adds the window operator node. panes makes the pane functions of each
// subtask's operator and the Open and Close of its window function; wm is the operator's
// watermark.
func windowOperator[T any, K comparable, ACC, OUT any](w Windowed[T, K], kind string, panes func(c *rt.Context, out rt.Output[OUT], wm *int64) (operator.Panes[T, K, ACC], operator.Funcs)) Stream[OUT] {
	cfg := w.config(kind)
	name := kind
	if w.all {
		name = "WindowAll" + kind[len("Window"):]
	}
	name += "(" + w.assigner.String() + ")"
	n := keyedOperator[T, K, OUT](w.k, name, func(c *rt.Context, out any) (rt.Instance, error) {
		o := operator.OutputOf[OUT](out)
		op, err := operator.NewWindow[T, K, ACC, OUT](c, o, w.k.key, cfg, operator.Panes[T, K, ACC]{})
		if err != nil {
			return nil, err
		}
		op.Panes, op.Funcs = panes(c, o, &op.WM)
		return op, nil
	})
	if w.all {
		n.Parallelism = 1
	}
	return single[OUT](w.k.s.env, n)
}

// config is what every subtask of the window operator kind over w shares. It panics when the
// configuration cannot work.
func (w Windowed[T, K]) config(kind string) operator.WindowConfig {
	if w.assigner == nil {
		panic("stream: " + kind + " on a zero Windowed: make it with Window or WindowAll")
	}
	cfg, err := operator.NewWindowConfig(w.assigner, w.trigger, w.lateness, w.lateTag, w.dropped)
	if err != nil {
		panic(fmt.Sprintf("stream: %s: %v", kind, err))
	}
	return cfg
}
