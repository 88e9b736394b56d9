// Package window assigns records to windows: tumbling, sliding and session windows in event
// time or processing time, and the global window. The window operator itself lives in the
// stream package; this package is the vocabulary it and its users share.
package window

import (
	"fmt"
	"time"

	"github.com/runnel-io/runnel/eventtime"
)

// Window is the half-open time interval [Start, End) in epoch milliseconds. The global window
// spans all time.
type Window struct {
	Start, End int64
}

// Global is the one window of GlobalWindows.
var Global = Window{Start: eventtime.MinTime, End: eventtime.MaxTime}

// MaxTimestamp is the largest timestamp in the window: End-1. An event-time window fires when
// the watermark reaches it.
func (w Window) MaxTimestamp() int64 {
	if w.End == eventtime.MaxTime {
		return eventtime.MaxTime
	}
	return w.End - 1
}

// Intersects reports whether w and o overlap or touch (sessions merge then).
func (w Window) Intersects(o Window) bool { return w.Start <= o.End && o.Start <= w.End }

// Cover returns the smallest window containing w and o.
func (w Window) Cover(o Window) Window {
	return Window{Start: min(w.Start, o.Start), End: max(w.End, o.End)}
}

// String renders the window as [start, end) in UTC.
func (w Window) String() string {
	if w == Global {
		return "GlobalWindow"
	}
	return fmt.Sprintf("[%s, %s)", eventtime.Format(w.Start), eventtime.Format(w.End))
}

// Assigner puts a record into windows by its timestamp (event time or processing time).
type Assigner interface {
	// Assign appends the windows a record with timestamp ts belongs to onto dst and returns
	// the result; it allocates nothing when dst has room.
	Assign(dst []Window, ts int64) []Window
	// EventTime reports whether ts is event time (else processing time).
	EventTime() bool
	// Merging reports whether windows merge when they intersect (session windows).
	Merging() bool
	fmt.Stringer
}

// TumblingEventTime returns fixed, non-overlapping windows of size in event time, aligned to
// the epoch plus offset (use an offset for time zones, as in Flink).
func TumblingEventTime(size time.Duration, offset ...time.Duration) Assigner {
	return sliding{size: ms(size), slide: ms(size), offset: offsetOf(offset), event: true}
}

// TumblingProcessingTime is TumblingEventTime over processing time.
func TumblingProcessingTime(size time.Duration, offset ...time.Duration) Assigner {
	return sliding{size: ms(size), slide: ms(size), offset: offsetOf(offset)}
}

// SlidingEventTime returns windows of size starting every slide in event time; a record is in
// size/slide windows.
func SlidingEventTime(size, slide time.Duration, offset ...time.Duration) Assigner {
	return sliding{size: ms(size), slide: ms(slide), offset: offsetOf(offset), event: true}
}

// SlidingProcessingTime is SlidingEventTime over processing time.
func SlidingProcessingTime(size, slide time.Duration, offset ...time.Duration) Assigner {
	return sliding{size: ms(size), slide: ms(slide), offset: offsetOf(offset)}
}

// EventTimeSession returns session windows: a record opens [ts, ts+gap) and intersecting
// windows of a key merge, so a session ends after gap without records.
func EventTimeSession(gap time.Duration) Assigner { return session{gap: ms(gap), event: true} }

// ProcessingTimeSession is EventTimeSession over processing time.
func ProcessingTimeSession(gap time.Duration) Assigner { return session{gap: ms(gap)} }

// GlobalWindows puts every record into the Global window; it needs a trigger (a count
// trigger) to ever fire before end of input.
func GlobalWindows() Assigner { return global{} }

func ms(d time.Duration) int64 {
	if d <= 0 || d%time.Millisecond != 0 {
		panic(fmt.Sprintf("window: duration %v must be a positive whole number of milliseconds", d))
	}
	return d.Milliseconds()
}

func offsetOf(o []time.Duration) int64 {
	if len(o) == 0 {
		return 0
	}
	return o[0].Milliseconds()
}

type sliding struct {
	size, slide, offset int64
	event               bool
}

// start returns the start of the last window beginning at or before ts: Flink's
// TimeWindow.getWindowStartWithOffset, correct for negative timestamps too.
func (s sliding) start(ts int64) int64 {
	r := (ts - s.offset) % s.slide
	if r < 0 {
		r += s.slide
	}
	return ts - r
}

func (s sliding) Assign(dst []Window, ts int64) []Window {
	for start := s.start(ts); start > ts-s.size; start -= s.slide {
		dst = append(dst, Window{Start: start, End: start + s.size})
	}
	return dst
}

func (s sliding) EventTime() bool { return s.event }
func (s sliding) Merging() bool   { return false }
func (s sliding) String() string {
	kind := "Processing"
	if s.event {
		kind = "Event"
	}
	if s.size == s.slide {
		return fmt.Sprintf("Tumbling%sTime(%v)", kind, time.Duration(s.size)*time.Millisecond)
	}
	return fmt.Sprintf("Sliding%sTime(%v, %v)", kind, time.Duration(s.size)*time.Millisecond, time.Duration(s.slide)*time.Millisecond)
}

type session struct {
	gap   int64
	event bool
}

func (s session) Assign(dst []Window, ts int64) []Window {
	return append(dst, Window{Start: ts, End: ts + s.gap})
}
func (s session) EventTime() bool { return s.event }
func (s session) Merging() bool   { return true }
func (s session) String() string {
	return fmt.Sprintf("Session(%v)", time.Duration(s.gap)*time.Millisecond)
}

type global struct{}

func (global) Assign(dst []Window, _ int64) []Window { return append(dst, Global) }
func (global) EventTime() bool                       { return true }
func (global) Merging() bool                         { return false }
func (global) String() string                        { return "GlobalWindows" }
