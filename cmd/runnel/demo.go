package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/examples/clickstream"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/stream"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "demo [flags]", stderr)
	duration := fs.Duration("duration", 0, "stop after this long (0: run until Ctrl-C or --events)")
	events := fs.Int64("events", 0, "stop after this many clicks (0: unbounded)")
	rate := fs.Float64("rate", 0, "clicks per wall-clock second (0: as fast as possible)")
	parallelism := fs.Int("parallelism", 0, "parallel subtasks per operator (0: number of CPUs)")
	top := fs.Int("top", 10, "pages to show per window")
	size := fs.Duration("window", 10*time.Second, "event-time window size")
	pages := fs.Int("pages", 200, "distinct pages in the generated clickstream")
	plain := fs.Bool("plain", false, "print lines instead of redrawing the screen")
	plan := fs.Bool("plan", false, "print the job graph and exit")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}

	var sourced atomic.Int64
	env := stream.New("clickstream-demo", stream.Config{
		Parallelism:     *parallelism,
		MetricsInterval: 250 * time.Millisecond,
		Metrics: metrics.ListenerFunc(func(s metrics.Snapshot) {
			var n int64
			for _, o := range s.Operators {
				if o.Operator == "clicks" {
					n += o.RecordsOut
				}
			}
			sourced.Store(n)
		}),
	})
	clicks, err := clickstream.Source(env, clickstream.Options{Events: *events, Rate: *rate, Pages: *pages, Disorder: time.Second})
	if err != nil {
		return err
	}
	board := &board{}
	clickstream.TopPages(clickstream.CountViews(clicks, *size), *size, *top).SinkTo(board).Name("terminal")
	if *plan {
		fmt.Fprint(stdout, env.Plan())
		return nil
	}

	redraw := !*plain && isTerminal(stdout)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- env.Execute(ctx) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last int64
	lastAt := start
	for {
		select {
		case err := <-done:
			if ctx.Err() != nil && err != nil && (err == context.Canceled || err == context.DeadlineExceeded) {
				err = nil // stopped by Ctrl-C or --duration: a normal end for a demo
			}
			board.summary(stdout, sourced.Load(), time.Since(start))
			return err
		case now := <-tick.C:
			n := sourced.Load()
			board.render(stdout, redraw, n, float64(n-last)/now.Sub(lastAt).Seconds(), now.Sub(start))
			last, lastAt = n, now
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// board is the demo's sink: it keeps the latest window's ranking for the terminal. It is safe
// for concurrent use.
type board struct {
	mu      sync.Mutex
	latest  clickstream.Top
	windows int
	views   int64
}

func (b *board) NewWriter(context.Context, connector.SinkContext) (connector.Writer[clickstream.Top], error) {
	return b, nil
}

func (b *board) Write(_ context.Context, t clickstream.Top, _ int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.latest = t
	b.windows++
	b.views += t.Total
	return nil
}

func (b *board) PreCommit(context.Context, int64) ([]connector.Committable, error) { return nil, nil }
func (b *board) Close() error                                                      { return nil }

func (b *board) render(w io.Writer, redraw bool, events int64, rate float64, elapsed time.Duration) {
	b.mu.Lock()
	t, windows := b.latest, b.windows
	b.mu.Unlock()
	var s strings.Builder
	if redraw {
		s.WriteString("\033[H\033[2J")
		s.WriteString("Runnel demo: website clickstream → page views per page per window → top pages   (Ctrl-C to stop)\n\n")
	}
	fmt.Fprintf(&s, "%6.0fs  events %s  throughput %s events/s  windows closed %d\n",
		elapsed.Seconds(), thousands(events), thousands(int64(rate)), windows)
	if windows > 0 && (redraw || elapsed.Seconds() < 1.5 || int(elapsed.Seconds())%5 == 0) {
		fmt.Fprintf(&s, "  window [%s, %s)  views %s\n", eventtime.Format(t.WindowStart), eventtime.Format(t.WindowEnd), thousands(t.Total))
		fmt.Fprintf(&s, "  %3s  %-14s %10s %7s\n", "#", "page", "views", "share")
		for i, p := range t.Pages {
			fmt.Fprintf(&s, "  %3d  %-14s %10s %6.1f%%\n", i+1, p.Page, thousands(p.Views), 100*float64(p.Views)/float64(max(t.Total, 1)))
		}
	}
	io.WriteString(w, s.String())
}

func (b *board) summary(w io.Writer, events int64, elapsed time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprintf(w, "done: %s clicks in %.1fs (%s events/s); %d windows closed counting %s views\n",
		thousands(events), elapsed.Seconds(), thousands(int64(float64(events)/max(elapsed.Seconds(), 1e-9))), b.windows, thousands(b.views))
}

// thousands renders n with thin separators: 1234567 → 1,234,567.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
