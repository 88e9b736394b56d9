package runtime

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/runnel-io/runnel/internal/snapshot"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/state"
)

// task is one goroutine running a chain of operators for one subtask.
type task struct {
	name    string
	subtask int
	ctx     context.Context
	clock   clockwork.Clock
	cfg     *Config

	j        *job
	id       snapshot.TaskID
	ctrl     *ctrlQueue
	inbox    chan envelope // nil for source tasks
	gate     *gate
	source   sourceRunner // nil for tasks fed by exchanges
	insts    []Instance   // in chain order, head first
	nodes    []*Node      // the node of each instance
	ctxs     []*Context   // the context of each instance (nil for the source reader)
	ops      []*opStats
	timers   procTimers
	flushers []flusher
	backends []state.Backend // made by Context.NewStateBackend; closed after the operators
	// standalone is set for the context of an operator driven outside a job (standalone.go).
	standalone *Standalone

	// Checkpoints: the newest snapshot taken, triggers whose barrier has not come yet, and
	// how long the last alignment took.
	lastSnapshot int64
	uploads      uploads
	triggered    []int64
	alignment    time.Duration

	sent, received      int64
	backpressured, idle time.Duration
	stats               atomic.Pointer[metrics.Task]
}

// opStats are one operator's counters, written by the task goroutine and published by it.
type opStats struct {
	name        string
	id, subtask int
	in          *int64 // the upstream operator's out, or the task's received count
	out         int64
	side        []*int64 // records into each side output, part of RecordsOut
	inWM, outWM int64
	// counters are created from the task goroutine (Context.Counter) before or while it runs;
	// the map is only read by publish, on the same goroutine.
	counters  map[string]*atomic.Int64
	published atomic.Pointer[metrics.Operator]
	// gauges are created by Context.Gauge from any goroutine and read when the reporter takes
	// a snapshot, not when the task publishes: a snapshot shows a gauge's value at that
	// moment, even while the task is blocked (a source held back by backpressure still shows
	// its current lag).
	gauges struct {
		mu sync.Mutex
		m  map[string]*atomic.Int64 // guarded by mu
	}
}

// gauge returns the gauge called name, creating it at zero. It is safe for concurrent use.
func (o *opStats) gauge(name string) *atomic.Int64 {
	o.gauges.mu.Lock()
	defer o.gauges.mu.Unlock()
	if n, ok := o.gauges.m[name]; ok {
		return n
	}
	if o.gauges.m == nil {
		o.gauges.m = map[string]*atomic.Int64{}
	}
	n := new(atomic.Int64)
	o.gauges.m[name] = n
	return n
}

// gaugeValues returns the gauges' current values, nil when there are none. It is safe for
// concurrent use.
func (o *opStats) gaugeValues() map[string]int64 {
	o.gauges.mu.Lock()
	defer o.gauges.mu.Unlock()
	if len(o.gauges.m) == 0 {
		return nil
	}
	vals := make(map[string]int64, len(o.gauges.m))
	for name, n := range o.gauges.m {
		vals[name] = n.Load()
	}
	return vals
}

// closeBackends closes the state backends the task's operators made.
func (t *task) closeBackends() error {
	var err error
	for _, b := range t.backends {
		if cerr := b.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("runtime: closing the state backend of %s: %w", t.name, cerr)
		}
	}
	t.backends = nil
	return err
}

func (t *task) flushAll() {
	for _, f := range t.flushers {
		f.flush()
	}
}

// run runs the task to completion and returns why it stopped: nil at end of input.
func (t *task) run() (err error) {
	first := len(t.insts) // index of the first opened instance; the chain opens tail first
	defer func() {
		if r := recover(); r != nil {
			a, ok := r.(*taskAbort)
			if !ok {
				a = &taskAbort{err: fmt.Errorf("runtime: task %s (subtask %d) crashed: %v\n%s", t.name, t.subtask, r, debug.Stack())}
			}
			err = a.err
		}
		for i := first; i < len(t.insts); i++ {
			if cerr := t.insts[i].Close(); cerr != nil && err == nil {
				err = fmt.Errorf("runtime: closing %s: %w", t.name, cerr)
			}
		}
		if cerr := t.closeBackends(); cerr != nil && err == nil {
			err = cerr
		}
		t.timers.stop()
		t.publish()
	}()
	// Publish once before anything runs, so that snapshots list the task's operators (and
	// their gauges) even if it blocks before its first flush tick.
	t.publish()
	// Open from the tail of the chain to the head, so every operator's output is ready.
	for i := len(t.insts) - 1; i >= 0; i-- {
		if err := t.insts[i].Open(); err != nil {
			return fmt.Errorf("runtime: opening %s (subtask %d): %w", t.name, t.subtask, err)
		}
		first = i
	}
	if t.source != nil {
		t.source.run(t)
	} else {
		t.loop()
	}
	return nil
}

// loop is the event loop of a task fed by exchanges.
func (t *task) loop() {
	tick := t.clock.NewTicker(t.cfg.FlushInterval)
	defer tick.Stop()
	for n := 1; !t.gate.done(); n++ {
		var e envelope
		select {
		case e = <-t.inbox:
		default:
			// Nothing waiting: send partial batches downstream before blocking, so latency stays low.
			t.flushAll()
			start := t.clock.Now()
			select {
			case e = <-t.inbox:
			case <-tick.Chan():
				t.publish()
				continue
			case <-t.timers.C():
				t.timers.fire()
				continue
			case <-t.ctrl.notify:
				t.handleCtrl()
				continue
			case <-t.ctx.Done():
				panic(&taskAbort{err: t.ctx.Err()})
			}
			t.idle += t.clock.Since(start)
		}
		t.received += int64(t.gate.handle(e))
		if n%64 == 0 {
			t.poll(tick)
		}
	}
	t.flushAll()
	t.finished()
}

// poll does the periodic work a busy task would otherwise never get to: the flush interval,
// due processing-time timers and cancellation.
func (t *task) poll(tick clockwork.Ticker) {
	select {
	case <-tick.Chan():
		t.flushAll()
		t.publish()
	case <-t.timers.C():
		t.timers.fire()
	case <-t.ctrl.notify:
		t.handleCtrl()
	case <-t.ctx.Done():
		panic(&taskAbort{err: t.ctx.Err()})
	default:
	}
}

// publish makes the task's counters visible to the metrics reporter (which reads gauges
// itself, when it takes a snapshot).
func (t *task) publish() {
	t.stats.Store(&metrics.Task{Name: t.name, Subtask: t.subtask, Backpressured: t.backpressured, Idle: t.idle})
	for _, o := range t.ops {
		out := o.out
		for _, n := range o.side {
			out += *n
		}
		m := &metrics.Operator{Operator: o.name, ID: o.id, Subtask: o.subtask,
			RecordsIn: *o.in, RecordsOut: out, InputWatermark: o.inWM, OutputWatermark: o.outWM}
		if len(o.counters) > 0 {
			m.Counters = make(map[string]int64, len(o.counters))
			for name, n := range o.counters {
				m.Counters[name] = n.Load()
			}
		}
		o.published.Store(m)
	}
}

// isCancel reports whether err only says the job was stopped, not why.
func isCancel(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
