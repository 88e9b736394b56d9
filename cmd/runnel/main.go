// Command runnel is Runnel's one binary: it runs the demo, example jobs with checkpoints and
// savepoints, benchmarks, inspects checkpoint directories, and runs the managed service
// (`runnel server`) and its client (`runnel apps`).
// It parses flags and wires packages together: the jobs are in examples (the registry) and app,
// the benchmarks in internal/bench. `runnel <command> --help` lists a command's flags; the
// conventions every command follows (errors on one line with a hint, exit codes) are
// internal/cli's.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/runnel-io/runnel/internal/cli"
	"github.com/runnel-io/runnel/internal/version"
)

func main() {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command args name and returns the exit code (see internal/cli).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return cli.Execute(ctx, newRoot(hooks{}), args, stdout, stderr)
}

// hooks let tests observe commands as they run.
type hooks struct {
	// ready, if set, is called with the REST API's address of a job `runnel run` started.
	ready func(addr string)
}

// newRoot returns the command tree.
func newRoot(h hooks) *cobra.Command {
	root := &cobra.Command{
		Use:   "runnel",
		Short: "Runnel: stream processing with Flink's semantics, in one Go binary",
		Long: `Runnel: stream processing with Flink's semantics, in one Go binary.

Start with 'runnel demo', then 'runnel run clickstream --checkpoint-dir /tmp/ckpt'.`,
		Version: version.Get().String(),
	}
	root.AddCommand(demoCommand(), runCommand(h), savepointCommand(), checkpointsCommand(), benchCommand(), serverCommand(), appsCommand())
	cli.Setup(root)
	return root
}
