package stream_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/stream"
)

// Matching each ad click to the impressions of the same ad shown up to ten seconds before it.
func ExampleIntervalJoin() {
	type impression struct {
		Ad string
		At int64 // epoch ms
	}
	type click struct {
		Ad string
		At int64
	}
	impressions := []impression{{"shoes", 1_000}, {"hats", 2_000}, {"shoes", 9_000}, {"hats", 30_000}}
	clicks := []click{{"shoes", 12_000}, {"hats", 31_000}, {"shoes", 25_000}}

	env := stream.New("ad clicks", stream.Config{Parallelism: 2, WatermarkInterval: -1})
	imps := stream.KeyBy(stream.FromSlice(env, impressions, eventtime.BoundedOutOfOrderness(time.Second, func(i impression) int64 { return i.At })),
		func(i impression) string { return i.Ad })
	cls := stream.KeyBy(stream.FromSlice(env, clicks, eventtime.BoundedOutOfOrderness(time.Second, func(c click) int64 { return c.At })),
		func(c click) string { return c.Ad })
	// A click at t matches impressions in [t-10s, t]: click.At in [impression.At, impression.At+10s].
	matched := stream.IntervalJoin(imps, cls, 0, 10*time.Second, func(i impression, c click) string {
		return fmt.Sprintf("%s clicked at %ds after the impression at %ds", c.Ad, c.At/1000, i.At/1000)
	})
	out := stream.Collect(matched)
	if err := env.Execute(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	got := out.Values()
	slices.Sort(got)
	fmt.Println(strings.Join(got, "\n"))
	// Output:
	// hats clicked at 31s after the impression at 30s
	// shoes clicked at 12s after the impression at 9s
}

// Enriching orders with the customer's name from a (here simulated) remote service, up to 10
// lookups in flight, results in order.
func ExampleAsyncOrdered() {
	names := map[int]string{1: "Ada", 2: "Grace", 3: "Edsger"}
	lookup := stream.AsyncFunc[int, string](func(ctx context.Context, customer int) (string, error) {
		name, ok := names[customer] // a real lookup would pass ctx to its client
		if !ok {
			return "", fmt.Errorf("no customer %d", customer)
		}
		return name, ctx.Err()
	})
	env := stream.New("enrich", stream.Config{Parallelism: 1})
	orders := stream.FromSlice(env, []int{3, 1, 2, 1}, eventtime.Strategy[int]{})
	out := stream.Collect(stream.AsyncOrdered(orders, lookup, stream.AsyncOptions{Capacity: 10, Timeout: time.Second}))
	if err := env.Execute(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out.Values())
	// Output:
	// [Edsger Ada Grace Ada]
}
