package stream_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connector/datagen"
	"github.com/runnel-io/runnel/connector/file"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/stream"
)

// This test runs a checkpointed job of a rate-limited datagen source, an async operator and a
// keyed broadcast operator into the exactly-once file sink, injects failures, and checks that
// the committed output is exactly that of a run without failures: the source's splits,
// the broadcast state (a rule sent once, before any failure can restore past it) and the
// drained async calls all survive restarts.

var ssMult = stream.BroadcastStateDescriptor[string, int64]{Name: "mult"}

// ssScale multiplies each number by the broadcast rule once the watermark has passed it, so
// that the rule (timestamp 0) has arrived whatever the interleaving of the inputs.
type ssScale struct {
	pending state.List[int64]
}

func (f *ssScale) Open(rc *stream.KeyedRuntime[int64]) error {
	f.pending = stream.NewListState[int64](rc, state.Descriptor{Name: "pending"})
	return nil
}

func (f *ssScale) ProcessBroadcastElement(ctx *stream.BroadcastContext, m int64, _ stream.Collector[string]) error {
	stream.BroadcastStateOf(ctx, ssMult).Put("mult", m)
	return nil
}

func (f *ssScale) ProcessElement(ctx *stream.KeyedBroadcastContext[int64], v int64, _ stream.Collector[string]) error {
	f.pending.Add(v)
	ctx.RegisterEventTimeTimer(ctx.Timestamp())
	return nil
}

func (f *ssScale) OnTimer(ctx *stream.KeyedBroadcastContext[int64], at int64, out stream.Collector[string]) error {
	m, ok := stream.ReadOnlyBroadcastStateOf(ctx, ssMult).Get("mult")
	var keep []int64
	for _, v := range f.pending.Get() {
		switch {
		case ssTime(v) > at:
			keep = append(keep, v)
		case !ok:
			out.Collect(fmt.Sprintf("%d no rule", v))
		default:
			out.Collect(fmt.Sprintf("%d %d", v, v*m))
		}
	}
	f.pending.Update(keep)
	return nil
}

func ssTime(v int64) int64 { return 1000 + v }

func TestCheckpointedSourcesSurviveFailures(t *testing.T) {
	const n = 12000
	var want []string
	for v := range int64(n) {
		want = append(want, fmt.Sprintf("%d %d", v, 3*v))
	}
	slices.Sort(want)
	for seed := range uint64(2) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			var points []int64
			for at := int64(0); len(points) < 4; {
				at += 1000 + rng.Int64N(2000)
				points = append(points, at)
			}
			var seen, failures atomic.Int64
			cfg := checkpointConfig(t, t.TempDir(), 2*time.Millisecond)
			cfg.Parallelism = 2
			cfg.WatermarkInterval = time.Millisecond
			var restoredFrom atomic.Int64 // a restart that restored a checkpoint, not the beginning
			cfg.MetricsInterval = time.Millisecond
			cfg.Metrics = metrics.ListenerFunc(func(s metrics.Snapshot) {
				if c := s.Checkpoints; c != nil && c.Restored > 0 {
					restoredFrom.Store(c.Restored)
				}
			})
			env := stream.New("checkpointed-sources", cfg)
			// 30000 records a second over both readers: the job runs long enough for
			// checkpoints between failures.
			gen, err := datagen.New(func(n int64) int64 { return n }, datagen.Config{Count: n, Rate: 30000})
			if err != nil {
				t.Fatal(err)
			}
			nums := stream.FromSource(env, gen, eventtime.Monotonous(ssTime)).Uid("numbers")
			echoed := stream.AsyncOrdered(nums, stream.AsyncFunc[int64, int64](func(_ context.Context, v int64) (int64, error) {
				time.Sleep(time.Duration(v%3) * 50 * time.Microsecond)
				return v, nil
			}), stream.AsyncOptions{Capacity: 8}).Uid("async")
			checked := stream.Map(echoed, func(v int64) int64 {
				if slices.Contains(points, seen.Add(1)) {
					failures.Add(1)
					panic(fmt.Sprintf("injected failure at record %d", v))
				}
				return v
			}).Uid("map")
			rules := stream.FromSlice(env, []int64{3}, eventtime.Monotonous(func(int64) int64 { return 0 })).Parallelism(1).Uid("rules")
			lines := stream.KeyedBroadcastProcess(stream.ConnectBroadcast(stream.KeyBy(checked, func(v int64) int64 { return v % 37 }), rules),
				stream.KeyedBroadcastProcessFunction[int64, int64, int64, string](&ssScale{})).Uid("scale")
			out := t.TempDir()
			sink, err := file.NewSink(file.SinkConfig[string]{Dir: out, Encode: func(dst []byte, s string) []byte { return append(append(dst, s...), '\n') }})
			if err != nil {
				t.Fatal(err)
			}
			lines.SinkTo(sink).Uid("sink")
			if err := env.Execute(context.Background()); err != nil {
				t.Fatal(err)
			}
			if int(failures.Load()) != len(points) {
				t.Fatalf("%d failures injected, want %d", failures.Load(), len(points))
			}
			if restoredFrom.Load() == 0 {
				t.Fatal("no restart restored a checkpoint")
			}
			diffLines(t, committedLines(t, out), want)
		})
	}
}
