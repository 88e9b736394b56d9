package runtime

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/state"
)

// StandaloneOptions describes the operator subtask a Standalone context stands for. The zero
// value is one subtask of parallelism 1 owning every one of 128 key groups, with a fake clock
// at the Unix epoch and the in-memory state backend.
type StandaloneOptions struct {
	// Name is the operator's name; default "operator".
	Name string
	// Subtask and Parallelism place the subtask; Parallelism defaults to 1.
	Subtask, Parallelism int
	// MaxParallelism is the number of key groups; default 128.
	MaxParallelism int
	// KeyGroups are the key groups the subtask owns; default the subtask's share of
	// MaxParallelism at Parallelism (keygroup.RangeOf).
	KeyGroups keygroup.Range
	// Clock is processing time; default a clockwork fake clock at the Unix epoch.
	Clock clockwork.Clock
	// Logger; nil discards.
	Logger *slog.Logger
	// StateBackend makes the subtask's state backends (Config.StateBackend); nil: memory.
	StateBackend state.BackendFactory
	// Side are the side outputs by tag: an Output[X] for side output tag of type X.
	Side map[string]any
	// Restore, if set, is the state the subtask restores: a key group's blobs by key group
	// (only the subtask's are given to the operator), and non-keyed blobs.
	Restore *StandaloneRestore
	// Checkpointing says the job takes checkpoints (Context.Checkpointing).
	Checkpointing bool
}

// StandaloneRestore is the state a Standalone subtask restores.
type StandaloneRestore struct {
	// CheckpointID is the ID of the snapshot restored.
	CheckpointID int64
	// KeyGroups holds keyed state by key group, as OperatorSnapshot.Keyed wrote it.
	KeyGroups map[int][]byte
	// Files are incremental keyed snapshots (Pebble files), as RestoredFiles.
	Files []StandaloneFiles
	// Operator, Union and Committables are as in Restored.
	Operator, Union, Committables [][]byte
}

// StandaloneFiles is one old subtask's incremental snapshot: the files of a FileSnapshot,
// opened from dir.
type StandaloneFiles struct {
	Range keygroup.Range
	Dir   string
	Names []string
}

// Standalone is the Context of one operator subtask outside any job, for driving an operator
// directly (the operator test harness, operator/operatortest): processing-time timers fire
// when FireProcessingTimers is called, snapshots are taken by calling the operator's
// SnapshotState, and the state backends it made are closed by Close. It is used from one
// goroutine.
type Standalone struct {
	C          *Context
	t          *task
	cancel     context.CancelFunc
	savepoints map[int64]bool
	// checkpointing is Context.Checkpointing.
	checkpointing bool
}

// NewStandalone returns the Context of a subtask as o describes it.
func NewStandalone(o StandaloneOptions) *Standalone {
	if o.Name == "" {
		o.Name = "operator"
	}
	if o.Parallelism <= 0 {
		o.Parallelism = 1
	}
	if o.MaxParallelism <= 0 {
		o.MaxParallelism = 128
	}
	if o.KeyGroups.Len() <= 0 {
		o.KeyGroups = keygroup.RangeOf(o.Subtask, o.MaxParallelism, o.Parallelism)
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewFakeClockAt(time.UnixMilli(0))
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cfg := &Config{StateBackend: o.StateBackend}
	t := &task{name: o.Name, subtask: o.Subtask, ctx: ctx, clock: o.Clock, cfg: cfg}
	t.timers.clock = o.Clock
	s := &Standalone{t: t, cancel: cancel, savepoints: map[int64]bool{}, checkpointing: o.Checkpointing}
	t.standalone = s
	stats := &opStats{name: o.Name, subtask: o.Subtask, in: new(int64), inWM: eventtime.MinTime, outWM: eventtime.MinTime}
	s.C = &Context{Name: o.Name, Subtask: o.Subtask, Parallelism: o.Parallelism,
		MaxParallelism: o.MaxParallelism, KeyGroups: o.KeyGroups, Clock: o.Clock, Logger: o.Logger,
		t: t, side: o.Side, op: stats}
	if r := o.Restore; r != nil {
		kgs := o.KeyGroups
		rs := &Restored{CheckpointID: r.CheckpointID, Operator: r.Operator, Union: r.Union, Committables: r.Committables}
		rs.groups = func(fn func(int, []byte) error) error {
			for _, kg := range slices.Sorted(maps.Keys(r.KeyGroups)) {
				if !kgs.Contains(kg) {
					continue
				}
				if err := fn(kg, r.KeyGroups[kg]); err != nil {
					return err
				}
			}
			return nil
		}
		for _, f := range r.Files {
			if f.Range.Start >= kgs.End || f.Range.End <= kgs.Start {
				continue
			}
			rs.files = append(rs.files, state.RestoredFiles{Range: f.Range, Names: f.Names, Open: localOpen(f.Dir)})
		}
		s.C.restored = rs
	}
	return s
}

// MarkSavepoint makes Context.IsSavepoint(id) true.
func (s *Standalone) MarkSavepoint(id int64) { s.savepoints[id] = true }

// FireProcessingTimers runs, in time order, every processing-time callback due by the clock.
func (s *Standalone) FireProcessingTimers() {
	if len(s.t.timers.h) > 0 && s.t.timers.h[0].at <= s.t.clock.Now().UnixMilli() {
		s.t.timers.fire()
	}
}

// NextProcessingTimer returns the time of the earliest processing-time callback registered.
func (s *Standalone) NextProcessingTimer() (int64, bool) {
	if len(s.t.timers.h) == 0 {
		return 0, false
	}
	return s.t.timers.h[0].at, true
}

// Counters returns the operator's counters (Context.Counter) by name.
func (s *Standalone) Counters() map[string]int64 {
	out := map[string]int64{}
	for name, n := range s.C.op.counters {
		out[name] = n.Load()
	}
	return out
}

// Close closes the state backends the operator made and cancels Context.Ctx.
func (s *Standalone) Close() error {
	s.cancel()
	s.t.timers.stop()
	var err error
	for _, b := range s.t.backends {
		if cerr := b.Close(); err == nil {
			err = cerr
		}
	}
	s.t.backends = nil
	return err
}

// localOpen opens files of dir.
func localOpen(dir string) func(context.Context, string) (io.ReadCloser, error) {
	return func(_ context.Context, name string) (io.ReadCloser, error) {
		return os.Open(filepath.Join(dir, name))
	}
}
