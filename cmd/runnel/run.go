package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/runnel-io/runnel/app"
	"github.com/runnel-io/runnel/examples"
	"github.com/runnel-io/runnel/internal/cli"
	"github.com/runnel-io/runnel/stream"
)

// runCommand is `runnel run EXAMPLE`: an example of the registry (package examples) run by
// app.Execute with the flags of app.Options and examples.Args.
func runCommand(h hooks) *cobra.Command {
	o := app.DefaultOptions()
	a := examples.DefaultArgs()
	var list strings.Builder
	for _, e := range examples.All() {
		fmt.Fprintf(&list, "  %-15s %s\n", e.Name, e.Summary)
	}
	cmd := &cobra.Command{
		Use:   "run EXAMPLE [flags]",
		Short: "Run an example job with checkpoints, restores and a REST API",
		Long: `Run an example job with the options of a production job: checkpoints (--checkpoint-dir),
restores (--restore latest, --from-savepoint), restarts, savepoints through the REST API
(--rest-address, 'runnel savepoint') and exactly-once output (--output). A bounded job (--events,
--bounded, s3-backfill) ends with a summary of what it read, wrote and dropped.

EXAMPLE is one of:
` + list.String() + `
kafka-logs, kinesis-clicks and s3-backfill need Kafka, Kinesis or S3: scripts/dev-servers.sh runs
local ones, where the connector flags point by default.`,
		Example: `  runnel run clickstream --rate 20000 --checkpoint-dir /tmp/ckpt --checkpoint-interval 1s --output /tmp/out
  runnel run clickstream --rate 20000 --checkpoint-dir /tmp/ckpt --output /tmp/out --restore latest
  runnel run s3-backfill --generate 5000`,
		Args:      cli.Args(0, 1, "EXAMPLE"),
		ValidArgs: examples.Names(),
		RunE: func(cmd *cobra.Command, args []string) error {
			var name string
			if len(args) == 1 {
				name = args[0]
			}
			ex, ok := examples.Lookup(name)
			if !ok {
				return cli.Unknown("example", name, examples.Names())
			}
			if err := a.Validate(); err != nil {
				return cli.Invalid(err)
			}
			o.S3Endpoint = a.S3Endpoint
			if err := o.Validate(); err != nil {
				return cli.Invalid(err)
			}
			if a.Show && ex.Show == nil {
				return cli.Usagef("--show is for kafka-logs, not %s", ex.Name)
			}
			if a.Generate > 0 && ex.Generate == nil {
				return cli.Usagef("--generate is for kafka-logs, kinesis-clicks and s3-backfill, not %s: %s generates its input", ex.Name, ex.Name)
			}
			ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
			a.Stdout = stdout
			if a.Show {
				return ex.Show(ctx, a)
			}
			logger := slog.New(slog.NewTextHandler(stderr, nil))
			if a.Generate > 0 {
				g := app.DefaultOptions()
				g.RESTAddress, g.Logger, g.Summary = "", logger, stderr
				err := app.Execute(ctx, ex.Name+"-generate", func(env *stream.Env) error { return ex.Generate(ctx, env, a) }, g)
				if err != nil {
					return fmt.Errorf("generating the input: %w", err)
				}
				if err := ctx.Err(); err != nil {
					return err // interrupted while generating: do not start the job
				}
			}
			if a.Output != "" && o.CheckpointDir == "" {
				logger.Warn("without --checkpoint-dir, --output is committed only when the input ends")
			}
			o.Logger, o.Summary, o.Ready = logger, stderr, h.ready
			return app.Execute(ctx, ex.Name, func(env *stream.Env) error { return ex.Build(ctx, env, a) }, o)
		},
	}
	o.AddFlags(cmd.Flags())
	a.AddFlags(cmd.Flags())
	complete(cmd, "state-backend", "memory", "pebble")
	complete(cmd, "restore", "latest")
	return cmd
}

// complete makes the shell offer values for flag: the fixed ones given, and file names after
// them when the flag also takes a path.
func complete(cmd *cobra.Command, flag string, values ...string) {
	_ = cmd.RegisterFlagCompletionFunc(flag, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		if flag == "restore" {
			return values, cobra.ShellCompDirectiveDefault // latest, or a snapshot directory
		}
		return values, cobra.ShellCompDirectiveNoFileComp
	})
}
