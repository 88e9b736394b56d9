package restart

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// t0 is the fake "now" every test starts from.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

var errBoom = errors.New("boom")

// step is one failure fed to a strategy: its time as an offset from t0, its error, and the
// decision expected.
type step struct {
	at      time.Duration
	err     error
	restart bool
	delay   time.Duration
}

// runSteps feeds steps to s in order and reports every decision that differs.
func runSteps(t *testing.T, s Strategy, steps []step) {
	t.Helper()
	for i, st := range steps {
		err := st.err
		if err == nil {
			err = errBoom
		}
		restart, delay := s.Next(t0.Add(st.at), err)
		if restart != st.restart || delay != st.delay {
			t.Errorf("step %d (at +%v, err %v): Next = (%v, %v), want (%v, %v)",
				i, st.at, err, restart, delay, st.restart, st.delay)
		}
	}
}

func TestNone(t *testing.T) {
	s := None()
	runSteps(t, s, []step{{at: 0}, {at: time.Hour}})
	s.Reset()
	runSteps(t, s, []step{{at: 2 * time.Hour}})
	if got := s.String(); got != "none" {
		t.Errorf("String = %q, want none", got)
	}
}

// TestUnrecoverable checks every strategy refuses errors wrapping ErrUnrecoverable, and that
// such failures do not use up attempts or fill the failure-rate window.
func TestUnrecoverable(t *testing.T) {
	unrecoverable := []error{
		ErrUnrecoverable,
		fmt.Errorf("graph: node %q: %w", "map-1", ErrUnrecoverable),
		Unrecoverable(errBoom),
	}
	strategies := map[string]func() Strategy{
		"none":         None,
		"fixed-delay":  func() Strategy { return FixedDelay(1, time.Second) },
		"exponential":  func() Strategy { return ExponentialDelay(ExponentialOptions{MaxAttempts: 1}) },
		"failure-rate": func() Strategy { return FailureRate(1, time.Minute, time.Second) },
	}
	for name, newStrategy := range strategies {
		t.Run(name, func(t *testing.T) {
			s := newStrategy()
			for i, err := range unrecoverable {
				if restart, delay := s.Next(t0.Add(time.Duration(i)*time.Second), err); restart || delay != 0 {
					t.Errorf("Next(%v) = (%v, %v), want (false, 0)", err, restart, delay)
				}
			}
			// The single allowed restart is still there.
			restart, _ := s.Next(t0.Add(10*time.Second), errBoom)
			if want := name != "none"; restart != want {
				t.Errorf("Next(recoverable) after unrecoverable ones = %v, want %v", restart, want)
			}
		})
	}
}

func TestUnrecoverableHelper(t *testing.T) {
	if Unrecoverable(nil) != nil {
		t.Errorf("Unrecoverable(nil) != nil")
	}
	err := Unrecoverable(errBoom)
	if !errors.Is(err, ErrUnrecoverable) || !errors.Is(err, errBoom) {
		t.Errorf("Unrecoverable(errBoom) = %v: want errors.Is for both ErrUnrecoverable and errBoom", err)
	}
	if want := "restart: unrecoverable failure: boom"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

// TestNilError checks a nil error counts as a recoverable failure.
func TestNilError(t *testing.T) {
	s := FixedDelay(1, time.Second)
	if restart, delay := s.Next(t0, nil); !restart || delay != time.Second {
		t.Errorf("Next(nil) = (%v, %v), want (true, 1s)", restart, delay)
	}
}

// TestConstructorsPanic checks programmer errors in constructors panic.
func TestConstructorsPanic(t *testing.T) {
	for name, f := range map[string]func(){
		"FixedDelay attempts":          func() { FixedDelay(-1, 0) },
		"FixedDelay delay":             func() { FixedDelay(1, -time.Second) },
		"FailureRate max":              func() { FailureRate(-1, time.Minute, 0) },
		"FailureRate interval":         func() { FailureRate(1, 0, 0) },
		"FailureRate delay":            func() { FailureRate(1, time.Minute, -1) },
		"ExponentialDelay jitter":      func() { ExponentialDelay(ExponentialOptions{Jitter: 1.5}) },
		"ExponentialDelay max<initial": func() { ExponentialDelay(ExponentialOptions{Initial: time.Minute, Max: time.Second}) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("did not panic")
				}
			}()
			f()
		})
	}
}

// seeded returns a reproducible jitter source.
func seeded(seed uint64) rand.Source { return rand.NewPCG(seed, seed) }
