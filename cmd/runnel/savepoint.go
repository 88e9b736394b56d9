package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/runnel-io/runnel/app"
	"github.com/runnel-io/runnel/internal/cli"
)

// savepointCommand is `runnel savepoint [TARGET_DIR]`, a client of the job's REST API.
func savepointCommand() *cobra.Command {
	var (
		address string
		stop    bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "savepoint [TARGET_DIR]",
		Short: "Take a savepoint of a running job through its REST API",
		Long: `Take a savepoint of a running job through its REST API, and print its location.

TARGET_DIR (a path or s3:// URL) defaults to the job's --savepoint-dir. Start a job from the
savepoint with 'runnel run EXAMPLE --from-savepoint LOCATION'.`,
		Example: `  runnel savepoint /tmp/sp
  runnel savepoint --stop /tmp/sp`,
		Args: cli.Args(0, 1, "TARGET_DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var target string
			if len(args) == 1 {
				target = args[0]
				// The job may run in another directory: send it an absolute path.
				if !strings.Contains(target, "://") {
					abs, err := filepath.Abs(target)
					if err != nil {
						return err
					}
					target = abs
				}
			}
			if timeout <= 0 {
				return cli.Usagef("--timeout %v must be positive", timeout)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			loc, err := app.Savepoint(ctx, address, app.SavepointRequest{TargetDirectory: target, Stop: stop})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), loc)
			return nil
		},
	}
	cmd.Flags().StringVar(&address, "address", "http://"+app.DefaultRESTAddress, "REST API of the running job (its --rest-address)")
	cmd.Flags().BoolVar(&stop, "stop", false, "stop the job once the savepoint is complete")
	cmd.Flags().DurationVar(&timeout, "timeout", 15*time.Minute, "give up waiting for the savepoint after this long")
	return cmd
}
