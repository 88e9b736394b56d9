package nexmark

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkQuery runs every query end to end, source to discarding sink, over b.N events at
// parallelism 1 and 2. ns/op is wall time per event; events/s and events/cpu-s are the
// figures docs/PERFORMANCE.md reports (run with -benchtime=2000000x or more for stable ones).
func BenchmarkQuery(b *testing.B) {
	for _, q := range Queries() {
		for _, p := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/p%d", q.Name, p), func(b *testing.B) {
				r, err := Run(context.Background(), Options{Query: q.Name, Events: int64(b.N), Parallelism: p})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(r.EventsPerSecond, "events/s")
				b.ReportMetric(r.EventsPerCPUSecond, "events/cpu-s")
			})
		}
	}
}
