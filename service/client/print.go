package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"

	"github.com/runnel-io/runnel/service/awsjson"
)

// The tables `runnel apps` prints by default. With --json it prints the API's own answers
// instead (WriteJSON): the member names and shapes of the Managed Flink API, as the AWS CLI
// shows them, so scripts written against one read the other.

// WriteJSON writes v, an answer or part of one, as the API encodes it (members absent when not
// set, timestamps in epoch seconds), indented, on its own line.
func WriteJSON(w io.Writer, v any) error {
	b, err := awsjson.Marshal(v)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

// WriteJSONList writes items, a list of the API's shapes, as the List operations answer it: an
// object with the list as its member called member.
func WriteJSONList(w io.Writer, member string, items any) error {
	b, err := awsjson.Marshal(items)
	if err != nil {
		return err
	}
	if string(b) == "null" {
		b = []byte("[]")
	}
	name, _ := json.Marshal(member)
	var out bytes.Buffer
	if err := json.Indent(&out, []byte("{"+string(name)+":"+string(b)+"}"), "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

// when prints t as a person reads it, in UTC to the second; "-" when unset.
func when(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WriteApplications writes one row per application.
func WriteApplications(w io.Writer, apps []types.ApplicationSummary) error {
	if len(apps) == 0 {
		_, err := fmt.Fprintln(w, "no applications (create one with 'runnel apps create')")
		return err
	}
	tw := table(w)
	fmt.Fprintln(tw, "NAME\tSTATUS\tVERSION\tRUNTIME")
	for _, a := range apps {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", aws.ToString(a.ApplicationName), a.ApplicationStatus, aws.ToInt64(a.ApplicationVersionId), a.RuntimeEnvironment)
	}
	return tw.Flush()
}

// WriteApplication writes d as "Field: value" lines.
func WriteApplication(w io.Writer, d *types.ApplicationDetail) error {
	tw := table(w)
	row := func(k, format string, args ...any) {
		fmt.Fprintf(tw, "%s:\t"+format+"\n", append([]any{k}, args...)...)
	}
	row("Name", "%s", aws.ToString(d.ApplicationName))
	row("ARN", "%s", aws.ToString(d.ApplicationARN))
	row("Status", "%s", d.ApplicationStatus)
	row("Version", "%d", aws.ToInt64(d.ApplicationVersionId))
	row("Runtime", "%s", d.RuntimeEnvironment)
	if d.ApplicationDescription != nil {
		row("Description", "%s", aws.ToString(d.ApplicationDescription))
	}
	row("Created", "%s", when(d.CreateTimestamp))
	row("Updated", "%s", when(d.LastUpdateTimestamp))
	if cfg := d.ApplicationConfigurationDescription; cfg != nil {
		if f := cfg.FlinkApplicationConfigurationDescription; f != nil {
			if p := f.ParallelismConfigurationDescription; p != nil {
				par, per := aws.ToInt32(p.CurrentParallelism), aws.ToInt32(p.ParallelismPerKPU)
				if par == 0 {
					par = aws.ToInt32(p.Parallelism)
				}
				auto := "off"
				if aws.ToBool(p.AutoScalingEnabled) {
					auto = "on"
				}
				kpus := int32(0)
				if per > 0 {
					kpus = (par + per - 1) / per
				}
				row("Parallelism", "%d (%d per KPU: %d KPUs; configured %d, autoscaling %s)", par, per, kpus, aws.ToInt32(p.Parallelism), auto)
			}
			if c := f.CheckpointConfigurationDescription; c != nil {
				if aws.ToBool(c.CheckpointingEnabled) {
					row("Checkpoints", "every %v, at least %v apart", time.Duration(aws.ToInt64(c.CheckpointInterval))*time.Millisecond,
						time.Duration(aws.ToInt64(c.MinPauseBetweenCheckpoints))*time.Millisecond)
				} else {
					row("Checkpoints", "off")
				}
			}
		}
		if s := cfg.ApplicationSnapshotConfigurationDescription; s != nil {
			row("Snapshots", "%s", onOff(aws.ToBool(s.SnapshotsEnabled)))
		}
		if c := cfg.ApplicationCodeConfigurationDescription; c != nil && c.CodeContentDescription != nil {
			cd := c.CodeContentDescription
			switch {
			case cd.S3ApplicationCodeLocationDescription != nil:
				s3 := cd.S3ApplicationCodeLocationDescription
				row("Code", "%s s3://%s/%s", c.CodeContentType, strings.TrimPrefix(aws.ToString(s3.BucketARN), "arn:aws:s3:::"), aws.ToString(s3.FileKey))
			case cd.CodeSize != nil:
				row("Code", "%s, %s, MD5 %s", c.CodeContentType, size(aws.ToInt64(cd.CodeSize)), aws.ToString(cd.CodeMD5))
			default:
				row("Code", "%s", c.CodeContentType)
			}
		}
		if r := cfg.RunConfigurationDescription; r != nil && r.ApplicationRestoreConfigurationDescription != nil {
			rc := r.ApplicationRestoreConfigurationDescription
			if rc.SnapshotName != nil {
				row("Restore", "%s %s", rc.ApplicationRestoreType, aws.ToString(rc.SnapshotName))
			} else {
				row("Restore", "%s", rc.ApplicationRestoreType)
			}
		}
	}
	props := Properties(d)
	if len(props) == 0 {
		row("Properties", "none")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(props) > 0 {
		fmt.Fprintln(w, "Properties:")
		for _, g := range sortedKeys(props) {
			var kv []string
			for _, k := range sortedKeys(props[g]) {
				kv = append(kv, k+"="+props[g][k])
			}
			fmt.Fprintf(w, "  %s: %s\n", g, strings.Join(kv, ", "))
		}
	}
	return nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// size prints n bytes in the largest binary unit under which it is at least 1.
func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// WriteSnapshots writes one row per snapshot, newest first.
func WriteSnapshots(w io.Writer, snaps []types.SnapshotDetails) error {
	if len(snaps) == 0 {
		_, err := fmt.Fprintln(w, "no snapshots")
		return err
	}
	snaps = slices.Clone(snaps)
	slices.SortStableFunc(snaps, func(a, b types.SnapshotDetails) int {
		return aws.ToTime(b.SnapshotCreationTimestamp).Compare(aws.ToTime(a.SnapshotCreationTimestamp))
	})
	tw := table(w)
	fmt.Fprintln(tw, "NAME\tSTATUS\tVERSION\tCREATED")
	for _, s := range snaps {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", aws.ToString(s.SnapshotName), s.SnapshotStatus, aws.ToInt64(s.ApplicationVersionId), when(s.SnapshotCreationTimestamp))
	}
	return tw.Flush()
}

// WriteVersions writes one row per version.
func WriteVersions(w io.Writer, vs []types.ApplicationVersionSummary) error {
	tw := table(w)
	fmt.Fprintln(tw, "VERSION\tSTATUS")
	for _, v := range vs {
		fmt.Fprintf(tw, "%d\t%s\n", aws.ToInt64(v.ApplicationVersionId), v.ApplicationStatus)
	}
	return tw.Flush()
}

// WriteOperations writes one row per operation.
func WriteOperations(w io.Writer, ops []types.ApplicationOperationInfo) error {
	if len(ops) == 0 {
		_, err := fmt.Fprintln(w, "no operations")
		return err
	}
	tw := table(w)
	fmt.Fprintln(tw, "ID\tOPERATION\tSTATUS\tSTARTED\tENDED")
	for _, o := range ops {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", aws.ToString(o.OperationId), aws.ToString(o.Operation), o.OperationStatus, when(o.StartTime), when(o.EndTime))
	}
	return tw.Flush()
}

// WriteOperation writes the details of operation id.
func WriteOperation(w io.Writer, id string, d *types.ApplicationOperationInfoDetails) error {
	tw := table(w)
	row := func(k, format string, args ...any) {
		fmt.Fprintf(tw, "%s:\t"+format+"\n", append([]any{k}, args...)...)
	}
	row("ID", "%s", id)
	row("Operation", "%s", aws.ToString(d.Operation))
	row("Status", "%s", d.OperationStatus)
	row("Started", "%s", when(d.StartTime))
	row("Ended", "%s", when(d.EndTime))
	if v := d.ApplicationVersionChangeDetails; v != nil {
		row("Versions", "%d → %d", aws.ToInt64(v.ApplicationVersionUpdatedFrom), aws.ToInt64(v.ApplicationVersionUpdatedTo))
	}
	if f := d.OperationFailureDetails; f != nil {
		if f.ErrorInfo != nil {
			row("Error", "%s", orDash(aws.ToString(f.ErrorInfo.ErrorString)))
		}
		if f.RollbackOperationId != nil {
			row("Rolled back by", "%s", aws.ToString(f.RollbackOperationId))
		}
	}
	return tw.Flush()
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
