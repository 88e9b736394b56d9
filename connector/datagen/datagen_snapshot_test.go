package datagen_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/datagen"
)

// These tests stop readers part way, snapshot their splits, send them through the split codec
// and restore them into a new set of readers, possibly of another parallelism: for every
// split, what the first readers emitted followed by what the restored ones emitted must be
// exactly what an uninterrupted run emits for it.

// pump reads every reader in turn until all ended or enough says so. When no reader had
// anything, it advances clock by a second (rate-limited sources). It returns what was read, by
// split.
func pump(t *testing.T, rs []connector.Reader[int64], clock *clockwork.FakeClock, enough func(got map[string][]int64) bool) map[string][]int64 {
	t.Helper()
	out := &output{got: map[string][]int64{}}
	ended := make([]bool, len(rs))
	for round := 0; ; round++ {
		if round > 1_000_000 {
			t.Fatal("the readers never had enough")
		}
		more, open := false, false
		for i, r := range rs {
			if ended[i] {
				continue
			}
			st, err := r.Read(t.Context(), out)
			if err != nil {
				t.Fatal(err)
			}
			switch st {
			case connector.EndOfInput:
				ended[i] = true
			case connector.MoreAvailable:
				more, open = true, true
			default:
				open = true
			}
			if enough != nil && enough(out.got) {
				return out.got
			}
		}
		if !open {
			return out.got
		}
		if !more {
			clock.Advance(time.Second)
		}
	}
}

// total counts the records in got.
func total(got map[string][]int64) int {
	n := 0
	for _, vs := range got {
		n += len(vs)
	}
	return n
}

// roundTrip encodes and decodes every split with src's codec, checking that the result is
// equal to the split.
func roundTrip(t *testing.T, src *datagen.Source[int64], splits []connector.Split) []connector.Split {
	t.Helper()
	var out []connector.Split
	for _, sp := range splits {
		b, err := src.EncodeSplit(sp)
		if err != nil {
			t.Fatal(err)
		}
		back, err := src.DecodeSplit(b)
		if err != nil {
			t.Fatalf("decoding %s: %v", sp.SplitID(), err)
		}
		if *back.(*datagen.Split) != *sp.(*datagen.Split) {
			t.Fatalf("split %+v came back as %+v", sp, back)
		}
		out = append(out, back)
	}
	return out
}

// newReaders makes p readers of src and gives reader i the splits whose position in splits is
// i modulo p.
func newReaders(t *testing.T, src *datagen.Source[int64], p int, clock clockwork.Clock, splits []connector.Split) []connector.Reader[int64] {
	t.Helper()
	var rs []connector.Reader[int64]
	for i := range p {
		r, err := src.NewReader(connector.ReaderContext{Subtask: i, Parallelism: p, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		var mine []connector.Split
		for k, sp := range splits {
			if k%p == i {
				mine = append(mine, sp)
			}
		}
		r.AddSplits(mine)
		r.NoMoreSplits()
		rs = append(rs, r)
	}
	return rs
}

type snapshotCase struct {
	name string
	src  func(t *testing.T) *datagen.Source[int64]
	// bounded sources are read to the end; unbounded ones until every split has atLeast
	// records.
	bounded bool
	atLeast int
	p1      int
	cut     int // records the first readers emit before the snapshot
}

func snapshotCases() []snapshotCase {
	gen := func(cfg datagen.Config) func(t *testing.T) *datagen.Source[int64] {
		return func(t *testing.T) *datagen.Source[int64] {
			src, err := datagen.New(func(n int64) int64 { return 3*n + 1 }, cfg)
			if err != nil {
				t.Fatal(err)
			}
			return src
		}
	}
	slice := func(t *testing.T) *datagen.Source[int64] {
		vals := make([]int64, 1001)
		for i := range vals {
			vals[i] = int64(i * i)
		}
		return datagen.Slice(vals)
	}
	return []snapshotCase{
		{name: "count", src: gen(datagen.Config{Count: 1000, BatchSize: 7}), bounded: true, p1: 3, cut: 250},
		{name: "count-before-any", src: gen(datagen.Config{Count: 100, BatchSize: 7}), bounded: true, p1: 2, cut: 0},
		{name: "unbounded", src: gen(datagen.Config{BatchSize: 5}), atLeast: 400, p1: 2, cut: 333},
		{name: "slice", src: slice, bounded: true, p1: 4, cut: 501},
		{name: "rate-unbounded", src: gen(datagen.Config{Rate: 40, BatchSize: 16}), atLeast: 120, p1: 2, cut: 90},
		{name: "rate-bounded", src: gen(datagen.Config{Rate: 100, Count: 300}), bounded: true, p1: 3, cut: 131},
	}
}

// TestSnapshotRestoreExactly cuts the readers of each source part way, restores their
// encoded splits into 1 to 5 readers, and checks every split's output against an
// uninterrupted run.
func TestSnapshotRestoreExactly(t *testing.T) {
	for _, c := range snapshotCases() {
		for _, p2 := range []int{1, 2, 3, 5} {
			t.Run(fmt.Sprintf("%s/p=%d->%d", c.name, c.p1, p2), func(t *testing.T) {
				src := c.src(t)
				enough := func(pre map[string][]int64) func(map[string][]int64) bool {
					if c.bounded {
						return nil
					}
					return func(got map[string][]int64) bool {
						for i := range c.p1 {
							id := fmt.Sprintf("split-%d", i)
							if len(pre[id])+len(got[id]) < c.atLeast {
								return false
							}
						}
						return true
					}
				}

				clock := clockwork.NewFakeClock()
				want := pump(t, readers(t, src, c.p1, clock, nil), clock, enough(nil))

				clock = clockwork.NewFakeClock()
				first := readers(t, src, c.p1, clock, nil)
				var pre map[string][]int64
				if c.cut > 0 {
					pre = pump(t, first, clock, func(got map[string][]int64) bool { return total(got) >= c.cut })
				}
				var snap []connector.Split
				for _, r := range first {
					s, err := r.Snapshot(1)
					if err != nil {
						t.Fatal(err)
					}
					snap = append(snap, s...)
					if err := r.Close(); err != nil {
						t.Fatal(err)
					}
				}
				for _, sp := range snap {
					d := sp.(*datagen.Split)
					if n := len(pre[sp.SplitID()]); d.End >= 0 && d.Next >= d.End {
						t.Fatalf("the snapshot holds finished split %+v (%d records read)", d, n)
					}
				}
				restored := roundTrip(t, src, snap)

				// The restored enumerator has no unassigned splits and must make none.
				ec := newEnumContext(p2)
				e, err := src.NewEnumerator(ec, []connector.Split{})
				if err != nil {
					t.Fatal(err)
				}
				for i := range p2 {
					if err := e.AddReader(t.Context(), i); err != nil {
						t.Fatal(err)
					}
				}
				if len(ec.assigned) != 0 {
					t.Fatalf("a restored enumerator with no splits assigned %v", ec.assigned)
				}

				clock = clockwork.NewFakeClock()
				post := pump(t, newReaders(t, src, p2, clock, restored), clock, enough(pre))
				checkUnion(t, want, pre, post, c.bounded)
			})
		}
	}
}

// checkUnion checks that, for every split, pre followed by post is want (bounded) or agrees
// with want as far as both go (unbounded).
func checkUnion(t *testing.T, want, pre, post map[string][]int64, bounded bool) {
	t.Helper()
	ids := slices.Sorted(maps.Keys(want))
	for id := range post {
		if _, ok := want[id]; !ok {
			t.Fatalf("restored readers emitted split %s, which the uninterrupted run did not have", id)
		}
	}
	for _, id := range ids {
		got := append(slices.Clone(pre[id]), post[id]...)
		w := want[id]
		if !bounded {
			n := min(len(got), len(w))
			got, w = got[:n], w[:n]
		}
		if !slices.Equal(got, w) {
			t.Fatalf("split %s: %d records before the snapshot and %d after are\n%v\nwant\n%v", id, len(pre[id]), len(post[id]), got, w)
		}
	}
}

// TestEnumeratorRestoresOnlyItsSplits snapshots an enumerator that assigned some splits and a
// reader that read part of one, restores both at another parallelism, and checks that the
// enumerator hands out exactly its unassigned splits and that together nothing is lost or
// repeated.
func TestEnumeratorRestoresOnlyItsSplits(t *testing.T) {
	src, err := datagen.New(func(n int64) int64 { return n }, datagen.Config{Count: 600, BatchSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	clock := clockwork.NewFakeClock()
	want := pump(t, readers(t, src, 3, clock, nil), clock, nil)

	ec := newEnumContext(3)
	e, err := src.NewEnumerator(ec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.AddReader(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	r, err := src.NewReader(connector.ReaderContext{Subtask: 1, Parallelism: 3, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	r.AddSplits(ec.assigned[1])
	pre := pump(t, []connector.Reader[int64]{r}, clock, func(got map[string][]int64) bool { return total(got) >= 70 })
	readerSnap, err := r.Snapshot(1)
	if err != nil {
		t.Fatal(err)
	}
	enumSnap, err := e.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if len(enumSnap) != 2 {
		t.Fatalf("the enumerator kept %d splits, want 2", len(enumSnap))
	}

	ec2 := newEnumContext(2)
	e2, err := src.NewEnumerator(ec2, roundTrip(t, src, enumSnap))
	if err != nil {
		t.Fatal(err)
	}
	var assigned []connector.Split
	for i := range 2 {
		if err := e2.AddReader(t.Context(), i); err != nil {
			t.Fatal(err)
		}
		assigned = append(assigned, ec2.assigned[i]...)
	}
	var ids []string
	for _, sp := range assigned {
		ids = append(ids, sp.SplitID())
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"split-0", "split-2"}) {
		t.Fatalf("the restored enumerator assigned %v, want split-0 and split-2 only", ids)
	}
	rs := newReaders(t, src, 2, clock, nil)
	for i := range 2 {
		rs[i].AddSplits(ec2.assigned[i])
	}
	rs[1].AddSplits(roundTrip(t, src, readerSnap))
	post := pump(t, rs, clock, nil)
	checkUnion(t, want, pre, post, true)
}

// TestUnboundedSplitsShareAReader checks that a reader holding several unbounded splits, as
// after a restore at a lower parallelism, reads all of them rather than only the first.
func TestUnboundedSplitsShareAReader(t *testing.T) {
	for _, cfg := range []datagen.Config{{BatchSize: 8}, {Rate: 30}} {
		src, err := datagen.New(func(n int64) int64 { return n }, cfg)
		if err != nil {
			t.Fatal(err)
		}
		splits := []connector.Split{
			&datagen.Split{Index: 0, Next: 0, Step: 3, End: -1},
			&datagen.Split{Index: 1, Next: 1, Step: 3, End: -1},
			&datagen.Split{Index: 2, Next: 2, Step: 3, End: -1},
		}
		clock := clockwork.NewFakeClock()
		got := pump(t, newReaders(t, src, 1, clock, splits), clock, func(got map[string][]int64) bool { return total(got) >= 300 })
		for _, sp := range splits {
			if n := len(got[sp.SplitID()]); n < 50 {
				t.Fatalf("%+v: %s produced %d of %d records", cfg, sp.SplitID(), n, total(got))
			}
		}
	}
}

func TestSplitCodecRejects(t *testing.T) {
	src, err := datagen.New(func(n int64) int64 { return n }, datagen.Config{})
	if err != nil {
		t.Fatal(err)
	}
	good, err := src.EncodeSplit(&datagen.Split{Index: 2, Next: 7, Step: 3, End: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"nil", nil, "version: missing"},
		{"version", append([]byte{2}, good[1:]...), "version 2"},
		{"truncated", good[:len(good)-1], "truncated"},
		{"trailing", append(slices.Clone(good), 0), "after the split"},
		{"step", mustEncode(t, src, &datagen.Split{Index: 0, Next: 0, Step: 0, End: 5}), "step 0"},
		{"negative position", mustEncode(t, src, &datagen.Split{Index: 0, Next: -4, Step: 1, End: 5}), "negative position"},
	} {
		_, err := src.DecodeSplit(c.b)
		if !errors.Is(err, datagen.ErrBadSplit) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want ErrBadSplit mentioning %q", c.name, err, c.want)
		}
	}
	slice := datagen.Slice([]int64{1, 2, 3})
	if _, err := slice.DecodeSplit(mustEncode(t, src, &datagen.Split{Index: 0, Next: 0, Step: 1, End: 4})); !errors.Is(err, datagen.ErrBadSplit) {
		t.Errorf("a slice source of 3 records accepted a split ending at 4: %v", err)
	}
	if _, err := src.EncodeSplit(otherSplit{}); err == nil || !strings.HasPrefix(err.Error(), "datagen: ") {
		t.Errorf("encoding a foreign split: %v", err)
	}
	if _, err := src.NewEnumerator(newEnumContext(1), []connector.Split{otherSplit{}}); err == nil {
		t.Error("the enumerator accepted a foreign restored split")
	}
}

type otherSplit struct{}

func (otherSplit) SplitID() string { return "other" }

func mustEncode(t *testing.T, src *datagen.Source[int64], sp *datagen.Split) []byte {
	t.Helper()
	b, err := src.EncodeSplit(sp)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzDecodeSplit checks that no input makes DecodeSplit panic, and that what it accepts
// encodes to bytes that decode to the same split.
func FuzzDecodeSplit(f *testing.F) {
	src, err := datagen.New(func(n int64) int64 { return n }, datagen.Config{})
	if err != nil {
		f.Fatal(err)
	}
	for _, sp := range []*datagen.Split{
		{Index: 0, Next: 0, Step: 1, End: -1},
		{Index: 3, Next: 1 << 40, Step: 7, End: 1 << 41},
		{Index: 1, Next: 9, Step: 1, End: 9},
	} {
		b, err := src.EncodeSplit(sp)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		sp, err := src.DecodeSplit(b)
		if err != nil {
			if !errors.Is(err, datagen.ErrBadSplit) {
				t.Fatalf("error %v does not wrap ErrBadSplit", err)
			}
			return
		}
		again, err := src.DecodeSplit(mustEncode(t, src, sp.(*datagen.Split)))
		if err != nil || *again.(*datagen.Split) != *sp.(*datagen.Split) {
			t.Fatalf("%+v re-encoded decodes to %+v, %v", sp, again, err)
		}
	})
}
