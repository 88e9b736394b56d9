// Package retail is the point-of-sale example: generated sales from a few stores, revenue and
// units per store and product in event-time tumbling windows, and price signals from the trend
// between consecutive windows: raise the price of what sells increasingly, discount what stalls.
package retail

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/runnel-io/runnel/connector/datagen"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/stream"
	"github.com/runnel-io/runnel/window"
)

// Sale is one point-of-sale line: Quantity units of Product sold at Store for UnitPrice each.
type Sale struct {
	Store     string
	Product   string
	Time      int64 // event time, epoch ms
	Quantity  int64
	UnitPrice int64 // cents
}

// Options configure the generated sales. The zero Options is valid; each field documents its
// default.
type Options struct {
	// Start is the event time of the first sale; zero means 2026-01-01T00:00:00Z.
	Start time.Time
	// PerSecond is the event-time rate: sale n happens at Start + n/PerSecond. Default 100.
	PerSecond int
	// Stores is the number of stores; each sale picks one uniformly. Default 4.
	Stores int
	// Products is the number of products; each sale picks one uniformly. Default 8.
	Products int
	// RisingEvery makes every RisingEvery-th product (product 0, RisingEvery, 2*RisingEvery, …)
	// trend: its quantities double every Doubling of event time, and fall back to normal at the
	// start of every Cycle. IsRising says which. Default 3; negative means no product trends.
	RisingEvery int
	// Doubling is how long a trending product takes to double its demand. Default 2 minutes.
	Doubling time.Duration
	// Cycle is the period after which trending demand falls back to normal. Default 10 minutes.
	Cycle time.Duration
	// Events bounds the stream; 0 means unbounded.
	Events int64
	// Rate limits generation to this many sales per wall-clock second; 0 means as fast as
	// possible.
	Rate float64
	// Disorder shifts each sale's event time back by up to this much, deterministically, so the
	// stream is out of order within that bound. Default 0.
	Disorder time.Duration
}

func (o Options) withDefaults() Options {
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.PerSecond <= 0 {
		o.PerSecond = 100
	}
	if o.Stores <= 0 {
		o.Stores = 4
	}
	if o.Products <= 0 {
		o.Products = 8
	}
	if o.RisingEvery == 0 {
		o.RisingEvery = 3
	}
	if o.Doubling <= 0 {
		o.Doubling = 2 * time.Minute
	}
	if o.Cycle <= 0 {
		o.Cycle = 10 * time.Minute
	}
	return o
}

// Validate reports options Generate cannot honour: a negative disorder, or a doubling time or
// cycle that is not whole milliseconds.
func (o Options) Validate() error {
	o = o.withDefaults()
	if o.Disorder < 0 {
		return fmt.Errorf("retail: disorder %v must not be negative", o.Disorder)
	}
	if o.Doubling%time.Millisecond != 0 || o.Cycle%time.Millisecond != 0 {
		return fmt.Errorf("retail: doubling %v and cycle %v must be whole milliseconds", o.Doubling, o.Cycle)
	}
	return nil
}

// StoreName returns the name of store i.
func StoreName(i int) string { return fmt.Sprintf("store-%02d", i) }

// ProductName returns the name of product i.
func ProductName(i int) string { return fmt.Sprintf("product-%02d", i) }

// IsRising reports whether product i trends upwards under o: the ground truth for Trends.
func IsRising(o Options, i int) bool {
	o = o.withDefaults()
	return o.RisingEvery > 0 && i%o.RisingEvery == 0
}

// Generate returns sale n. It is a pure function of (o, n). Each sale picks a store and a
// product uniformly and a base quantity of 1 to 3; a rising product's quantity is the base times
// 2^(t/Doubling), rounded, where t is the sale's event time since the start of its Cycle. Each
// product has a list price from 1.00 to 9.99; stores add up to 0.15 to it.
func Generate(o Options, n int64) Sale {
	o = o.withDefaults()
	h := mix(uint64(n) + 0x9e3779b97f4a7c15)
	ts := o.Start.UnixMilli() + n*1000/int64(o.PerSecond)
	if d := o.Disorder.Milliseconds(); d > 0 {
		ts -= int64(mix(h) % uint64(d+1))
	}
	store := int(mix(h^1) % uint64(o.Stores))
	product := int(mix(h^2) % uint64(o.Products))
	qty := 1 + int64(mix(h^3)%3)
	if IsRising(o, product) {
		cycle := o.Cycle.Milliseconds()
		phase := ((ts-o.Start.UnixMilli())%cycle + cycle) % cycle
		qty = int64(math.Round(float64(qty) * math.Exp2(float64(phase)/float64(o.Doubling.Milliseconds()))))
	}
	price := 100 + int64(mix(uint64(product)+0x51)%900) + int64(store%4)*5
	return Sale{Store: StoreName(store), Product: ProductName(product), Time: ts, Quantity: qty, UnitPrice: price}
}

func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// Source adds the generated sales to env, with event time from Sale.Time and watermarks trailing
// by the disorder bound. It returns Validate's error, or datagen's for bad options.
func Source(env *stream.Env, o Options) (stream.Stream[Sale], error) {
	if err := o.Validate(); err != nil {
		return stream.Stream[Sale]{}, err
	}
	o = o.withDefaults()
	src, err := datagen.New(func(n int64) Sale { return Generate(o, n) }, datagen.Config{Count: o.Events, Rate: o.Rate})
	if err != nil {
		return stream.Stream[Sale]{}, fmt.Errorf("retail: sales source: %w", err)
	}
	wm := eventtime.BoundedOutOfOrderness(o.Disorder, func(s Sale) int64 { return s.Time })
	return stream.FromSource(env, src, wm).Name("sales").Uid("sales"), nil
}

// Item is a product at one store: the key of SalesPerWindow and Trends.
type Item struct {
	Store   string
	Product string
}

// WindowSales is what one store sold of one product in one window.
type WindowSales struct {
	Store       string `json:"store"`
	Product     string `json:"product"`
	WindowStart int64  `json:"windowStart"` // epoch ms
	WindowEnd   int64  `json:"windowEnd"`
	Units       int64  `json:"units"`   // sum of Quantity
	Revenue     int64  `json:"revenue"` // sum of Quantity*UnitPrice, in cents
}

// totals is the accumulator of SalesPerWindow.
type totals struct{ Units, Revenue int64 }

// SalesPerWindow sums units and revenue per store and product in tumbling event-time windows of
// size. A window result carries the window's last millisecond (WindowEnd-1) as its timestamp;
// items without sales in a window have no result for it.
func SalesPerWindow(sales stream.Stream[Sale], size time.Duration) stream.Stream[WindowSales] {
	k := stream.KeyBy(sales, func(s Sale) Item { return Item{s.Store, s.Product} })
	w := stream.Window(k, window.TumblingEventTime(size))
	return stream.WindowAggregateProcess(w, state.AggregateFunction[Sale, totals, totals]{
		Create: func() totals { return totals{} },
		Add: func(acc totals, s Sale) totals {
			return totals{acc.Units + s.Quantity, acc.Revenue + s.Quantity*s.UnitPrice}
		},
		Result: func(acc totals) totals { return acc },
		Merge:  func(a, b totals) totals { return totals{a.Units + b.Units, a.Revenue + b.Revenue} },
	}, stream.ProcessWindowFunc[Item, totals, WindowSales](func(ctx *stream.WindowContext[Item], ts []totals, out stream.Collector[WindowSales]) error {
		for _, t := range ts {
			w := ctx.Window()
			out.CollectAt(WindowSales{
				Store: ctx.Key().Store, Product: ctx.Key().Product,
				WindowStart: w.Start, WindowEnd: w.End, Units: t.Units, Revenue: t.Revenue,
			}, w.End-1)
		}
		return nil
	})).Name("sales per window").Uid("sales-per-window")
}

// Action is the price signal a trend calls for.
type Action uint8

const (
	// Raise is for an item whose units grew more than Thresholds.RaisePercent.
	Raise Action = iota + 1
	// Discount is for an item whose units fell more than Thresholds.DiscountPercent.
	Discount
)

func (a Action) String() string {
	switch a {
	case Raise:
		return "raise price"
	case Discount:
		return "discount"
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// MarshalText names a in JSON and other text output: "raise" or "discount". An unknown Action
// is an error.
func (a Action) MarshalText() ([]byte, error) {
	switch a {
	case Raise:
		return []byte("raise"), nil
	case Discount:
		return []byte("discount"), nil
	}
	return nil, fmt.Errorf("retail: no name for %v", a)
}

// UnmarshalText reads the names MarshalText writes.
func (a *Action) UnmarshalText(b []byte) error {
	switch string(b) {
	case "raise":
		*a = Raise
	case "discount":
		*a = Discount
	default:
		return fmt.Errorf("retail: unknown action %q: want raise or discount", b)
	}
	return nil
}

// Signal is one price signal: the item's units in a window against its previous window's.
type Signal struct {
	Store       string `json:"store"`
	Product     string `json:"product"`
	Action      Action `json:"action"`
	WindowStart int64  `json:"windowStart"` // the window whose units triggered the signal, epoch ms
	WindowEnd   int64  `json:"windowEnd"`
	Units       int64  `json:"units"`
	PrevUnits   int64  `json:"prevUnits"` // units in the item's previous window with sales
	Revenue     int64  `json:"revenue"`   // revenue in the window, cents
}

// Thresholds configure Trends. The zero Thresholds is valid; each field documents its default.
type Thresholds struct {
	// RaisePercent: units growing by more than this percentage raise a Raise signal. Default 20.
	RaisePercent int64
	// DiscountPercent: units falling by more than this percentage raise a Discount signal; at 100
	// or more, never. Default 20.
	DiscountPercent int64
}

func (t Thresholds) withDefaults() Thresholds {
	if t.RaisePercent <= 0 {
		t.RaisePercent = 20
	}
	if t.DiscountPercent <= 0 {
		t.DiscountPercent = 20
	}
	return t
}

// Judge compares an item's units with its previous window's: Raise if cur > prev*(100+Raise)/100,
// Discount if cur < prev*(100-Discount)/100, else 0. Integer arithmetic, so it is exact.
func (t Thresholds) Judge(prev, cur int64) Action {
	t = t.withDefaults()
	switch {
	case cur*100 > prev*(100+t.RaisePercent):
		return Raise
	case cur*100 < prev*(100-t.DiscountPercent):
		return Discount
	}
	return 0
}

// Trends emits price signals with the default Thresholds.
func Trends(perWindow stream.Stream[WindowSales]) stream.Stream[Signal] {
	return Thresholds{}.Trends(perWindow)
}

// Trends compares, per store and product, each window's units with those of the item's previous
// window with sales, using Judge, and emits a Signal when it calls for an action. Window results
// are judged in event-time order: each is held until the watermark passes its window's end, so
// the signals do not depend on arrival order or parallelism. A signal carries its window's last
// millisecond as timestamp. Results behind the watermark on arrival are dropped and counted in
// the operator's metrics.LateRecordsDropped counter.
func (t Thresholds) Trends(perWindow stream.Stream[WindowSales]) stream.Stream[Signal] {
	t = t.withDefaults()
	k := stream.KeyBy(perWindow, func(w WindowSales) Item { return Item{w.Store, w.Product} })
	return stream.KeyedProcess[WindowSales, Item, Signal](k, &trend{t: t}).Name("price signals").Uid("price-signals")
}

// trend is the KeyedProcessFunction of Thresholds.Trends. Window results wait in pending, keyed
// by their window's last millisecond, under an event-time timer at that time; prev is the last
// judged result.
type trend struct {
	t       Thresholds
	pending state.Map[int64, WindowSales]
	prev    state.Value[WindowSales]
	late    *atomic.Int64
}

func (f *trend) Open(rc *stream.KeyedRuntime[Item]) error {
	f.pending = stream.NewMapState[int64, WindowSales](rc, state.Descriptor{Name: "pending"})
	f.prev = stream.NewValueState[WindowSales](rc, state.Descriptor{Name: "prev"})
	f.late = rc.Counter(metrics.LateRecordsDropped)
	return nil
}

func (f *trend) ProcessElement(ctx *stream.KeyedContext[Item], w WindowSales, _ stream.Collector[Signal]) error {
	at := w.WindowEnd - 1
	if at <= ctx.CurrentWatermark() {
		f.late.Add(1)
		return nil
	}
	f.pending.Put(at, w) // a later firing of the same window replaces the earlier result
	ctx.RegisterEventTimeTimer(at)
	return nil
}

func (f *trend) OnTimer(ctx *stream.KeyedContext[Item], at int64, out stream.Collector[Signal]) error {
	cur, ok := f.pending.Get(at)
	if !ok {
		return nil
	}
	f.pending.Remove(at)
	if prev, ok := f.prev.Value(); ok {
		if a := f.t.Judge(prev.Units, cur.Units); a != 0 {
			out.CollectAt(Signal{
				Store: cur.Store, Product: cur.Product, Action: a,
				WindowStart: cur.WindowStart, WindowEnd: cur.WindowEnd,
				Units: cur.Units, PrevUnits: prev.Units, Revenue: cur.Revenue,
			}, at)
		}
	}
	f.prev.Update(cur)
	return nil
}
