package restart

import (
	"testing"
	"time"
)

func TestFixedDelay(t *testing.T) {
	for _, tc := range []struct {
		name     string
		attempts int
		delay    time.Duration
		steps    []step
	}{
		{"zero attempts", 0, time.Second, []step{{at: 0}, {at: time.Hour}}},
		{"one attempt", 1, time.Second, []step{
			{at: 0, restart: true, delay: time.Second},
			{at: time.Hour},
			{at: 2 * time.Hour},
		}},
		{"three attempts", 3, 10 * time.Second, []step{
			{at: 0, restart: true, delay: 10 * time.Second},
			{at: time.Minute, restart: true, delay: 10 * time.Second},
			// A long quiet period does not give attempts back, as in Flink.
			{at: 24 * time.Hour, restart: true, delay: 10 * time.Second},
			{at: 25 * time.Hour},
		}},
		{"zero delay", 2, 0, []step{
			{at: 0, restart: true},
			{at: 0, restart: true},
			{at: 0},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runSteps(t, FixedDelay(tc.attempts, tc.delay), tc.steps)
		})
	}
}

func TestFixedDelayReset(t *testing.T) {
	s := FixedDelay(1, time.Second)
	runSteps(t, s, []step{{at: 0, restart: true, delay: time.Second}, {at: time.Second}})
	s.Reset()
	runSteps(t, s, []step{{at: time.Minute, restart: true, delay: time.Second}, {at: 2 * time.Minute}})
}

// TestFixedDelayManyFailures checks the failure count saturates instead of overflowing.
func TestFixedDelayManyFailures(t *testing.T) {
	s := FixedDelay(2, time.Second).(*fixedDelay)
	for i := range 100 {
		s.Next(t0.Add(time.Duration(i)*time.Second), errBoom)
	}
	if s.failures != 3 {
		t.Errorf("failures = %d after 100 calls, want 3", s.failures)
	}
}
