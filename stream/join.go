package stream

import (
	"fmt"
	"sync/atomic"
	"time"

	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/operator"
	"github.com/runnel-io/runnel/window"
)

// This file builds the event-time joins of two keyed streams: WindowJoin (Flink's
// JoinedStreams.where().equalTo().window().apply()) and IntervalJoin (Flink's
// KeyedStream.intervalJoin()). Both are keyed two-input operators (package operator, join.go):
// records of the two sides with the same key meet in one subtask, whose watermark is the
// minimum over both inputs.

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
		return operator.NewWindowJoin[A, B, K, OUT](c, operator.OutputOf[OUT](out), assigner, a.key, b.key, join, cfg.dropped)
	})
	n.Keyed = true
	return single[OUT](a.s.env, n)
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
		return operator.NewIntervalJoin[A, B, K, OUT](c, operator.OutputOf[OUT](out), lower.Milliseconds(), upper.Milliseconds(), a.key, b.key, join, cfg.dropped)
	})
	n.Keyed = true
	return single[OUT](a.s.env, n)
}
