package stream

import (
	"context"
	"fmt"
	"time"

	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/operator"
)

// This file builds asynchronous I/O (Flink's AsyncDataStream): an operator that calls an
// external service for each record from goroutines of its own, several calls in flight at once,
// and emits the results from the task goroutine. The operator, its threading, its order and
// its checkpoints are described in package operator (async.go).

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
// AsyncOptions.Timeout. It is operator.ErrAsyncTimeout.
var ErrAsyncTimeout = operator.ErrAsyncTimeout

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
	checkFunc("Async", fn, plainOpeners...)
	if err := opt.Validate(); err != nil {
		panic(err.Error())
	}
	opt = opt.withDefaults()
	name := "AsyncUnordered"
	if ordered {
		name = "AsyncOrdered"
	}
	cfg := operator.AsyncConfig{Capacity: opt.Capacity, Timeout: opt.Timeout, PollInterval: opt.PollInterval, Ordered: ordered}
	n := operatorNode[T, U](s, name, func(c *rt.Context, out any) (rt.Instance, error) {
		fn := instance(fn)
		var onTimeout func(T) (U, error)
		if h, ok := fn.(AsyncTimeoutHandler[T, U]); ok {
			onTimeout = h.OnTimeout
		}
		o := operator.NewAsync[T, U](c, operator.OutputOf[U](out), cfg, fn.Invoke, onTimeout)
		o.Funcs = funcsOf(fn, c)
		return o, nil
	})
	return single[U](s.env, n)
}
