package operator

import (
	"cmp"
	"fmt"
	"slices"
	"sync/atomic"

	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/window"
)

// This file holds the event-time joins of two keyed streams: WindowJoin (Flink's
// JoinedStreams.where().equalTo().window().apply()) and IntervalJoin (Flink's
// IntervalJoinOperator). Both are keyed two-input operators: records of the two sides
// with the same key meet in one subtask, whose watermark is the minimum over both inputs.
//
// State is keyed state (per key group): a map per key from window to the pane's records
// (WindowJoin), or from timestamp to the records with that timestamp, one map per side
// (IntervalJoin). Event-time timers per key fire windows and clean up buffers.

// lateCounter counts the late records one subtask drops.
type lateCounter struct {
	n      int64
	total  *atomic.Int64
	metric *atomic.Int64 // metrics.LateRecordsDropped of the subtask
}

func (l *lateCounter) drop() {
	l.n++
	l.metric.Add(1)
	if l.total != nil {
		l.total.Add(1)
	}
}

func (l *lateCounter) log(c *rt.Context) {
	if l.n > 0 {
		c.Logger.Warn("join dropped late records", "numLateRecordsDropped", l.n)
	}
}

// joinPane is the records of one key and window, per side, in arrival order.
type joinPane[A, B any] struct {
	as []A
	bs []B
}

// WindowJoin joins its two inputs per key and per window: when the watermark passes a window's
// MaxTimestamp, join is called for every pair of a first-input record and a second-input record
// of one key that fell into that window (an inner join); results carry the timestamp
// Window.MaxTimestamp. A record whose every window has fired is late: it is dropped and
// counted.
type WindowJoin[A, B any, K comparable, OUT any] struct {
	Forward[OUT]
	Keyed[K]
	assigner window.Assigner
	join     func(A, B) OUT
	key1     func(A) K
	key2     func(B) K
	panes    state.Map[window.Window, joinPane[A, B]]
	late     lateCounter
	wins     []window.Window // scratch
}

// Input returns the output of input i for the runtime.
func (o *WindowJoin[A, B, K, OUT]) Input(i int) any {
	if i == 0 {
		return Input[A](o.collect1)
	}
	return Input[B](o.collect2)
}

// NewWindowJoin returns a window join subtask: assigner must be an event-time, non-merging
// assigner; dropped, if not nil, counts the late records every subtask drops.
func NewWindowJoin[A, B any, K comparable, OUT any](c *rt.Context, out rt.Output[OUT], assigner window.Assigner,
	key1 func(A) K, key2 func(B) K, join func(A, B) OUT, dropped *atomic.Int64) (*WindowJoin[A, B, K, OUT], error) {
	o := &WindowJoin[A, B, K, OUT]{Forward: Forward[OUT]{out}, assigner: assigner, join: join, key1: key1, key2: key2}
	if err := o.Init(c); err != nil {
		return nil, err
	}
	o.late.total, o.late.metric = dropped, c.Counter(metrics.LateRecordsDropped)
	o.panes = state.NewMap[K, window.Window, joinPane[A, B]](o.Backend, &o.Keys, state.Descriptor{Name: "window-join"})
	return o, nil
}

// Open restores the keyed state and timers.
func (o *WindowJoin[A, B, K, OUT]) Open() error { return o.RestoreKeyed() }

// Close logs the late records dropped.
func (o *WindowJoin[A, B, K, OUT]) Close() error {
	o.late.log(o.C)
	return nil
}

func (o *WindowJoin[A, B, K, OUT]) collect1(v A, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.C.Recovered(r, v)
		}
	}()
	o.SetKey(o.key1(v))
	if !o.add(ts, func(p *joinPane[A, B]) { p.as = append(p.as, v) }) {
		o.late.drop()
	}
}

func (o *WindowJoin[A, B, K, OUT]) collect2(v B, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.C.Recovered(r, v)
		}
	}()
	o.SetKey(o.key2(v))
	if !o.add(ts, func(p *joinPane[A, B]) { p.bs = append(p.bs, v) }) {
		o.late.drop()
	}
}

// add puts a record with timestamp ts into the current key's panes of its windows that are not
// late yet, and reports whether there was one.
func (o *WindowJoin[A, B, K, OUT]) add(ts int64, put func(p *joinPane[A, B])) bool {
	o.wins = o.assigner.Assign(o.wins[:0], ts)
	added := false
	for _, w := range o.wins {
		at := w.MaxTimestamp()
		if at <= o.WM {
			continue // the window has fired already
		}
		p, ok := o.panes.Get(w)
		put(&p)
		o.panes.Put(w, p)
		if !ok {
			o.RegisterEventTimeTimer(at)
		}
		added = true
	}
	return added
}

// Watermark fires the windows wm passes, then passes it on.
func (o *WindowJoin[A, B, K, OUT]) Watermark(wm int64) {
	o.FireEventTimers(wm, o.fire)
	o.C.SetWatermarks(wm, wm)
	o.Out.Watermark(wm)
}

// fire joins the panes of the timer's key whose windows end at the timer's time, in window
// order, and drops them.
func (o *WindowJoin[A, B, K, OUT]) fire(tm Timer[K], _ TimeDomain) {
	o.SetTimerKey(tm)
	o.wins = o.wins[:0]
	for w := range o.panes.All() {
		if w.MaxTimestamp() <= tm.at {
			o.wins = append(o.wins, w)
		}
	}
	slices.SortFunc(o.wins, func(x, y window.Window) int {
		return cmp.Or(cmp.Compare(x.Start, y.Start), cmp.Compare(x.End, y.End))
	})
	for _, w := range o.wins {
		p, _ := o.panes.Get(w)
		o.panes.Remove(w)
		o.emitPane(tm.key, w, p)
	}
}

func (o *WindowJoin[A, B, K, OUT]) emitPane(key K, w window.Window, p joinPane[A, B]) {
	defer func() {
		if r := recover(); r != nil {
			o.C.Recovered(r, fmt.Sprintf("window %v of key %v", w, key))
		}
	}()
	at := w.MaxTimestamp()
	for _, a := range p.as {
		for _, b := range p.bs {
			o.Out.Collect(o.join(a, b), at)
		}
	}
}

// IntervalJoin joins its two inputs per key on event time: join is called for every pair of a
// first-input record a and a second-input record b of one key with b.ts in
// [a.ts+lower, a.ts+upper], as soon as the second of the two arrives; the result carries
// max(a.ts, b.ts). A record at or behind the watermark is late: it is dropped and counted.
type IntervalJoin[A, B any, K comparable, OUT any] struct {
	Forward[OUT]
	Keyed[K]
	join         func(A, B) OUT
	key1         func(A) K
	key2         func(B) K
	lower, upper int64
	left         state.Map[int64, []A] // per key: timestamp -> records
	right        state.Map[int64, []B]
	late         lateCounter
}

// Input returns the output of input i for the runtime.
func (o *IntervalJoin[A, B, K, OUT]) Input(i int) any {
	if i == 0 {
		return Input[A](o.collect1)
	}
	return Input[B](o.collect2)
}

// NewIntervalJoin returns an interval join subtask over [lower, upper] (milliseconds, lower <=
// upper); dropped, if not nil, counts the late records every subtask drops.
func NewIntervalJoin[A, B any, K comparable, OUT any](c *rt.Context, out rt.Output[OUT], lower, upper int64,
	key1 func(A) K, key2 func(B) K, join func(A, B) OUT, dropped *atomic.Int64) (*IntervalJoin[A, B, K, OUT], error) {
	o := &IntervalJoin[A, B, K, OUT]{Forward: Forward[OUT]{out}, join: join, key1: key1, key2: key2, lower: lower, upper: upper}
	if err := o.Init(c); err != nil {
		return nil, err
	}
	o.late.total, o.late.metric = dropped, c.Counter(metrics.LateRecordsDropped)
	o.left = state.NewMap[K, int64, []A](o.Backend, &o.Keys, state.Descriptor{Name: "interval-join-left"})
	o.right = state.NewMap[K, int64, []B](o.Backend, &o.Keys, state.Descriptor{Name: "interval-join-right"})
	return o, nil
}

// Open restores the keyed state and timers.
func (o *IntervalJoin[A, B, K, OUT]) Open() error { return o.RestoreKeyed() }

// Close logs the late records dropped.
func (o *IntervalJoin[A, B, K, OUT]) Close() error {
	o.late.log(o.C)
	return nil
}

func (o *IntervalJoin[A, B, K, OUT]) collect1(v A, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.C.Recovered(r, v)
		}
	}()
	o.SetKey(o.key1(v))
	if ts <= o.WM {
		o.late.drop()
		return
	}
	lo, hi := ts+o.lower, ts+o.upper
	for tb, bs := range o.right.All() {
		if tb < lo || tb > hi {
			continue
		}
		at := max(ts, tb)
		for _, b := range bs {
			o.Out.Collect(o.join(v, b), at)
		}
	}
	// Kept until the watermark reaches ts+upper: any b-record after that is too late to match.
	if hi > o.WM {
		vs, _ := o.left.Get(ts)
		o.left.Put(ts, append(vs, v))
		o.RegisterEventTimeTimer(hi)
	}
}

func (o *IntervalJoin[A, B, K, OUT]) collect2(v B, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.C.Recovered(r, v)
		}
	}()
	o.SetKey(o.key2(v))
	if ts <= o.WM {
		o.late.drop()
		return
	}
	lo, hi := ts-o.upper, ts-o.lower // the a-timestamps that match
	for ta, as := range o.left.All() {
		if ta < lo || ta > hi {
			continue
		}
		at := max(ts, ta)
		for _, a := range as {
			o.Out.Collect(o.join(a, v), at)
		}
	}
	if hi > o.WM {
		vs, _ := o.right.Get(ts)
		o.right.Put(ts, append(vs, v))
		o.RegisterEventTimeTimer(hi)
	}
}

// Watermark drops the records wm makes unmatchable, then passes it on.
func (o *IntervalJoin[A, B, K, OUT]) Watermark(wm int64) {
	o.FireEventTimers(wm, o.cleanup)
	o.C.SetWatermarks(wm, wm)
	o.Out.Watermark(wm)
}

// cleanup drops the timer key's records that can no longer match: the a-records with
// timestamp at-upper and the b-records with timestamp at+lower, whose cleanup time is at.
func (o *IntervalJoin[A, B, K, OUT]) cleanup(tm Timer[K], _ TimeDomain) {
	o.SetTimerKey(tm)
	o.left.Remove(tm.at - o.upper)
	o.right.Remove(tm.at + o.lower)
}
