package arbitrage

import (
	"cmp"
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runnel-io/runnel/stream"
)

// batchGaps is the rule of Gaps written as plain loops over all ticks: for every two ticks of one
// symbol on different exchanges at most within apart, a gap if one's bid exceeds the other's ask
// by more than threshold.
func batchGaps(ticks [][]Tick, within time.Duration, threshold float64) []Gap {
	w := within.Milliseconds()
	var gaps []Gap
	for i := range ticks {
		for j := range ticks {
			if i == j {
				continue
			}
			for _, sell := range ticks[i] {
				for _, buy := range ticks[j] {
					if sell.Symbol != buy.Symbol || sell.Time-buy.Time > w || buy.Time-sell.Time > w {
						continue
					}
					if spread := sell.Bid - buy.Ask; spread > threshold {
						gaps = append(gaps, Gap{Symbol: sell.Symbol, BuyExchange: buy.Exchange, SellExchange: sell.Exchange,
							Time: max(sell.Time, buy.Time), Spread: spread})
					}
				}
			}
		}
	}
	sortGaps(gaps)
	return gaps
}

func sortGaps(gs []Gap) {
	slices.SortFunc(gs, func(a, b Gap) int {
		return cmp.Or(cmp.Compare(a.Time, b.Time), cmp.Compare(a.Symbol, b.Symbol),
			cmp.Compare(a.BuyExchange, b.BuyExchange), cmp.Compare(a.SellExchange, b.SellExchange),
			cmp.Compare(a.Spread, b.Spread))
	})
}

func runGaps(t *testing.T, o Options, parallelism int, within time.Duration, threshold float64) []Gap {
	t.Helper()
	env := stream.New("arbitrage", stream.Config{Parallelism: parallelism, WatermarkInterval: -1})
	srcs, err := Sources(env, o)
	if err != nil {
		t.Fatal(err)
	}
	var late atomic.Int64
	out := stream.Collect(Gaps(srcs, within, threshold, stream.JoinCountLateDropped(&late)))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := env.Execute(ctx); err != nil {
		t.Fatal(err)
	}
	if n := late.Load(); n != 0 {
		t.Errorf("parallelism %d: %d late ticks dropped", parallelism, n)
	}
	got := out.Values()
	sortGaps(got)
	return got
}

func TestGapsMatchBatch(t *testing.T) {
	const within, threshold = 5 * time.Millisecond, 0.05
	for _, o := range []Options{
		{Events: 3_000, GapEvery: 200, Disorder: 20 * time.Millisecond},
		{Exchanges: 2, Symbols: 3, Interval: 2 * time.Millisecond, Events: 2_000, GapEvery: 150},
	} {
		o := o.withDefaults()
		ticks := make([][]Tick, o.Exchanges)
		for e := range ticks {
			for n := range o.Events {
				ticks[e] = append(ticks[e], Generate(o, e, n))
			}
		}
		want := batchGaps(ticks, within, threshold)
		if len(want) == 0 {
			t.Fatalf("%+v: the generator injected no gaps", o)
		}
		var first []Gap
		for _, p := range []int{1, 2} {
			got := runGaps(t, o, p, within, threshold)
			if !slices.Equal(got, want) {
				t.Errorf("%d exchanges, parallelism %d: %d gaps, batch has %d", o.Exchanges, p, len(got), len(want))
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						t.Errorf("first difference at %d: got %+v, want %+v", i, got[i], want[i])
						break
					}
				}
			}
			if first == nil {
				first = got
			} else if !slices.Equal(first, got) {
				t.Errorf("%d exchanges: parallelism 1 and %d differ", o.Exchanges, p)
			}
		}
		t.Logf("%d exchanges, %d ticks each: %d gaps", o.Exchanges, o.Events, len(want))
	}
}

func TestNoGapsWithoutInjection(t *testing.T) {
	o := Options{Events: 2_000, GapEvery: -1, Disorder: 10 * time.Millisecond}.withDefaults()
	ticks := make([][]Tick, o.Exchanges)
	for e := range ticks {
		for n := range o.Events {
			ticks[e] = append(ticks[e], Generate(o, e, n))
		}
	}
	if gs := batchGaps(ticks, 10*time.Millisecond, 0); len(gs) != 0 {
		t.Errorf("%d gaps without injection, first %+v", len(gs), gs[0])
	}
	if got := runGaps(t, o, 2, 10*time.Millisecond, 0); len(got) != 0 {
		t.Errorf("job found %d gaps without injection, first %+v", len(got), got[0])
	}
}

func TestGenerate(t *testing.T) {
	o := Options{Disorder: 20 * time.Millisecond}
	for e := range 3 {
		for n := range int64(1_000) {
			a, b := Generate(o, e, n), Generate(o, e, n)
			if a != b {
				t.Fatalf("Generate(%d, %d) not deterministic: %+v, %+v", e, n, a, b)
			}
			if a.Bid >= a.Ask {
				t.Fatalf("Generate(%d, %d) = %+v: bid not below ask", e, n, a)
			}
			base := Options{}.withDefaults().Start.UnixMilli() + n + int64(e)
			if a.Time > base || a.Time < base-20 {
				t.Fatalf("Generate(%d, %d).Time = %d, want within [%d, %d]", e, n, a.Time, base-20, base)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	for _, o := range []Options{
		{Exchanges: len(ExchangeNames) + 1},
		{Symbols: len(SymbolNames) + 1},
		{Interval: 1500 * time.Microsecond},
	} {
		if err := o.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", o)
		}
		if _, err := Sources(stream.New("bad", stream.Config{}), o); err == nil {
			t.Errorf("Sources(%+v) gave no error", o)
		}
	}
	if err := (Options{}).Validate(); err != nil {
		t.Errorf("Validate of the zero Options: %v", err)
	}
}

func TestCrossed(t *testing.T) {
	a := Tick{Exchange: "alpha", Symbol: "S", Time: 10, Bid: 101, Ask: 101.1}
	b := Tick{Exchange: "bravo", Symbol: "S", Time: 12, Bid: 99.9, Ask: 100}
	got := Crossed(a, b, 0.5)
	want := []Gap{{Symbol: "S", BuyExchange: "bravo", SellExchange: "alpha", Time: 12, Spread: 1}}
	if !slices.Equal(got, want) {
		t.Errorf("Crossed = %+v, want %+v", got, want)
	}
	if got := Crossed(a, b, 1); got != nil {
		t.Errorf("Crossed with threshold equal to the spread = %+v, want nil", got)
	}
	if got := Crossed(b, a, 0.5); len(got) != 1 || got[0].BuyExchange != "bravo" {
		t.Errorf("Crossed(b, a) = %+v, want buying on bravo", got)
	}
}
