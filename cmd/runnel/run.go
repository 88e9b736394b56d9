package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/runnel-io/runnel/app"
	"github.com/runnel-io/runnel/connector/file"
	"github.com/runnel-io/runnel/examples/arbitrage"
	"github.com/runnel-io/runnel/examples/clickstream"
	"github.com/runnel-io/runnel/examples/iot"
	"github.com/runnel-io/runnel/examples/retail"
	"github.com/runnel-io/runnel/format/json"
	"github.com/runnel-io/runnel/stream"
)

// exampleArgs are the flags of `runnel run` that the example jobs read.
type exampleArgs struct {
	events int64   // bound the generators; 0: unbounded
	rate   float64 // generated records per wall-clock second; 0: as fast as possible
	output string  // write results below this directory; empty: print them
	stdout io.Writer
}

// example is a job `runnel run` knows.
type example struct {
	name, summary string
	build         func(env *stream.Env, a exampleArgs) error
}

func examples() []example {
	return []example{
		{"clickstream", "website clicks → page views per page in 10 s windows → top 10 pages per window", func(env *stream.Env, a exampleArgs) error {
			clicks, err := clickstream.Source(env, clickstream.Options{Events: a.events, Rate: a.rate, Disorder: time.Second})
			if err != nil {
				return err
			}
			const size = 10 * time.Second
			return emit(clickstream.TopPages(clickstream.CountViews(clicks, size), size, 10), a, "top-pages")
		}},
		{"iot", "sensor readings → spike and silent-sensor alerts; per-sensor maxima per minute", func(env *stream.Env, a exampleArgs) error {
			readings, err := iot.Source(env, iot.Options{Events: a.events, Rate: a.rate})
			if err != nil {
				return err
			}
			if err := emit(iot.Alerts(readings), a, "alerts"); err != nil {
				return err
			}
			return emit(iot.Summary(readings, time.Minute), a, "sensor-max")
		}},
		{"arbitrage", "ticks of 3 exchanges → cross-exchange price gaps within 5 ms", func(env *stream.Env, a exampleArgs) error {
			ticks, err := arbitrage.Sources(env, arbitrage.Options{Events: a.events, Rate: a.rate})
			if err != nil {
				return err
			}
			return emit(arbitrage.Gaps(ticks, 5*time.Millisecond, 0.05), a, "gaps")
		}},
		{"retail", "point-of-sale events → sales per store and product per minute → price signals", func(env *stream.Env, a exampleArgs) error {
			sales, err := retail.Source(env, retail.Options{Events: a.events, Rate: a.rate})
			if err != nil {
				return err
			}
			return emit(retail.Trends(retail.SalesPerWindow(sales, time.Minute)), a, "signals")
		}},
	}
}

// emit sends s to the job's output: printed to stdout, or with an output directory the
// exactly-once file sink writing JSON lines below <output>/<name>, committed by checkpoints.
func emit[T any](s stream.Stream[T], a exampleArgs, name string) error {
	if a.output == "" {
		s.PrintTo(a.stdout, name+" ").Name("print " + name).Uid("print-" + name)
		return nil
	}
	enc, err := json.NewEncoder[T]()
	if err != nil {
		return err
	}
	sink, err := file.NewSink(filepath.Join(a.output, name), func(dst []byte, v T) []byte {
		b, err := enc.Append(dst, v)
		if err != nil {
			// NewEncoder accepted T, and the examples' types hold no interfaces or marshalers.
			panic(fmt.Sprintf("runnel run: encoding %s: %v", name, err))
		}
		return b[:len(b)-1] // the sink adds the newline
	})
	if err != nil {
		return err
	}
	s.SinkTo(sink).Name("output " + name).Uid("output-" + name)
	return nil
}

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runWith(ctx, args, stdout, stderr, nil)
}

// runWith is runRun with a hook called with the REST API's address once it listens (tests).
func runWith(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(addr string)) error {
	fs := newFlags("run", "run <example> [flags]", stderr)
	o := app.DefaultOptions()
	o.AddFlags(fs)
	a := exampleArgs{stdout: stdout}
	fs.Int64Var(&a.events, "events", 0, "stop each generator after this many records (0: unbounded)")
	fs.Float64Var(&a.rate, "rate", 0, "generated records per wall-clock second (0: as fast as possible)")
	fs.StringVar(&a.output, "output", "", "write results as JSON lines below this `directory`, exactly once (committed by checkpoints); empty prints them")
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprintf(stderr, "\nExamples:\n")
		for _, e := range examples() {
			fmt.Fprintf(stderr, "  %-12s %s\n", e.name, e.summary)
		}
	}
	// The example may come before or after the flags.
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return parseErr(err)
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return parseErr(err)
		}
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %v\n", fs.Args())
		fs.Usage()
		return errUsage
	}
	var ex *example
	for _, e := range examples() {
		if e.name == name {
			ex = &e
		}
	}
	if ex == nil {
		if name == "" {
			fmt.Fprintf(stderr, "runnel run: which example?\n")
		} else {
			fmt.Fprintf(stderr, "runnel run: unknown example %q\n", name)
		}
		fs.Usage()
		return errUsage
	}
	if a.events < 0 || a.rate < 0 {
		fmt.Fprintf(stderr, "runnel run: --events and --rate must not be negative\n")
		return errUsage
	}
	if err := o.Validate(); err != nil {
		fmt.Fprintf(stderr, "runnel run: %v\n", err)
		return errUsage
	}
	if a.output != "" && o.CheckpointDir == "" {
		fmt.Fprintf(stderr, "runnel run: note: without --checkpoint-dir, --output is committed only when the input ends\n")
	}
	o.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	o.Ready = ready
	return app.Execute(ctx, ex.name, func(env *stream.Env) error { return ex.build(env, a) }, o)
}

func parseErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return errUsage
}
