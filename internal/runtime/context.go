package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"

	"github.com/jonboulle/clockwork"
	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/state"
)

// Context is what an operator subtask knows of where it runs. It is made by the runtime for
// each operator of each subtask and used from the task goroutine only.
type Context struct {
	// Name is the operator's name and NodeID its node's ID.
	Name   string
	NodeID int
	// Subtask is this subtask's index in [0, Parallelism).
	Subtask, Parallelism int
	// MaxParallelism is the number of key groups; KeyGroups the ones this subtask owns.
	MaxParallelism int
	KeyGroups      keygroup.Range
	// Attempt counts restarts of the job, from 0.
	Attempt int
	Clock   clockwork.Clock
	Logger  *slog.Logger

	t        *task
	uid      string // the node's UID, for what outlives a run (across.go)
	side     map[string]any
	op       *opStats
	restored *Restored
}

// Ctx returns the task's context, cancelled when the job stops; for user code that blocks.
func (c *Context) Ctx() context.Context { return c.t.ctx }

// SideOutput returns the Output[X] of side output tag; records sent to a tag nobody consumes
// are dropped.
func (c *Context) SideOutput(tag string) any { return c.side[tag] }

// RegisterProcessingTimer calls fire from the task goroutine once processing time reaches at
// (epoch ms).
func (c *Context) RegisterProcessingTimer(at int64, fire func(at int64)) {
	c.t.timers.register(at, fire)
}

// Counter returns the operator subtask's counter called name, creating it at zero; it is
// published with the operator's metrics. The counter is safe for concurrent use.
func (c *Context) Counter(name string) *atomic.Int64 {
	if n, ok := c.op.counters[name]; ok {
		return n
	}
	if c.op.counters == nil {
		c.op.counters = map[string]*atomic.Int64{}
	}
	n := new(atomic.Int64)
	c.op.counters[name] = n
	return n
}

// Gauge returns the operator subtask's gauge called name, creating it at zero. Unlike a
// counter, a gauge is read when the metrics reporter takes a snapshot, so a snapshot shows its
// value at that moment even while the task is blocked. Gauge and the gauge are safe for
// concurrent use.
func (c *Context) Gauge(name string) *atomic.Int64 { return c.op.gauge(name) }

// NewStateBackend makes the keyed-state backend of this operator subtask, as Config.StateBackend
// says (the in-memory backend by default). The task closes it after the operator's Close.
func (c *Context) NewStateBackend() (state.Backend, error) {
	if c.t.cfg.StateBackend == nil {
		return state.NewMemory(), nil
	}
	b, err := c.t.cfg.StateBackend(c.Ctx(), state.BackendContext{Operator: c.Name, NodeID: c.NodeID, Subtask: c.Subtask,
		KeyGroups: c.KeyGroups, Logger: c.Logger, Restored: c.Restored().Files()})
	if err != nil {
		return nil, fmt.Errorf("runtime: state backend of %s subtask %d: %w", c.Name, c.Subtask, err)
	}
	c.t.backends = append(c.t.backends, b)
	return b, nil
}

// SetWatermarks records the operator's current input and output watermarks for metrics.
func (c *Context) SetWatermarks(in, out int64) {
	c.op.inWM, c.op.outWM = in, out
}

// OperatorError is a failure of user code: which operator, which subtask, which record.
type OperatorError struct {
	Operator string
	Subtask  int
	// Record is the record (or timer) being processed, formatted and truncated; empty if none.
	Record string
	Err    error
}

func (e *OperatorError) Error() string {
	if e.Record == "" {
		return fmt.Sprintf("operator %q (subtask %d): %v", e.Operator, e.Subtask, e.Err)
	}
	return fmt.Sprintf("operator %q (subtask %d) failed on record %s: %v", e.Operator, e.Subtask, e.Record, e.Err)
}

func (e *OperatorError) Unwrap() error { return e.Err }

// taskAbort unwinds a task's stack; it is recovered at the top of the task goroutine.
type taskAbort struct{ err error }

// Fail stops the job with err, blaming this operator and record (nil if none). It does not
// return: it unwinds the task, which then ends the job.
func (c *Context) Fail(record any, err error) {
	panic(&taskAbort{err: &OperatorError{Operator: c.Name, Subtask: c.Subtask, Record: formatRecord(record), Err: err}})
}

// Recovered turns a value recovered from a panic in user code into a job failure blaming this
// operator and record; a task abort already on its way passes through unchanged. Operators call
// it from a deferred function: defer func() { if r := recover(); r != nil { c.Recovered(r, v) } }().
func (c *Context) Recovered(r any, record any) {
	if a, ok := r.(*taskAbort); ok {
		panic(a)
	}
	err := fmt.Errorf("panic: %v\n%s", r, debug.Stack())
	if e, ok := r.(error); ok {
		err = fmt.Errorf("panic: %w\n%s", e, debug.Stack())
	}
	c.Fail(record, err)
}

func formatRecord(v any) string {
	if v == nil {
		return ""
	}
	s := fmt.Sprintf("%+v", v)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
