package runtime

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

// ready reports whether the timer service wants to fire now, without blocking. The fake
// clock sends on timer channels inside Advance, so the answer is deterministic.
func ready(p *procTimers) bool {
	select {
	case <-p.C():
		return true
	default:
		return false
	}
}

func TestProcTimers(t *testing.T) {
	const t0 = 1_000_000
	clock := clockwork.NewFakeClockAt(time.UnixMilli(t0))
	p := &procTimers{clock: clock}
	defer p.stop()
	var fired []string
	reg := func(name string, at int64) {
		p.register(at, func(at int64) {
			fired = append(fired, fmt.Sprintf("%s@%d", name, at-t0))
		})
	}
	if p.C() != nil {
		t.Fatal("C is not nil without timers")
	}
	reg("a", t0+100)
	reg("b", t0+50)
	reg("c", t0+100) // same time as a: fires after a, in registration order
	reg("d", t0+200)

	advance := func(d time.Duration, wantReady bool, want ...string) {
		t.Helper()
		clock.Advance(d)
		if got := ready(p); got != wantReady {
			t.Fatalf("at +%v: ready = %v, want %v", clock.Now().UnixMilli()-t0, got, wantReady)
		}
		if !wantReady {
			return
		}
		fired = nil
		p.fire()
		if !slices.Equal(fired, want) {
			t.Fatalf("at +%dms: fired %v, want %v", clock.Now().UnixMilli()-t0, fired, want)
		}
	}
	advance(49*time.Millisecond, false)
	advance(time.Millisecond, true, "b@50")
	advance(49*time.Millisecond, false)
	advance(time.Millisecond, true, "a@100", "c@100")

	// A timer registered from a firing timer, and one already due when registered.
	p.register(t0+150, func(at int64) {
		fired = append(fired, "e@150")
		reg("f", at) // due at once: fires in the same round
		reg("g", at+10)
	})
	advance(50*time.Millisecond, true, "e@150", "f@150")
	advance(10*time.Millisecond, true, "g@160")
	reg("late", t0) // in the past: due at once
	if !ready(p) {
		t.Fatal("a timer in the past is not due")
	}
	fired = nil
	p.fire()
	if !slices.Equal(fired, []string{"late@0"}) {
		t.Fatalf("fired %v, want [late@0]", fired)
	}
	advance(40*time.Millisecond, true, "d@200")
	if p.C() != nil {
		t.Fatal("C is not nil after every timer fired")
	}
}

// TestProcTimersNeverEarly checks that a timer does not fire before its millisecond even when
// the clock is between milliseconds.
func TestProcTimersNeverEarly(t *testing.T) {
	clock := clockwork.NewFakeClockAt(time.UnixMilli(1000).Add(700 * time.Microsecond))
	p := &procTimers{clock: clock}
	defer p.stop()
	var fired []int64
	p.register(1001, func(at int64) { fired = append(fired, clock.Now().UnixMilli()) })
	for range 20 {
		clock.Advance(100 * time.Microsecond)
		if ready(p) {
			p.fire()
		}
	}
	if len(fired) != 1 || fired[0] < 1001 {
		t.Fatalf("fired at %v, want once at or after 1001", fired)
	}
}
