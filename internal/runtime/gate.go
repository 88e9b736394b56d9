package runtime

import (
	"fmt"
	"time"

	"github.com/runnel-io/runnel/eventtime"
)

// gate merges a task's input channels: it delivers record batches to the input they belong to
// and turns per-channel watermarks, idleness and end markers into the task's own: the
// watermark is the minimum over the channels that are neither idle nor ended. When that
// minimum becomes MaxTime (the inputs have ended), the gate first passes on the highest real
// watermark any channel reached, so the task sees how far the whole input went in event time
// whichever channel ended last (see advance).
//
// The gate also aligns checkpoint barriers (Flink's aligned checkpoints): once barrier n
// arrived on a channel, what follows on that channel is held back in the channel's queue
// until n arrived on every channel that has not ended; then onAligned snapshots the task and
// the held-back envelopes are handled in order. A task has one inbox for all its channels, so
// the gate cannot stop reading one channel: it holds envelopes instead, up to maxHeld; past
// that it gives up on the checkpoint (onDecline) rather than grow without bound.
type gate struct {
	chans   []chanState
	deliver []func(b any) int // per input
	control Control
	wm      int64
	idle    bool
	ended   int

	// Alignment.
	aligning  int64 // the checkpoint being aligned, 0 if none
	done_     int64 // the newest checkpoint aligned or given up on
	arrived   int   // channels blocked on aligning
	held      int   // envelopes held in all queues
	maxHeld   int
	onAligned func(id int64)
	now       func() time.Time
	started   time.Time     // when the first barrier of `aligning` arrived
	took      time.Duration // how long the last alignment took
	onDecline func(id int64, err error)
}

type chanState struct {
	input   int
	wm      int64
	last    int64 // the highest watermark below MaxTime the channel delivered
	idle    bool
	ended   bool
	blocked bool       // barrier `aligning` arrived on this channel
	queue   []envelope // held back while blocked
}

func newGate(inputs []int) *gate {
	g := &gate{chans: make([]chanState, len(inputs)), wm: eventtime.MinTime}
	for i, in := range inputs {
		g.chans[i] = chanState{input: in, wm: eventtime.MinTime, last: eventtime.MinTime}
	}
	return g
}

// done reports whether every channel has ended.
func (g *gate) done() bool { return g.ended == len(g.chans) }

// handle processes one envelope and returns the number of records delivered.
func (g *gate) handle(e envelope) int {
	c := &g.chans[e.channel]
	if c.blocked {
		c.queue = append(c.queue, e)
		if g.held++; g.held > g.maxHeld {
			g.onDecline(g.aligning, fmt.Errorf("aligning barriers held back more than %d batches on the channels that delivered the barrier first", g.maxHeld))
			return g.release()
		}
		return 0
	}
	switch e.kind {
	case kindBarrier:
		return g.barrier(c, e.wm)
	case kindRecords:
		return g.deliver[c.input](e.batch)
	case kindWatermark:
		if e.wm > c.wm {
			c.wm = e.wm
			if e.wm != eventtime.MaxTime {
				c.last = e.wm
			}
			g.update()
		}
	case kindIdle:
		c.idle = true
		g.update()
	case kindActive:
		c.idle = false
		g.update()
	case kindEnd:
		c.ended = true
		g.ended++
		if g.aligning != 0 && g.arrived+g.ended == len(g.chans) {
			return g.aligned()
		}
		if g.done() {
			g.advance(eventtime.MaxTime)
			g.control.Finish()
			return 0
		}
		g.update()
	}
	return 0
}

// barrier handles barrier id arriving on channel c.
func (g *gate) barrier(c *chanState, id int64) int {
	if id <= g.done_ {
		return 0 // a checkpoint aligned already, or given up on
	}
	if id < g.aligning {
		return 0 // an older checkpoint, given up on when a newer barrier came
	}
	if id > g.aligning && g.aligning != 0 {
		// A newer barrier overtook the one being aligned: that checkpoint cannot complete
		// here any more (Flink aborts it too). Give it up and align the newer one.
		old := g.aligning
		g.onDecline(old, fmt.Errorf("barrier %d arrived before barrier %d was aligned", id, old))
		n := g.release()
		return n + g.barrier(c, id)
	}
	if g.aligning == 0 && g.now != nil {
		g.started = g.now()
	}
	g.aligning = id
	c.blocked = true
	g.arrived++
	if g.arrived+g.ended == len(g.chans) {
		return g.aligned()
	}
	return 0
}

// aligned snapshots the task for the checkpoint being aligned and releases the held-back
// envelopes.
func (g *gate) aligned() int {
	id := g.aligning
	if g.now != nil {
		g.took = g.now().Sub(g.started)
	}
	g.onAligned(id)
	// onAligned may have given up (declined) already; the release below is then a no-op.
	if g.aligning == id {
		return g.release()
	}
	return 0
}

// cancel gives up aligning id, if the gate is aligning it (the checkpoint was aborted).
func (g *gate) cancel(id int64) int {
	if g.aligning != id || id == 0 {
		if id > g.done_ && g.aligning == 0 {
			g.done_ = id // its barriers may still come: ignore them
		}
		return 0
	}
	return g.release()
}

// release ends the alignment of the current checkpoint and handles the envelopes held back,
// in order per channel. A held-back barrier of a newer checkpoint starts its alignment again.
func (g *gate) release() int {
	g.done_ = max(g.done_, g.aligning)
	g.aligning, g.arrived, g.held = 0, 0, 0
	queues := make([][]envelope, len(g.chans))
	for i := range g.chans {
		c := &g.chans[i]
		queues[i], c.queue, c.blocked = c.queue, nil, false
	}
	n := 0
	for _, q := range queues {
		for _, e := range q {
			n += g.handle(e)
		}
	}
	return n
}

// update recomputes the combined watermark and idleness after a channel changed.
func (g *gate) update() {
	lo, active := eventtime.MaxTime, false
	for _, c := range g.chans {
		if c.ended || c.idle {
			continue
		}
		active = true
		lo = min(lo, c.wm)
	}
	if !active {
		if !g.idle {
			g.idle = true
			g.control.Idle(true)
		}
		return
	}
	if g.idle {
		g.idle = false
		g.control.Idle(false)
	}
	g.advance(lo)
}

// advance raises the task's watermark to wm, if that is higher. Before MaxTime it passes on
// the highest real watermark any channel delivered, if that is above the task's: the channels
// end one by one, and the minimum rule alone would leave the task at the last real watermark
// of whichever channel ended last, which depends on timing. With it, event-time timers due
// within the whole input fire while the watermark is a real time, not MaxTime.
func (g *gate) advance(wm int64) {
	if wm <= g.wm {
		return
	}
	if wm == eventtime.MaxTime {
		reached := eventtime.MinTime
		for _, c := range g.chans {
			reached = max(reached, c.last)
		}
		if reached > g.wm {
			g.wm = reached
			g.control.Watermark(reached)
		}
	}
	g.wm = wm
	g.control.Watermark(wm)
}
