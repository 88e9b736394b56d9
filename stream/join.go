package stream

import (
	"cmp"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/window"
)

// This file holds the event-time joins of two keyed streams: WindowJoin (Flink's
// JoinedStreams.where().equalTo().window().apply()) and IntervalJoin (Flink's
// KeyedStream.intervalJoin()). Both are keyed two-input operators: records of the two sides
// with the same key meet in one subtask, whose watermark is the minimum over both inputs.
//
// State is keyed state (per key group): a map per key from window to the pane's records
// (WindowJoin), or from timestamp to the records with that timestamp, one map per side
// (IntervalJoin). Event-time timers per key fire windows and clean up buffers.

// JoinOption configures WindowJoin and IntervalJoin.
type JoinOption func(*joinOptions)

type joinOptions struct {
	dropped *atomic.Int64
}

// JoinCountLateDropped makes every subtask of the join add the number of late records it drops
// to n. The operator also logs its count when it closes. n is updated atomically and may be
// read while the job runs.
func JoinCountLateDropped(n *atomic.Int64) JoinOption {
	return func(o *joinOptions) { o.dropped = n }
}

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

// WindowJoin joins a and b per key and per window: when the watermark passes a window's
// MaxTimestamp, join is called for every pair of an a-record and a b-record of one key that
// fell into that window (an inner join), and the results carry the timestamp
// Window.MaxTimestamp. The assigner must be an event-time, non-merging one (tumbling, sliding,
// global); others panic. A record whose every window the watermark has already passed is late:
// it is dropped and counted (JoinCountLateDropped). A panic in join fails the job, naming the
// window and key.
func WindowJoin[A, B any, K comparable, OUT any](a Keyed[A, K], b Keyed[B, K], assigner window.Assigner, join func(a A, b B) OUT, opts ...JoinOption) Stream[OUT] {
	switch {
	case assigner == nil:
		panic("stream: WindowJoin with a nil assigner")
	case !assigner.EventTime():
		panic(fmt.Sprintf("stream: WindowJoin needs event-time windows, not %v", assigner))
	case assigner.Merging():
		panic(fmt.Sprintf("stream: WindowJoin cannot join over merging windows %v", assigner))
	case join == nil:
		panic("stream: WindowJoin with a nil join function")
	}
	var cfg joinOptions
	for _, opt := range opts {
		opt(&cfg)
	}
	name := "WindowJoin(" + assigner.String() + ")"
	n := twoInputOperator[A, B, OUT](a.s, b.s, name, func(c *rt.Context, out any) (rt.Instance, error) {
		o := &windowJoinOp[A, B, K, OUT]{forward: forward[OUT]{outputOf[OUT](out)}, assigner: assigner,
			join: join, key1: a.key, key2: b.key}
		if err := o.init(c); err != nil {
			return nil, err
		}
		o.late.total, o.late.metric = cfg.dropped, c.Counter(metrics.LateRecordsDropped)
		o.panes = state.NewMap[K, window.Window, joinPane[A, B]](o.backend, &o.keys, state.Descriptor{Name: "window-join"})
		return o, nil
	})
	n.Keyed = true
	return single[OUT](a.s.env, n)
}

// joinPane is the records of one key and window, per side, in arrival order.
type joinPane[A, B any] struct {
	as []A
	bs []B
}

type windowJoinOp[A, B any, K comparable, OUT any] struct {
	forward[OUT]
	keyed[K]
	assigner window.Assigner
	join     func(A, B) OUT
	key1     func(A) K
	key2     func(B) K
	panes    state.Map[window.Window, joinPane[A, B]]
	late     lateCounter
	wins     []window.Window // scratch
}

func (o *windowJoinOp[A, B, K, OUT]) Input(i int) any {
	if i == 0 {
		return inputFunc[A](o.collect1)
	}
	return inputFunc[B](o.collect2)
}

func (o *windowJoinOp[A, B, K, OUT]) Open() error { return o.restoreKeyed() }

func (o *windowJoinOp[A, B, K, OUT]) Close() error {
	o.late.log(o.c)
	return nil
}

func (o *windowJoinOp[A, B, K, OUT]) collect1(v A, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	o.setKey(o.key1(v))
	if !o.add(ts, func(p *joinPane[A, B]) { p.as = append(p.as, v) }) {
		o.late.drop()
	}
}

func (o *windowJoinOp[A, B, K, OUT]) collect2(v B, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	o.setKey(o.key2(v))
	if !o.add(ts, func(p *joinPane[A, B]) { p.bs = append(p.bs, v) }) {
		o.late.drop()
	}
}

// add puts a record with timestamp ts into the current key's panes of its windows that are not
// late yet, and reports whether there was one.
func (o *windowJoinOp[A, B, K, OUT]) add(ts int64, put func(p *joinPane[A, B])) bool {
	o.wins = o.assigner.Assign(o.wins[:0], ts)
	added := false
	for _, w := range o.wins {
		at := w.MaxTimestamp()
		if at <= o.wm {
			continue // the window has fired already
		}
		p, ok := o.panes.Get(w)
		put(&p)
		o.panes.Put(w, p)
		if !ok {
			o.timers.event.add(o.keys.Key, o.keys.Group, at)
		}
		added = true
	}
	return added
}

func (o *windowJoinOp[A, B, K, OUT]) Watermark(wm int64) {
	fireEventTimers(&o.keyed, wm, o.fire)
	o.c.SetWatermarks(wm, wm)
	o.out.Watermark(wm)
}

// fire joins the panes of the timer's key whose windows end at the timer's time, in window
// order, and drops them.
func (o *windowJoinOp[A, B, K, OUT]) fire(tm timer[K], _ TimeDomain) {
	o.setTimerKey(tm.key, tm.group)
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

func (o *windowJoinOp[A, B, K, OUT]) emitPane(key K, w window.Window, p joinPane[A, B]) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, fmt.Sprintf("window %v of key %v", w, key))
		}
	}()
	at := w.MaxTimestamp()
	for _, a := range p.as {
		for _, b := range p.bs {
			o.out.Collect(o.join(a, b), at)
		}
	}
}

// IntervalJoin joins a and b per key on event time: join is called for every pair of an
// a-record and a b-record of one key with b.ts in [a.ts+lower, a.ts+upper] (both ends
// included), as soon as the second of the two arrives, and the result carries the timestamp
// max(a.ts, b.ts). Both sides are buffered per key and dropped once the watermark makes further
// matches impossible: an a-record when the watermark reaches a.ts+upper, a b-record when it
// reaches b.ts-lower. A record at or behind the watermark is late (a watermark says no record
// at or before it follows; Flink counts only records strictly behind it): it is dropped and
// counted (JoinCountLateDropped). lower must not exceed upper and both must be whole
// milliseconds, or IntervalJoin panics. A panic in join fails the job, naming the record.
func IntervalJoin[A, B any, K comparable, OUT any](a Keyed[A, K], b Keyed[B, K], lower, upper time.Duration, join func(a A, b B) OUT, opts ...JoinOption) Stream[OUT] {
	switch {
	case lower > upper:
		panic(fmt.Sprintf("stream: IntervalJoin: lower bound %v exceeds upper bound %v", lower, upper))
	case lower%time.Millisecond != 0 || upper%time.Millisecond != 0:
		panic(fmt.Sprintf("stream: IntervalJoin: bounds %v and %v must be whole milliseconds", lower, upper))
	case join == nil:
		panic("stream: IntervalJoin with a nil join function")
	}
	var cfg joinOptions
	for _, opt := range opts {
		opt(&cfg)
	}
	name := fmt.Sprintf("IntervalJoin[%v, %v]", lower, upper)
	n := twoInputOperator[A, B, OUT](a.s, b.s, name, func(c *rt.Context, out any) (rt.Instance, error) {
		o := &intervalJoinOp[A, B, K, OUT]{forward: forward[OUT]{outputOf[OUT](out)}, join: join,
			key1: a.key, key2: b.key, lower: lower.Milliseconds(), upper: upper.Milliseconds()}
		if err := o.init(c); err != nil {
			return nil, err
		}
		o.late.total, o.late.metric = cfg.dropped, c.Counter(metrics.LateRecordsDropped)
		o.left = state.NewMap[K, int64, []A](o.backend, &o.keys, state.Descriptor{Name: "interval-join-left"})
		o.right = state.NewMap[K, int64, []B](o.backend, &o.keys, state.Descriptor{Name: "interval-join-right"})
		return o, nil
	})
	n.Keyed = true
	return single[OUT](a.s.env, n)
}

type intervalJoinOp[A, B any, K comparable, OUT any] struct {
	forward[OUT]
	keyed[K]
	join         func(A, B) OUT
	key1         func(A) K
	key2         func(B) K
	lower, upper int64
	left         state.Map[int64, []A] // per key: timestamp -> records
	right        state.Map[int64, []B]
	late         lateCounter
}

func (o *intervalJoinOp[A, B, K, OUT]) Input(i int) any {
	if i == 0 {
		return inputFunc[A](o.collect1)
	}
	return inputFunc[B](o.collect2)
}

func (o *intervalJoinOp[A, B, K, OUT]) Open() error { return o.restoreKeyed() }

func (o *intervalJoinOp[A, B, K, OUT]) Close() error {
	o.late.log(o.c)
	return nil
}

func (o *intervalJoinOp[A, B, K, OUT]) collect1(v A, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	o.setKey(o.key1(v))
	if ts <= o.wm {
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
			o.out.Collect(o.join(v, b), at)
		}
	}
	// Kept until the watermark reaches ts+upper: any b-record after that is too late to match.
	if hi > o.wm {
		vs, _ := o.left.Get(ts)
		o.left.Put(ts, append(vs, v))
		o.timers.event.add(o.keys.Key, o.keys.Group, hi)
	}
}

func (o *intervalJoinOp[A, B, K, OUT]) collect2(v B, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	o.setKey(o.key2(v))
	if ts <= o.wm {
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
			o.out.Collect(o.join(a, v), at)
		}
	}
	if hi > o.wm {
		vs, _ := o.right.Get(ts)
		o.right.Put(ts, append(vs, v))
		o.timers.event.add(o.keys.Key, o.keys.Group, hi)
	}
}

func (o *intervalJoinOp[A, B, K, OUT]) Watermark(wm int64) {
	fireEventTimers(&o.keyed, wm, o.cleanup)
	o.c.SetWatermarks(wm, wm)
	o.out.Watermark(wm)
}

// cleanup drops the timer key's records that can no longer match: the a-records with
// timestamp at-upper and the b-records with timestamp at+lower, whose cleanup time is at.
func (o *intervalJoinOp[A, B, K, OUT]) cleanup(tm timer[K], _ TimeDomain) {
	o.setTimerKey(tm.key, tm.group)
	o.left.Remove(tm.at - o.upper)
	o.right.Remove(tm.at + o.lower)
}
