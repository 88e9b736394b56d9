// Package datagen has sources that make records instead of reading them: a bounded source
// over a slice, and a generator that calls a function for record numbers 0, 1, 2, ... bounded or
// unbounded, as fast as possible or at a fixed rate.
//
// Both are deterministic: which record a number produces does not depend on parallelism, and a
// split's position is the next number it will produce. A generator started at parallelism p has
// p splits (split i produces i, i+p, i+2p, ...), which keep that share of the numbers, and of
// the rate, when a savepoint restores them at another parallelism.
package datagen

import (
	"cmp"
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
	count int64 // -1: unbounded
	rate  float64
	batch int
	slice bool
}

// DefaultBatchSize is the number of records a reader produces per Read call by default.
const DefaultBatchSize = 256

// Config configures a generator Source. The zero value is an unbounded source producing as
// fast as downstream takes, in batches of DefaultBatchSize.
type Config struct {
	// Count bounds the source to Count records, numbers 0 .. Count-1. Default 0: unbounded.
	Count int64
	// Rate limits the source to Rate records per second in total, whatever the parallelism
	// and however the splits are spread over the readers: each of the p splits of a source
	// started at parallelism p produces Rate/p records per second (its share of the numbers),
	// from the moment its reader first reads it, and keeps that share when a savepoint
	// restores it at another parallelism. Default 0: as fast as downstream takes.
	Rate float64
	// BatchSize is the number of records a reader produces per Read call at most. Default
	// DefaultBatchSize.
	BatchSize int
}

// Validate reports whether c is usable: Count, Rate and BatchSize not negative, Rate finite.
func (c Config) Validate() error {
	switch {
	case c.Count < 0:
		return fmt.Errorf("datagen: negative count %d", c.Count)
	case c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return fmt.Errorf("datagen: bad rate %v", c.Rate)
	case c.BatchSize < 0:
		return fmt.Errorf("datagen: negative batch size %d", c.BatchSize)
	}
	return nil
}

// New returns a source calling fn for record numbers 0, 1, 2, ..., as cfg says. fn must be
// deterministic and safe to call from several goroutines (each reader calls it for its own
// numbers). It returns an error if fn is nil or cfg invalid.
func New[T any](fn func(n int64) T, cfg Config) (*Source[T], error) {
	if fn == nil {
		return nil, errors.New("datagen: nil generator function")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Source[T]{fn: fn, count: cfg.Count, rate: cfg.Rate, batch: cmp.Or(cfg.BatchSize, DefaultBatchSize)}
	if s.count == 0 {
		s.count = -1
	}
	return s, nil
}

// Slice returns a bounded source of vals; reader i of p reads the i-th contiguous part, in order.
func Slice[T any](vals []T) *Source[T] {
	return &Source[T]{fn: func(n int64) T { return vals[n] }, count: int64(len(vals)), batch: DefaultBatchSize, slice: true}
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
	paces  []pace // with a rate: each split's schedule, parallel to splits
	cursor int    // index in splits of the split the next Read starts with
	noMore bool
	wake   chan struct{} // closed when the rate allows the next record
}

// pace is the schedule of one split of a rate-limited source: it produces its share of the
// rate, Rate/Step records per second, counted from its start, the first time this reader
// read it.
type pace struct {
	start    time.Time
	produced int64
}

// AddSplits takes copies of splits, fresh or restored: it reads each from its position on.
func (r *reader[T]) AddSplits(splits []connector.Split) {
	for _, sp := range splits {
		c := *sp.(*Split)
		r.splits = append(r.splits, &c)
		r.outs = append(r.outs, nil)
		r.paces = append(r.paces, pace{})
	}
}

func (r *reader[T]) NoMoreSplits() { r.noMore = true }

// Read produces up to a batch of records, round robin over the splits: the budget goes to the
// split at the cursor, then to the next ones while it lasts; the next call starts after the
// last split served, so that no split starves when a reader holds several unbounded ones
// (after a restore at a lower parallelism, say). With a rate, each split produces no more than
// its schedule allows; when none may produce, Read arranges the wake-up of the next one due and
// says nothing is available.
func (r *reader[T]) Read(_ context.Context, out connector.ReaderOutput[T]) (connector.ReadStatus, error) {
	if len(r.splits) == 0 {
		if r.noMore {
			return connector.EndOfInput, nil
		}
		return connector.NothingAvailable, nil
	}
	var now time.Time
	if r.s.rate > 0 {
		now = r.rc.Clock.Now()
	}
	budget := int64(r.s.batch)
	produced := int64(0)
	for visits := len(r.splits); budget > 0 && visits > 0 && len(r.splits) > 0; visits-- {
		if r.cursor >= len(r.splits) {
			r.cursor = 0
		}
		i := r.cursor
		sp := r.splits[i]
		limit := budget
		if r.s.rate > 0 {
			p := &r.paces[i]
			if p.start.IsZero() {
				p.start = now
			}
			limit = min(limit, r.due(sp, now.Sub(p.start))-p.produced)
		}
		o := r.outs[i]
		if o == nil && limit > 0 {
			o = out.Split(sp.SplitID())
			r.outs[i] = o
		}
		// Next advances after each record is emitted, so a snapshot between two Reads holds
		// the position after the last record out.
		n := int64(0)
		for ; n < limit && (sp.End < 0 || sp.Next < sp.End); n++ {
			o.Collect(r.s.fn(sp.Next), 0)
			sp.Next += sp.Step
		}
		r.paces[i].produced += n
		budget -= n
		produced += n
		if sp.End >= 0 && sp.Next >= sp.End {
			out.ReleaseSplit(sp.SplitID())
			r.splits = slices.Delete(r.splits, i, i+1)
			r.outs = slices.Delete(r.outs, i, i+1)
			r.paces = slices.Delete(r.paces, i, i+1)
			continue // the cursor now names the split after it
		}
		r.cursor = i + 1
	}
	if len(r.splits) == 0 && r.noMore {
		return connector.EndOfInput, nil
	}
	if produced == 0 && r.s.rate > 0 && len(r.splits) > 0 {
		next := time.Duration(math.MaxInt64)
		for i, sp := range r.splits {
			p := r.paces[i]
			next = min(next, p.start.Add(r.dueAt(sp, p.produced)).Sub(now))
		}
		wake := make(chan struct{})
		r.rc.Clock.AfterFunc(next, func() { close(wake) })
		r.wake = wake
		return connector.NothingAvailable, nil
	}
	return connector.MoreAvailable, nil
}

// dueAt returns when record k (from 0) of split sp is due, counted from the split's start:
// k/perSplit seconds, rounded up to the nanosecond, where perSplit is the split's share of the
// rate (the source started with sp.Step splits).
func (r *reader[T]) dueAt(sp *Split, k int64) time.Duration {
	perSplit := r.s.rate / float64(sp.Step)
	return time.Duration(math.Ceil(float64(k) / perSplit * float64(time.Second)))
}

// due returns the number of records of sp due by elapsed: the k with dueAt(k) <= elapsed. It is
// computed from dueAt itself, so that the wake-up time of the next record (dueAt) and the
// count agree even where floating point rounds differently.
func (r *reader[T]) due(sp *Split, elapsed time.Duration) int64 {
	perSplit := r.s.rate / float64(sp.Step)
	n := max(int64(perSplit*elapsed.Seconds()), 0) // within a record of the answer
	for n > 0 && r.dueAt(sp, n-1) > elapsed {
		n--
	}
	for r.dueAt(sp, n) <= elapsed {
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
