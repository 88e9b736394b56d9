// Package arbitrage is the cross-exchange arbitrage example: quote ticks from several generated
// exchanges, and the moments when one exchange's bid for a symbol exceeds another exchange's ask
// for it by more than a threshold, so buying on one and selling on the other would pay.
//
// Gaps pairs the exchanges' ticks with an event-time IntervalJoin per pair of exchanges rather
// than keeping the latest quote per exchange in MapState of a KeyedProcess over the union. The
// union delivers the exchanges' ticks in whatever order the network and the scheduler make, so
// "the latest quote of every other exchange when this tick arrived" changes from run to run and
// with parallelism; an interval join pairs every two ticks within ±within of each other in
// event time, a pure function of the ticks, so the result is the same at any parallelism and can
// be checked against a batch computation. The price is that a quote is compared with every quote
// of the other exchange within the interval, not only the one that was current.
package arbitrage

import (
	"fmt"
	"math"
	"time"

	"github.com/runnel-io/runnel/connector/datagen"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/stream"
)

// Tick is one top-of-book quote of one symbol on one exchange.
type Tick struct {
	Exchange string
	Symbol   string
	Time     int64 // event time, epoch ms
	Bid, Ask float64
}

// Options configure the generated exchanges.
type Options struct {
	// Start is the event time of every exchange's first tick; zero means 2026-01-01T00:00:00Z.
	Start time.Time
	// Exchanges is the number of exchanges, at most len(ExchangeNames). Default 3.
	Exchanges int
	// Symbols is the number of symbols quoted, at most len(SymbolNames). Default 4. Tick n of an
	// exchange quotes symbol n mod Symbols.
	Symbols int
	// Interval is the event time between two ticks of one exchange: tick n happens at
	// Start + n*Interval plus the exchange's number in milliseconds. Default 1ms.
	Interval time.Duration
	// GapEvery makes every GapEvery-th tick of each exchange (at a different offset per
	// exchange) quote both sides 0.3 above the fair price, which opens a gap of about 0.2 against
	// the other exchanges. Default 1,000; negative means no injected gaps. Without them a bid
	// stays about 0.1 below any other exchange's ask.
	GapEvery int64
	// Events bounds each exchange to this many ticks; 0 means unbounded.
	Events int64
	// Rate limits each exchange to this many ticks per wall-clock second; 0 means as fast as
	// possible.
	Rate float64
	// Disorder shifts each tick's event time back by up to this much, deterministically, so each
	// exchange's stream is out of order within that bound. Default 0.
	Disorder time.Duration
}

func (o Options) withDefaults() Options {
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.Exchanges <= 0 {
		o.Exchanges = 3
	}
	if o.Symbols <= 0 {
		o.Symbols = 4
	}
	if o.Interval <= 0 {
		o.Interval = time.Millisecond
	}
	if o.GapEvery == 0 {
		o.GapEvery = 1000
	}
	return o
}

// Validate reports options out of range: more exchanges or symbols than there are names, or an
// Interval that is not whole milliseconds.
func (o Options) Validate() error {
	o = o.withDefaults()
	switch {
	case o.Exchanges > len(ExchangeNames):
		return fmt.Errorf("arbitrage: %d exchanges, at most %d", o.Exchanges, len(ExchangeNames))
	case o.Symbols > len(SymbolNames):
		return fmt.Errorf("arbitrage: %d symbols, at most %d", o.Symbols, len(SymbolNames))
	case o.Interval%time.Millisecond != 0:
		return fmt.Errorf("arbitrage: interval %v is not whole milliseconds", o.Interval)
	}
	return nil
}

// ExchangeNames are the names of the generated exchanges, in order. Read only.
var ExchangeNames = []string{"alpha", "bravo", "charlie", "delta"}

// SymbolNames are the names of the generated symbols, in order. Read only.
var SymbolNames = []string{"BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "ADA-USD", "DOT-USD", "LTC-USD", "XLM-USD"}

const (
	halfSpread = 0.05 // half the bid-ask spread around the fair price
	gapShift   = 0.3  // how far an injected tick quotes above the fair price
)

// Generate returns tick n of exchange (0-based, below o.Exchanges). It is a pure function of
// (o, exchange, n). It panics if o is not valid.
func Generate(o Options, exchange int, n int64) Tick {
	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		panic(err)
	}
	h := mix(uint64(n)*0x9e3779b97f4a7c15 + uint64(exchange+1)*0xd1b54a32d192ed03)
	sym := int(n % int64(o.Symbols))
	ts := o.Start.UnixMilli() + n*o.Interval.Milliseconds() + int64(exchange)
	if d := o.Disorder.Milliseconds(); d > 0 {
		ts -= int64(mix(h) % uint64(d+1))
	}
	// The fair price drifts slowly, the same on every exchange; each exchange adds up to 0.01 of
	// noise on either side.
	fair := 100*float64(sym+1) + 0.5*math.Sin(2*math.Pi*float64(ts%60_000)/60_000)
	bid := fair - halfSpread - float64(h%1000)/100_000
	ask := fair + halfSpread + float64((h>>20)%1000)/100_000
	if o.GapEvery > 0 && (n+int64(exchange)*o.GapEvery/int64(o.Exchanges+1))%o.GapEvery == 0 {
		bid, ask = bid+gapShift, ask+gapShift
	}
	return Tick{Exchange: ExchangeNames[exchange], Symbol: SymbolNames[sym], Time: ts, Bid: bid, Ask: ask}
}

func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// Sources adds one generated source per exchange to env, in exchange order, each with event
// time from Tick.Time and watermarks trailing by the disorder bound. It returns o.Validate's
// error, or datagen's.
func Sources(env *stream.Env, o Options) ([]stream.Stream[Tick], error) {
	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	wm := eventtime.BoundedOutOfOrderness(o.Disorder, func(t Tick) int64 { return t.Time })
	srcs := make([]stream.Stream[Tick], o.Exchanges)
	for e := range srcs {
		src, err := datagen.New(func(n int64) Tick { return Generate(o, e, n) }, datagen.Config{Count: o.Events, Rate: o.Rate})
		if err != nil {
			return nil, fmt.Errorf("arbitrage: source of exchange %s: %w", ExchangeNames[e], err)
		}
		srcs[e] = stream.FromSource(env, src, wm).Name("ticks " + ExchangeNames[e]).Uid("ticks-" + ExchangeNames[e])
	}
	return srcs, nil
}

// Gap is a price gap: buying Symbol at BuyExchange's ask and selling it at SellExchange's bid
// earns Spread (bid minus ask) per unit. Time is the later of the two quotes' times.
type Gap struct {
	Symbol       string  `json:"symbol"`
	BuyExchange  string  `json:"buyExchange"`
	SellExchange string  `json:"sellExchange"`
	Time         int64   `json:"time"`
	Spread       float64 `json:"spread"`
}

// Gaps finds, per symbol, every pair of ticks of two different exchanges at most within apart in
// event time where one's bid exceeds the other's ask by more than threshold. exchanges holds one
// stream per exchange; it joins every two of them with stream.IntervalJoin and passes opts to
// each join (say stream.JoinCountLateDropped). A tick behind its join's watermark is dropped, as
// IntervalJoin says. Gaps panics with fewer than two exchanges or a within that is negative or
// not whole milliseconds.
func Gaps(exchanges []stream.Stream[Tick], within time.Duration, threshold float64, opts ...stream.JoinOption) stream.Stream[Gap] {
	if len(exchanges) < 2 {
		panic(fmt.Sprintf("arbitrage: Gaps of %d exchanges, need at least 2", len(exchanges)))
	}
	if within < 0 {
		panic(fmt.Sprintf("arbitrage: Gaps within negative %v", within))
	}
	bySymbol := make([]stream.Keyed[Tick, string], len(exchanges))
	for i, s := range exchanges {
		bySymbol[i] = stream.KeyBy(s, func(t Tick) string { return t.Symbol })
	}
	var pairs []stream.Stream[[]Gap]
	for i := range bySymbol {
		for j := i + 1; j < len(bySymbol); j++ {
			joined := stream.IntervalJoin(bySymbol[i], bySymbol[j], -within, within, func(a, b Tick) []Gap {
				return Crossed(a, b, threshold)
			}, opts...)
			pairs = append(pairs, joined.Name(fmt.Sprintf("pair %d-%d", i, j)).Uid(fmt.Sprintf("pair-%d-%d", i, j)))
		}
	}
	return stream.FlatMap(pairs[0].Union(pairs[1:]...), func(gs []Gap, out stream.Collector[Gap]) error {
		for _, g := range gs {
			out.Collect(g)
		}
		return nil
	}).Name("gaps")
}

// Crossed returns the gaps between two quotes of one symbol: a gap buying on b and selling on a
// if a.Bid-b.Ask > threshold, and one buying on a and selling on b if b.Bid-a.Ask > threshold
// (both only if a quote is crossed itself). It returns nil when there is none.
func Crossed(a, b Tick, threshold float64) []Gap {
	var gs []Gap
	at := max(a.Time, b.Time)
	if s := a.Bid - b.Ask; s > threshold {
		gs = append(gs, Gap{Symbol: a.Symbol, BuyExchange: b.Exchange, SellExchange: a.Exchange, Time: at, Spread: s})
	}
	if s := b.Bid - a.Ask; s > threshold {
		gs = append(gs, Gap{Symbol: a.Symbol, BuyExchange: a.Exchange, SellExchange: b.Exchange, Time: at, Spread: s})
	}
	return gs
}
