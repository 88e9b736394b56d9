package operator

import (
	"cmp"
	"slices"

	"github.com/runnel-io/runnel/eventtime"
	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/window"
)

// The window operator's timers. Each pane owns the set of timers registered for it
// (paneTimers), which makes registration idempotent and deletion immediate; the operator keeps,
// per time domain, the registered timers bucketed by due time (timeBuckets). A bucket entry whose
// timer the pane no longer holds, or whose pane is gone, is stale and skipped when it comes due.
// Window timers come in few distinct times (every pane of a window fires at the same time), so
// the heap orders times, not timers, and timers of one time fire in registration order.

// timerRef is a timer of a pane: its time and domain.
type timerRef struct {
	at     int64
	domain TimeDomain
}

// paneTimers is the set of timers registered for one pane, usually one or two.
type paneTimers struct {
	n    int // entries used in t
	t    [2]timerRef
	more []timerRef
}

// add adds r and reports whether it was new.
func (s *paneTimers) add(r timerRef) bool {
	for i := range s.n {
		if s.t[i] == r {
			return false
		}
	}
	for _, x := range s.more {
		if x == r {
			return false
		}
	}
	if s.n < len(s.t) {
		s.t[s.n] = r
		s.n++
	} else {
		s.more = append(s.more, r)
	}
	return true
}

// remove removes r and reports whether it was there.
func (s *paneTimers) remove(r timerRef) bool {
	for i := range s.n {
		if s.t[i] == r {
			s.n--
			s.t[i] = s.t[s.n]
			if k := len(s.more); k > 0 {
				s.t[s.n] = s.more[k-1]
				s.n++
				s.more = s.more[:k-1]
			}
			return true
		}
	}
	for i, x := range s.more {
		if x == r {
			s.more[i] = s.more[len(s.more)-1]
			s.more = s.more[:len(s.more)-1]
			return true
		}
	}
	return false
}

// len returns the number of timers in s.
func (s *paneTimers) len() int { return s.n + len(s.more) }

// timerEntry is a registered timer as a bucket holds it: which pane.
type timerEntry[K comparable] struct {
	key   K
	w     window.Window
	group int
}

// timeBuckets holds the timers of one domain bucketed by due time.
type timeBuckets[K comparable] struct {
	times []int64 // min-heap of the bucket times
	at    map[int64]*timerBucket[K]
	last  *timerBucket[K] // the bucket added to last: most timers go where the previous one went
	spare []*timerBucket[K]

	// ext, if set, stores the timers' entries (a bytes backend, window_store.go): times then
	// holds each due time once (listed in set), and due hands out one key group's entries of
	// the earliest due time at a time, in bk.
	ext    timerStore[K]
	domain TimeDomain
	r      keygroup.Range
	set    map[int64]struct{}
	cur    int64 // the due time being handed out, while active
	curKG  int   // the next key group of cur to read
	active bool
	bk     timerBucket[K]
}

// timerStore keeps timer entries outside the operator: windowBytes.
type timerStore[K comparable] interface {
	addTimer(d TimeDomain, at int64, e timerEntry[K])
	takeTimers(dst []timerEntry[K], d TimeDomain, at int64, kg int) []timerEntry[K]
}

// addTime lists due time at, with an ext store.
func (b *timeBuckets[K]) addTime(at int64) {
	if _, ok := b.set[at]; ok {
		return
	}
	if b.set == nil {
		b.set = map[int64]struct{}{}
	}
	b.set[at] = struct{}{}
	b.push(at)
}

// dueExt is due with an ext store.
func (b *timeBuckets[K]) dueExt(t int64) (*timerBucket[K], bool) {
	for {
		if !b.active {
			if len(b.times) == 0 || b.times[0] > t {
				return nil, false
			}
			b.cur = b.pop()
			delete(b.set, b.cur)
			b.active, b.curKG = true, b.r.Start
		}
		for b.curKG < b.r.End {
			kg := b.curKG
			b.curKG++
			b.bk.entries = b.ext.takeTimers(b.bk.entries[:0], b.domain, b.cur, kg)
			if len(b.bk.entries) > 0 {
				b.bk.at = b.cur
				return &b.bk, true
			}
		}
		b.active = false
	}
}

type timerBucket[K comparable] struct {
	at      int64
	entries []timerEntry[K]
}

// maxSpareBuckets bounds the emptied buckets kept for reuse.
const maxSpareBuckets = 8

func (b *timeBuckets[K]) add(at int64, e timerEntry[K]) {
	bk := b.last
	if bk == nil || bk.at != at {
		if b.at == nil {
			b.at = make(map[int64]*timerBucket[K])
		}
		bk = b.at[at]
		if bk == nil {
			if n := len(b.spare); n > 0 {
				bk, b.spare = b.spare[n-1], b.spare[:n-1]
			} else {
				bk = &timerBucket[K]{}
			}
			bk.at = at
			b.at[at] = bk
			b.push(at)
		}
		b.last = bk
	}
	bk.entries = append(bk.entries, e)
}

// due removes and returns the earliest bucket due at or before t. Timers added meanwhile for
// its time go to a new bucket.
func (b *timeBuckets[K]) due(t int64) (*timerBucket[K], bool) {
	if b.ext != nil {
		return b.dueExt(t)
	}
	if len(b.times) == 0 || b.times[0] > t {
		return nil, false
	}
	at := b.pop()
	bk := b.at[at]
	delete(b.at, at)
	if b.last == bk {
		b.last = nil
	}
	return bk, true
}

// done takes back a bucket that due returned, once its timers ran.
func (b *timeBuckets[K]) done(bk *timerBucket[K]) {
	if b.ext != nil {
		clear(bk.entries)
		return
	}
	if len(b.spare) < maxSpareBuckets {
		clear(bk.entries)
		bk.entries = bk.entries[:0]
		b.spare = append(b.spare, bk)
	}
}

func (b *timeBuckets[K]) earliest() (int64, bool) {
	if b.active {
		return b.cur, true
	}
	if len(b.times) == 0 {
		return 0, false
	}
	return b.times[0], true
}

func (b *timeBuckets[K]) push(at int64) {
	h := append(b.times, at)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if h[p] <= h[i] {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
	b.times = h
}

func (b *timeBuckets[K]) pop() int64 {
	h := b.times
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && h[l] < h[m] {
			m = l
		}
		if r := l + 1; r < n && h[r] < h[m] {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	b.times = h
	return top
}

// windowTimers is the timer service of one window operator subtask.
type windowTimers[K comparable] struct {
	c          *rt.Context
	event      timeBuckets[K]
	proc       timeBuckets[K]
	procArmed  int64 // the time of the live runtime callback; 0 if none
	onProcTime func(at int64)
}

func (s *windowTimers[K]) add(r timerRef, e timerEntry[K]) {
	if s.event.ext != nil {
		s.addExt(r, e)
		return
	}
	if r.domain == EventTime {
		s.event.add(r.at, e)
		return
	}
	s.proc.add(r.at, e)
	if s.procArmed == 0 || r.at < s.procArmed {
		s.arm(r.at)
	}
}

// addExt is add with the entries in a bytes backend.
func (s *windowTimers[K]) addExt(r timerRef, e timerEntry[K]) {
	b := &s.event
	if r.domain == ProcessingTime {
		b = &s.proc
	}
	b.ext.addTimer(b.domain, r.at, e)
	b.addTime(r.at)
	if r.domain == ProcessingTime && (s.procArmed == 0 || r.at < s.procArmed) {
		s.arm(r.at)
	}
}

func (s *windowTimers[K]) arm(at int64) {
	s.procArmed = at
	s.c.RegisterProcessingTimer(at, s.onProcTime)
}

// procFired is called first thing by a runtime callback at time at; callbacks for an earlier
// arming that a sooner timer superseded run too, and must not arm again.
func (s *windowTimers[K]) procFired(at int64) {
	if at == s.procArmed {
		s.procArmed = 0
	}
}

// rearm arms the runtime callback for the earliest processing-time timer left, unless a live
// callback is armed.
func (s *windowTimers[K]) rearm() {
	if s.procArmed != 0 {
		return
	}
	if at, ok := s.proc.earliest(); ok {
		s.arm(at)
	}
}

// triggerCtx is the window.TriggerContext of the pane being processed; the operator points it
// at a pane before each trigger call.
type triggerCtx[K comparable] struct {
	timers *windowTimers[K]
	wm     *int64
	clock  eventtime.Clock

	entry timerEntry[K]
	pane  *paneTimers
	trig  *int64
}

var _ window.TriggerContext = (*triggerCtx[int])(nil)

func (x *triggerCtx[K]) at(k K, g int, w window.Window, pt *paneTimers, trig *int64) {
	x.entry = timerEntry[K]{key: k, w: w, group: g}
	x.pane, x.trig = pt, trig
}

func (x *triggerCtx[K]) CurrentWatermark() int64      { return *x.wm }
func (x *triggerCtx[K]) CurrentProcessingTime() int64 { return x.clock.Now().UnixMilli() }
func (x *triggerCtx[K]) State() *int64                { return x.trig }

func (x *triggerCtx[K]) register(r timerRef) {
	if x.pane.add(r) {
		x.timers.add(r, x.entry)
	}
}

func (x *triggerCtx[K]) RegisterEventTimeTimer(at int64) { x.register(timerRef{at, EventTime}) }
func (x *triggerCtx[K]) RegisterProcessingTimeTimer(at int64) {
	x.register(timerRef{at, ProcessingTime})
}
func (x *triggerCtx[K]) DeleteEventTimeTimer(at int64) { x.pane.remove(timerRef{at, EventTime}) }
func (x *triggerCtx[K]) DeleteProcessingTimeTimer(at int64) {
	x.pane.remove(timerRef{at, ProcessingTime})
}

// restoredTimer is a timer read from a snapshot, to be registered again.
type restoredTimer[K comparable] struct {
	ref timerRef
	seq int // its index in its bucket when the snapshot was taken
	e   timerEntry[K]
}

// restore registers timers read from a snapshot in the order they would have fired (by time,
// then as registered), and arms the processing-time callback. The panes already hold them.
func (s *windowTimers[K]) restore(ts []restoredTimer[K]) {
	slices.SortStableFunc(ts, func(a, b restoredTimer[K]) int {
		return cmp.Or(cmp.Compare(a.ref.domain, b.ref.domain), cmp.Compare(a.ref.at, b.ref.at), cmp.Compare(a.seq, b.seq))
	})
	for _, t := range ts {
		if t.ref.domain == EventTime {
			s.event.add(t.ref.at, t.e)
		} else {
			s.proc.add(t.ref.at, t.e)
		}
	}
	s.rearm()
}
