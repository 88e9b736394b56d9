package stream_test

import (
	"context"
	"fmt"
	"time"

	"github.com/runnel-io/runnel/connector/datagen"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/stream"
	"github.com/runnel-io/runnel/window"
)

// Counting page views per page in tumbling event-time windows of one minute, with records up to
// 30 seconds late still counted (each one re-fires its window) and later ones sent to a side
// output. The source reads one record at a time and emits a watermark after each, so that the
// watermark moves within this small input.
func ExampleWindowAggregateProcess() {
	type view struct {
		Page string
		At   int64 // epoch ms
	}
	minute := int64(time.Minute / time.Millisecond)
	views := []view{{"/", 0}, {"/a", 1_000}, {"/", 59_999}, {"/", 60_000}, {"/", 61_000},
		{"/a", 30_000}, {"/", 100_000}, {"/a", 2_000}}

	env := stream.New("page views", stream.Config{Parallelism: 1, WatermarkInterval: -1})
	gen, _ := datagen.New(func(n int64) view { return views[n] }, datagen.Config{Count: int64(len(views)), BatchSize: 1})
	src := stream.FromSource(env, gen, eventtime.BoundedOutOfOrderness(time.Second, func(v view) int64 { return v.At }))
	late := stream.NewOutputTag[view]("late views")
	w := stream.Window(stream.KeyBy(src, func(v view) string { return v.Page }), window.TumblingEventTime(time.Minute)).
		AllowedLateness(30 * time.Second).
		SideOutputLateData(late)
	counts := stream.WindowAggregateProcess(w, state.AggregateFunction[view, int64, int64]{
		Create: func() int64 { return 0 },
		Add:    func(n int64, _ view) int64 { return n + 1 },
		Result: func(n int64) int64 { return n },
		Merge:  func(a, b int64) int64 { return a + b },
	}, stream.ProcessWindowFunc[string, int64, string](func(ctx *stream.WindowContext[string], n []int64, out stream.Collector[string]) error {
		out.Collect(fmt.Sprintf("%s minute %d: %d views", ctx.Key(), ctx.Window().Start/minute, n[0]))
		return nil
	}))
	out := stream.Collect(counts)
	lateViews := stream.Collect(stream.SideOutput(counts, late))
	if err := env.Execute(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range out.Values() {
		fmt.Println(s)
	}
	fmt.Println("late:", lateViews.Values())
	// Output:
	// / minute 0: 2 views
	// /a minute 0: 1 views
	// /a minute 0: 2 views
	// / minute 1: 3 views
	// late: [{/a 2000}]
}
