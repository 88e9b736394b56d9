package operator

import (
	"fmt"

	"github.com/runnel-io/runnel/eventtime"
	rt "github.com/runnel-io/runnel/internal/runtime"
)

// timerKey identifies a timer: one per key and timestamp, so registering twice is a no-op.
type timerKey[K comparable] struct {
	key K
	at  int64
}

// Timer is a keyed timer as it fires: its key, time and the key's key group.
type Timer[K comparable] struct {
	timerKey[K]
	Group int
}

// Key returns the timer's key.
func (t Timer[K]) Key() K { return t.key }

// At returns the timer's time (epoch ms).
func (t Timer[K]) At() int64 { return t.at }

// String names the timer in errors: "timer <time> for key <key>".
func (t Timer[K]) String() string {
	return fmt.Sprintf("timer %s for key %v", eventtime.Format(t.at), t.key)
}

// timerHeap is a binary min-heap of timers by time, typed so that pushing a timer does not box
// it into an interface (container/heap would allocate once per registration).
type timerHeap[K comparable] []Timer[K]

func (h *timerHeap[K]) push(t Timer[K]) {
	*h = append(*h, t)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if a[p].at <= a[i].at {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *timerHeap[K]) pop() Timer[K] {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a[last] = Timer[K]{} // drop the key's reference
	a = a[:last]
	for i := 0; ; {
		l, small := 2*i+1, i
		if l < len(a) && a[l].at < a[small].at {
			small = l
		}
		if r := l + 1; r < len(a) && a[r].at < a[small].at {
			small = r
		}
		if small == i {
			break
		}
		a[i], a[small] = a[small], a[i]
		i = small
	}
	*h = a
	return top
}

// timerQueue holds the timers of one time domain of a keyed operator subtask, deduplicated,
// fired in timestamp order. Deleted timers stay in the heap and are skipped when popped.
type timerQueue[K comparable] struct {
	h   timerHeap[K]
	set map[timerKey[K]]struct{}
}

func (q *timerQueue[K]) add(key K, group int, at int64) bool {
	if q.set == nil {
		q.set = map[timerKey[K]]struct{}{}
	}
	tk := timerKey[K]{key, at}
	if _, ok := q.set[tk]; ok {
		return false
	}
	q.set[tk] = struct{}{}
	q.h.push(Timer[K]{tk, group})
	return true
}

func (q *timerQueue[K]) remove(key K, at int64) { delete(q.set, timerKey[K]{key, at}) }

// next pops the earliest live timer due at or before t.
func (q *timerQueue[K]) next(t int64) (Timer[K], bool) {
	for len(q.h) > 0 && q.h[0].at <= t {
		tm := q.h.pop()
		if _, ok := q.set[tm.timerKey]; ok {
			delete(q.set, tm.timerKey)
			return tm, true
		}
	}
	return Timer[K]{}, false
}

// earliest returns the earliest live timer's time.
func (q *timerQueue[K]) earliest() (int64, bool) {
	for len(q.h) > 0 {
		if _, ok := q.set[q.h[0].timerKey]; ok {
			return q.h[0].at, true
		}
		q.h.pop()
	}
	return 0, false
}

// TimerService is the keyed timer service of one operator subtask: event-time and
// processing-time timers, one per key and time. OnProcTime is the operator's callback for
// processing time, which fires the due timers (Keyed.FireProcTimers) and must be set before a
// processing-time timer is registered.
type TimerService[K comparable] struct {
	c          *rt.Context
	event      timerQueue[K]
	proc       timerQueue[K]
	procArmed  int64 // the processing time the runtime will wake us at; 0 if none
	OnProcTime func(at int64)
}

func (s *TimerService[K]) registerProc(key K, group int, at int64) {
	if !s.proc.add(key, group, at) {
		return
	}
	if s.procArmed == 0 || at < s.procArmed {
		s.procArmed = at
		s.c.RegisterProcessingTimer(at, s.OnProcTime)
	}
}

// rearm is called by the runtime callback for processing time at, after it fired the due
// timers: it asks the runtime to wake the operator at the earliest remaining timer. A callback
// superseded by a sooner registration (at is not the armed time) leaves that to the live one,
// so wake-ups do not pile up.
func (s *TimerService[K]) rearm(at int64) {
	if at != s.procArmed {
		return
	}
	s.procArmed = 0
	if next, ok := s.proc.earliest(); ok {
		s.procArmed = next
		s.c.RegisterProcessingTimer(next, s.OnProcTime)
	}
}
