package runtime

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/eventtime"
)

// splitsSource is a bounded source whose one reader holds several splits, each a list of
// timestamps (the records are the timestamps). A Read emits the next record of every
// unfinished split and releases the splits it finished.
type splitsSource struct{ splits [][]int }

type tsSplit struct {
	id  string
	tss []int
}

func (s tsSplit) SplitID() string { return s.id }

func (splitsSource) Boundedness() connector.Boundedness { return connector.Bounded }

func (s splitsSource) NewEnumerator(ctx connector.EnumeratorContext, _ []connector.Split) (connector.Enumerator, error) {
	return &splitsEnumerator{ctx: ctx, splits: s.splits}, nil
}

func (splitsSource) NewReader(connector.ReaderContext) (connector.Reader[int], error) {
	return &splitsReader{}, nil
}

type splitsEnumerator struct {
	ctx    connector.EnumeratorContext
	splits [][]int
}

func (*splitsEnumerator) Start(context.Context) error { return nil }
func (e *splitsEnumerator) AddReader(_ context.Context, subtask int) error {
	if subtask == 0 {
		var all []connector.Split
		for i, tss := range e.splits {
			all = append(all, tsSplit{id: fmt.Sprint(i), tss: tss})
		}
		e.ctx.Assign(0, all...)
	}
	e.ctx.NoMoreSplits(subtask)
	return nil
}
func (*splitsEnumerator) AddSplitsBack([]connector.Split, int) {}
func (*splitsEnumerator) Snapshot() ([]connector.Split, error) { return nil, nil }
func (*splitsEnumerator) Close() error                         { return nil }

type splitsReader struct {
	splits []tsSplit
	noMore bool
}

func (r *splitsReader) AddSplits(splits []connector.Split) {
	for _, sp := range splits {
		r.splits = append(r.splits, sp.(tsSplit))
	}
}
func (r *splitsReader) NoMoreSplits() { r.noMore = true }
func (r *splitsReader) Read(_ context.Context, out connector.ReaderOutput[int]) (connector.ReadStatus, error) {
	if len(r.splits) == 0 {
		if r.noMore {
			return connector.EndOfInput, nil
		}
		return connector.NothingAvailable, nil
	}
	for i := range r.splits {
		sp := &r.splits[i]
		out.Split(sp.id).Collect(sp.tss[0], 0)
		sp.tss = sp.tss[1:]
		if len(sp.tss) == 0 {
			out.ReleaseSplit(sp.id)
		}
	}
	r.splits = slices.DeleteFunc(r.splits, func(sp tsSplit) bool { return len(sp.tss) == 0 })
	return connector.MoreAvailable, nil
}
func (*splitsReader) Snapshot(int64) ([]connector.Split, error) { return nil, nil }
func (*splitsReader) Close() error                              { return nil }

// TestReaderEndOfInputWatermark checks what a source reader emits at end of input: the
// watermark its data reached, the highest any split's generator gave, whichever split was
// released last, then MaxTime. The input is read within one watermark interval (the fake
// clock never lets one pass) or with a watermark after every read; the end is the same.
func TestReaderEndOfInputWatermark(t *testing.T) {
	splits := [][]int{
		{0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000}, // released last
		{0, 10, 20, 50},
		{500, 2000}, // released second, at the highest timestamp: 1999 is reached
	}
	for _, c := range []struct {
		name     string
		interval time.Duration
		want     []int64 // the watermarks, or with want == nil only their end
	}{
		{name: "within one interval", interval: time.Hour, want: []int64{1999, eventtime.MaxTime}},
		{name: "after every read", interval: -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := &Graph{Name: "end of input"}
			strategy := eventtime.Monotonous(func(v int) int64 { return int64(v) })
			src := g.Add(&Node{Name: "src", Parallelism: 1, Out: TypeOf[int](), Source: NewSource[int](splitsSource{splits: splits}, strategy)})
			r := &results[int]{}
			connect(g, src, addSink(g, "sink", 1, r), Forward)
			if err := Run(testCtx(t), g, Config{WatermarkInterval: c.interval, Clock: clockwork.NewFakeClock()}); err != nil {
				t.Fatal(err)
			}
			wms := r.wms[0]
			if c.want != nil && !slices.Equal(wms, c.want) {
				t.Fatalf("watermarks %v, want %v", wms, c.want)
			}
			if n := len(wms); n < 2 || wms[n-2] != 1999 || wms[n-1] != eventtime.MaxTime {
				t.Fatalf("watermarks %v: want them to end with 1999, MaxTime", wms)
			}
			if !slices.IsSorted(wms) || len(slices.Compact(slices.Clone(wms))) != len(wms) {
				t.Fatalf("watermarks do not strictly increase: %v", wms)
			}
		})
	}
}

// TestRunEndOfInputWatermark runs two readers, read within one watermark interval, into one
// consumer: whichever reader ends last, the consumer sees the watermark the whole input
// reached (999 is the largest timestamp; reader 0 reaches only 997) before MaxTime.
func TestRunEndOfInputWatermark(t *testing.T) {
	const n = 1000
	for range 5 {
		g := &Graph{Name: "end of input"}
		src := addSource(g, "src", 2, n)
		r := &results[int]{}
		e := connect(g, src, addSink(g, "sink", 1, r), Rebalance)
		e.Explicit = true
		if err := Run(testCtx(t), g, Config{Clock: clockwork.NewFakeClock()}); err != nil {
			t.Fatal(err)
		}
		wms := r.wms[0]
		if len(wms) < 2 || wms[len(wms)-2] != n-2 || wms[len(wms)-1] != eventtime.MaxTime {
			t.Fatalf("watermarks %v: want them to end with %d, MaxTime", wms, n-2)
		}
		for _, wm := range wms[:len(wms)-2] {
			if wm != n-3 {
				t.Fatalf("watermarks %v: want at most %d (reader 0's end) before %d", wms, n-3, n-2)
			}
		}
		if len(r.bySubtask()[0]) != n {
			t.Fatalf("%d records arrived, want %d", len(r.bySubtask()[0]), n)
		}
	}
}
