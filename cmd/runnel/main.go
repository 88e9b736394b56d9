// Command runnel is Runnel's one binary: it runs demo jobs and benchmarks today, and the
// managed service later. Each verb has its own flags; `runnel <verb> --help` lists them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// verb is one sub-command.
type verb struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func verbs() []verb {
	return []verb{
		{"demo", "run the website clickstream demo: page views per page in 10 s event-time windows, live", runDemo},
		{"bench", "run a benchmark (bench nexmark --query q5 --events 10000000)", runBench},
		{"run", "run an example job with checkpoints, restores and a REST API (run clickstream --checkpoint-dir DIR)", runRun},
		{"savepoint", "take a savepoint of a running job through its REST API (savepoint [--stop] DIR)", runSavepoint},
		{"checkpoints", "inspect stored checkpoints and savepoints (checkpoints list DIR)", runCheckpoints},
	}
}

func main() {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, v := range verbs() {
		if v.name == args[0] {
			err := v.run(ctx, args[1:], stdout, stderr)
			switch {
			case err == nil, errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				return 2
			case errors.Is(err, context.Canceled):
				return 130
			}
			fmt.Fprintf(stderr, "runnel %s: %v\n", v.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "runnel: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// errUsage reports bad flags or arguments; the flag set has already printed why.
var errUsage = errors.New("usage")

func usage(w io.Writer) {
	fmt.Fprintf(w, "Runnel: stream processing with Flink's semantics, in one Go binary.\n\nUsage:\n  runnel <command> [flags]\n\nCommands:\n")
	for _, v := range verbs() {
		fmt.Fprintf(w, "  %-8s %s\n", v.name, v.summary)
	}
	fmt.Fprintf(w, "\nRun 'runnel <command> --help' for the flags of a command.\n")
}

// newFlags returns a flag set for verb whose usage prints the summary and the flags to stderr.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("runnel "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: runnel %s\n\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, mapping failures to errUsage (the flag set printed the reason) and --help
// to flag.ErrHelp.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %v\n", fs.Args())
		fs.Usage()
		return errUsage
	}
	return nil
}
