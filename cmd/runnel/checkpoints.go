package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/internal/cli"
	"github.com/runnel-io/runnel/internal/snapshot"
)

// checkpointsCommand is `runnel checkpoints`, a group of commands on checkpoint directories.
func checkpointsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "checkpoints",
		Short: "Inspect stored checkpoints and savepoints",
	}
	cmd.AddCommand(checkpointsListCommand())
	return cmd
}

// checkpointsListCommand is `runnel checkpoints list DIR`.
func checkpointsListCommand() *cobra.Command {
	var asJSON bool
	var help strings.Builder
	printStatusHelp(&help)
	cmd := &cobra.Command{
		Use:   "list DIR",
		Short: "Show the checkpoints and savepoints stored under DIR",
		Long: `Show the checkpoints and savepoints stored under DIR (a path, file:// URL or
s3://bucket/prefix, with ?endpoint= for an S3-compatible store), and which one
--restore latest resumes.
` + help.String(),
		Args: cli.Args(1, 1, "DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return listCheckpoints(cmd.Context(), args[0], asJSON, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per snapshot: id, kind, status, timestamp, files, sizeBytes, dir, error, latest")
	return cmd
}

// listCheckpoints prints the snapshots under dir to stdout.
func listCheckpoints(ctx context.Context, dir string, asJSON bool, stdout io.Writer) error {
	// Listing must not create what it lists: checkpoint.Open makes missing local directories.
	if !strings.Contains(dir, "://") {
		if _, err := os.Stat(dir); err != nil {
			return fmt.Errorf("checkpoint directory %s: %w", dir, err)
		}
	}
	st, err := checkpoint.Open(ctx, dir)
	if err != nil {
		return err
	}
	infos, err := snapshot.List(ctx, st)
	if err != nil {
		return fmt.Errorf("listing %s: %w", dir, err)
	}
	// The lineage says which snapshot --restore latest resumes; a directory from before
	// lineages has none, and an unreadable one is reported below the table.
	lin, linErr := snapshot.ReadLineage(ctx, st)
	if errors.Is(linErr, os.ErrNotExist) {
		linErr = nil
	}
	rows := make([]snapshotRow, len(infos))
	withErrors := false
	for i, in := range infos {
		rows[i] = newSnapshotRow(in)
		rows[i].Latest = lin != nil && lin.Latest != nil && lin.Latest.Local() && lin.Latest.Location == in.Dir
		withErrors = withErrors || rows[i].Error != ""
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	if len(infos) == 0 {
		fmt.Fprintf(stdout, "no checkpoints or savepoints under %s\n", dir)
	}
	defer printLineage(stdout, lin, linErr)
	if len(infos) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	header := "ID\tKIND\tSTATUS\tTAKEN\tFILES\tBYTES\tDIR"
	if withErrors {
		header += "\tERROR"
	}
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		taken := "-"
		if !r.Timestamp.IsZero() {
			taken = r.Timestamp.UTC().Format("2006-01-02T15:04:05Z")
		}
		dir := r.Dir
		if r.Latest {
			dir += " (latest)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%s", r.ID, r.Kind, r.Status, taken, r.Files, r.SizeBytes, dir)
		if withErrors {
			fmt.Fprintf(tw, "\t%s", r.Error)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// Statuses of a snapshot directory in `runnel checkpoints list`; statusHelp says what they mean.
const (
	statusComplete   = "complete"
	statusIncomplete = "incomplete"
	statusCorrupt    = "corrupt"
	statusUnreadable = "unreadable"
)

// statusHelp is what each status means, for the help of `runnel checkpoints list`.
var statusHelp = [...][2]string{
	{statusComplete, "its metadata file reads and describes it: it can be restored"},
	{statusIncomplete, "no metadata file: a checkpoint in progress, or left by one aborted or crashed"},
	{statusCorrupt, "its metadata file fails its checksum, does not parse, or describes another snapshot"},
	{statusUnreadable, "its metadata file cannot be read: a storage error, or a format this build does not read"},
}

// printStatusHelp prints statusHelp.
func printStatusHelp(w io.Writer) {
	fmt.Fprintf(w, "\nThe status of a snapshot directory (STATUS, or \"status\" with --json):\n")
	for _, s := range statusHelp {
		fmt.Fprintf(w, "  %-11s  %s\n", s[0], s[1])
	}
}

// snapshotRow is one snapshot directory as `runnel checkpoints list` shows it: a row of the
// table, or with --json one JSON object per line, named in lowerCamelCase as the REST API's
// fields are.
type snapshotRow struct {
	// ID is the snapshot's ID.
	ID int64 `json:"id"`
	// Kind is "checkpoint" or "savepoint".
	Kind string `json:"kind"`
	// Status is "complete", "incomplete", "corrupt" or "unreadable" (statusHelp says what
	// each means). Only a complete snapshot can be restored.
	Status string `json:"status"`
	// Timestamp is when the snapshot was triggered, from its metadata (RFC 3339); left out
	// unless the status is complete.
	Timestamp time.Time `json:"timestamp,omitzero"`
	// Files and SizeBytes count the directory's files and their bytes (shared files not
	// included).
	Files     int   `json:"files"`
	SizeBytes int64 `json:"sizeBytes"`
	// Dir is the snapshot's directory below the listed location.
	Dir string `json:"dir"`
	// Error says why the metadata file cannot be used; left out unless the status is corrupt
	// or unreadable.
	Error string `json:"error,omitempty"`
	// Latest marks the snapshot --restore latest resumes (the lineage's latest); left out for
	// the others.
	Latest bool `json:"latest,omitempty"`
}

// printLineage says below the table what --restore latest resumes.
func printLineage(w io.Writer, lin *snapshot.Lineage, err error) {
	switch {
	case err != nil:
		fmt.Fprintf(w, "\nthe lineage record cannot be read: %v\n", err)
	case lin == nil:
		fmt.Fprintf(w, "\nno lineage record (written before Runnel kept one): --restore latest resumes the newest complete checkpoint\n")
	case lin.Latest == nil:
		fmt.Fprintf(w, "\n--restore latest starts fresh: the last run (%s of job %q) started fresh and completed no checkpoint\n", lin.Run, lin.Job)
	default:
		fmt.Fprintf(w, "\n--restore latest resumes %s (the last run: %s of job %q)\n", lin.Latest, lin.Run, lin.Job)
	}
}

func newSnapshotRow(in snapshot.Info) snapshotRow {
	r := snapshotRow{ID: in.ID, Kind: "checkpoint", Files: in.Files, SizeBytes: in.Size, Dir: in.Dir}
	if in.Savepoint {
		r.Kind = "savepoint"
	}
	switch {
	case in.Err != nil:
		r.Status, r.Error = statusUnreadable, in.Err.Error()
		if errors.Is(in.Err, snapshot.ErrCorrupt) {
			r.Status = statusCorrupt
		}
	case in.Complete:
		r.Status, r.Timestamp = statusComplete, in.Timestamp
	default:
		r.Status = statusIncomplete
	}
	return r
}
