package restart

import (
	"strings"
	"testing"
	"time"
)

func TestParseRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		spec, canonical string
	}{
		{"none", "none"},
		{"off", "none"},
		{" disable ", "none"},
		{"fixed-delay", "fixed-delay:attempts=1,delay=1s"},
		{"fixeddelay:attempts=3", "fixed-delay:attempts=3,delay=1s"},
		{"fixed-delay:attempts=3,delay=10s", "fixed-delay:attempts=3,delay=10s"},
		{"fixed-delay: delay = 1m30s , attempts = 0", "fixed-delay:attempts=0,delay=1m30s"},
		{"fixed-delay:delay=0s", "fixed-delay:attempts=1,delay=0s"},
		{"failure-rate", "failure-rate:max=1,interval=1m0s,delay=1s"},
		{"failurerate:max=3,interval=5m,delay=10s", "failure-rate:max=3,interval=5m0s,delay=10s"},
		{"exponential", "exponential:initial=1s,max=5m0s,multiplier=2,jitter=0,reset-after=1h0m0s,attempts=0"},
		{"exponential:initial=1s,max=1m,multiplier=2,jitter=0.1",
			"exponential:initial=1s,max=1m0s,multiplier=2,jitter=0.1,reset-after=1h0m0s,attempts=0"},
		{"exponential-delay:initial=100ms,max=30s,multiplier=1.5,jitter=1,reset=10m,attempts=5,seed=42",
			"exponential:initial=100ms,max=30s,multiplier=1.5,jitter=1,reset-after=10m0s,attempts=5,seed=42"},
		{"exponential:max=100ms", "exponential:initial=100ms,max=100ms,multiplier=2,jitter=0,reset-after=1h0m0s,attempts=0"},
		{"exponentialdelay:initial=10m", "exponential:initial=10m0s,max=10m0s,multiplier=2,jitter=0,reset-after=1h0m0s,attempts=0"},
	} {
		s, err := Parse(tc.spec)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.spec, err)
			continue
		}
		if got := s.String(); got != tc.canonical {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.spec, got, tc.canonical)
		}
		again, err := Parse(tc.canonical)
		if err != nil {
			t.Errorf("Parse(%q) of a canonical spec: %v", tc.canonical, err)
			continue
		}
		if got := again.String(); got != tc.canonical {
			t.Errorf("canonical spec %q prints back as %q", tc.canonical, got)
		}
	}
}

// TestParseMatchesConstructors checks a parsed strategy decides like the one built in code.
func TestParseMatchesConstructors(t *testing.T) {
	for spec, built := range map[string]Strategy{
		"fixed-delay:attempts=2,delay=3s":          FixedDelay(2, 3*time.Second),
		"failure-rate:max=2,interval=1m,delay=5s":  FailureRate(2, time.Minute, 5*time.Second),
		"exponential:initial=1s,max=8s,attempts=6": ExponentialDelay(ExponentialOptions{Initial: time.Second, Max: 8 * time.Second, MaxAttempts: 6}),
	} {
		parsed, err := Parse(spec)
		if err != nil {
			t.Fatalf("Parse(%q): %v", spec, err)
		}
		for i := range 8 {
			now := t0.Add(time.Duration(i) * 10 * time.Second)
			r1, d1 := parsed.Next(now, errBoom)
			r2, d2 := built.Next(now, errBoom)
			if r1 != r2 || d1 != d2 {
				t.Errorf("%s, failure %d: parsed (%v, %v), built (%v, %v)", spec, i, r1, d1, r2, d2)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		spec, want string
	}{
		{"", `restart: parse "": missing strategy name (want none, fixed-delay, exponential or failure-rate)`},
		{"fixed", `restart: parse "fixed": unknown strategy "fixed" (want none, fixed-delay, exponential or failure-rate)`},
		{"NONE", `unknown strategy "NONE"`},
		{"none:attempts=1", `restart: parse "none:attempts=1": none takes no options: unknown key "attempts"`},
		{"fixed-delay:", `empty option list after ':'`},
		{"fixed-delay:attempts", `option "attempts": want key=value`},
		{"fixed-delay:attempts=1,", `option "": want key=value`},
		{"fixed-delay:=3", `option "=3": missing key`},
		{"fixed-delay:attempts=", `attempts: missing value`},
		{"fixed-delay:attempts=1,attempts=2", `attempts: given twice`},
		{"fixed-delay:attempts=x", `restart: parse "fixed-delay:attempts=x": attempts: "x" is not a non-negative integer`},
		{"fixed-delay:attempts=-1", `attempts: "-1" is not a non-negative integer`},
		{"fixed-delay:delay=10", `delay: "10" is not a non-negative duration such as 10s or 1m30s`},
		{"fixed-delay:delay=-1s", `delay: "-1s" is not a non-negative duration`},
		{"fixed-delay:retries=3", `restart: parse "fixed-delay:retries=3": unknown key "retries"`},
		{"fixed-delay:b=1,a=2", `unknown key "b"`},
		{"failure-rate:interval=0s", `interval: must be positive`},
		{"failure-rate:max=1.5", `max: "1.5" is not a non-negative integer`},
		{"failure-rate:max=3,interval=5m,delay=10s,attempts=3", `unknown key "attempts"`},
		{"exponential:initial=0s", `initial: must be positive`},
		{"exponential:max=0s", `max: must be positive`},
		{"exponential:reset-after=0s", `reset-after: must be positive`},
		{"exponential:initial=1m,max=1s", `max: 1s is below initial 1m0s`},
		{"exponential:multiplier=0", `multiplier: 0 is below 1`},
		{"exponential:multiplier=0.5", `multiplier: 0.5 is below 1`},
		{"exponential:multiplier=NaN", `multiplier: NaN is below 1`},
		{"exponential:multiplier=Inf", `multiplier: +Inf is not a finite number >= 1`},
		{"exponential:multiplier=two", `multiplier: "two" is not a number`},
		{"exponential:jitter=1.5", `restart: parse "exponential:jitter=1.5": jitter: 1.5 is not in [0, 1]`},
		{"exponential:jitter=-0.1", `jitter: -0.1 is not in [0, 1]`},
		{"exponential:seed=-1", `seed: "-1" is not an unsigned integer`},
		{"exponential:reset=1m,reset-after=2m", `reset: given together with its alias reset-after`},
		{"exponential:initial=x,jitter=2", `initial: "x" is not a non-negative duration`}, // first error wins
	} {
		_, err := Parse(tc.spec)
		if err == nil {
			t.Errorf("Parse(%q) = nil error, want %q", tc.spec, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error:\n got %q\nwant it to contain %q", tc.spec, err, tc.want)
		}
		if prefix := "restart: parse " + `"`; !strings.HasPrefix(err.Error(), prefix) {
			t.Errorf("Parse(%q) error %q lacks prefix %q", tc.spec, err, prefix)
		}
	}
}

// FuzzParse checks Parse never panics, that whatever it accepts prints back to a spec it
// accepts again with the same canonical form, and that the result decides without panicking.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"none", "off", "fixed-delay:attempts=3,delay=10s", "failure-rate:max=3,interval=5m,delay=10s",
		"exponential:initial=1s,max=1m,multiplier=2,jitter=0.1,reset-after=1h,attempts=3,seed=1",
		"exponential:max=2562047h47m16.854775807s,multiplier=1e308,jitter=1",
		"fixed-delay:attempts=9223372036854775807", "failure-rate:max=9223372036854775807,interval=1ns",
		"fixed-delay:,", "exponential:reset=1m", ":", "=", "a:b=c=d",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := Parse(spec)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "restart: parse ") {
				t.Fatalf("Parse(%q) error %q lacks the package prefix", spec, err)
			}
			return
		}
		canonical := s.String()
		again, err := Parse(canonical)
		if err != nil {
			t.Fatalf("Parse(%q) ok, but its String %q does not parse: %v", spec, canonical, err)
		}
		if got := again.String(); got != canonical {
			t.Fatalf("Parse(%q).String() = %q, which prints back as %q", spec, canonical, got)
		}
		now := t0
		for range 5 {
			restart, delay := s.Next(now, errBoom)
			if delay < 0 || !restart && delay != 0 {
				t.Fatalf("%s: Next = (%v, %v)", canonical, restart, delay)
			}
			now = now.Add(delay + time.Second)
		}
	})
}
