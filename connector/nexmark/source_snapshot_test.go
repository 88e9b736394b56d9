package nexmark_test

import (
	"log/slog"
	"slices"
	"testing"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/nexmark"
)

// nexmarkOutput records the events of every split.
type nexmarkOutput map[string][]nexmark.Event

func (o nexmarkOutput) Split(id string) connector.SplitOutput[nexmark.Event] {
	return nexmarkSplit{o, id}
}
func (o nexmarkOutput) ReleaseSplit(string) {}

type nexmarkSplit struct {
	o  nexmarkOutput
	id string
}

func (s nexmarkSplit) Collect(e nexmark.Event, _ int64) { s.o[s.id] = append(s.o[s.id], e) }

// readUntil reads rs in turn until they end or have produced n events in total.
func readUntil(t *testing.T, rs []connector.Reader[nexmark.Event], n int) nexmarkOutput {
	t.Helper()
	out := nexmarkOutput{}
	count := func() int {
		c := 0
		for _, es := range out {
			c += len(es)
		}
		return c
	}
	ended := make([]bool, len(rs))
	for open := true; open && count() < n; {
		open = false
		for i, r := range rs {
			if ended[i] {
				continue
			}
			st, err := r.Read(t.Context(), out)
			if err != nil {
				t.Fatal(err)
			}
			ended[i] = st == connector.EndOfInput
			open = open || !ended[i]
		}
	}
	return out
}

// TestSourceSnapshotRestore reads a Nexmark source part way at parallelism 3, restores the
// readers' splits through the source's split codec into 2 readers, and checks that every
// split's events are those of an uninterrupted run, none lost or repeated.
func TestSourceSnapshotRestore(t *testing.T) {
	const events, p1, p2 = 3000, 3, 2
	src, err := nexmark.NewSource(nexmark.Config{}, nexmark.SourceOptions{Events: events})
	if err != nil {
		t.Fatal(err)
	}
	codec, ok := src.(connector.SplitCodec)
	if !ok {
		t.Fatal("the Nexmark source does not implement connector.SplitCodec")
	}
	start := func(p int, splits [][]connector.Split) []connector.Reader[nexmark.Event] {
		var rs []connector.Reader[nexmark.Event]
		for i := range p {
			r, err := src.NewReader(connector.ReaderContext{Subtask: i, Parallelism: p})
			if err != nil {
				t.Fatal(err)
			}
			r.AddSplits(splits[i])
			r.NoMoreSplits()
			rs = append(rs, r)
		}
		return rs
	}
	fresh := func() [][]connector.Split {
		ec := &enumContext{p: p1, assigned: map[int][]connector.Split{}}
		e, err := src.NewEnumerator(ec, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out [][]connector.Split
		for i := range p1 {
			if err := e.AddReader(t.Context(), i); err != nil {
				t.Fatal(err)
			}
			out = append(out, ec.assigned[i])
		}
		return out
	}
	want := readUntil(t, start(p1, fresh()), events)

	first := start(p1, fresh())
	pre := readUntil(t, first, 1000)
	restored := make([][]connector.Split, p2)
	k := 0
	for _, r := range first {
		splits, err := r.Snapshot(1)
		if err != nil {
			t.Fatal(err)
		}
		for _, sp := range splits {
			b, err := codec.EncodeSplit(sp)
			if err != nil {
				t.Fatal(err)
			}
			back, err := codec.DecodeSplit(b)
			if err != nil {
				t.Fatal(err)
			}
			restored[k%p2] = append(restored[k%p2], back)
			k++
		}
	}
	post := readUntil(t, start(p2, restored), events)
	n := 0
	for id, w := range want {
		got := append(slices.Clone(pre[id]), post[id]...)
		n += len(got)
		if !slices.EqualFunc(got, w, func(a, b nexmark.Event) bool {
			return string(nexmark.AppendJSON(nil, &a)) == string(nexmark.AppendJSON(nil, &b))
		}) {
			t.Fatalf("split %s: %d events before the snapshot and %d after differ from the uninterrupted run's %d", id, len(pre[id]), len(post[id]), len(w))
		}
	}
	if n != events {
		t.Fatalf("%d events in all, want %d", n, events)
	}
}

type enumContext struct {
	p        int
	assigned map[int][]connector.Split
}

func (c *enumContext) Parallelism() int { return c.p }
func (c *enumContext) Assign(subtask int, splits ...connector.Split) {
	c.assigned[subtask] = append(c.assigned[subtask], splits...)
}
func (c *enumContext) NoMoreSplits(int)     {}
func (c *enumContext) Logger() *slog.Logger { return slog.New(slog.DiscardHandler) }
