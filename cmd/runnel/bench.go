package main

import (
	"context"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/runnel-io/runnel/internal/bench"
	"github.com/runnel-io/runnel/internal/cli"
)

// benchCommand is `runnel bench`, a group of the benchmarks in internal/bench.
func benchCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run a benchmark (bench nexmark --query q5 --events 10000000)",
		Long: `Run a benchmark in-process and print what it measured; --json prints one JSON object.
Measured figures, with the command and date, are in docs/PERFORMANCE.md.`,
	}
	cmd.AddCommand(benchNexmarkCommand(), benchCheckpointCommand(), benchFilesCommand())
	return cmd
}

// harness is what every benchmark of internal/bench is.
type harness interface {
	Validate() error
	Run(ctx context.Context, stdout, stderr io.Writer) error
}

// runHarness validates h, a usage error when it is invalid, and runs it.
func runHarness(cmd *cobra.Command, h harness) error {
	if err := h.Validate(); err != nil {
		return cli.Usage(err, "")
	}
	return h.Run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
}

func benchNexmarkCommand() *cobra.Command {
	n := bench.Nexmark{Events: bench.DefaultNexmarkEvents, StateBackend: "memory"}
	queries := bench.NexmarkQueries()
	cmd := &cobra.Command{
		Use:     "nexmark --query QUERY [flags]",
		Short:   "Run a Nexmark query in-process on generated events and measure it",
		Example: "  runnel bench nexmark --query q5 --events 10000000 --json",
		Args:    cli.Args(0, 0, ""),
		RunE:    func(cmd *cobra.Command, _ []string) error { return runHarness(cmd, n) },
	}
	fs := cmd.Flags()
	fs.StringVar(&n.Query, "query", n.Query, "the `query` to run: "+strings.Join(queries, ", "))
	fs.Int64Var(&n.Events, "events", n.Events, "number of events to generate (persons, auctions and bids)")
	fs.IntVar(&n.Parallelism, "parallelism", n.Parallelism, "parallel subtasks per operator (0: number of CPUs)")
	fs.Float64Var(&n.Rate, "rate", n.Rate, "limit the source to this many events per second, and measure latency (0: as fast as possible)")
	fs.Int64Var(&n.Seed, "seed", n.Seed, "the generator's seed")
	fs.BoolVar(&n.JSON, "json", n.JSON, "print the result as one JSON object")
	fs.StringVar(&n.Output, "output", n.Output, "write the query's results to this `file` as JSON lines (default: discard them)")
	fs.StringVar(&n.DumpEvents, "dump-events", n.DumpEvents, "write the generated events to this `file` as JSON lines, before the run")
	fs.StringVar(&n.CPUProfile, "cpuprofile", n.CPUProfile, "write a CPU profile of the run to this `file`")
	fs.BoolVar(&n.Quiet, "quiet", n.Quiet, "do not print progress to stderr")
	fs.StringVar(&n.StateBackend, "state-backend", n.StateBackend, "where keyed state lives: memory, or pebble (on disk under --state-dir)")
	fs.StringVar(&n.StateDir, "state-dir", n.StateDir, "scratch `directory` for --state-backend pebble (default: a temporary directory)")
	fs.DurationVar(&n.CheckpointInterval, "checkpoint-interval", n.CheckpointInterval, "take a checkpoint this often (0: none)")
	fs.StringVar(&n.CheckpointDir, "checkpoint-dir", n.CheckpointDir, "where --checkpoint-interval stores checkpoints (default: a temporary directory, removed afterwards)")
	complete(cmd, "query", queries...)
	complete(cmd, "state-backend", "memory", "pebble")
	return cmd
}

func benchCheckpointCommand() *cobra.Command {
	c := bench.DefaultCheckpoint()
	cmd := &cobra.Command{
		Use:   "checkpoint [flags]",
		Short: "Build keyed state of a given size, checkpoint it, fail and recover, and measure each step",
		Long: `Build keyed state of a given size (one value of --value-size bytes per key), take --checkpoints
checkpoints, make the keyed operator fail once and restore the latest checkpoint, and measure
each checkpoint's duration, size and the pauses records saw, and the recovery.`,
		Example: "  runnel bench checkpoint --state-size 1GB --state-backend pebble",
		Args:    cli.Args(0, 0, ""),
		RunE:    func(cmd *cobra.Command, _ []string) error { return runHarness(cmd, c) },
	}
	fs := cmd.Flags()
	fs.Var(&c.StateSize, "state-size", "keyed state to build, in bytes with an optional KB, MB or GB suffix (binary: 1GB = 2^30 bytes)")
	fs.IntVar(&c.ValueSize, "value-size", c.ValueSize, "bytes of state per key: the job builds state-size/value-size keys")
	fs.StringVar(&c.StateBackend, "state-backend", c.StateBackend, "where keyed state lives: memory, or pebble (on disk under --state-dir)")
	fs.StringVar(&c.StateDir, "state-dir", c.StateDir, "scratch `directory` for --state-backend pebble (default: a temporary directory, removed afterwards)")
	fs.IntVar(&c.Parallelism, "parallelism", c.Parallelism, "parallel subtasks per operator")
	fs.DurationVar(&c.CheckpointInterval, "checkpoint-interval", c.CheckpointInterval, "take a checkpoint this often")
	fs.StringVar(&c.CheckpointDir, "checkpoint-dir", c.CheckpointDir, "where checkpoints are stored (default: a temporary directory, removed afterwards)")
	fs.Float64Var(&c.UpdateRate, "update-rate", c.UpdateRate, "updates of random keys per second, over all subtasks, once the state is built")
	fs.IntVar(&c.Checkpoints, "checkpoints", c.Checkpoints, "checkpoints to complete after the state is built, before the failure (or the end)")
	fs.BoolVar(&c.Recovery, "recovery", c.Recovery, "after --checkpoints checkpoints, make the keyed operator panic and measure the recovery")
	fs.DurationVar(&c.Timeout, "timeout", c.Timeout, "fail if the measurements are not done after this long")
	fs.BoolVar(&c.JSON, "json", c.JSON, "print the result as one JSON object")
	fs.StringVar(&c.CPUProfile, "cpuprofile", c.CPUProfile, "write a CPU profile of the run to this `file`")
	fs.BoolVar(&c.Quiet, "quiet", c.Quiet, "do not print progress to stderr")
	complete(cmd, "state-backend", "memory", "pebble")
	return cmd
}

func benchFilesCommand() *cobra.Command {
	f := bench.DefaultFiles()
	cmd := &cobra.Command{
		Use:   "files [flags]",
		Short: "Nexmark q1 from a JSON-lines file to a JSON-lines file: a job against a hand-written loop, in events per CPU-second",
		Args:  cli.Args(0, 0, ""),
		RunE:  func(cmd *cobra.Command, _ []string) error { return runHarness(cmd, f) },
	}
	fs := cmd.Flags()
	fs.IntVar(&f.Events, "events", f.Events, "bids in the input file")
	fs.IntSliceVar(&f.Parallelisms, "parallelism", f.Parallelisms, "comma-separated job parallelisms to measure (the input is split into that many files)")
	fs.IntVar(&f.Rounds, "rounds", f.Rounds, "rounds per parallelism; medians are reported")
	fs.StringVar(&f.Dir, "dir", f.Dir, "scratch `directory` (default: a temporary directory, removed afterwards)")
	fs.StringVar(&f.CPUProfile, "cpuprofile", f.CPUProfile, "write a CPU profile of all rounds to this `file`; samples are labelled side=loop or side=job (pprof -tagfocus)")
	return cmd
}
