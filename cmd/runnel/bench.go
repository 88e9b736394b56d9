package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/runnel-io/runnel/connector/nexmark"
	nexmarkbench "github.com/runnel-io/runnel/internal/nexmark"
	"github.com/runnel-io/runnel/stream"
)

// benchmarks are the suites `runnel bench` runs.
var benchmarks = []struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}{
	{"nexmark", "run a Nexmark query in-process on generated events and measure it", runBenchNexmark},
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := stderr
		if len(args) > 0 {
			w = stdout
		}
		fmt.Fprintf(w, "Usage: runnel bench <benchmark> [flags]\n\nBenchmarks:\n")
		for _, b := range benchmarks {
			fmt.Fprintf(w, "  %-8s %s\n", b.name, b.summary)
		}
		fmt.Fprintf(w, "\nRun 'runnel bench <benchmark> --help' for its flags.\n")
		if len(args) == 0 {
			return errUsage
		}
		return flag.ErrHelp
	}
	for _, b := range benchmarks {
		if b.name == args[0] {
			return b.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "runnel bench: unknown benchmark %q; run 'runnel bench --help'\n", args[0])
	return errUsage
}

func runBenchNexmark(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var names []string
	for _, q := range nexmarkbench.Queries() {
		names = append(names, q.Name)
	}
	fs := newFlags("bench nexmark", "bench nexmark --query q5 [flags]", stderr)
	query := fs.String("query", "", "the query to run: "+strings.Join(names, ", "))
	events := fs.Int64("events", 10_000_000, "number of events to generate (persons, auctions and bids)")
	parallelism := fs.Int("parallelism", 0, "parallel subtasks per operator (0: number of CPUs)")
	rate := fs.Float64("rate", 0, "limit the source to this many events per second, and measure latency (0: as fast as possible)")
	seed := fs.Int64("seed", 0, "the generator's seed")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	output := fs.String("output", "", "write the query's results to this file as JSON lines (default: discard them)")
	dump := fs.String("dump-events", "", "write the generated events to this file as JSON lines, before the run")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	quiet := fs.Bool("quiet", false, "do not print progress to stderr")
	backend := fs.String("state-backend", "memory", "where keyed state lives: memory, or pebble (on disk under --state-dir)")
	stateDir := fs.String("state-dir", "", "scratch directory for --state-backend pebble (default: a temporary directory)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *query == "" {
		fmt.Fprintf(stderr, "--query is required\n")
		fs.Usage()
		return errUsage
	}
	o := nexmarkbench.Options{Query: *query, Events: *events, Parallelism: *parallelism, Rate: *rate,
		Generator: nexmark.Config{Seed: *seed}}
	switch *backend {
	case "memory":
	case "pebble":
		dir := *stateDir
		if dir == "" {
			tmp, err := os.MkdirTemp("", "runnel-state-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			dir = tmp
		}
		o.Engine.StateBackend = stream.PebbleState(dir, 0)
	default:
		fmt.Fprintf(stderr, "--state-backend %q: want memory or pebble\n", *backend)
		return errUsage
	}
	if err := o.Validate(); err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return errUsage
	}

	if *dump != "" {
		if err := writeFile(*dump, func(w io.Writer) error {
			return nexmarkbench.DumpEvents(ctx, w, o.GeneratorConfig(), *events)
		}); err != nil {
			return err
		}
	}
	closeOutput := func() error { return nil }
	if *output != "" {
		f, err := os.Create(*output)
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(f, 1<<20)
		o.Output = bw
		closeOutput = func() error { return errors.Join(bw.Flush(), f.Close()) }
	}
	var profile *os.File
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			closeOutput()
			return err
		}
		profile = f
	}
	if !*quiet {
		p := &progress{w: stderr, total: *events}
		o.Progress = p.report
	}
	if profile != nil {
		if err := pprof.StartCPUProfile(profile); err != nil {
			closeOutput()
			profile.Close()
			return err
		}
	}
	r, err := nexmarkbench.Run(ctx, o)
	if profile != nil {
		pprof.StopCPUProfile()
		err = errors.Join(err, profile.Close())
	}
	err = errors.Join(err, closeOutput())
	if err != nil {
		return err
	}
	if *asJSON {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	printResult(stdout, r)
	return nil
}

// writeFile creates path and calls write with it, closing it and reporting the first error.
func writeFile(path string, write func(w io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// progress prints a line per report: events so far and the rate since the previous report.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	total   int64
	last    int64
	lastAt  time.Duration
	printed bool
}

func (p *progress) report(pr nexmarkbench.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pr.Events >= p.total && !p.printed {
		return // a short run: its summary says it all
	}
	dt := (pr.Elapsed - p.lastAt).Seconds()
	if dt < 0.25 {
		return // the final report, right after a periodic one
	}
	rate := float64(pr.Events-p.last) / dt
	fmt.Fprintf(p.w, "%6.1fs  %s / %s events  %s events/s\n", pr.Elapsed.Seconds(), thousands(pr.Events), thousands(p.total), thousands(int64(rate)))
	p.last, p.lastAt, p.printed = pr.Events, pr.Elapsed, true
}

func printResult(w io.Writer, r nexmarkbench.Result) {
	fmt.Fprintf(w, "nexmark %s: %s events at parallelism %d in %.2fs, %s results\n",
		r.Query, thousands(r.Events), r.Parallelism, r.WallSeconds, thousands(r.Results))
	fmt.Fprintf(w, "  throughput  %s events/s\n", thousands(int64(r.EventsPerSecond)))
	if r.CPUSeconds > 0 {
		fmt.Fprintf(w, "  efficiency  %s events per CPU-second (%.2f CPU-seconds)\n", thousands(int64(r.EventsPerCPUSecond)), r.CPUSeconds)
	}
	if r.LatencyP50Ms != nil {
		fmt.Fprintf(w, "  latency     p50 %.1f ms, p99 %.1f ms, max %.1f ms over %s results (at %s events/s)\n",
			*r.LatencyP50Ms, *r.LatencyP99Ms, *r.LatencyMaxMs, thousands(r.LatencySamples), thousands(int64(r.Rate)))
	}
}
