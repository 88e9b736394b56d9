// Package datagen has sources that make records instead of reading them: a bounded source
// over a slice, and a generator that calls a function for record numbers 0, 1, 2, ... bounded or
// unbounded, as fast as possible or at a fixed rate.
//
// Both are deterministic: which record a number produces does not depend on parallelism, and a
// split's position is the next number it will produce.
package datagen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/runnel-io/runnel/connector"
)

// Split is a share of the record numbers: From, From+Step, From+2*Step, ... below End
// (End < 0: no end). Next is the position: the next number to produce.
type Split struct {
	Index      int
	Next, Step int64
	End        int64
}

// SplitID returns "split-<index>".
func (s *Split) SplitID() string { return fmt.Sprintf("split-%d", s.Index) }

// Source calls Fn for every record number. Make one with New or Slice.
type Source[T any] struct {
	fn    func(n int64) T
	count int64
	rate  float64
	batch int
	slice bool
}

// Option configures a generator Source.
type Option func(*options)

type options struct {
	count int64
	rate  float64
	batch int
}

// Count bounds the source to n records (numbers 0..n-1). Without it the source is unbounded.
func Count(n int64) Option { return func(o *options) { o.count = n } }

// Limit bounds the source to n records when n > 0 and leaves it unbounded when n is 0, for
// callers whose configuration uses 0 to mean "no limit" (Count(0) is an empty source).
func Limit(n int64) Option {
	return func(o *options) {
		if n > 0 {
			o.count = n
		}
	}
}

// Rate limits the source to perSecond records per second in total over all readers, evenly
// spread. Without it the source produces as fast as downstream takes.
func Rate(perSecond float64) Option { return func(o *options) { o.rate = perSecond } }

// BatchSize is the number of records a reader produces per Read call; default 256.
func BatchSize(n int) Option { return func(o *options) { o.batch = n } }

// New returns a source calling fn for record numbers 0, 1, 2, ... fn must be deterministic and
// safe to call from several goroutines (each reader calls it for its own numbers).
func New[T any](fn func(n int64) T, opts ...Option) (*Source[T], error) {
	o := options{count: -1, batch: 256}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case fn == nil:
		return nil, errors.New("datagen: nil generator function")
	case o.count < -1:
		return nil, fmt.Errorf("datagen: negative count %d", o.count)
	case o.rate < 0 || math.IsNaN(o.rate) || math.IsInf(o.rate, 0):
		return nil, fmt.Errorf("datagen: bad rate %v", o.rate)
	case o.batch <= 0:
		return nil, fmt.Errorf("datagen: batch size %d must be positive", o.batch)
	}
	return &Source[T]{fn: fn, count: o.count, rate: o.rate, batch: o.batch}, nil
}

// Slice returns a bounded source of vals; reader i of p reads the i-th contiguous part, in order.
func Slice[T any](vals []T) *Source[T] {
	return &Source[T]{fn: func(n int64) T { return vals[n] }, count: int64(len(vals)), batch: 256, slice: true}
}

// Boundedness implements connector.Source.
func (s *Source[T]) Boundedness() connector.Boundedness {
	if s.count >= 0 {
		return connector.Bounded
	}
	return connector.Unbounded
}

// NewEnumerator implements connector.Source: one split per reader. On a restore (restored
// not nil) it hands out only the restored splits, at their positions, and makes none: the
// readers get back the splits they held directly. It returns an error if a restored split is
// not a *Split.
func (s *Source[T]) NewEnumerator(ctx connector.EnumeratorContext, restored []connector.Split) (connector.Enumerator, error) {
	e := &enumerator{ctx: ctx}
	if restored != nil {
		e.pending = make([]*Split, 0, len(restored))
		for _, sp := range restored {
			d, ok := sp.(*Split)
			if !ok || d == nil {
				return nil, fmt.Errorf("datagen: restored split %T is not a *datagen.Split", sp)
			}
			c := *d
			e.pending = append(e.pending, &c)
		}
		return e, nil
	}
	p := int64(ctx.Parallelism())
	for i := range p {
		sp := &Split{Index: int(i), Next: i, Step: p, End: s.count}
		if s.slice {
			sp.Next, sp.Step, sp.End = i*s.count/p, 1, (i+1)*s.count/p
		}
		e.pending = append(e.pending, sp)
	}
	return e, nil
}

type enumerator struct {
	ctx     connector.EnumeratorContext
	pending []*Split
}

func (e *enumerator) Start(context.Context) error { return nil }

func (e *enumerator) AddReader(_ context.Context, subtask int) error {
	var mine []connector.Split
	rest := e.pending[:0]
	for _, sp := range e.pending {
		if sp.Index%e.ctx.Parallelism() == subtask {
			mine = append(mine, sp)
		} else {
			rest = append(rest, sp)
		}
	}
	e.pending = rest
	if len(mine) > 0 {
		e.ctx.Assign(subtask, mine...)
	}
	e.ctx.NoMoreSplits(subtask)
	return nil
}

func (e *enumerator) AddSplitsBack(splits []connector.Split, _ int) {
	for _, sp := range splits {
		c := *sp.(*Split)
		e.pending = append(e.pending, &c)
	}
}

// Snapshot returns copies of the unassigned splits: the caller may encode them on another
// goroutine while the enumerator goes on.
func (e *enumerator) Snapshot() ([]connector.Split, error) {
	out := make([]connector.Split, len(e.pending))
	for i, sp := range e.pending {
		c := *sp
		out[i] = &c
	}
	return out, nil
}

func (e *enumerator) Close() error { return nil }

// NewReader implements connector.Source.
func (s *Source[T]) NewReader(rc connector.ReaderContext) (connector.Reader[T], error) {
	return &reader[T]{s: s, rc: rc}, nil
}

type reader[T any] struct {
	s      *Source[T]
	rc     connector.ReaderContext
	splits []*Split // the reader's own copies, advanced as it produces
	outs   []connector.SplitOutput[T]
	cursor int // index in splits of the split the next Read starts with
	noMore bool
	// rate limiting: records produced since start and when we started
	produced int64
	start    time.Time
	wake     chan struct{} // closed when the rate allows the next record
}

// AddSplits takes copies of splits, fresh or restored: it reads each from its position on.
func (r *reader[T]) AddSplits(splits []connector.Split) {
	for _, sp := range splits {
		c := *sp.(*Split)
		r.splits = append(r.splits, &c)
		r.outs = append(r.outs, nil)
	}
}

func (r *reader[T]) NoMoreSplits() { r.noMore = true }

func (r *reader[T]) Read(_ context.Context, out connector.ReaderOutput[T]) (connector.ReadStatus, error) {
	if len(r.splits) == 0 {
		if r.noMore {
			return connector.EndOfInput, nil
		}
		return connector.NothingAvailable, nil
	}
	budget := int64(r.s.batch)
	if r.s.rate > 0 {
		now := r.rc.Clock.Now()
		if r.start.IsZero() {
			r.start = now
		}
		elapsed := now.Sub(r.start)
		budget = min(budget, r.due(elapsed)-r.produced)
		if budget <= 0 {
			wake := make(chan struct{})
			r.rc.Clock.AfterFunc(r.dueAt(r.produced)-elapsed, func() { close(wake) })
			r.wake = wake
			return connector.NothingAvailable, nil
		}
	}
	// Round-robin over the splits: the budget goes to the split at the cursor, then to the
	// next ones while it lasts; the next call starts after the last split served, so that no
	// split starves when a reader holds several unbounded ones (after a restore at a lower
	// parallelism, say).
	for budget > 0 && len(r.splits) > 0 {
		if r.cursor >= len(r.splits) {
			r.cursor = 0
		}
		i := r.cursor
		sp := r.splits[i]
		o := r.outs[i]
		if o == nil {
			o = out.Split(sp.SplitID())
			r.outs[i] = o
		}
		// Next advances after each record is emitted, so a snapshot between two Reads
		// holds the position after the last record out.
		for ; budget > 0 && (sp.End < 0 || sp.Next < sp.End); budget-- {
			o.Collect(r.s.fn(sp.Next), 0)
			sp.Next += sp.Step
			r.produced++
		}
		if sp.End >= 0 && sp.Next >= sp.End {
			out.ReleaseSplit(sp.SplitID())
			r.splits = slices.Delete(r.splits, i, i+1)
			r.outs = slices.Delete(r.outs, i, i+1)
			continue // the cursor now names the split after it
		}
		r.cursor = i + 1 // the budget is spent
	}
	if len(r.splits) == 0 && r.noMore {
		return connector.EndOfInput, nil
	}
	return connector.MoreAvailable, nil
}

// dueAt returns when this reader's record k (from 0) is due, counted from its first record:
// k/perReader seconds, rounded up to the nanosecond.
func (r *reader[T]) dueAt(k int64) time.Duration {
	perReader := r.s.rate / float64(r.rc.Parallelism)
	return time.Duration(math.Ceil(float64(k) / perReader * float64(time.Second)))
}

// due returns the number of records due by elapsed: the k with dueAt(k) <= elapsed. It is
// computed from dueAt itself, so that the wake-up time of the next record (dueAt) and the
// count agree even where floating point rounds differently.
func (r *reader[T]) due(elapsed time.Duration) int64 {
	perReader := r.s.rate / float64(r.rc.Parallelism)
	n := max(int64(perReader*elapsed.Seconds()), 0) // within a record of the answer
	for n > 0 && r.dueAt(n-1) > elapsed {
		n--
	}
	for r.dueAt(n) <= elapsed {
		n++
	}
	return n
}

// Available implements connector.Availability for rate-limited readers.
// Without splits it returns nil: the runtime then waits for an assignment.
func (r *reader[T]) Available() <-chan struct{} {
	if r.wake != nil {
		w := r.wake
		r.wake = nil
		return w
	}
	if len(r.splits) == 0 {
		return nil
	}
	ch := make(chan struct{})
	close(ch)
	return ch
}

// Snapshot returns copies of the unfinished splits at their positions: the next number each
// produces, every number emitted so far excluded.
func (r *reader[T]) Snapshot(int64) ([]connector.Split, error) {
	out := make([]connector.Split, len(r.splits))
	for i, sp := range r.splits {
		c := *sp
		out[i] = &c
	}
	return out, nil
}

func (r *reader[T]) Close() error { return nil }
