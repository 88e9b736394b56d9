package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/runnel-io/runnel/connector"
	rt "github.com/runnel-io/runnel/internal/runtime"
)

// Sink is a sink of the job, as SinkTo, Print, PrintTo and Discard return it: it can be named,
// given a UID and a parallelism, like the operator that produces a stream, but nothing reads
// from it, so no transformation can follow it. The zero Sink is not usable.
type Sink struct {
	n *rt.Node
}

// Name names the sink; names show in the plan, metrics and errors.
func (s Sink) Name(name string) Sink { s.n.Name = name; return s }

// Uid sets the stable ID that matches the sink's state (committables) across job versions.
func (s Sink) Uid(uid string) Sink { s.n.UID = uid; return s }

// Parallelism sets the number of parallel subtasks of the sink.
func (s Sink) Parallelism(p int) Sink { s.n.Parallelism = p; return s }

// DisableChaining runs the sink in a task of its own.
func (s Sink) DisableChaining() Sink { s.n.NoChain = true; return s }

// SinkTo writes s to sink. Output pre-committed by the sink's writers is committed at end of
// input (and, with checkpoints, when each checkpoint completes).
func (s Stream[T]) SinkTo(sink connector.Sink[T]) Sink {
	n := s.env.g.Add(&rt.Node{Name: "Sink", In: []rt.Type{rt.TypeOf[T]()}, Sink: true,
		Operator: func(c *rt.Context, _ any) (rt.Instance, error) {
			return &sinkOp[T]{c: c, sink: sink}, nil
		}})
	s.connect(n, 0)
	return Sink{n: n}
}

type sinkOp[T any] struct {
	c         *rt.Context
	sink      connector.Sink[T]
	w         connector.Writer[T]
	committer connector.Committer
	// pending holds what was pre-committed at snapshots not yet known complete, oldest first.
	pending []precommit
}

type precommit struct {
	id int64
	cs []connector.Committable
}

func (o *sinkOp[T]) Open() error {
	ctx := o.c.Ctx()
	w, err := o.sink.NewWriter(ctx, connector.SinkContext{Subtask: o.c.Subtask, Parallelism: o.c.Parallelism, Attempt: o.c.Attempt, Logger: o.c.Logger})
	if err != nil {
		return fmt.Errorf("sink %s: creating writer: %w", o.c.Name, err)
	}
	o.w = w
	if tp, ok := o.sink.(connector.TwoPhaseCommitter); ok {
		if o.committer, err = tp.NewCommitter(ctx); err != nil {
			return fmt.Errorf("sink %s: creating committer: %w", o.c.Name, err)
		}
	}
	// A restored checkpoint recorded these as pre-committed; they may or may not have been
	// committed before the failure. Commits are idempotent: commit them (again).
	if r := o.c.Restored(); r != nil && len(r.Committables) > 0 {
		if o.committer == nil {
			return fmt.Errorf("sink %s: the snapshot holds %d committables, but the sink has no committer", o.c.Name, len(r.Committables))
		}
		cs := make([]connector.Committable, len(r.Committables))
		for i, b := range r.Committables {
			cs[i] = b
		}
		if err := o.committer.Commit(ctx, cs); err != nil {
			return fmt.Errorf("sink %s: committing the restored checkpoint %d's output: %w", o.c.Name, r.CheckpointID, err)
		}
	}
	o.abortLeftovers()
	return nil
}

// abortLeftovers aborts what this subtask's instance in the previous run of the job (before
// a restart) pre-committed at snapshots that never completed: the restore commits what the
// restored checkpoint recorded, and the records behind the rest are replayed, so those
// committables will never be committed (a sink cleans up behind them: deletes pending files,
// aborts uploads and transactions). What a completed savepoint recorded is kept: restoring it
// later commits it. A failed abort costs storage, not correctness, so it is only logged.
func (o *sinkOp[T]) abortLeftovers() {
	prev, _ := o.c.TakeOver().([]precommit)
	var restored int64
	if r := o.c.Restored(); r != nil {
		restored = r.CheckpointID
	}
	var cs []connector.Committable
	for _, p := range prev {
		if p.id > restored && !o.c.SnapshotCompleted(p.id) {
			cs = append(cs, p.cs...)
		}
	}
	if len(cs) == 0 || o.committer == nil {
		return
	}
	if err := o.committer.Abort(o.c.Ctx(), cs); err != nil {
		o.c.Logger.Warn("aborting what the previous run pre-committed at snapshots that never completed", "committables", len(cs), "err", err)
	}
}

// SnapshotState pre-commits what was written since the last snapshot. The snapshot records
// every committable not yet known to be committed, so a restore commits them.
func (o *sinkOp[T]) SnapshotState(id int64) (rt.OperatorSnapshot, error) {
	cs, err := o.w.PreCommit(o.c.Ctx(), id)
	if err != nil {
		return rt.OperatorSnapshot{}, fmt.Errorf("sink pre-commit: %w", err)
	}
	if len(cs) > 0 {
		if o.committer == nil {
			return rt.OperatorSnapshot{}, fmt.Errorf("sink pre-commit returned %d committables, but the sink has no committer (implement connector.TwoPhaseCommitter)", len(cs))
		}
		o.pending = append(o.pending, precommit{id: id, cs: cs})
	}
	var snap rt.OperatorSnapshot
	for _, p := range o.pending {
		for _, c := range p.cs {
			snap.Committables = append(snap.Committables, c)
		}
	}
	return snap, nil
}

// CheckpointComplete commits what was pre-committed up to and including checkpoint id.
func (o *sinkOp[T]) CheckpointComplete(id int64) error {
	n := 0
	var cs []connector.Committable
	for _, p := range o.pending {
		if p.id > id {
			break
		}
		cs = append(cs, p.cs...)
		n++
	}
	if len(cs) > 0 {
		if err := o.committer.Commit(o.c.Ctx(), cs); err != nil {
			return err
		}
	}
	o.pending = o.pending[n:]
	return nil
}

func (o *sinkOp[T]) Collect(v T, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	if err := o.w.Write(o.c.Ctx(), v, ts); err != nil {
		o.c.Fail(v, fmt.Errorf("sink write: %w", err))
	}
}

func (o *sinkOp[T]) Watermark(wm int64) { o.c.SetWatermarks(wm, wm) }
func (o *sinkOp[T]) Idle(bool)          {}

// Finish pre-commits what was written and commits it: the end of input is a final checkpoint.
// A job that takes checkpoints takes a real one after the end of input instead, which commits
// the output (the runtime's final checkpoint).
func (o *sinkOp[T]) Finish() {
	if o.c.Checkpointing() {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, nil)
		}
	}()
	ctx := o.c.Ctx()
	cs, err := o.w.PreCommit(ctx, endOfInputCheckpoint)
	if err != nil {
		o.c.Fail(nil, fmt.Errorf("sink pre-commit at end of input: %w", err))
	}
	var all []connector.Committable // savepoints' pre-commits, never notified, then the last
	for _, p := range o.pending {
		all = append(all, p.cs...)
	}
	cs = append(all, cs...)
	o.pending = nil
	if o.committer != nil && len(cs) > 0 {
		if err := o.committer.Commit(ctx, cs); err != nil {
			o.c.Fail(nil, fmt.Errorf("sink commit at end of input: %w", err))
		}
	}
}

// endOfInputCheckpoint is the checkpoint ID of the final pre-commit at end of input.
const endOfInputCheckpoint = int64(1<<63 - 1)

func (o *sinkOp[T]) Close() error {
	if len(o.pending) > 0 && o.c.Ctx().Err() != nil {
		// The run ends before these were committed: the next run, if the job restarts,
		// aborts those that no completed snapshot recorded.
		o.c.HandOver(o.pending)
	}
	var err error
	if o.w != nil {
		err = o.w.Close()
	}
	if o.committer != nil {
		if cerr := o.committer.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// funcSink is a Sink whose writers call a function per record.
type funcSink[T any] func(sc connector.SinkContext) func(v T, ts int64) error

func (f funcSink[T]) NewWriter(_ context.Context, sc connector.SinkContext) (connector.Writer[T], error) {
	return funcWriter[T](f(sc)), nil
}

type funcWriter[T any] func(v T, ts int64) error

func (w funcWriter[T]) Write(_ context.Context, v T, ts int64) error { return w(v, ts) }
func (funcWriter[T]) PreCommit(context.Context, int64) ([]connector.Committable, error) {
	return nil, nil
}
func (funcWriter[T]) Close() error { return nil }

// Print writes every record to standard output as one line of JSON (encoding/json: struct
// tags, MarshalJSON and MarshalText apply), whatever the subtask that writes it. It is Flink's
// print sink with output that tools read (jq, JSON-lines loaders) and no "2>" subtask prefix.
func (s Stream[T]) Print() Sink { return s.PrintTo(os.Stdout, "") }

// PrintTo writes every record to w as Print does, each line after prefix (empty: pure JSON
// lines). Writes from parallel subtasks are serialised, a line at a time. A record that
// encoding/json cannot encode (a NaN or infinite float, a channel) is written as the JSON
// string of its %+v form rather than failing the job.
func (s Stream[T]) PrintTo(w io.Writer, prefix string) Sink {
	var mu sync.Mutex
	return s.SinkTo(funcSink[T](func(connector.SinkContext) func(T, int64) error {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // "→" and "<" as they are: the lines are for people too
		return func(v T, _ int64) error {
			buf.Reset()
			buf.WriteString(prefix)
			if enc.Encode(v) != nil {
				buf.Truncate(len(prefix))
				_ = enc.Encode(fmt.Sprintf("%+v", v)) // a string always encodes
			}
			mu.Lock()
			defer mu.Unlock()
			_, err := w.Write(buf.Bytes())
			return err
		}
	})).Name("Print")
}

// Discard drops every record; for benchmarks and jobs run for their side effects.
func (s Stream[T]) Discard() Sink {
	return s.SinkTo(funcSink[T](func(connector.SinkContext) func(T, int64) error {
		return func(T, int64) error { return nil }
	})).Name("Discard")
}

// Collected holds the records a Collect sink received. It is safe for concurrent use.
type Collected[T any] struct {
	mu   sync.Mutex
	vals []T
	ts   []int64
}

// Values returns a copy of the records received so far, in arrival order (interleaved across
// subtasks).
func (c *Collected[T]) Values() []T {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]T(nil), c.vals...)
}

// Timestamps returns the timestamps of Values, in the same order.
func (c *Collected[T]) Timestamps() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int64(nil), c.ts...)
}

// Collect gathers every record in memory, for tests and small results.
func Collect[T any](s Stream[T]) *Collected[T] {
	c := &Collected[T]{}
	s.SinkTo(funcSink[T](func(connector.SinkContext) func(T, int64) error {
		return func(v T, ts int64) error {
			c.mu.Lock()
			c.vals = append(c.vals, v)
			c.ts = append(c.ts, ts)
			c.mu.Unlock()
			return nil
		}
	})).Name("Collect")
	return c
}
