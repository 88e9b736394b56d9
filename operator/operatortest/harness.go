// Package operatortest drives one operator subtask without a job: the role Flink's
// OneInputStreamOperatorTestHarness and TwoInputStreamOperatorTestHarness play. A Harness
// feeds an operator records (Process, Process2), watermarks and processing time, records what
// it emits on its main output and side outputs, takes its snapshots and restores them into a
// new harness, at the same key groups or others (a rescaled subtask), so operator tests need
// no whole job.
//
// A Harness runs the operator on the test's goroutine, as a task would; it is not safe for
// concurrent use, except that the encoding a SnapshotAsync returns may run on another
// goroutine while the harness goes on (as the runtime encodes snapshots in the background).
package operatortest

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/state"
)

// Options place the operator subtask a Harness drives. The zero Options is subtask 0 of 1 over
// 128 key groups, with a fake clock at the Unix epoch and the in-memory state backend.
type Options struct {
	// Name is the operator's name; default "operator".
	Name string
	// Subtask and Parallelism place the subtask; its key groups are its share of
	// MaxParallelism (default 128) at Parallelism (default 1).
	Subtask, Parallelism, MaxParallelism int
	// Clock is processing time; nil: a new fake clock at the Unix epoch (or at the Restore's
	// ProcessingTime). Harnesses of one operator's subtasks share one.
	Clock *clockwork.FakeClock
	// StateBackend makes the subtask's state backends; nil: the in-memory backend.
	StateBackend state.BackendFactory
	// Restore is the snapshot the subtask restores (only its key groups' state); nil: a fresh
	// start.
	Restore *Snapshot
	// Checkpoints makes snapshots incremental where the backend can (Pebble files); by default
	// every snapshot is a savepoint, self-contained in key-group blobs.
	Checkpoints bool

	side map[string]any
}

// SideOutput makes the subtask's side output tag a recorded Output of X; call it before New.
func SideOutput[X any](o *Options, tag string) *Output[X] {
	if o.side == nil {
		o.side = map[string]any{}
	}
	out := &Output[X]{}
	o.side[tag] = rt.Output[X](out)
	return out
}

// Record is one record an operator emitted.
type Record[T any] struct {
	Value T
	TS    int64
}

// String formats r as "value@ts".
func (r Record[T]) String() string { return fmt.Sprintf("%v@%d", r.Value, r.TS) }

// Output records what an operator emits on one output. It implements rt.Output[T].
type Output[T any] struct {
	// Records are the records emitted, in order.
	Records []Record[T]
	// Watermarks are the watermarks passed on, in order.
	Watermarks []int64
	// Finished says the end of input was passed on.
	Finished bool
	// Idleness is the last idleness passed on.
	Idleness bool
}

// Collect records v.
func (o *Output[T]) Collect(v T, ts int64) { o.Records = append(o.Records, Record[T]{v, ts}) }

// Watermark records wm.
func (o *Output[T]) Watermark(wm int64) { o.Watermarks = append(o.Watermarks, wm) }

// Idle records idleness.
func (o *Output[T]) Idle(b bool) { o.Idleness = b }

// Finish records the end of input.
func (o *Output[T]) Finish() { o.Finished = true }

// Values returns the values of Records, in order.
func (o *Output[T]) Values() []T {
	vs := make([]T, len(o.Records))
	for i, r := range o.Records {
		vs[i] = r.Value
	}
	return vs
}

// Strings returns Records formatted as "value@ts", in order.
func (o *Output[T]) Strings() []string {
	ss := make([]string, len(o.Records))
	for i, r := range o.Records {
		ss[i] = r.String()
	}
	return ss
}

// Clear forgets what was recorded.
func (o *Output[T]) Clear() { *o = Output[T]{} }

// Harness drives one operator subtask emitting OUT.
type Harness[OUT any] struct {
	tb testing.TB
	// S is the subtask's context outside a job.
	S *rt.Standalone
	// Op is the operator instance.
	Op rt.Instance
	// Out records the main output.
	Out   *Output[OUT]
	Clock *clockwork.FakeClock
	opts  Options
	done  bool
}

// Factory makes the operator instance of a subtask, as an operator node's factory does.
type Factory[OUT any] func(c *rt.Context, out rt.Output[OUT]) (rt.Instance, error)

// New makes the operator with make and opens it (restoring Options.Restore); it fails the test
// if either fails. The harness closes the operator at the end of the test.
func New[OUT any](tb testing.TB, o Options, make Factory[OUT]) *Harness[OUT] {
	tb.Helper()
	h, err := TryNew(tb, o, make)
	if err != nil {
		tb.Fatalf("operatortest: %v", err)
	}
	return h
}

// TryNew is New returning the error of making or opening the operator.
func TryNew[OUT any](tb testing.TB, o Options, make Factory[OUT]) (*Harness[OUT], error) {
	tb.Helper()
	if o.Parallelism <= 0 {
		o.Parallelism = 1
	}
	if o.MaxParallelism <= 0 {
		o.MaxParallelism = 128
	}
	if o.Clock == nil {
		at := int64(0)
		if o.Restore != nil {
			at = o.Restore.ProcessingTime
		}
		o.Clock = clockwork.NewFakeClockAt(time.UnixMilli(at))
	}
	so := rt.StandaloneOptions{Name: o.Name, Subtask: o.Subtask, Parallelism: o.Parallelism,
		MaxParallelism: o.MaxParallelism, Clock: o.Clock, StateBackend: o.StateBackend, Side: o.side,
		Checkpointing: o.Checkpoints}
	if r := o.Restore; r != nil {
		so.Restore = &rt.StandaloneRestore{CheckpointID: r.ID, KeyGroups: r.KeyGroups, Operator: r.Operator, Union: r.Operator}
	}
	s := rt.NewStandalone(so)
	h := &Harness[OUT]{tb: tb, S: s, Out: &Output[OUT]{}, Clock: o.Clock, opts: o}
	tb.Cleanup(h.Close)
	op, err := make(s.C, h.Out)
	if err != nil {
		return nil, fmt.Errorf("making the operator: %w", err)
	}
	h.Op = op
	if err := op.Open(); err != nil {
		return nil, fmt.Errorf("opening the operator: %w", err)
	}
	return h, nil
}

// KeyGroups returns the key groups the subtask owns.
func (h *Harness[OUT]) KeyGroups() keygroup.Range { return h.S.C.KeyGroups }

// Owns reports whether the subtask owns key group kg.
func (h *Harness[OUT]) Owns(kg int) bool { return h.S.C.KeyGroups.Contains(kg) }

// Process feeds v with timestamp ts to the operator's (first) input.
func Process[T, OUT any](h *Harness[OUT], v T, ts int64) {
	in, ok := h.Op.(rt.Output[T])
	if ins, two := h.Op.(rt.Inputs); !ok && two {
		in, ok = ins.Input(0).(rt.Output[T])
	}
	if !ok {
		h.tb.Fatalf("operatortest: %T takes no input of %T", h.Op, v)
	}
	in.Collect(v, ts)
}

// Process2 feeds v with timestamp ts to the operator's second input.
func Process2[B, OUT any](h *Harness[OUT], v B, ts int64) {
	ins, ok := h.Op.(rt.Inputs)
	if !ok {
		h.tb.Fatalf("operatortest: %T has one input", h.Op)
	}
	in, ok := ins.Input(1).(rt.Output[B])
	if !ok {
		h.tb.Fatalf("operatortest: the second input of %T takes no %T", h.Op, v)
	}
	in.Collect(v, ts)
}

// Watermark gives the operator watermark wm.
func (h *Harness[OUT]) Watermark(wm int64) { h.Op.Watermark(wm) }

// Finish ends the operator's input (after the watermark eventtime.MaxTime, as the runtime
// does).
func (h *Harness[OUT]) Finish() { h.Op.Finish() }

// SetProcessingTime moves the clock to ms (epoch milliseconds; never back) and fires the
// subtask's processing-time callbacks due by then. Harnesses sharing the clock fire theirs
// with FireProcessingTimers.
func (h *Harness[OUT]) SetProcessingTime(ms int64) {
	if d := ms - h.Clock.Now().UnixMilli(); d > 0 {
		h.Clock.Advance(time.Duration(d) * time.Millisecond)
	}
	h.FireProcessingTimers()
}

// FireProcessingTimers fires the subtask's processing-time callbacks due by the clock.
func (h *Harness[OUT]) FireProcessingTimers() { h.S.FireProcessingTimers() }

// Counters returns the operator's counters by name.
func (h *Harness[OUT]) Counters() map[string]int64 { return h.S.Counters() }

// Snapshot takes snapshot id of the operator and encodes it at once.
func (h *Harness[OUT]) Snapshot(id int64) *Snapshot { return h.SnapshotAsync(id)() }

// SnapshotAsync takes snapshot id of the operator, as the runtime does at a barrier, and
// returns the function that encodes it; that function may run on another goroutine while the
// harness goes on, and must be called once.
func (h *Harness[OUT]) SnapshotAsync(id int64) func() *Snapshot {
	h.tb.Helper()
	if !h.opts.Checkpoints {
		h.S.MarkSavepoint(id)
	}
	sn, ok := h.Op.(rt.Snapshotter)
	if !ok {
		return func() *Snapshot { return &Snapshot{ID: id, ProcessingTime: h.Clock.Now().UnixMilli()} }
	}
	os, err := sn.SnapshotState(id)
	if err != nil {
		h.tb.Fatalf("operatortest: SnapshotState(%d): %v", id, err)
	}
	if os.Files != nil {
		h.tb.Fatalf("operatortest: snapshot %d is incremental (files in %s); the harness restores key-group blobs only", id, os.Files.Dir)
	}
	snap := &Snapshot{ID: id, ProcessingTime: h.Clock.Now().UnixMilli(), KeyGroups: map[int][]byte{},
		Operator: os.Operator, Committables: os.Committables}
	return func() *Snapshot {
		if os.Keyed != nil {
			if err := os.Keyed.WriteGroups(groupMap(snap.KeyGroups)); err != nil {
				h.tb.Errorf("operatortest: encoding snapshot %d: %v", id, err) // not Fatalf: may run on another goroutine
			}
		}
		return snap
	}
}

// Close closes the operator and the state backends it made; New arranges it at the end of the
// test, and a second call does nothing.
func (h *Harness[OUT]) Close() {
	if h.done {
		return
	}
	h.done = true
	if h.Op != nil {
		if err := h.Op.Close(); err != nil {
			h.tb.Errorf("operatortest: Close: %v", err)
		}
	}
	if err := h.S.Close(); err != nil {
		h.tb.Errorf("operatortest: closing the state backends: %v", err)
	}
}

// Snapshot is an operator's snapshot as the harness keeps it: keyed state by key group, and
// non-keyed state.
type Snapshot struct {
	// ID is the snapshot's ID.
	ID int64
	// ProcessingTime is the clock's time when it was taken: a restoring harness's clock starts
	// there unless Options.Clock is given.
	ProcessingTime int64
	// KeyGroups holds the keyed state blobs by key group.
	KeyGroups map[int][]byte
	// Operator holds the non-keyed state blobs; a restoring subtask gets them all (as
	// Restored.Operator and Restored.Union).
	Operator [][]byte
	// Committables holds a sink's committables.
	Committables [][]byte
}

// Merge returns the snapshot of a whole operator from the snapshots of its subtasks: their key
// groups and their non-keyed blobs, in order. A key group in two snapshots is an error.
func Merge(snaps ...*Snapshot) (*Snapshot, error) {
	out := &Snapshot{KeyGroups: map[int][]byte{}}
	for _, s := range snaps {
		out.ID = max(out.ID, s.ID)
		out.ProcessingTime = max(out.ProcessingTime, s.ProcessingTime)
		for _, kg := range slices.Sorted(maps.Keys(s.KeyGroups)) {
			if _, dup := out.KeyGroups[kg]; dup {
				return nil, fmt.Errorf("operatortest: key group %d in two snapshots", kg)
			}
			out.KeyGroups[kg] = s.KeyGroups[kg]
		}
		out.Operator = append(out.Operator, s.Operator...)
		out.Committables = append(out.Committables, s.Committables...)
	}
	return out, nil
}

type groupMap map[int][]byte

func (g groupMap) WriteGroup(kg int, b []byte) error {
	if _, dup := g[kg]; dup {
		return fmt.Errorf("key group %d written twice", kg)
	}
	g[kg] = slices.Clone(b)
	return nil
}
