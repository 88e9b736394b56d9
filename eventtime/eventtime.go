// Package eventtime holds the vocabulary of time in Runnel: event timestamps, watermarks,
// watermark strategies and the injected clock.
//
// Timestamps are milliseconds since the Unix epoch, as in Flink. A watermark W says that no
// further record with a timestamp <= W is expected; windows ending at or before W may fire.
package eventtime

import (
	"math"
	"time"

	"github.com/jonboulle/clockwork"
)

// MinTime is the smallest timestamp; it is the watermark of an input that has not said anything yet.
const MinTime int64 = math.MinInt64

// MaxTime is the largest timestamp; a source emits it as its final watermark at end of input.
const MaxTime int64 = math.MaxInt64

// Clock tells processing time and makes timers. Engine code takes time only from a Clock, so
// tests drive processing time with a fake clock instead of sleeping.
type Clock = clockwork.Clock

// RealClock returns the wall clock.
func RealClock() Clock { return clockwork.NewRealClock() }

// Millis converts a time.Time to epoch milliseconds.
func Millis(t time.Time) int64 { return t.UnixMilli() }

// Format renders an epoch-millisecond timestamp for messages and output: RFC 3339 in UTC, or
// "-inf"/"+inf" for the extremes.
func Format(ms int64) string {
	switch ms {
	case MinTime:
		return "-inf"
	case MaxTime:
		return "+inf"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}
