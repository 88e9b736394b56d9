package runtime

import (
	"container/heap"
	"time"

	"github.com/jonboulle/clockwork"
)

// procTimers is a task's processing-time timer service: callbacks ordered by due time, fired
// from the task goroutine when the clock reaches them.
type procTimers struct {
	clock clockwork.Clock
	h     procHeap
	seq   int64
	timer clockwork.Timer
	armed int64 // due time the clock timer is set for; 0 when unarmed
}

type procTimer struct {
	at, seq int64
	fire    func(at int64)
}

type procHeap []procTimer

func (h procHeap) Len() int { return len(h) }
func (h procHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h procHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *procHeap) Push(x any)   { *h = append(*h, x.(procTimer)) }
func (h *procHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// register schedules fire at processing time at (epoch ms).
func (p *procTimers) register(at int64, fire func(at int64)) {
	p.seq++
	heap.Push(&p.h, procTimer{at: at, seq: p.seq, fire: fire})
	p.arm()
}

func (p *procTimers) arm() {
	if len(p.h) == 0 {
		return
	}
	next := p.h[0].at
	if p.armed != 0 && p.armed <= next {
		return
	}
	d := time.Duration(next-p.clock.Now().UnixMilli()) * time.Millisecond
	if p.timer == nil {
		p.timer = p.clock.NewTimer(d)
	} else {
		p.timer.Stop()
		p.timer.Reset(d)
	}
	p.armed = next
}

// C is ready when the earliest timer may be due; nil when there is none.
func (p *procTimers) C() <-chan time.Time {
	if p.armed == 0 {
		return nil
	}
	return p.timer.Chan()
}

// fire runs every timer due by now, in order, then re-arms.
func (p *procTimers) fire() {
	p.armed = 0
	now := p.clock.Now().UnixMilli()
	for len(p.h) > 0 && p.h[0].at <= now {
		t := heap.Pop(&p.h).(procTimer)
		t.fire(t.at)
	}
	p.arm()
}

func (p *procTimers) stop() {
	if p.timer != nil {
		p.timer.Stop()
	}
}
