package stream

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

// This file is asynchronous I/O (Flink's AsyncDataStream): an operator that calls an external
// service for each record from goroutines of its own, several calls in flight at once, and
// emits the results from the task goroutine.
//
// Threading. Each call runs in a goroutine the operator starts and owns; it runs the user's
// AsyncFunction and sends the finished entry on the operator's done channel, which has room for
// every call that may be in flight, so a call never blocks. Everything else (the queue of
// entries, emitting results, watermarks) belongs to the task goroutine. Close cancels the calls
// still running and waits for their goroutines.
//
// Waiting. The task goroutine picks up finished calls whenever the operator runs: on every
// record and watermark, it takes what has finished without blocking and emits what it may.
// When Capacity records are waiting it blocks until one finishes (backpressure), and at the end
// of input until all have. While calls are in flight and no input arrives, a processing-time
// timer polls for finished calls every AsyncOptions.PollInterval: that interval bounds the
// extra latency of a result that finishes while the operator's input is idle.
//
// Checkpoints. Flink stores the records whose calls are in flight in the checkpoint and calls
// again for them after a restore. This operator drains instead: at a checkpoint's barrier
// (SnapshotState) it waits for every call in flight and emits the results, and the watermarks
// queued between them, in its ordered or unordered mode, before the barrier goes on. Its
// snapshot is then empty: every record that entered before the barrier has left as a result,
// so downstream operators snapshot state that includes them. The cost is that a checkpoint
// waits for the slowest call in flight (at most Timeout).
//
// Order. Records and watermarks enter one queue in arrival order. Ordered mode emits results in
// input order: the head of the queue is emitted once its call has finished, and a watermark
// once every record before it is out. Unordered mode emits a result as soon as its call has
// finished and no watermark that arrived before its record is still waiting; a watermark waits
// for the records that arrived before it. Either way no watermark overtakes a record that
// arrived before it, and a result carries its input record's timestamp.

// AsyncFunction computes the result for a record by calling something slow (a database, a
// service), Flink's AsyncFunction. Invoke is called from several goroutines at once (up to
// AsyncOptions.Capacity) and must be safe for concurrent use. ctx is cancelled when the call
// times out (its deadline is the call's timeout, in the job's clock) or the job stops; Invoke
// must return promptly then, because the operator waits for every call before it closes.
// An error fails the job, naming the record.
//
// An AsyncFunction may implement Opener and Closer (called from the task goroutine, before the
// first and after the last call) and AsyncTimeoutHandler. A pointer to a struct is copied per
// parallel instance.
type AsyncFunction[T, U any] interface {
	Invoke(ctx context.Context, v T) (U, error)
}

// AsyncFunc adapts a function to an AsyncFunction.
type AsyncFunc[T, U any] func(ctx context.Context, v T) (U, error)

// Invoke calls f.
func (f AsyncFunc[T, U]) Invoke(ctx context.Context, v T) (U, error) { return f(ctx, v) }

// AsyncTimeoutHandler is implemented by async functions that supply the result of a call that
// timed out (a default, a cached value) instead of failing the job. OnTimeout runs on the task
// goroutine; an error fails the job.
type AsyncTimeoutHandler[T, U any] interface {
	OnTimeout(v T) (U, error)
}

// ErrAsyncTimeout is the error a job fails with, wrapped with the operator and record, when a
// call of an AsyncFunction without an AsyncTimeoutHandler does not finish within
// AsyncOptions.Timeout.
var ErrAsyncTimeout = errors.New("async call timed out")

// AsyncOptions configures AsyncOrdered and AsyncUnordered. The zero AsyncOptions is valid.
type AsyncOptions struct {
	// Capacity is the most records a subtask holds whose results are not yet emitted: calls in
	// flight, and in ordered mode finished ones waiting for earlier records. When it is reached
	// the operator blocks its task until a result can be emitted. Default 100.
	Capacity int
	// Timeout bounds each call, measured with the job's clock; default 10s. It is the deadline
	// of the call's context: a call that returns an error once the deadline has passed (while
	// the job runs) has timed out, whatever the error, and fails the job with ErrAsyncTimeout
	// unless the function implements AsyncTimeoutHandler. A call that returns a result is
	// taken, however late.
	Timeout time.Duration
	// PollInterval is how often a subtask whose input is idle checks for finished calls while
	// some are in flight; default 1ms, at least 1ms. It bounds the latency a result gains by
	// finishing while no input arrives.
	PollInterval time.Duration
}

// Validate reports options that cannot work: negative values.
func (o AsyncOptions) Validate() error {
	if o.Capacity < 0 || o.Timeout < 0 || o.PollInterval < 0 {
		return fmt.Errorf("stream: async options %+v: negative capacity, timeout or poll interval", o)
	}
	return nil
}

func (o AsyncOptions) withDefaults() AsyncOptions {
	if o.Capacity == 0 {
		o.Capacity = 100
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.PollInterval < time.Millisecond {
		o.PollInterval = time.Millisecond
	}
	return o
}

// AsyncOrdered calls fn for every record of s, up to opt.Capacity calls at once per subtask,
// and emits the results in input order with their records' timestamps. It panics if opt is
// invalid.
func AsyncOrdered[T, U any](s Stream[T], fn AsyncFunction[T, U], opt AsyncOptions) Stream[U] {
	return asyncOperator(s, fn, opt, true)
}

// AsyncUnordered is AsyncOrdered, except that results are emitted as soon as their calls
// finish: results of records between two watermarks may come out in any order, but never
// after a watermark that followed their record nor before one that preceded it.
func AsyncUnordered[T, U any](s Stream[T], fn AsyncFunction[T, U], opt AsyncOptions) Stream[U] {
	return asyncOperator(s, fn, opt, false)
}

func asyncOperator[T, U any](s Stream[T], fn AsyncFunction[T, U], opt AsyncOptions, ordered bool) Stream[U] {
	if fn == nil {
		panic("stream: async operator with a nil function")
	}
	if err := opt.Validate(); err != nil {
		panic(err.Error())
	}
	opt = opt.withDefaults()
	name := "AsyncUnordered"
	if ordered {
		name = "AsyncOrdered"
	}
	n := operator[T, U](s, name, func(c *rt.Context, out any) (rt.Instance, error) {
		fn := instance(fn)
		o := &asyncOp[T, U]{forward: forward[U]{outputOf[U](out)}, c: c, fn: fn, ordered: ordered,
			opt: opt, wm: eventtime.MinTime, outWM: eventtime.MinTime, done: make(chan *asyncEntry[T, U], opt.Capacity)}
		o.onTimeout, _ = fn.(AsyncTimeoutHandler[T, U])
		return o, nil
	})
	return single[U](s.env, n)
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

type asyncOp[T, U any] struct {
	forward[U]
	c         *rt.Context
	fn        AsyncFunction[T, U]
	onTimeout AsyncTimeoutHandler[T, U]
	ordered   bool
	opt       AsyncOptions

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

func (o *asyncOp[T, U]) Open() error {
	o.ctx, o.cancel = context.WithCancel(o.c.Ctx())
	if err := openFn(o.fn, o.c); err != nil {
		return fmt.Errorf("open %s: %w", o.c.Name, err)
	}
	return nil
}

// Close cancels the calls still running and waits for them, then closes the function.
func (o *asyncOp[T, U]) Close() error {
	if o.cancel != nil {
		o.cancel()
	}
	o.calls.Wait()
	return closeFn(o.fn)
}

func (o *asyncOp[T, U]) Collect(v T, ts int64) {
	o.drain()
	for o.waiting >= o.opt.Capacity {
		o.await()
	}
	o.launch(v, ts)
	o.poll()
}

func (o *asyncOp[T, U]) Watermark(wm int64) {
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
func (o *asyncOp[T, U]) Idle(idle bool) {
	if idle && o.waiting > 0 {
		o.idle = true
		return
	}
	if !idle && o.idle {
		o.idle = false // downstream was never told
		return
	}
	o.out.Idle(idle)
}

// Finish waits for every call and emits everything before it passes the end of input on.
func (o *asyncOp[T, U]) Finish() {
	for o.waiting > 0 {
		o.await()
	}
	o.out.Finish()
}

var _ rt.Snapshotter = (*asyncOp[int, int])(nil)

// SnapshotState implements rt.Snapshotter by draining: it waits for every call in flight and
// emits what they produced, in the operator's order, so that nothing is left to store. It
// returns an empty snapshot. A call that fails or times out without a timeout handler fails
// the job, as it would without the checkpoint.
func (o *asyncOp[T, U]) SnapshotState(int64) (rt.OperatorSnapshot, error) {
	for o.waiting > 0 {
		o.await()
	}
	return rt.OperatorSnapshot{}, nil
}

// launch starts the call for v.
func (o *asyncOp[T, U]) launch(v T, ts int64) {
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
func (o *asyncOp[T, U]) call(e *asyncEntry[T, U]) {
	ctx, cancel := clockwork.WithTimeout(o.ctx, o.c.Clock, o.opt.Timeout)
	e.res, e.err = o.invoke(ctx, e.v)
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

func (o *asyncOp[T, U]) invoke(ctx context.Context, v T) (res U, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return o.fn.Invoke(ctx, v)
}

// drain takes the finished calls without blocking and emits what it may.
func (o *asyncOp[T, U]) drain() {
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
func (o *asyncOp[T, U]) await() {
	if o.inFlight == 0 {
		panic("stream: async operator waits with no call in flight") // the queue's bookkeeping is broken
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
func (o *asyncOp[T, U]) finished(e *asyncEntry[T, U]) {
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

func (o *asyncOp[T, U]) timeoutResult(v T) (res U, err error) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	return o.onTimeout.OnTimeout(v)
}

// emitOrdered emits the head of the ordered queue while it is a finished record or a watermark.
func (o *asyncOp[T, U]) emitOrdered() {
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
func (o *asyncOp[T, U]) emitUnordered() {
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

func (o *asyncOp[T, U]) emit(e *asyncEntry[T, U]) {
	o.waiting--
	o.out.Collect(e.res, e.ts)
}

func (o *asyncOp[T, U]) emitWatermark(wm int64) {
	o.outWM = wm
	o.c.SetWatermarks(o.wm, wm)
	o.out.Watermark(wm)
}

// drained passes on an idleness that waited for the queue, once the queue is empty.
func (o *asyncOp[T, U]) drained() {
	if o.idle && o.waiting == 0 {
		o.idle = false
		o.out.Idle(true)
	}
}

// poll makes sure a processing-time timer will look for finished calls while some are in
// flight, in case no input comes to wake the operator.
func (o *asyncOp[T, U]) poll() {
	if o.polling || o.inFlight == 0 {
		return
	}
	o.polling = true
	o.c.RegisterProcessingTimer(o.c.Clock.Now().Add(o.opt.PollInterval).UnixMilli(), o.onPoll)
}

func (o *asyncOp[T, U]) onPoll(int64) {
	o.polling = false
	o.drain()
	o.poll()
}
