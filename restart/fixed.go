package restart

import (
	"fmt"
	"time"
)

// Fixed-delay defaults, as Flink's restart-strategy.fixed-delay.* options; Parse uses them for
// keys left out.
const (
	DefaultFixedAttempts = 1
	DefaultFixedDelay    = time.Second
)

// FixedDelay returns a strategy that restarts the job after delay, at most attempts times over
// the job's lifetime (or until Reset); the failure after the last allowed attempt fails the job.
// attempts 0 means no restart at all.
//
// It is Flink's "fixed-delay" (restart-strategy.fixed-delay.attempts, default 1;
// restart-strategy.fixed-delay.delay, default 1s). FixedDelay panics if attempts or delay is
// negative; Parse reports those as errors instead.
func FixedDelay(attempts int, delay time.Duration) Strategy {
	if attempts < 0 {
		panic(fmt.Sprintf("restart: FixedDelay: negative attempts %d", attempts))
	}
	if delay < 0 {
		panic(fmt.Sprintf("restart: FixedDelay: negative delay %v", delay))
	}
	return &fixedDelay{attempts: attempts, delay: delay}
}

type fixedDelay struct {
	attempts int
	delay    time.Duration
	failures int // recoverable failures seen since creation or Reset
}

var _ Strategy = (*fixedDelay)(nil)

func (s *fixedDelay) Next(_ time.Time, err error) (bool, time.Duration) {
	if isUnrecoverable(err) {
		return false, 0
	}
	if s.failures <= s.attempts { // saturate rather than overflow on endless calls
		s.failures++
	}
	if s.failures > s.attempts {
		return false, 0
	}
	return true, s.delay
}

func (s *fixedDelay) Reset() { s.failures = 0 }

func (s *fixedDelay) String() string {
	return fmt.Sprintf("fixed-delay:attempts=%d,delay=%v", s.attempts, s.delay)
}
