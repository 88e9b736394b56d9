package restart

import (
	"math"
	"testing"
	"time"
)

func TestFailureRate(t *testing.T) {
	const d = 10 * time.Second
	for _, tc := range []struct {
		name     string
		max      int
		interval time.Duration
		steps    []step
	}{
		{"zero max never restarts", 0, time.Minute, []step{{at: 0}, {at: time.Hour}}},
		{"Flink defaults", 1, time.Minute, []step{
			{at: 0, restart: true, delay: d},
			{at: 30 * time.Second}, // second failure within a minute
		}},
		{"three within interval, fourth fails", 3, 5 * time.Minute, []step{
			{at: 0, restart: true, delay: d},
			{at: time.Minute, restart: true, delay: d},
			{at: 2 * time.Minute, restart: true, delay: d},
			{at: 3 * time.Minute},
		}},
		{"failure exactly interval later: oldest left the window", 2, time.Minute, []step{
			{at: 0, restart: true, delay: d},
			{at: 30 * time.Second, restart: true, delay: d},
			{at: time.Minute, restart: true, delay: d}, // window (0, 1m] holds 30s and 1m
		}},
		{"failure just inside interval still counts", 2, time.Minute, []step{
			{at: 0, restart: true, delay: d},
			{at: 30 * time.Second, restart: true, delay: d},
			{at: time.Minute - time.Nanosecond}, // window (-1ns, 1m-1ns] holds 0, 30s and now
		}},
		{"window slides", 2, time.Minute, []step{
			{at: 0, restart: true, delay: d},
			{at: 50 * time.Second, restart: true, delay: d},
			{at: 70 * time.Second, restart: true, delay: d},  // drops 0
			{at: 110 * time.Second, restart: true, delay: d}, // drops 50s
			{at: 115 * time.Second},                          // 70s, 110s, 115s
		}},
		{"simultaneous failures", 2, time.Minute, []step{
			{at: 0, restart: true, delay: d},
			{at: 0, restart: true, delay: d},
			{at: 0},
		}},
		{"steady failures below the rate restart forever", 1, time.Minute, []step{
			{at: 0, restart: true, delay: d},
			{at: time.Minute, restart: true, delay: d},
			{at: 2 * time.Minute, restart: true, delay: d},
			{at: 3 * time.Minute, restart: true, delay: d},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runSteps(t, FailureRate(tc.max, tc.interval, d), tc.steps)
		})
	}
}

func TestFailureRateReset(t *testing.T) {
	s := FailureRate(1, time.Minute, time.Second)
	runSteps(t, s, []step{{at: 0, restart: true, delay: time.Second}, {at: time.Second}})
	s.Reset()
	runSteps(t, s, []step{{at: 2 * time.Second, restart: true, delay: time.Second}})
}

// TestFailureRateBounded checks the strategy keeps at most max+1 failure times, even for huge
// max values where max+1 overflows.
func TestFailureRateBounded(t *testing.T) {
	s := FailureRate(2, time.Hour, 0).(*failureRate)
	for i := range 100 {
		s.Next(t0.Add(time.Duration(i)*time.Second), errBoom)
	}
	if len(s.failures) != 3 {
		t.Errorf("kept %d failure times, want 3", len(s.failures))
	}
	big := FailureRate(math.MaxInt, time.Hour, 0)
	for i := range 10 {
		if restart, _ := big.Next(t0.Add(time.Duration(i)), errBoom); !restart {
			t.Fatalf("failure %d with max MaxInt: no restart", i)
		}
	}
}
