package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/runnel-io/runnel/internal/checkpoint"
)

func runCheckpoints(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "list" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintf(stderr, "Usage: runnel checkpoints list [--json] DIR\n\nSubcommands:\n  list   show the checkpoints and savepoints stored under DIR (a path or file:// URL)\n")
			return nil
		}
		fmt.Fprintf(stderr, "Usage: runnel checkpoints list [--json] DIR\n")
		return errUsage
	}
	fs := newFlags("checkpoints list", "checkpoints list [--json] DIR", stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per snapshot")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	// Listing must not create what it lists: checkpoint.Open makes missing local directories.
	if dir := fs.Arg(0); !strings.Contains(dir, "://") {
		if _, err := os.Stat(dir); err != nil {
			return fmt.Errorf("checkpoint directory %s: %w", dir, err)
		}
	}
	st, err := checkpoint.Open(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	infos, err := checkpoint.List(ctx, st)
	if err != nil {
		return fmt.Errorf("listing %s: %w", fs.Arg(0), err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, in := range infos {
			row := map[string]any{"dir": in.Dir, "id": in.ID, "savepoint": in.Savepoint, "complete": in.Complete,
				"files": in.Files, "bytes": in.Size}
			if !in.Timestamp.IsZero() {
				row["timestamp"] = in.Timestamp
			}
			if in.Err != nil {
				row["error"] = in.Err.Error()
			}
			if err := enc.Encode(row); err != nil {
				return err
			}
		}
		return nil
	}
	if len(infos) == 0 {
		fmt.Fprintf(stdout, "no checkpoints or savepoints under %s\n", fs.Arg(0))
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSTATE\tTAKEN\tFILES\tBYTES\tDIR")
	for _, in := range infos {
		kind := "checkpoint"
		if in.Savepoint {
			kind = "savepoint"
		}
		state, taken := "complete", "-"
		switch {
		case in.Err != nil:
			state = "unreadable: " + in.Err.Error()
		case !in.Complete:
			state = "incomplete"
		}
		if !in.Timestamp.IsZero() {
			taken = in.Timestamp.UTC().Format("2006-01-02T15:04:05Z")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%s\n", in.ID, kind, state, taken, in.Files, in.Size, in.Dir)
	}
	return tw.Flush()
}
