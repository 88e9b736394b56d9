package stream_test

import (
	"context"
	"os"
	"slices"
	"testing"

	"github.com/runnel-io/runnel/statebackend/pebble"

	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/stream"
)

// sessionTotals sums values per key and emits each key's total and count when the watermark
// passes 100 ms after the key's last record: keyed Value and List state plus event-time timers.
type sessionTotals struct {
	sum  state.Value[int64]
	seen state.List[int64]
}

type keyTotal struct {
	Key        string
	Sum, Count int64
}

func (f *sessionTotals) Open(rc *stream.KeyedRuntime[string]) error {
	f.sum = stream.NewValueState[int64](rc, state.Descriptor{Name: "sum"})
	f.seen = stream.NewListState[int64](rc, state.Descriptor{Name: "seen"})
	return nil
}

func (f *sessionTotals) ProcessElement(ctx *stream.KeyedContext[string], v keyTotal, _ stream.Collector[keyTotal]) error {
	s, _ := f.sum.Value()
	f.sum.Update(s + v.Sum)
	f.seen.Add(ctx.Timestamp())
	ctx.RegisterEventTimeTimer(ctx.Timestamp() + 100)
	return nil
}

func (f *sessionTotals) OnTimer(ctx *stream.KeyedContext[string], at int64, out stream.Collector[keyTotal]) error {
	seen := f.seen.Get()
	if slices.Max(seen)+100 != at {
		return nil // a later record moved the session's end
	}
	s, _ := f.sum.Value()
	out.Collect(keyTotal{Key: ctx.Key(), Sum: s, Count: int64(len(seen))})
	f.sum.Clear()
	f.seen.Clear()
	return nil
}

func TestPebbleStateGivesTheSameResults(t *testing.T) {
	var in []keyTotal
	for i := range 3000 {
		in = append(in, keyTotal{Key: []string{"a", "b", "c", "d", "e", "f", "g"}[i%7], Sum: int64(i)})
	}
	run := func(p int, backend string) []keyTotal {
		cfg := stream.Config{Parallelism: p, WatermarkInterval: -1}
		dir := t.TempDir()
		if backend == "pebble" {
			cfg.StateBackend = pebble.Factory(dir, 1<<20)
		}
		env := stream.New("pebble-state", cfg)
		src := stream.FromSlice(env, in, eventtime.Monotonous(func(v keyTotal) int64 { return v.Sum / 7 * 10 }))
		out := stream.Collect(stream.KeyedProcess(stream.KeyBy(src, func(v keyTotal) string { return v.Key }), stream.KeyedProcessFunction[string, keyTotal, keyTotal](&sessionTotals{})))
		if err := env.Execute(context.Background()); err != nil {
			t.Fatalf("%s p=%d: %v", backend, p, err)
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Fatalf("%s p=%d: scratch state left behind: %v", backend, p, left)
		}
		got := out.Values()
		slices.SortFunc(got, func(a, b keyTotal) int {
			if a.Key != b.Key {
				if a.Key < b.Key {
					return -1
				}
				return 1
			}
			return int(a.Sum - b.Sum)
		})
		return got
	}
	want := run(1, "memory")
	if len(want) == 0 {
		t.Fatal("no results")
	}
	for _, p := range []int{1, 2} {
		if got := run(p, "pebble"); !slices.Equal(got, want) {
			t.Fatalf("pebble p=%d: %v, memory: %v", p, got, want)
		}
	}
}
