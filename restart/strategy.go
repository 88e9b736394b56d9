package restart

import (
	"errors"
	"fmt"
	"time"
)

// Strategy decides whether a failed job is restarted, and when.
//
// Implementations are deterministic state machines: they read no clock and never block. They
// are not safe for concurrent use; the job's owner (one goroutine) calls them in the order
// failures happen, with non-decreasing times.
type Strategy interface {
	// Next is called at time now, once per job failure, with the failure's error (nil means a
	// recoverable failure of unknown cause). It reports whether to restart and, if so, how long
	// to wait before restarting; delay is 0 when restart is false. Once Next has returned false
	// the job is meant to stay failed; calling Next again is allowed and gives a deterministic
	// answer, but is not meaningful. Failures wrapping ErrUnrecoverable return (false, 0) and
	// leave the strategy's state unchanged.
	Next(now time.Time, err error) (restart bool, delay time.Duration)

	// Reset forgets every failure seen so far, as if the strategy were new. The runtime may call
	// it when it knows the job is healthy (for example after a checkpoint completes following a
	// restart). Flink never resets strategies this way: fixed-delay counts attempts for the
	// job's lifetime and exponential-delay resets by itself after a quiet period, so a runtime
	// that wants Flink's behaviour never calls Reset.
	Reset()

	// String returns the strategy's canonical spec, which Parse turns back into an equal
	// strategy (same configuration, fresh state).
	String() string
}

// ErrUnrecoverable marks failures that no strategy restarts, such as a job graph failing
// validation or a configuration error: restarting would fail the same way. Wrap it with
// fmt.Errorf("...: %w", ErrUnrecoverable) or with Unrecoverable; strategies test it with
// errors.Is.
var ErrUnrecoverable = errors.New("restart: unrecoverable failure")

// Unrecoverable returns an error that wraps both ErrUnrecoverable and err, so errors.Is and
// errors.As see through it to err. It returns nil when err is nil.
func Unrecoverable(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrUnrecoverable, err)
}

// isUnrecoverable reports whether err must never be restarted.
func isUnrecoverable(err error) bool {
	return err != nil && errors.Is(err, ErrUnrecoverable)
}

// None returns the strategy that never restarts: every failure fails the job. It is Flink's
// "none" (aliases "off", "disable"), the default when checkpointing is disabled. It has no
// state, so it is safe for concurrent use.
func None() Strategy { return none{} }

type none struct{}

var _ Strategy = none{}

func (none) Next(time.Time, error) (bool, time.Duration) { return false, 0 }
func (none) Reset()                                      {}
func (none) String() string                              { return "none" }
