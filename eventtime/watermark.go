package eventtime

import (
	"errors"
	"time"
)

// Generator tracks the watermark of one split. It is owned by one goroutine.
type Generator[T any] interface {
	// OnEvent sees every record of the split, with its timestamp.
	OnEvent(v T, ts int64)
	// Watermark returns the current watermark; it is called at emit points (batch boundaries
	// and periodically). Returning a smaller value than before is allowed but has no effect.
	Watermark() int64
}

// Strategy says how records get their event time and how watermarks are generated, per split.
// The zero Strategy has no timestamps: records carry timestamp 0 and only the final watermark
// (end of input) is emitted, which suits jobs that use processing time only.
type Strategy[T any] struct {
	// Timestamp extracts the event time of a record, in epoch milliseconds. Nil means the
	// source's own timestamp (for example a Kafka record's) or 0.
	Timestamp func(v T) int64
	// NewGenerator makes one Generator per split. Nil means no watermarks before end of input.
	NewGenerator func() Generator[T]
	// IdleTimeout marks a split idle when it has produced nothing for this long in processing
	// time, so it does not hold back the watermark. Zero means never idle.
	IdleTimeout time.Duration
}

// Validate reports a Strategy that cannot work.
func (s Strategy[T]) Validate() error {
	if s.IdleTimeout < 0 {
		return errors.New("eventtime: negative idle timeout")
	}
	if s.NewGenerator != nil && s.Timestamp == nil {
		return errors.New("eventtime: a watermark generator needs a timestamp function")
	}
	return nil
}

// WithIdleness returns a copy of s that marks a split idle after d without records.
func (s Strategy[T]) WithIdleness(d time.Duration) Strategy[T] {
	s.IdleTimeout = d
	return s
}

// BoundedOutOfOrderness returns a Strategy for records that arrive at most maxDelay later than
// the largest timestamp seen so far: the watermark trails that timestamp by maxDelay (and one
// millisecond, as in Flink, so that records with exactly that timestamp are still on time).
func BoundedOutOfOrderness[T any](maxDelay time.Duration, ts func(T) int64) Strategy[T] {
	delay := maxDelay.Milliseconds()
	return Strategy[T]{
		Timestamp:    ts,
		NewGenerator: func() Generator[T] { return &boundedGenerator[T]{max: MinTime, delay: delay} },
	}
}

// Monotonous returns a Strategy for records whose timestamps never decrease within a split.
func Monotonous[T any](ts func(T) int64) Strategy[T] {
	return BoundedOutOfOrderness(0, ts)
}

// Custom returns a Strategy with a user-made Generator per split, for punctuated watermarks or
// any other rule.
func Custom[T any](ts func(T) int64, newGenerator func() Generator[T]) Strategy[T] {
	return Strategy[T]{Timestamp: ts, NewGenerator: newGenerator}
}

type boundedGenerator[T any] struct {
	max, delay int64
}

func (g *boundedGenerator[T]) OnEvent(_ T, ts int64) {
	if ts > g.max {
		g.max = ts
	}
}

func (g *boundedGenerator[T]) Watermark() int64 {
	if g.max == MinTime {
		return MinTime
	}
	return g.max - g.delay - 1
}
