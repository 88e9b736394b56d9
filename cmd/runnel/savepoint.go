package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/runnel-io/runnel/app"
)

func runSavepoint(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("savepoint", "savepoint [--address URL] [--stop] [TARGET_DIR]", stderr)
	address := fs.String("address", "http://"+app.DefaultRESTAddress, "REST API of the running job (its --rest-address)")
	stop := fs.Bool("stop", false, "stop the job once the savepoint is complete")
	timeout := fs.Duration("timeout", 15*time.Minute, "give up waiting for the savepoint after this long")
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprintf(stderr, "\nTARGET_DIR (a path or s3:// URL) defaults to the job's --savepoint-dir. The savepoint's\nlocation is printed; start from it with 'runnel run <example> --from-savepoint LOCATION'.\n")
	}
	if err := fs.Parse(args); err != nil {
		return parseErr(err)
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(stderr, "unexpected arguments: %v\n", fs.Args()[1:])
		fs.Usage()
		return errUsage
	}
	var target string
	if fs.NArg() == 1 {
		target = fs.Arg(0)
		// The job may run in another directory: send it an absolute path.
		if !strings.Contains(target, "://") {
			abs, err := filepath.Abs(target)
			if err != nil {
				return err
			}
			target = abs
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	loc, err := app.Savepoint(ctx, *address, app.SavepointRequest{TargetDirectory: target, Stop: *stop})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, loc)
	return nil
}
