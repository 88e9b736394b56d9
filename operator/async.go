package operator

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/runnel-io/runnel/eventtime"
	rt "github.com/runnel-io/runnel/internal/runtime"
)

// This file is asynchronous I/O (Flink's AsyncWaitOperator): an operator that calls an
// external service for each record from goroutines of its own, several calls in flight at
// once, and emits the results from the task goroutine.
//
// Threading. Each call runs in a goroutine the operator starts and owns; it runs the invoke
// function and sends the finished entry on the operator's done channel, which has room for
// every call that may be in flight, so a call never blocks. Everything else (the queue of
// entries, emitting results, watermarks) belongs to the task goroutine. Close cancels the calls
// still running and waits for their goroutines.
//
// Waiting. The task goroutine picks up finished calls whenever the operator runs: on every
// record and watermark, it takes what has finished without blocking and emits what it may.
// When Capacity records are waiting it blocks until one finishes (backpressure), and at the end
// of input until all have. While calls are in flight and no input arrives, a processing-time
// timer polls for finished calls every AsyncConfig.PollInterval: that interval bounds the
// extra latency of a result that finishes while the operator's input is idle.
//
// Checkpoints. Flink stores the records whose calls are in flight in the checkpoint and calls
// again for them after a restore. This operator drains instead: at a checkpoint's barrier
// (SnapshotState) it waits for every call in flight and emits the results, and the watermarks
// queued between them, in its ordered or unordered mode, before the barrier goes on. Its
// snapshot is then empty. The cost is that a checkpoint waits for the slowest call in flight
// (at most Timeout).
//
// Order. Records and watermarks enter one queue in arrival order. Ordered mode emits results in
// input order: the head of the queue is emitted once its call has finished, and a watermark
// once every record before it is out. Unordered mode emits a result as soon as its call has
// finished and no watermark that arrived before its record is still waiting; a watermark waits
// for the records that arrived before it. Either way no watermark overtakes a record that
// arrived before it, and a result carries its input record's timestamp.

// ErrAsyncTimeout is the error a job fails with, wrapped with the operator and record, when a
// call without a timeout function does not finish within AsyncConfig.Timeout.
var ErrAsyncTimeout = errors.New("async call timed out")

// AsyncConfig configures an Async operator. Every field must be set (no defaults here: the
// builder applies them).
type AsyncConfig struct {
	// Capacity is the most records a subtask holds whose results are not yet emitted.
	Capacity int
	// Timeout bounds each call, measured with the job's clock.
	Timeout time.Duration
	// PollInterval is how often a subtask whose input is idle checks for finished calls.
	PollInterval time.Duration
	// Ordered emits results in input order; otherwise as they finish, between watermarks.
	Ordered bool
}

// NewAsync returns an async I/O operator subtask calling invoke for every record; onTimeout,
// if not nil, supplies the result of a call that timed out. Set Funcs to open and close the
// function.
func NewAsync[T, U any](c *rt.Context, out rt.Output[U], cfg AsyncConfig, invoke func(ctx context.Context, v T) (U, error), onTimeout func(v T) (U, error)) *Async[T, U] {
	return &Async[T, U]{Forward: Forward[U]{out}, c: c, invoke: invoke, onTimeout: onTimeout, ordered: cfg.Ordered,
		opt: cfg, wm: eventtime.MinTime, outWM: eventtime.MinTime, done: make(chan *asyncEntry[T, U], cfg.Capacity)}
}

// asyncEntry is one record's call. The call goroutine owns it from launch until it sends it on
// done; the task goroutine before and after.
type asyncEntry[T, U any] struct {
	v        T
	ts       int64
	res      U
	err      error
	timedOut bool
	finished bool                // ordered mode: the result may be emitted when the entry is at the head
	seg      *asyncSegment[T, U] // unordered mode: the segment the record arrived in
}

// asyncItem is an element of the ordered queue: a record's entry, or a watermark (e == nil).
type asyncItem[T, U any] struct {
	e  *asyncEntry[T, U]
	wm int64
}

// asyncSegment is the records that arrived between two watermarks (unordered mode): how many
// have not finished, those that finished before the segment reached the head, and the
// watermark that closes it.
type asyncSegment[T, U any] struct {
	pending int
	done    []*asyncEntry[T, U] // finished while an earlier watermark was waiting
	closed  bool
	wm      int64
}

// Async is the asynchronous I/O operator; see the file's comment.
type Async[T, U any] struct {
	Forward[U]
	Funcs
	c         *rt.Context
	invoke    func(ctx context.Context, v T) (U, error)
	onTimeout func(v T) (U, error)
	ordered   bool
	opt       AsyncConfig

	ctx    context.Context // parent of every call; cancelled by Close
	cancel context.CancelFunc
	calls  sync.WaitGroup
	done   chan *asyncEntry[T, U]

	// Task goroutine only.
	queue     []asyncItem[T, U] // ordered mode, from head
	head      int
	segs      []*asyncSegment[T, U] // unordered mode, from segHead
	segHead   int
	waiting   int   // records whose results are not emitted yet
	inFlight  int   // calls whose entries the task has not received back
	wm, outWM int64 // input and output watermarks, for metrics
	idle      bool  // an idleness that waits for the queue to drain
	polling   bool
}

// Open opens the function.
func (o *Async[T, U]) Open() error {
	o.ctx, o.cancel = context.WithCancel(o.c.Ctx())
	return o.open(o.c)
}

// Close cancels the calls still running and waits for them, then closes the function.
func (o *Async[T, U]) Close() error {
	if o.cancel != nil {
		o.cancel()
	}
	o.calls.Wait()
	return o.close()
}

// Collect starts the call for v, first waiting for room if Capacity records wait.
func (o *Async[T, U]) Collect(v T, ts int64) {
	o.drain()
	for o.waiting >= o.opt.Capacity {
		o.await()
	}
	o.launch(v, ts)
	o.poll()
}

// Watermark queues wm behind the records before it, or passes it on when none waits.
func (o *Async[T, U]) Watermark(wm int64) {
	o.wm = wm
	o.c.SetWatermarks(wm, o.outWM)
	o.drain()
	if o.waiting == 0 {
		o.emitWatermark(wm)
		return
	}
	if o.ordered {
		if last := len(o.queue) - 1; last >= o.head && o.queue[last].e == nil {
			o.queue[last].wm = wm // watermarks with no record between them: keep the later
		} else {
			o.queue = append(o.queue, asyncItem[T, U]{wm: wm})
		}
	} else {
		last := o.segs[len(o.segs)-1]
		last.closed, last.wm = true, wm
	}
	o.poll()
}

// Idle forwards the input becoming active at once; becoming idle waits for the queue to drain,
// so that downstream does not let its watermark pass records still in flight.
func (o *Async[T, U]) Idle(idle bool) {
	if idle && o.waiting > 0 {
		o.idle = true
		return
	}
	if !idle && o.idle {
		o.idle = false // downstream was never told
		return
	}
	o.Out.Idle(idle)
}

// Finish waits for every call and emits everything before it passes the end of input on.
func (o *Async[T, U]) Finish() {
	for o.waiting > 0 {
		o.await()
	}
	o.Out.Finish()
}

var _ rt.Snapshotter = (*Async[int, int])(nil)

// SnapshotState implements rt.Snapshotter by draining: it waits for every call in flight and
// emits what they produced, in the operator's order, so that nothing is left to store. It
// returns an empty snapshot. A call that fails or times out without a timeout handler fails
// the job, as it would without the checkpoint.
func (o *Async[T, U]) SnapshotState(int64) (rt.OperatorSnapshot, error) {
	for o.waiting > 0 {
		o.await()
	}
	return rt.OperatorSnapshot{}, nil
}

// launch starts the call for v.
func (o *Async[T, U]) launch(v T, ts int64) {
	e := &asyncEntry[T, U]{v: v, ts: ts}
	o.waiting++
	o.inFlight++
	if o.ordered {
		o.queue = append(o.queue, asyncItem[T, U]{e: e})
	} else {
		if len(o.segs) == o.segHead || o.segs[len(o.segs)-1].closed {
			o.segs = append(o.segs, &asyncSegment[T, U]{})
		}
		e.seg = o.segs[len(o.segs)-1]
		e.seg.pending++
	}
	o.calls.Go(func() { o.call(e) })
}

// call runs in its own goroutine.
func (o *Async[T, U]) call(e *asyncEntry[T, U]) {
	ctx, cancel := clockwork.WithTimeout(o.ctx, o.c.Clock, o.opt.Timeout)
	e.res, e.err = o.call1(ctx, e.v)
	if e.err != nil {
		select {
		case <-ctx.Done():
			// A failure once the deadline has passed, while the job still runs, is a timeout.
			e.timedOut = o.ctx.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded)
		default:
		}
	}
	cancel()
	o.done <- e
}

func (o *Async[T, U]) call1(ctx context.Context, v T) (res U, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return o.invoke(ctx, v)
}

// drain takes the finished calls without blocking and emits what it may.
func (o *Async[T, U]) drain() {
	for o.inFlight > 0 {
		select {
		case e := <-o.done:
			o.finished(e)
		default:
			return
		}
	}
}

// await blocks until a call finishes, takes it and every other finished one, and emits what it
// may. A job stopped meanwhile unwinds the task.
func (o *Async[T, U]) await() {
	if o.inFlight == 0 {
		panic("operator: async operator waits with no call in flight") // the queue's bookkeeping is broken
	}
	select {
	case e := <-o.done:
		o.finished(e)
	case <-o.ctx.Done():
		o.c.Fail(nil, fmt.Errorf("waiting for async calls: %w", context.Cause(o.ctx)))
	}
	o.drain()
}

// finished handles an entry back from its call: a failure fails the job, a timeout asks the
// timeout handler, and the result goes out when its place in the queue allows.
func (o *Async[T, U]) finished(e *asyncEntry[T, U]) {
	o.inFlight--
	switch {
	case e.timedOut && o.onTimeout != nil:
		e.res, e.err = o.timeoutResult(e.v)
		if e.err != nil {
			o.c.Fail(e.v, fmt.Errorf("async timeout handler: %w", e.err))
		}
	case e.timedOut:
		o.c.Fail(e.v, fmt.Errorf("%w after %v", ErrAsyncTimeout, o.opt.Timeout))
	case e.err != nil:
		o.c.Fail(e.v, fmt.Errorf("async call: %w", e.err))
	}
	if o.ordered {
		e.finished = true
		o.emitOrdered()
		return
	}
	s := e.seg
	s.pending--
	if s == o.segs[o.segHead] {
		o.emit(e)
		o.emitUnordered()
		return
	}
	s.done = append(s.done, e)
}

func (o *Async[T, U]) timeoutResult(v T) (res U, err error) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	return o.onTimeout(v)
}

// emitOrdered emits the head of the ordered queue while it is a finished record or a watermark.
func (o *Async[T, U]) emitOrdered() {
	for o.head < len(o.queue) {
		it := o.queue[o.head]
		if it.e != nil && !it.e.finished {
			break
		}
		o.queue[o.head] = asyncItem[T, U]{}
		o.head++
		if it.e != nil {
			o.emit(it.e)
		} else {
			o.emitWatermark(it.wm)
		}
	}
	if o.head == len(o.queue) {
		o.queue, o.head = o.queue[:0], 0
		o.drained()
	} else if o.head >= 64 && 2*o.head >= len(o.queue) {
		n := copy(o.queue, o.queue[o.head:])
		clear(o.queue[n:])
		o.queue, o.head = o.queue[:n], 0
	}
}

// emitUnordered pops the head segments that have no record in flight: it emits the watermark
// that closes each and then the records of the next that finished while they waited.
func (o *Async[T, U]) emitUnordered() {
	for o.segHead < len(o.segs) {
		s := o.segs[o.segHead]
		if s.pending > 0 || !s.closed {
			break
		}
		o.segs[o.segHead] = nil
		o.segHead++
		o.emitWatermark(s.wm)
		if o.segHead < len(o.segs) {
			next := o.segs[o.segHead]
			for i, e := range next.done {
				o.emit(e)
				next.done[i] = nil
			}
			next.done = nil
		}
	}
	if o.segHead == len(o.segs) || (o.segHead == len(o.segs)-1 && o.segs[o.segHead].pending == 0) {
		// Nothing waits: drop the last open segment too, the next record starts a fresh one.
		clear(o.segs)
		o.segs, o.segHead = o.segs[:0], 0
		o.drained()
	} else if o.segHead >= 64 && 2*o.segHead >= len(o.segs) {
		n := copy(o.segs, o.segs[o.segHead:])
		clear(o.segs[n:])
		o.segs, o.segHead = o.segs[:n], 0
	}
}

func (o *Async[T, U]) emit(e *asyncEntry[T, U]) {
	o.waiting--
	o.Out.Collect(e.res, e.ts)
}

func (o *Async[T, U]) emitWatermark(wm int64) {
	o.outWM = wm
	o.c.SetWatermarks(o.wm, wm)
	o.Out.Watermark(wm)
}

// drained passes on an idleness that waited for the queue, once the queue is empty.
func (o *Async[T, U]) drained() {
	if o.idle && o.waiting == 0 {
		o.idle = false
		o.Out.Idle(true)
	}
}

// poll makes sure a processing-time timer will look for finished calls while some are in
// flight, in case no input comes to wake the operator.
func (o *Async[T, U]) poll() {
	if o.polling || o.inFlight == 0 {
		return
	}
	o.polling = true
	o.c.RegisterProcessingTimer(o.c.Clock.Now().Add(o.opt.PollInterval).UnixMilli(), o.onPoll)
}

func (o *Async[T, U]) onPoll(int64) {
	o.polling = false
	o.drain()
	o.poll()
}
