// Package clickstream is the real-time website analytics example: a generated clickstream, page
// views per page in event-time tumbling windows, and the top pages of each window.
package clickstream

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/runnel-io/runnel/connector/datagen"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/stream"
	"github.com/runnel-io/runnel/window"
)

// Click is one page view.
type Click struct {
	User     int64
	Page     string
	Referrer string
	Time     int64 // event time, epoch ms
}

// Options configure the generated clickstream.
type Options struct {
	// Start is the event time of the first click; zero means 2026-01-01T00:00:00Z.
	Start time.Time
	// PerSecond is the event-time rate: click n happens at Start + n/PerSecond. Default 10,000.
	PerSecond int
	// Pages is the number of distinct pages; views follow a Zipf-like law. Default 200.
	Pages int
	// Events bounds the stream; 0 means unbounded.
	Events int64
	// Rate limits generation to this many clicks per wall-clock second; 0 means as fast as
	// possible.
	Rate float64
	// Disorder shifts each click's event time back by up to this much, deterministically, so
	// the stream is out of order within that bound. Default 0.
	Disorder time.Duration
}

func (o Options) withDefaults() Options {
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.PerSecond <= 0 {
		o.PerSecond = 10_000
	}
	if o.Pages <= 0 {
		o.Pages = 200
	}
	return o
}

var referrers = []string{"search", "social", "direct", "email", "ads"}

// Generate returns click n. It is a pure function of (o, n).
func Generate(o Options, n int64) Click {
	o = o.withDefaults()
	h := mix(uint64(n) + 0x9e3779b97f4a7c15)
	// Zipf-like page choice: page = floor(pages^u) - 1 for uniform u, skewed to low numbers.
	u := float64(h>>11) / (1 << 53)
	page := int(math.Pow(float64(o.Pages), u)) - 1
	ts := o.Start.UnixMilli() + n*1000/int64(o.PerSecond)
	if d := o.Disorder.Milliseconds(); d > 0 {
		ts -= int64(mix(h) % uint64(d+1))
	}
	return Click{
		User:     int64(mix(h^1) % 100_000),
		Page:     pageNames[min(page, len(pageNames)-1)%o.Pages],
		Referrer: referrers[h%uint64(len(referrers))],
		Time:     ts,
	}
}

var pageNames = func() []string {
	names := make([]string, 10_000)
	for i := range names {
		names[i] = fmt.Sprintf("/page/%d", i)
	}
	return names
}()

func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// Source adds the generated clickstream to env, with event time from Click.Time and watermarks
// trailing by the disorder bound.
func Source(env *stream.Env, o Options) (stream.Stream[Click], error) {
	o = o.withDefaults()
	src, err := datagen.New(func(n int64) Click { return Generate(o, n) }, datagen.Config{Count: o.Events, Rate: o.Rate})
	if err != nil {
		return stream.Stream[Click]{}, err
	}
	wm := eventtime.BoundedOutOfOrderness(o.Disorder, func(c Click) int64 { return c.Time })
	return stream.FromSource(env, src, wm).Name("clicks").Uid("clicks"), nil
}

// PageViews is the number of views of one page in one window.
type PageViews struct {
	Page        string `json:"page"`
	WindowStart int64  `json:"windowStart"` // epoch ms
	WindowEnd   int64  `json:"windowEnd"`
	Views       int64  `json:"views"`
}

// CountViews counts views per page in tumbling event-time windows of size.
func CountViews(clicks stream.Stream[Click], size time.Duration) stream.Stream[PageViews] {
	byPage := stream.KeyBy(clicks, func(c Click) string { return c.Page })
	w := stream.Window(byPage, window.TumblingEventTime(size))
	return stream.WindowAggregateProcess(w, state.AggregateFunction[Click, int64, int64]{
		Create: func() int64 { return 0 },
		Add:    func(acc int64, _ Click) int64 { return acc + 1 },
		Result: func(acc int64) int64 { return acc },
		Merge:  func(a, b int64) int64 { return a + b },
	}, stream.ProcessWindowFunc[string, int64, PageViews](func(ctx *stream.WindowContext[string], counts []int64, out stream.Collector[PageViews]) error {
		for _, n := range counts {
			out.Collect(PageViews{Page: ctx.Key(), WindowStart: ctx.Window().Start, WindowEnd: ctx.Window().End, Views: n})
		}
		return nil
	})).Name("page views").Uid("page-views")
}

// Top is the most viewed pages of one window, most viewed first.
type Top struct {
	WindowStart int64       `json:"windowStart"` // epoch ms
	WindowEnd   int64       `json:"windowEnd"`
	Pages       []PageViews `json:"pages"`
	// Total is the number of views in the window over all pages.
	Total int64 `json:"total"`
}

// TopPages ranks the pages of each window and keeps the first n.
func TopPages(views stream.Stream[PageViews], size time.Duration, n int) stream.Stream[Top] {
	all := stream.WindowAll(views, window.TumblingEventTime(size))
	return stream.WindowProcess(all, stream.ProcessWindowFunc[struct{}, PageViews, Top](func(ctx *stream.WindowContext[struct{}], pages []PageViews, out stream.Collector[Top]) error {
		t := Top{WindowStart: ctx.Window().Start, WindowEnd: ctx.Window().End}
		for _, p := range pages {
			t.Total += p.Views
		}
		ranked := slices.Clone(pages)
		slices.SortFunc(ranked, func(a, b PageViews) int {
			return cmp.Or(cmp.Compare(b.Views, a.Views), cmp.Compare(a.Page, b.Page))
		})
		t.Pages = ranked[:min(n, len(ranked))]
		out.Collect(t)
		return nil
	})).Name("top pages").Uid("top-pages")
}
