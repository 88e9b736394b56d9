package nexmark_test

import (
	"context"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/connector/nexmark"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/stream"
)

func TestSourceProducesEveryEventOnceAtAnyParallelism(t *testing.T) {
	const n = 5000
	g, err := nexmark.NewGenerator(nexmark.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []int{1, 3} {
		src, err := nexmark.NewSource(nexmark.Config{}, nexmark.SourceOptions{Events: n})
		if err != nil {
			t.Fatal(err)
		}
		env := stream.New("nexmark-source", stream.Config{Parallelism: p})
		events := stream.FromSource(env, src, eventtime.Monotonous(func(e nexmark.Event) int64 { return e.Time() }))
		got := stream.Collect(events)
		if err := env.Execute(context.Background()); err != nil {
			t.Fatal(err)
		}
		vals := got.Values()
		if len(vals) != n {
			t.Fatalf("p=%d: %d events, want %d", p, len(vals), n)
		}
		// Every generated bid must be one of the generator's own events.
		want := map[nexmark.Bid]bool{}
		for i := range int64(n) {
			if e := g.Event(i); e.Type == nexmark.BidEvent {
				want[*e.Bid] = true
			}
		}
		bids := 0
		for _, e := range vals {
			if e.Type == nexmark.BidEvent {
				bids++
				if !want[*e.Bid] {
					t.Fatalf("p=%d: unexpected bid %+v", p, *e.Bid)
				}
			}
		}
		if bids != len(want) {
			t.Fatalf("p=%d: %d bids, want %d", p, bids, len(want))
		}
	}
	if err := (nexmark.SourceOptions{Rate: -1}).Validate(); err == nil || !strings.Contains(err.Error(), "bad rate") {
		t.Errorf("Validate of a negative rate: %v", err)
	}
	if _, err := nexmark.NewSource(nexmark.Config{}, nexmark.SourceOptions{Events: -1}); err == nil {
		t.Fatal("negative events accepted")
	}
}
