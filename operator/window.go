package operator

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/window"
)

// NewWindowConfig returns the configuration of a window operator: assigner (required), trigger
// (nil: window.DefaultTrigger(assigner)), allowed lateness in milliseconds, the late side
// output's tag ("": drop late records and count them) and a counter every subtask adds its
// dropped late records to (nil: none). It returns an error when the configuration cannot
// work: no assigner, a negative lateness, or a merging assigner with a trigger that cannot
// merge.
func NewWindowConfig(assigner window.Assigner, trigger window.Trigger, lateness int64, lateTag string, dropped *atomic.Int64) (WindowConfig, error) {
	if assigner == nil {
		return WindowConfig{}, errors.New("no window assigner")
	}
	if lateness < 0 {
		return WindowConfig{}, fmt.Errorf("negative allowed lateness %d ms", lateness)
	}
	if trigger == nil {
		trigger = window.DefaultTrigger(assigner)
	}
	var merging window.MergingTrigger
	if assigner.Merging() {
		mt, ok := trigger.(window.MergingTrigger)
		if !ok {
			return WindowConfig{}, fmt.Errorf("trigger %v cannot be used with merging windows %v: it does not implement window.MergingTrigger", trigger, assigner)
		}
		merging = mt
	}
	return WindowConfig{assigner: assigner, trigger: trigger, merging: merging, eventTime: assigner.EventTime(),
		lateness: lateness, lateTag: lateTag, dropped: dropped}, nil
}

// Assigner returns the configuration's window assigner.
func (c WindowConfig) Assigner() window.Assigner { return c.assigner }

// Panes are the functions that make a window operator a reduce, an aggregate or a process
// window operator: what a pane (one key's contents of one window) holds and how it fires.
type Panes[T any, K comparable, ACC any] struct {
	// Add folds v into acc; has is false when the pane is empty (acc is then the zero ACC, or
	// contents Reset or Release kept for reuse). Required.
	Add func(acc ACC, has bool, v T) ACC
	// Merge combines the contents of two panes whose windows merge (merging assigners only).
	Merge func(a, b ACC) ACC
	// Reset empties contents for reuse after a purge; nil: the pane gets the zero ACC.
	Reset func(acc ACC) ACC
	// Release empties the contents of a dropped pane and says whether to keep them for reuse;
	// nil: never kept.
	Release func(acc ACC) (ACC, bool)
	// Emit evaluates a firing pane of key k and window w; an error fails the job, naming the
	// pane. acc belongs to the operator. Required.
	Emit func(k K, w window.Window, acc ACC) error

	// list says the contents are the pane's records in arrival order (ListPanes, ACC = []T):
	// a bytes backend then appends a record to its pane's list without reading the list, and
	// snapshots hold the lists in a window/lists section.
	list bool
}

// ReducePanes returns the Panes of a reduce window operator (Flink's ReducingState windows):
// each pane holds the reduction of its records. Set Emit.
func ReducePanes[T any, K comparable](reduce func(a, b T) T) Panes[T, K, T] {
	return Panes[T, K, T]{
		Add: func(acc T, has bool, v T) T {
			if !has {
				return v
			}
			return reduce(acc, v)
		},
		Merge: reduce,
	}
}

// AggregatePanes returns the Panes of an aggregate window operator: each pane holds an
// accumulator of f (f.Merge merges panes of merging windows). Set Emit.
func AggregatePanes[T any, K comparable, ACC, OUT any](f state.AggregateFunction[T, ACC, OUT]) Panes[T, K, ACC] {
	return Panes[T, K, ACC]{
		Add: func(acc ACC, has bool, v T) ACC {
			if !has {
				acc = f.Create()
			}
			return f.Add(acc, v)
		},
		Merge: f.Merge,
	}
}

// keepListCap bounds the capacity of a record list kept for reuse when its pane is dropped.
const keepListCap = 64

// ListPanes returns the Panes of a window operator that keeps each pane's records, in arrival
// order, for a function that evaluates them all when the window fires. Set Emit.
func ListPanes[T any, K comparable]() Panes[T, K, []T] {
	return Panes[T, K, []T]{
		list:  true,
		Add:   func(acc []T, _ bool, v T) []T { return append(acc, v) },
		Merge: func(a, b []T) []T { return append(a, b...) },
		Reset: func(acc []T) []T {
			clear(acc)
			return acc[:0]
		},
		Release: func(acc []T) ([]T, bool) {
			if cap(acc) == 0 || cap(acc) > keepListCap {
				return nil, false
			}
			clear(acc)
			return acc[:0], true
		},
	}
}
