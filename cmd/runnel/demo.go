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

	"github.com/spf13/cobra"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/examples/clickstream"
	"github.com/runnel-io/runnel/internal/cli"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/stream"
)

// demoOptions are the flags of `runnel demo`.
type demoOptions struct {
	duration    time.Duration
	events      int64
	rate        float64
	parallelism int
	top         int
	size        time.Duration
	pages       int
	plain, plan bool
}

// demoCommand is `runnel demo`, the quickstart: the clickstream example drawn live.
func demoCommand() *cobra.Command {
	d := demoOptions{top: 10, size: 10 * time.Second, pages: 200}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the website clickstream demo: page views per page in 10 s event-time windows, live",
		Long: `Run a real streaming job on generated clicks: page views per page in event-time windows, then
the top pages of each window, drawn live in the terminal with the throughput, until Ctrl-C.`,
		Example: `  runnel demo --duration 30s --rate 20000
  runnel demo --plan`,
		Args: cli.Args(0, 0, ""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case d.duration < 0, d.events < 0, d.rate < 0, d.parallelism < 0:
				return cli.Usagef("--duration, --events, --rate and --parallelism must not be negative")
			case d.top <= 0, d.pages <= 0, d.size <= 0:
				return cli.Usagef("--top, --pages and --window must be positive")
			}
			return runDemo(cmd.Context(), d, cmd.OutOrStdout())
		},
	}
	fs := cmd.Flags()
	fs.DurationVar(&d.duration, "duration", d.duration, "stop after this long (0: run until Ctrl-C or --events)")
	fs.Int64Var(&d.events, "events", d.events, "stop after this many clicks (0: unbounded)")
	fs.Float64Var(&d.rate, "rate", d.rate, "clicks per wall-clock second (0: as fast as possible)")
	fs.IntVar(&d.parallelism, "parallelism", d.parallelism, "parallel subtasks per operator (0: number of CPUs)")
	fs.IntVar(&d.top, "top", d.top, "pages to show per window")
	fs.DurationVar(&d.size, "window", d.size, "event-time window size")
	fs.IntVar(&d.pages, "pages", d.pages, "distinct pages in the generated clickstream")
	fs.BoolVar(&d.plain, "plain", d.plain, "print lines instead of redrawing the screen")
	fs.BoolVar(&d.plan, "plan", d.plan, "print the job graph and exit")
	return cmd
}

func runDemo(ctx context.Context, d demoOptions, stdout io.Writer) error {
	if d.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.duration)
		defer cancel()
	}

	var sourced atomic.Int64
	env := stream.New("clickstream-demo", stream.Config{
		Parallelism:     d.parallelism,
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
	clicks, err := clickstream.Source(env, clickstream.Options{Events: d.events, Rate: d.rate, Pages: d.pages, Disorder: time.Second})
	if err != nil {
		return err
	}
	board := &board{}
	clickstream.TopPages(clickstream.CountViews(clicks, d.size), d.size, d.top).SinkTo(board).Name("terminal")
	if d.plan {
		fmt.Fprint(stdout, env.Plan())
		return nil
	}

	redraw := !d.plain && isTerminal(stdout)
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
		elapsed.Seconds(), cli.Thousands(events), cli.Thousands(int64(rate)), windows)
	if windows > 0 && (redraw || elapsed.Seconds() < 1.5 || int(elapsed.Seconds())%5 == 0) {
		fmt.Fprintf(&s, "  window [%s, %s)  views %s\n", eventtime.Format(t.WindowStart), eventtime.Format(t.WindowEnd), cli.Thousands(t.Total))
		fmt.Fprintf(&s, "  %3s  %-14s %10s %7s\n", "#", "page", "views", "share")
		for i, p := range t.Pages {
			fmt.Fprintf(&s, "  %3d  %-14s %10s %6.1f%%\n", i+1, p.Page, cli.Thousands(p.Views), 100*float64(p.Views)/float64(max(t.Total, 1)))
		}
	}
	io.WriteString(w, s.String())
}

func (b *board) summary(w io.Writer, events int64, elapsed time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprintf(w, "done: %s clicks in %.1fs (%s events/s); %d windows closed counting %s views\n",
		cli.Thousands(events), elapsed.Seconds(), cli.Thousands(int64(float64(events)/max(elapsed.Seconds(), 1e-9))), b.windows, cli.Thousands(b.views))
}
