package restart

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestExponentialDelay(t *testing.T) {
	const s, m = time.Second, time.Minute
	for _, tc := range []struct {
		name  string
		opts  ExponentialOptions
		steps []step
	}{
		{"defaults: 1s doubling to 5m", ExponentialOptions{}, []step{
			{at: 0, restart: true, delay: 1 * s},
			{at: 2 * s, restart: true, delay: 2 * s},
			{at: 5 * s, restart: true, delay: 4 * s},
			{at: 10 * s, restart: true, delay: 8 * s},
			{at: 20 * s, restart: true, delay: 16 * s},
			{at: 40 * s, restart: true, delay: 32 * s},
			{at: 80 * s, restart: true, delay: 64 * s},
			{at: 150 * s, restart: true, delay: 128 * s},
			{at: 280 * s, restart: true, delay: 256 * s},
			{at: 540 * s, restart: true, delay: 5 * m}, // capped
			{at: 850 * s, restart: true, delay: 5 * m},
		}},
		{"multiplier 1.5, max 10s", ExponentialOptions{Initial: 2 * s, Max: 10 * s, Multiplier: 1.5}, []step{
			{at: 0, restart: true, delay: 2 * s},
			{at: 1 * m, restart: true, delay: 3 * s},
			{at: 2 * m, restart: true, delay: 4500 * time.Millisecond},
			{at: 3 * m, restart: true, delay: 6750 * time.Millisecond},
			{at: 4 * m, restart: true, delay: 10 * s},
		}},
		{"multiplier 1 is a fixed delay", ExponentialOptions{Initial: 3 * s, Multiplier: 1}, []step{
			{at: 0, restart: true, delay: 3 * s},
			{at: s, restart: true, delay: 3 * s},
		}},
		{"initial above default max raises max", ExponentialOptions{Initial: 10 * m}, []step{
			{at: 0, restart: true, delay: 10 * m},
			{at: 11 * m, restart: true, delay: 10 * m},
		}},
		{"quiet period resets backoff", ExponentialOptions{ResetAfter: 10 * m}, []step{
			{at: 0, restart: true, delay: 1 * s},
			{at: 10 * s, restart: true, delay: 2 * s},
			// Restart was due at 12s; 12s + 10m - 1ns is just short of the quiet period.
			{at: 12*s + 10*m - 1, restart: true, delay: 4 * s},
			// Due at 12s+10m-1ns+4s; a failure exactly ResetAfter later resets.
			{at: 16*s + 20*m - 1, restart: true, delay: 1 * s},
			{at: 16*s + 20*m, restart: true, delay: 2 * s},
		}},
		{"max attempts between resets", ExponentialOptions{MaxAttempts: 2, ResetAfter: time.Hour}, []step{
			{at: 0, restart: true, delay: 1 * s},
			{at: 10 * s, restart: true, delay: 2 * s},
			{at: 20 * s},
		}},
		{"max attempts count again after a reset", ExponentialOptions{MaxAttempts: 2, ResetAfter: time.Hour}, []step{
			{at: 0, restart: true, delay: 1 * s},
			{at: 10 * s, restart: true, delay: 2 * s},
			{at: 2 * time.Hour, restart: true, delay: 1 * s},
			{at: 2*time.Hour + s, restart: true, delay: 2 * s},
			{at: 2*time.Hour + 2*s},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runSteps(t, ExponentialDelay(tc.opts), tc.steps)
		})
	}
}

func TestExponentialDelayReset(t *testing.T) {
	s := ExponentialDelay(ExponentialOptions{MaxAttempts: 1})
	runSteps(t, s, []step{{at: 0, restart: true, delay: time.Second}, {at: 2 * time.Second}})
	s.Reset()
	runSteps(t, s, []step{{at: 3 * time.Second, restart: true, delay: time.Second}})
}

// TestExponentialDelayNoOverflow drives the backoff to the largest durations.
func TestExponentialDelayNoOverflow(t *testing.T) {
	s := ExponentialDelay(ExponentialOptions{Max: math.MaxInt64, Multiplier: 1000, Jitter: 1, Rand: seeded(1)})
	now := t0
	for i := range 50 {
		restart, delay := s.Next(now, errBoom)
		if !restart || delay < 0 {
			t.Fatalf("failure %d: Next = (%v, %v), want a restart after a non-negative delay", i, restart, delay)
		}
	}
}

// TestExponentialDelayJitterBounds checks every jittered delay lies within [d-j*d, d+j*d] of
// the unjittered one, and that jitter actually spreads delays over that range.
func TestExponentialDelayJitterBounds(t *testing.T) {
	for _, jitter := range []float64{0.1, 0.5, 1} {
		opts := ExponentialOptions{Initial: time.Second, Max: time.Minute, Jitter: jitter, Rand: seeded(7)}
		plain := ExponentialOptions{Initial: time.Second, Max: time.Minute}
		js, ps := ExponentialDelay(opts), ExponentialDelay(plain)
		lowest, highest := math.Inf(1), math.Inf(-1)
		for i := range 1000 {
			now := t0.Add(time.Duration(i) * time.Second)
			_, d := js.Next(now, errBoom)
			_, base := ps.Next(now, errBoom)
			lo := float64(base) * (1 - jitter)
			hi := float64(base) * (1 + jitter)
			if float64(d) < lo-1 || float64(d) > hi+1 {
				t.Fatalf("jitter %v, failure %d: delay %v outside [%v, %v]", jitter, i, d, time.Duration(lo), time.Duration(hi))
			}
			ratio := (float64(d)/float64(base) - 1) / jitter // in [-1, 1]
			lowest, highest = min(lowest, ratio), max(highest, ratio)
		}
		if lowest > -0.9 || highest < 0.9 {
			t.Errorf("jitter %v: relative offsets span [%.2f, %.2f], want nearly [-1, 1]", jitter, lowest, highest)
		}
	}
}

// TestExponentialDelayJitterDeterministic checks the same seed gives the same delays and a
// different seed different ones.
func TestExponentialDelayJitterDeterministic(t *testing.T) {
	delays := func(seed uint64) []time.Duration {
		s := ExponentialDelay(ExponentialOptions{Jitter: 0.5, Rand: seeded(seed)})
		var out []time.Duration
		for i := range 20 {
			_, d := s.Next(t0.Add(time.Duration(i)*time.Second), errBoom)
			out = append(out, d)
		}
		return out
	}
	a, b, c := delays(42), delays(42), delays(43)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("seed 42 twice: delay %d is %v then %v", i, a[i], b[i])
		}
	}
	same := true
	for i := range a {
		same = same && a[i] == c[i]
	}
	if same {
		t.Errorf("seeds 42 and 43 gave the same delays %v", a)
	}

	// Parse's seed key gives the same reproducibility.
	p1, _ := Parse("exponential:jitter=0.5,seed=9")
	p2, _ := Parse("exponential:jitter=0.5,seed=9")
	for i := range 20 {
		now := t0.Add(time.Duration(i) * time.Second)
		_, d1 := p1.Next(now, errBoom)
		_, d2 := p2.Next(now, errBoom)
		if d1 != d2 {
			t.Fatalf("seed=9 twice: delay %d is %v then %v", i, d1, d2)
		}
	}
}

func TestExponentialOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		opts ExponentialOptions
		want string // substring of the error; "" for valid
	}{
		{ExponentialOptions{}, ""},
		{ExponentialOptions{Initial: time.Second, Max: time.Second, Multiplier: 1, Jitter: 1}, ""},
		{ExponentialOptions{Initial: -1}, "initial: negative duration"},
		{ExponentialOptions{Max: -1}, "max: negative duration"},
		{ExponentialOptions{Initial: time.Minute, Max: time.Second}, "max: 1s is below initial 1m0s"},
		{ExponentialOptions{Multiplier: 0.5}, "multiplier: 0.5 is not a finite number >= 1"},
		{ExponentialOptions{Multiplier: math.NaN()}, "multiplier: NaN"},
		{ExponentialOptions{Multiplier: math.Inf(1)}, "multiplier: +Inf"},
		{ExponentialOptions{Jitter: -0.1}, "jitter: -0.1 is not in [0, 1]"},
		{ExponentialOptions{Jitter: math.NaN()}, "jitter: NaN"},
		{ExponentialOptions{ResetAfter: -1}, "reset-after: negative duration"},
		{ExponentialOptions{MaxAttempts: -1}, "attempts: negative count -1"},
	} {
		err := tc.opts.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: Validate = %v, want nil", tc.opts, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: Validate = %v, want an error containing %q", tc.opts, err, tc.want)
		case err != nil && !strings.HasPrefix(err.Error(), "restart: invalid exponential options: "):
			t.Errorf("%+v: Validate = %v, want the package prefix", tc.opts, err)
		}
	}
}
