package retail_test

import (
	"cmp"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/runnel-io/runnel/examples/retail"
	"github.com/runnel-io/runnel/stream"
)

// testOptions: 3 stores, 6 products (0 and 3 trending, doubling every 2 minutes in 5-minute
// cycles), 8 minutes of sales out of order by up to 500ms.
var testOptions = retail.Options{
	PerSecond: 100,
	Stores:    3,
	Products:  6,
	Cycle:     5 * time.Minute,
	Disorder:  500 * time.Millisecond,
	Events:    100 * 8 * 60,
}

const size = time.Minute

func run(t *testing.T, p int) ([]retail.WindowSales, []retail.Signal) {
	t.Helper()
	env := stream.New("retail", stream.Config{Parallelism: p, WatermarkInterval: -1})
	sales, err := retail.Source(env, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	perWindow := retail.SalesPerWindow(sales, size)
	windows := stream.Collect(perWindow)
	signals := stream.Collect(retail.Trends(perWindow))
	if err := env.Execute(context.Background()); err != nil {
		t.Fatalf("p=%d: %v", p, err)
	}
	w, s := windows.Values(), signals.Values()
	slices.SortFunc(w, func(x, y retail.WindowSales) int {
		return cmp.Or(cmp.Compare(x.Store, y.Store), cmp.Compare(x.Product, y.Product), cmp.Compare(x.WindowStart, y.WindowStart))
	})
	slices.SortFunc(s, func(x, y retail.Signal) int {
		return cmp.Or(cmp.Compare(x.Store, y.Store), cmp.Compare(x.Product, y.Product), cmp.Compare(x.WindowStart, y.WindowStart))
	})
	return w, s
}

// batch computes the expected results with plain loops: sums per store, product and window,
// then each item's windows in order, each compared with the one before by the 20% rules.
func batch() ([]retail.WindowSales, []retail.Signal) {
	ms := size.Milliseconds()
	type key struct {
		store, product string
		start          int64
	}
	sums := map[key]*retail.WindowSales{}
	for n := range testOptions.Events {
		s := retail.Generate(testOptions, n)
		start := s.Time - s.Time%ms
		k := key{s.Store, s.Product, start}
		w := sums[k]
		if w == nil {
			w = &retail.WindowSales{Store: s.Store, Product: s.Product, WindowStart: start, WindowEnd: start + ms}
			sums[k] = w
		}
		w.Units += s.Quantity
		w.Revenue += s.Quantity * s.UnitPrice
	}
	var windows []retail.WindowSales
	for _, w := range sums {
		windows = append(windows, *w)
	}
	slices.SortFunc(windows, func(x, y retail.WindowSales) int {
		return cmp.Or(cmp.Compare(x.Store, y.Store), cmp.Compare(x.Product, y.Product), cmp.Compare(x.WindowStart, y.WindowStart))
	})
	var signals []retail.Signal
	for i := 1; i < len(windows); i++ {
		prev, cur := windows[i-1], windows[i]
		if prev.Store != cur.Store || prev.Product != cur.Product {
			continue
		}
		var a retail.Action
		switch {
		case cur.Units*5 > prev.Units*6: // more than 20% up
			a = retail.Raise
		case cur.Units*5 < prev.Units*4: // more than 20% down
			a = retail.Discount
		default:
			continue
		}
		signals = append(signals, retail.Signal{
			Store: cur.Store, Product: cur.Product, Action: a, WindowStart: cur.WindowStart,
			WindowEnd: cur.WindowEnd, Units: cur.Units, PrevUnits: prev.Units, Revenue: cur.Revenue,
		})
	}
	return windows, signals
}

func TestSalesAndTrends(t *testing.T) {
	wantW, wantS := batch()
	if len(wantW) < 3*6*8 {
		t.Fatalf("batch: %d windows, want at least one per item and minute", len(wantW))
	}
	// Raise-price signals, counted once past the partial
	// window that disorder creates before the start.
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	raised := map[string]int{}
	for _, s := range wantS {
		if s.Action == retail.Raise && s.WindowStart > start {
			raised[s.Product]++
		}
	}
	// Every trending product is flagged in most windows; noise may flag a flat one now and then.
	for i := range 6 {
		name := retail.ProductName(i)
		if rising := retail.IsRising(testOptions, i); rising && raised[name] < 6 || !rising && raised[name] > 1 {
			t.Errorf("product %s: rising %v, %d raise signals", name, rising, raised[name])
		}
	}

	var firstW []retail.WindowSales
	var firstS []retail.Signal
	for _, p := range []int{1, 2} {
		w, s := run(t, p)
		if !slices.Equal(w, wantW) {
			t.Errorf("p=%d: %d window results differ from the batch's %d", p, len(w), len(wantW))
		}
		if !slices.Equal(s, wantS) {
			t.Errorf("p=%d: signals differ from the batch's:\n got %+v\nwant %+v", p, s, wantS)
		}
		if p == 1 {
			firstW, firstS = w, s
		} else if !slices.Equal(w, firstW) || !slices.Equal(s, firstS) {
			t.Errorf("p=%d: results differ from p=1", p)
		}
	}
}

func TestJudge(t *testing.T) {
	for _, c := range []struct {
		th        retail.Thresholds
		prev, cur int64
		want      retail.Action
	}{
		{retail.Thresholds{}, 100, 120, 0},
		{retail.Thresholds{}, 100, 121, retail.Raise},
		{retail.Thresholds{}, 100, 80, 0},
		{retail.Thresholds{}, 100, 79, retail.Discount},
		{retail.Thresholds{RaisePercent: 50, DiscountPercent: 100}, 10, 0, 0},
		{retail.Thresholds{RaisePercent: 50}, 10, 16, retail.Raise},
	} {
		if got := c.th.Judge(c.prev, c.cur); got != c.want {
			t.Errorf("%+v.Judge(%d, %d) = %v, want %v", c.th, c.prev, c.cur, got, c.want)
		}
	}
}

func TestValidate(t *testing.T) {
	if err := (retail.Options{}).Validate(); err != nil {
		t.Errorf("zero Options: %v", err)
	}
	if err := (retail.Options{Disorder: -time.Second}).Validate(); err == nil {
		t.Error("negative disorder accepted")
	}
}
