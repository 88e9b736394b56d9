package runtime

import "github.com/runnel-io/runnel/eventtime"

// gate merges a task's input channels: it delivers record batches to the input they belong to
// and turns per-channel watermarks, idleness and end markers into the task's own: the
// watermark is the minimum over the channels that are neither idle nor ended.
type gate struct {
	chans   []chanState
	deliver []func(b any) int // per input
	control Control
	wm      int64
	idle    bool
	ended   int
}

type chanState struct {
	input int
	wm    int64
	idle  bool
	ended bool
}

func newGate(inputs []int) *gate {
	g := &gate{chans: make([]chanState, len(inputs)), wm: eventtime.MinTime}
	for i, in := range inputs {
		g.chans[i] = chanState{input: in, wm: eventtime.MinTime}
	}
	return g
}

// done reports whether every channel has ended.
func (g *gate) done() bool { return g.ended == len(g.chans) }

// handle processes one envelope and returns the number of records delivered.
func (g *gate) handle(e envelope) int {
	c := &g.chans[e.channel]
	switch e.kind {
	case kindRecords:
		return g.deliver[c.input](e.batch)
	case kindWatermark:
		if e.wm > c.wm {
			c.wm = e.wm
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
		if g.done() {
			if g.wm != eventtime.MaxTime {
				g.wm = eventtime.MaxTime
				g.control.Watermark(eventtime.MaxTime)
			}
			g.control.Finish()
			return 0
		}
		g.update()
	}
	return 0
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
	if lo > g.wm {
		g.wm = lo
		g.control.Watermark(lo)
	}
}
