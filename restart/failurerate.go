package restart

import (
	"fmt"
	"time"
)

// Failure-rate defaults, as Flink's restart-strategy.failure-rate.* options; Parse uses them for
// keys left out.
const (
	DefaultFailureRateMax      = 1
	DefaultFailureRateInterval = time.Minute
	DefaultFailureRateDelay    = time.Second
)

// FailureRate returns a strategy that restarts the job after delay unless more than maxFailures
// failures (counting the current one) happened within the sliding interval ending now. The
// window is half-open, (now-interval, now]: a failure exactly interval before now no longer
// counts. So with maxFailures 3, three failures within any interval are restarted and a fourth
// fails the job; maxFailures 0 never restarts.
//
// It is Flink's "failure-rate" (restart-strategy.failure-rate.max-failures-per-interval,
// default 1; failure-rate-interval, default 1 min; delay, default 1s). FailureRate panics if
// maxFailures or delay is negative or interval is not positive; Parse reports those as errors.
func FailureRate(maxFailures int, interval, delay time.Duration) Strategy {
	if maxFailures < 0 {
		panic(fmt.Sprintf("restart: FailureRate: negative max failures %d", maxFailures))
	}
	if interval <= 0 {
		panic(fmt.Sprintf("restart: FailureRate: interval %v is not positive", interval))
	}
	if delay < 0 {
		panic(fmt.Sprintf("restart: FailureRate: negative delay %v", delay))
	}
	return &failureRate{max: maxFailures, interval: interval, delay: delay}
}

type failureRate struct {
	max      int
	interval time.Duration
	delay    time.Duration
	// failures holds the times of the most recent failures, oldest first; at most max+1 are
	// kept, since older ones cannot change a decision.
	failures []time.Time
}

var _ Strategy = (*failureRate)(nil)

func (s *failureRate) Next(now time.Time, err error) (bool, time.Duration) {
	if isUnrecoverable(err) {
		return false, 0
	}
	// Drop failures that have left the window (now-interval, now].
	i := 0
	for i < len(s.failures) && now.Sub(s.failures[i]) >= s.interval {
		i++
	}
	s.failures = append(s.failures[:0], s.failures[i:]...)
	s.failures = append(s.failures, now)
	if extra := len(s.failures) - 1 - s.max; extra > 0 { // written so max+1 cannot overflow
		s.failures = append(s.failures[:0], s.failures[extra:]...)
	}
	if len(s.failures) > s.max {
		return false, 0
	}
	return true, s.delay
}

func (s *failureRate) Reset() { s.failures = s.failures[:0] }

func (s *failureRate) String() string {
	return fmt.Sprintf("failure-rate:max=%d,interval=%v,delay=%v", s.max, s.interval, s.delay)
}
