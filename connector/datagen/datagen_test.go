package datagen_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/datagen"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/stream"
)

// enumContext is a connector.EnumeratorContext recording assignments.
type enumContext struct {
	p        int
	assigned map[int][]connector.Split
	noMore   map[int]bool
}

func newEnumContext(p int) *enumContext {
	return &enumContext{p: p, assigned: map[int][]connector.Split{}, noMore: map[int]bool{}}
}

func (c *enumContext) Parallelism() int { return c.p }
func (c *enumContext) Assign(subtask int, splits ...connector.Split) {
	c.assigned[subtask] = append(c.assigned[subtask], splits...)
}
func (c *enumContext) NoMoreSplits(subtask int) { c.noMore[subtask] = true }
func (c *enumContext) Logger() *slog.Logger     { return slog.New(slog.DiscardHandler) }

// output is a connector.ReaderOutput recording records per split.
type output struct {
	got      map[string][]int64
	released []string
}

func (o *output) Split(id string) connector.SplitOutput[int64] { return splitOutput{o, id} }
func (o *output) ReleaseSplit(id string)                       { o.released = append(o.released, id) }

type splitOutput struct {
	o  *output
	id string
}

func (s splitOutput) Collect(v int64, _ int64) { s.o.got[s.id] = append(s.o.got[s.id], v) }

// readers makes the enumerator and p readers of src, hands out the splits (restored ones if
// given) and returns the readers.
func readers(t *testing.T, src *datagen.Source[int64], p int, clock clockwork.Clock, restored []connector.Split) []connector.Reader[int64] {
	t.Helper()
	ec := newEnumContext(p)
	e, err := src.NewEnumerator(ec, restored)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	var rs []connector.Reader[int64]
	for i := range p {
		if err := e.AddReader(t.Context(), i); err != nil {
			t.Fatal(err)
		}
		if !ec.noMore[i] {
			t.Fatalf("reader %d was not told there are no more splits", i)
		}
		r, err := src.NewReader(connector.ReaderContext{Subtask: i, Parallelism: p, Clock: clock, Logger: ec.Logger()})
		if err != nil {
			t.Fatal(err)
		}
		r.AddSplits(ec.assigned[i])
		r.NoMoreSplits()
		rs = append(rs, r)
	}
	if left, _ := e.Snapshot(); len(left) != 0 {
		t.Fatalf("the enumerator kept %d splits after every reader was added", len(left))
	}
	return rs
}

// drain reads r until end of input or until limit records were read (limit < 0: no limit).
func drain(t *testing.T, r connector.Reader[int64], limit int) (*output, bool) {
	t.Helper()
	out := &output{got: map[string][]int64{}}
	n := func() int {
		c := 0
		for _, vs := range out.got {
			c += len(vs)
		}
		return c
	}
	for i := 0; ; i++ {
		if i > 1_000_000 {
			t.Fatal("the reader never ended")
		}
		st, err := r.Read(t.Context(), out)
		if err != nil {
			t.Fatal(err)
		}
		switch st {
		case connector.EndOfInput:
			return out, true
		case connector.NothingAvailable:
			t.Fatal("an unlimited reader said nothing is available")
		}
		if limit >= 0 && n() >= limit {
			return out, false
		}
	}
}

func identity(n int64) int64 { return n }

func TestNewValidates(t *testing.T) {
	for _, c := range []struct {
		fn   func(int64) int64
		cfg  datagen.Config
		want string
	}{
		{nil, datagen.Config{}, "nil generator"},
		{identity, datagen.Config{Count: -2}, "negative count"},
		{identity, datagen.Config{Rate: -1}, "bad rate"},
		{identity, datagen.Config{Rate: math.Inf(1)}, "bad rate"},
		{identity, datagen.Config{BatchSize: -1}, "negative batch size"},
	} {
		_, err := datagen.New(c.fn, c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "datagen: ") {
			t.Errorf("error %v, want one containing %q", err, c.want)
		}
	}
}

func TestBoundedness(t *testing.T) {
	unbounded, _ := datagen.New(identity, datagen.Config{})
	bounded, _ := datagen.New(identity, datagen.Config{Count: 1})
	if unbounded.Boundedness() != connector.Unbounded || bounded.Boundedness() != connector.Bounded {
		t.Fatal("a source without Count must be unbounded, with Count bounded")
	}
	if datagen.Slice([]int{}).Boundedness() != connector.Bounded {
		t.Fatal("a slice source must be bounded")
	}
}

// TestSplitsCoverEachNumberOnce reads a bounded source at several parallelisms and checks that
// the readers together produce each number exactly once, each split in increasing order.
func TestSplitsCoverEachNumberOnce(t *testing.T) {
	for _, count := range []int64{1, 7, 1000} {
		for p := 1; p <= 5; p++ {
			t.Run(fmt.Sprintf("count=%d/p=%d", count, p), func(t *testing.T) {
				src, err := datagen.New(identity, datagen.Config{Count: count, BatchSize: 13})
				if err != nil {
					t.Fatal(err)
				}
				var all []int64
				for i, r := range readers(t, src, p, clockwork.NewFakeClock(), nil) {
					out, ended := drain(t, r, -1)
					if !ended {
						t.Fatal("reader did not end")
					}
					for id, vs := range out.got {
						if !slices.IsSorted(vs) {
							t.Fatalf("reader %d split %s out of order: %v", i, id, vs)
						}
						if !slices.Contains(out.released, id) {
							t.Fatalf("reader %d did not release finished split %s", i, id)
						}
						all = append(all, vs...)
					}
				}
				slices.Sort(all)
				if int64(len(all)) != count {
					t.Fatalf("%d records, want %d", len(all), count)
				}
				for i, v := range all {
					if v != int64(i) {
						t.Fatalf("record %d is %d: numbers missing or repeated", i, v)
					}
				}
			})
		}
	}
}

// TestSliceReadsContiguousParts checks that reader i of p reads the i-th contiguous part of a
// slice, in order.
func TestSliceReadsContiguousParts(t *testing.T) {
	vals := make([]int64, 10)
	for i := range vals {
		vals[i] = 100 + int64(i)
	}
	src := datagen.Slice(vals)
	want := [][]int64{{100, 101, 102}, {103, 104, 105}, {106, 107, 108, 109}}
	for i, r := range readers(t, src, 3, clockwork.NewFakeClock(), nil) {
		out, _ := drain(t, r, -1)
		var got []int64
		for _, vs := range out.got {
			got = append(got, vs...)
		}
		if !slices.Equal(got, want[i]) {
			t.Errorf("reader %d read %v, want %v", i, got, want[i])
		}
	}
}

// TestSnapshotRestore stops readers half way, restores their snapshots into a new enumerator
// and checks that the restored job produces exactly the numbers the first one did not.
func TestSnapshotRestore(t *testing.T) {
	const count, p = 500, 3
	src, err := datagen.New(identity, datagen.Config{Count: count, BatchSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]int{}
	var snap []connector.Split
	for _, r := range readers(t, src, p, clockwork.NewFakeClock(), nil) {
		out, _ := drain(t, r, 50)
		for _, vs := range out.got {
			for _, v := range vs {
				seen[v]++
			}
		}
		s, err := r.Snapshot(1)
		if err != nil {
			t.Fatal(err)
		}
		snap = append(snap, s...)
	}
	for _, r := range readers(t, src, p, clockwork.NewFakeClock(), snap) {
		out, _ := drain(t, r, -1)
		for _, vs := range out.got {
			for _, v := range vs {
				seen[v]++
			}
		}
	}
	for v := range int64(count) {
		if seen[v] != 1 {
			t.Fatalf("number %d produced %d times", v, seen[v])
		}
	}
}

// TestRate checks a rate-limited reader against a fake clock: floor(rate*t)+1 records by time
// t, nothing more, and an availability signal when the next record is due.
func TestRate(t *testing.T) {
	for _, p := range []int{1, 2} {
		t.Run(fmt.Sprintf("p=%d", p), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			const rate = 100 // per second, over all readers
			clock := clockwork.NewFakeClockAt(time.Unix(1_767_225_600, 0))
			src, err := datagen.New(identity, datagen.Config{Rate: rate})
			if err != nil {
				t.Fatal(err)
			}
			rs := readers(t, src, p, clock, nil)
			outs := make([]*output, p)
			for i := range outs {
				outs[i] = &output{got: map[string][]int64{}}
			}
			// readAll reads every reader until it says nothing is available, and checks that
			// it then has an availability signal.
			readAll := func() []<-chan struct{} {
				var waits []<-chan struct{}
				for i, r := range rs {
					for {
						st, err := r.Read(ctx, outs[i])
						if err != nil {
							t.Fatal(err)
						}
						if st == connector.NothingAvailable {
							break
						}
						if st != connector.MoreAvailable {
							t.Fatalf("reader %d: status %d", i, st)
						}
					}
					ch := r.(connector.Availability).Available()
					if ch == nil {
						t.Fatalf("reader %d: no availability signal while rate-limited", i)
					}
					waits = append(waits, ch)
				}
				return waits
			}
			produced := func() int {
				n := 0
				for _, o := range outs {
					for _, vs := range o.got {
						n += len(vs)
					}
				}
				return n
			}
			perReader := rate / p
			check := func(elapsed time.Duration, waits []<-chan struct{}) {
				t.Helper()
				want := p * (int(int64(elapsed)*int64(perReader)/int64(time.Second)) + 1)
				if got := produced(); got != want {
					t.Fatalf("after %v: %d records, want %d", elapsed, got, want)
				}
				for i, w := range waits {
					select {
					case <-w:
						t.Fatalf("after %v: reader %d signalled before its next record is due", elapsed, i)
					default:
					}
				}
			}
			waits := readAll()
			check(0, waits)
			elapsed := time.Duration(0)
			// Every step is at least 1/perReader seconds, so each reader's next record is due.
			// 4.02s is a boundary where 100*4.02 is 401.99999999999994 in floating point.
			for _, d := range []time.Duration{20 * time.Millisecond, time.Second, 3 * time.Second, 30 * time.Millisecond, 2 * time.Second} {
				clock.Advance(d)
				elapsed += d
				for i, w := range waits {
					select {
					case <-w:
					case <-ctx.Done():
						t.Fatalf("after %v: reader %d was not signalled although its next record is due", elapsed, i)
					}
				}
				waits = readAll()
				check(elapsed, waits)
			}
		})
	}
}

// TestRateInJob runs a rate-limited source in a job on a fake clock: by processing time t the
// job receives floor(rate*t)+1 records, and never more than that.
func TestRateInJob(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	start := time.Unix(1_767_225_600, 0)
	clock := clockwork.NewFakeClockAt(start)
	const rate = 100
	due := func(now time.Time) int64 { return int64(now.Sub(start))*rate/int64(time.Second) + 1 }
	src, err := datagen.New(identity, datagen.Config{Rate: rate})
	if err != nil {
		t.Fatal(err)
	}
	var received, early atomic.Int64
	progress := make(chan struct{}, 1)
	env := stream.New("rate", stream.Config{Parallelism: 1, Clock: clock})
	stream.Map(stream.FromSource(env, src, eventtime.Strategy[int64]{}), func(v int64) int64 {
		if received.Add(1) > due(clock.Now()) {
			early.Add(1)
		}
		select {
		case progress <- struct{}{}:
		default:
		}
		return v
	}).Discard()
	jobCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- env.Execute(jobCtx) }()
	// Every step is at least the flush interval (10ms), so the source wakes at least once
	// after it, and at least 1/rate, so a record is due.
	for _, d := range []time.Duration{0, time.Second, 20 * time.Millisecond, 3 * time.Second} {
		// The source waits for its next record: the clock's waiters are the task's flush
		// ticker and the reader's wake-up timer.
		if err := clock.BlockUntilContext(ctx, 2); err != nil {
			t.Fatalf("the source is not waiting for the clock: %v", err)
		}
		clock.Advance(d)
		want := due(clock.Now())
		for received.Load() < want {
			select {
			case <-progress:
			case err := <-done:
				t.Fatalf("the job ended: %v", err)
			case <-ctx.Done():
				t.Fatalf("after %v: received %d records, want %d", clock.Since(start), received.Load(), want)
			}
		}
		if n := early.Load(); n > 0 {
			t.Fatalf("after %v: %d records came before they were due", clock.Since(start), n)
		}
	}
	stop()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Execute: %v, want context.Canceled", err)
	}
	if got, want := received.Load(), due(clock.Now()); got != want {
		t.Fatalf("after %v: received %d records, want %d", clock.Since(start), got, want)
	}
}

// TestRateHoldsAcrossRescale restores a rate-limited source's splits at other parallelisms,
// where some readers get several splits and some none: the configured rate still holds in
// total, each split producing its share (floor(rate/p0 * t) + 1 records by time t).
func TestRateHoldsAcrossRescale(t *testing.T) {
	const rate = 120 // per second, over all readers
	for _, ps := range [][2]int{{2, 4}, {2, 1}, {3, 5}, {4, 3}, {1, 3}} {
		t.Run(fmt.Sprintf("p=%d->%d", ps[0], ps[1]), func(t *testing.T) {
			clock := clockwork.NewFakeClockAt(time.Unix(1_767_225_600, 0))
			src, err := datagen.New(identity, datagen.Config{Rate: rate})
			if err != nil {
				t.Fatal(err)
			}
			outs := map[connector.Reader[int64]]*output{} // by the first reader of a run
			// readAll reads every reader until none has anything now, and returns how many
			// records they produced so far (readers keep the output of a split).
			readAll := func(rs []connector.Reader[int64]) int {
				out := &output{got: map[string][]int64{}}
				if outs[rs[0]] == nil {
					outs[rs[0]] = out
				}
				out = outs[rs[0]]
				for _, r := range rs {
					for {
						st, err := r.Read(t.Context(), out)
						if err != nil {
							t.Fatal(err)
						}
						if st != connector.MoreAvailable {
							break
						}
					}
				}
				return total(out.got)
			}
			// The first run: a second at parallelism ps[0], then a savepoint.
			first := readers(t, src, ps[0], clock, nil)
			readAll(first)
			clock.Advance(time.Second)
			readAll(first)
			var snap []connector.Split
			for _, r := range first {
				sps, err := r.Snapshot(1)
				if err != nil {
					t.Fatal(err)
				}
				snap = append(snap, sps...)
			}
			// The restored run, at parallelism ps[1].
			rs := readers(t, src, ps[1], clock, snap)
			elapsed := time.Duration(0)
			perSplit := int64(rate / ps[0])
			for _, d := range []time.Duration{0, time.Second, 2500 * time.Millisecond, 10 * time.Millisecond} {
				clock.Advance(d)
				elapsed += d
				// Every split's first record at once, then rate/p0 per split and second.
				want := ps[0] * int(int64(elapsed)*perSplit/int64(time.Second)+1)
				if got := readAll(rs); got != want {
					t.Fatalf("restored at parallelism %d: %d records after %v, want %d (%d per second in all)", ps[1], got, elapsed, want, rate)
				}
			}
		})
	}
}
