package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/runnel-io/runnel/internal/cli"
	"github.com/runnel-io/runnel/service/client"
)

// appsFlags are the flags of every `runnel apps` command.
type appsFlags struct {
	endpoint, region string
	json             bool
}

func (f *appsFlags) client(ctx context.Context) (*client.Client, error) {
	return client.New(ctx, client.Config{Endpoint: f.endpoint, Region: f.region})
}

// appsCommand is `runnel apps`, a client of the managed service's API.
func appsCommand() *cobra.Command {
	f := &appsFlags{}
	cmd := &cobra.Command{
		Use:   "apps",
		Short: "Manage the applications of a Runnel server (or of Managed Flink)",
		Long: `Manage the applications of a Runnel server: create one from a program built with
app.Main, start it, snapshot it, update it, roll it back, stop and delete it, and read its
log. Each command is a call of the Managed Flink API (kinesisanalyticsv2), so what it does
the AWS CLI can do too. Tables by default; --json prints the API's answers.`,
		Example: `  runnel apps create iot --bootstrap ./bootstrap --property example.name=iot
  runnel apps start iot
  runnel apps list
  runnel apps logs iot --follow`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.endpoint, "endpoint", cmp.Or(os.Getenv("RUNNEL_ENDPOINT"), client.DefaultEndpoint), "the server's API (or $RUNNEL_ENDPOINT)")
	pf.StringVar(&f.region, "region", "", "region requests are signed for (default: the AWS configuration's, else us-east-1)")
	pf.BoolVar(&f.json, "json", false, "print the API's answers as JSON instead of tables")
	cmd.AddCommand(
		appsCreateCommand(f), appsListCommand(f), appsDescribeCommand(f),
		appsStartCommand(f), appsStopCommand(f), appsUpdateCommand(f), appsDeleteCommand(f),
		appsSnapshotCommand(f), appsSnapshotsCommand(f), appsVersionsCommand(f),
		appsOperationsCommand(f), appsRollbackCommand(f), appsLogsCommand(f), appsPackageCommand(),
	)
	return cmd
}

// codeFlags choose an application's code.
type codeFlags struct {
	bootstrap, zip, s3 string
}

func (c *codeFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.bootstrap, "bootstrap", "", "an executable built with app.Main, packaged as the code's bootstrap")
	cmd.Flags().StringVar(&c.zip, "zip", "", "a ZIP holding an executable named bootstrap at its root")
	cmd.Flags().StringVar(&c.s3, "s3", "", "a ZIP in S3, read by the server: s3://bucket/key")
}

// code returns the code the flags name; the zero Code when none is set.
func (c *codeFlags) code() (client.Code, error) {
	n := 0
	for _, f := range []string{c.bootstrap, c.zip, c.s3} {
		if f != "" {
			n++
		}
	}
	if n > 1 {
		return client.Code{}, cli.Usagef("--bootstrap, --zip and --s3 each give the code: give one")
	}
	switch {
	case c.bootstrap != "":
		z, err := client.Package(c.bootstrap)
		return client.Code{Zip: z}, err
	case c.zip != "":
		z, err := os.ReadFile(c.zip)
		if err != nil {
			return client.Code{}, fmt.Errorf("--zip: %w", err)
		}
		return client.Code{Zip: z}, nil
	case c.s3 != "":
		bucket, key, ok := strings.Cut(strings.TrimPrefix(c.s3, "s3://"), "/")
		if !strings.HasPrefix(c.s3, "s3://") || !ok || bucket == "" || key == "" {
			return client.Code{}, cli.Usagef("--s3 %q: want s3://bucket/key", c.s3)
		}
		return client.Code{S3Bucket: bucket, S3Key: key}, nil
	}
	return client.Code{}, nil
}

// settingsFlags set an application's configuration.
type settingsFlags struct {
	parallelism, perKPU        int32
	autoscaling, checkpoints   bool
	snapshots                  bool
	interval, minPause         time.Duration
	properties                 []string
	propertiesFile             string
	changedAuto, changedChecks bool
	changedSnaps               bool
}

func (s *settingsFlags) add(cmd *cobra.Command, update bool) {
	f := cmd.Flags()
	def := func(create string) string {
		if update {
			return " (default: unchanged)"
		}
		return create
	}
	f.Int32Var(&s.parallelism, "parallelism", 0, "parallel subtasks of each operator"+def(" (default 1)"))
	f.Int32Var(&s.perKPU, "parallelism-per-kpu", 0, "subtasks per KPU (1 vCPU and 4 GiB each)"+def(" (default 1)"))
	f.BoolVar(&s.autoscaling, "autoscaling", false, "let the server change the parallelism on load"+def(" (default false)"))
	f.BoolVar(&s.checkpoints, "checkpoints", false, "take checkpoints"+def(" (default true)"))
	f.DurationVar(&s.interval, "checkpoint-interval", 0, "time between checkpoints"+def(" (default 1m)"))
	f.DurationVar(&s.minPause, "min-pause", 0, "least time from one checkpoint's end to the next's start"+def(" (default 5s)"))
	f.BoolVar(&s.snapshots, "snapshots", false, "take a snapshot when the application stops or updates"+def(" (default true)"))
	verb := "set"
	if update {
		verb = "set (an empty value removes the key)"
	}
	f.StringArrayVar(&s.properties, "property", nil, "a runtime property to "+verb+", as GROUP.KEY=VALUE (repeatable)")
	f.StringVar(&s.propertiesFile, "properties", "", "a JSON file of all the property groups: {\"group\": {\"key\": \"value\"}}, or application_properties.json's list")
	cmd.PreRun = func(cmd *cobra.Command, _ []string) {
		s.changedAuto = cmd.Flags().Changed("autoscaling")
		s.changedChecks = cmd.Flags().Changed("checkpoints")
		s.changedSnaps = cmd.Flags().Changed("snapshots")
	}
}

// settings returns the configuration the flags set, the properties merged onto current.
func (s *settingsFlags) settings(current map[string]map[string]string) (client.Settings, error) {
	out := client.Settings{Parallelism: s.parallelism, ParallelismPerKPU: s.perKPU, CheckpointInterval: s.interval, MinPause: s.minPause}
	if s.parallelism < 0 || s.perKPU < 0 {
		return out, cli.Usagef("--parallelism and --parallelism-per-kpu must be positive")
	}
	if s.interval < 0 || s.minPause < 0 {
		return out, cli.Usagef("--checkpoint-interval and --min-pause must not be negative")
	}
	if s.changedAuto {
		out.AutoScaling = &s.autoscaling
	}
	if s.changedChecks {
		out.Checkpoints = &s.checkpoints
	}
	if s.changedSnaps {
		out.Snapshots = &s.snapshots
	}
	props := current
	if s.propertiesFile != "" {
		var err error
		if props, err = readProperties(s.propertiesFile); err != nil {
			return out, err
		}
	}
	if len(s.properties) > 0 {
		merged := map[string]map[string]string{}
		for g, m := range props {
			merged[g] = map[string]string{}
			for k, v := range m {
				merged[g][k] = v
			}
		}
		for _, p := range s.properties {
			gk, v, ok := strings.Cut(p, "=")
			g, k, ok2 := strings.Cut(gk, ".")
			if !ok || !ok2 || g == "" || k == "" {
				return out, cli.Usagef("--property %q: want GROUP.KEY=VALUE", p)
			}
			if v == "" {
				delete(merged[g], k)
				if len(merged[g]) == 0 {
					delete(merged, g)
				}
				continue
			}
			if merged[g] == nil {
				merged[g] = map[string]string{}
			}
			merged[g][k] = v
		}
		props = merged
	}
	if s.propertiesFile != "" || len(s.properties) > 0 {
		out.Properties = props
	}
	return out, nil
}

// readProperties reads property groups from a JSON file: an object of groups, or the list of
// application_properties.json ([{"PropertyGroupId": ..., "PropertyMap": {...}}]).
func readProperties(path string) (map[string]map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--properties: %w", err)
	}
	var groups map[string]map[string]string
	if err := json.Unmarshal(b, &groups); err == nil {
		return groups, nil
	}
	var list []struct {
		PropertyGroupID string            `json:"PropertyGroupId"`
		PropertyMap     map[string]string `json:"PropertyMap"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, cli.Usagef("--properties %s: want {\"group\": {\"key\": \"value\"}} or a list of PropertyGroupId and PropertyMap: %v", path, err)
	}
	groups = map[string]map[string]string{}
	for _, g := range list {
		groups[g.PropertyGroupID] = g.PropertyMap
	}
	return groups, nil
}

// waitFlag adds --wait to cmd.
func waitFlag(cmd *cobra.Command, what string) *bool {
	return cmd.Flags().Bool("wait", true, "wait until "+what+" (--wait=false returns at once)")
}

// waitOperation waits for operation id of name, printing the application's statuses to
// stderr, and a last line saying how it went.
func waitOperation(ctx context.Context, c *client.Client, cmd *cobra.Command, name, id, what string) error {
	start := time.Now()
	stderr := cmd.ErrOrStderr()
	err := c.WaitOperation(ctx, name, id, func(s string) {
		fmt.Fprintf(stderr, "%s: %s\n", name, s)
	})
	if err != nil {
		return err
	}
	d, derr := c.Describe(ctx, name)
	if derr != nil {
		return derr
	}
	fmt.Fprintf(stderr, "%s %s in %v: %s, version %d\n", name, what, time.Since(start).Round(10*time.Millisecond), d.ApplicationStatus, derefInt64(d.ApplicationVersionId))
	return nil
}

func derefInt64(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// printOperation prints an operation's ID, as --wait=false leaves it to the user.
func printOperation(w io.Writer, asJSON bool, id string) error {
	if asJSON {
		return json.NewEncoder(w).Encode(map[string]string{"OperationId": id})
	}
	_, err := fmt.Fprintln(w, id)
	return err
}

func appsCreateCommand(f *appsFlags) *cobra.Command {
	var (
		code        codeFlags
		settings    settingsFlags
		runtime     string
		description string
		start       bool
	)
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an application from a program built with app.Main",
		Long: `Create an application from a program built with app.Main: an executable (--bootstrap),
a ZIP holding it as 'bootstrap' (--zip), or such a ZIP in S3 (--s3). The application is READY;
'runnel apps start NAME' runs it (or give --start).`,
		Example: `  GOOS=linux go build -o bootstrap ./cmd/runnel-example
  runnel apps create iot --bootstrap ./bootstrap --property example.name=iot --property example.rate=500
  runnel apps create clicks --zip clicks.zip --parallelism 4 --checkpoint-interval 10s --start`,
		Args: cli.Args(1, 1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := code.code()
			if err != nil {
				return err
			}
			if c.Zip == nil && c.S3Bucket == "" {
				return cli.Usagef("no code: give --bootstrap, --zip or --s3")
			}
			s, err := settings.settings(nil)
			if err != nil {
				return err
			}
			cl, err := f.client(cmd.Context())
			if err != nil {
				return err
			}
			d, err := cl.Create(cmd.Context(), args[0], runtime, description, c, s)
			if err != nil {
				return err
			}
			if start {
				id, err := cl.Start(cmd.Context(), args[0], client.RestoreNone, false)
				if err != nil {
					return err
				}
				if err := waitOperation(cmd.Context(), cl, cmd, args[0], id, "started"); err != nil {
					return err
				}
				if d, err = cl.Describe(cmd.Context(), args[0]); err != nil {
					return err
				}
			}
			if f.json {
				return client.WriteJSON(cmd.OutOrStdout(), d)
			}
			return client.WriteApplication(cmd.OutOrStdout(), d)
		},
	}
	code.add(cmd)
	settings.add(cmd, false)
	cmd.Flags().StringVar(&runtime, "runtime", string(client.DefaultRuntime), "the Flink runtime the application is declared for")
	cmd.Flags().StringVar(&description, "description", "", "what the application does")
	cmd.Flags().BoolVar(&start, "start", false, "start the application once created, and wait until it runs")
	return cmd
}

func appsListCommand(f *appsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the applications",
		Args:  cli.Args(0, 0, ""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := f.client(cmd.Context())
			if err != nil {
				return err
			}
			apps, err := cl.List(cmd.Context())
			if err != nil {
				return err
			}
			if f.json {
				return client.WriteJSONList(cmd.OutOrStdout(), "ApplicationSummaries", apps)
			}
			return client.WriteApplications(cmd.OutOrStdout(), apps)
		},
	}
}

func appsDescribeCommand(f *appsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show an application: status, version, configuration, properties",
		Args:  cli.Args(1, 1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client(cmd.Context())
			if err != nil {
				return err
			}
			d, err := cl.Describe(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if f.json {
				return client.WriteJSON(cmd.OutOrStdout(), d)
			}
			return client.WriteApplication(cmd.OutOrStdout(), d)
		},
	}
}

func appsStartCommand(f *appsFlags) *cobra.Command {
	var (
		restore  string
		allowNRS bool
	)
	cmd := &cobra.Command{
		Use:   "start NAME",
		Short: "Start an application, from its latest snapshot by default",
		Example: `  runnel apps start iot
  runnel apps start iot --restore none
  runnel apps start iot --restore before-upgrade`,
		Args: cli.Args(1, 1, "NAME"),
	}
	wait := waitFlag(cmd, "the application runs")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		cl, err := f.client(cmd.Context())
		if err != nil {
			return err
		}
		id, err := cl.Start(cmd.Context(), args[0], restore, allowNRS)
		if err != nil {
			return err
		}
		if !*wait {
			return printOperation(cmd.OutOrStdout(), f.json, id)
		}
		return waitOperation(cmd.Context(), cl, cmd, args[0], id, "started")
	}
	cmd.Flags().StringVar(&restore, "restore", client.RestoreLatest, "the snapshot to start from: latest, none, or a snapshot's name")
	cmd.Flags().BoolVar(&allowNRS, "allow-non-restored-state", false, "start even if the snapshot holds state no operator of the job claims")
	return cmd
}

func appsStopCommand(f *appsFlags) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "stop NAME",
		Short: "Stop an application, with a snapshot when snapshots are on",
		Args:  cli.Args(1, 1, "NAME"),
	}
	wait := waitFlag(cmd, "the application has stopped")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		cl, err := f.client(cmd.Context())
		if err != nil {
			return err
		}
		id, err := cl.Stop(cmd.Context(), args[0], force)
		if err != nil {
			return err
		}
		if !*wait {
			return printOperation(cmd.OutOrStdout(), f.json, id)
		}
		return waitOperation(cmd.Context(), cl, cmd, args[0], id, "stopped")
	}
	cmd.Flags().BoolVar(&force, "force", false, "stop at once, without a snapshot")
	return cmd
}

func appsUpdateCommand(f *appsFlags) *cobra.Command {
	var (
		code     codeFlags
		settings settingsFlags
	)
	cmd := &cobra.Command{
		Use:   "update NAME",
		Short: "Change an application's code or configuration: a new version",
		Long: `Change an application's code or configuration, making a new version. A running
application takes a snapshot, stops, and starts from the snapshot on the new version; if the
new version does not reach RUNNING, the server brings back the previous one.`,
		Example: `  runnel apps update iot --parallelism 4
  runnel apps update iot --bootstrap ./bootstrap --property example.rate=1000`,
		Args: cli.Args(1, 1, "NAME"),
	}
	wait := waitFlag(cmd, "the update has ended")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := code.code()
		if err != nil {
			return err
		}
		cl, err := f.client(cmd.Context())
		if err != nil {
			return err
		}
		var current map[string]map[string]string
		if len(settings.properties) > 0 {
			d, err := cl.Describe(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			current = client.Properties(d)
		}
		s, err := settings.settings(current)
		if err != nil {
			return err
		}
		id, err := cl.Update(cmd.Context(), args[0], c, s)
		if err != nil {
			return err
		}
		if !*wait {
			return printOperation(cmd.OutOrStdout(), f.json, id)
		}
		return waitOperation(cmd.Context(), cl, cmd, args[0], id, "updated")
	}
	code.add(cmd)
	settings.add(cmd, true)
	return cmd
}

func appsDeleteCommand(f *appsFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete an application with its snapshots, versions, code and logs",
		Args:  cli.Args(1, 1, "NAME"),
	}
	wait := waitFlag(cmd, "the application is gone")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		cl, err := f.client(cmd.Context())
		if err != nil {
			return err
		}
		if err := cl.Delete(cmd.Context(), args[0]); err != nil {
			return err
		}
		if *wait {
			if err := cl.WaitDeleted(cmd.Context(), args[0]); err != nil {
				return err
			}
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "%s deleted\n", args[0])
		return nil
	}
	return cmd
}

func appsSnapshotCommand(f *appsFlags) *cobra.Command {
	var del bool
	cmd := &cobra.Command{
		Use:   "snapshot NAME [SNAPSHOT]",
		Short: "Take a snapshot of a running application (or --delete one)",
		Long: `Take a snapshot of a running application, called SNAPSHOT (default: NAME-<time>).
'runnel apps start NAME --restore SNAPSHOT' starts from it. With --delete, delete SNAPSHOT.`,
		Args: cli.Args(1, 2, "NAME [SNAPSHOT]"),
	}
	wait := waitFlag(cmd, "the snapshot is complete")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		name := args[0]
		snap := name + "-" + time.Now().UTC().Format("20060102-150405")
		if len(args) == 2 {
			snap = args[1]
		} else if del {
			return cli.Usagef("--delete needs the SNAPSHOT to delete")
		}
		cl, err := f.client(cmd.Context())
		if err != nil {
			return err
		}
		if del {
			if err := cl.DeleteSnapshot(cmd.Context(), name, snap); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "snapshot %s of %s deleted\n", snap, name)
			return nil
		}
		if err := cl.CreateSnapshot(cmd.Context(), name, snap); err != nil {
			return err
		}
		if !*wait {
			fmt.Fprintln(cmd.OutOrStdout(), snap)
			return nil
		}
		start := time.Now()
		d, err := cl.WaitSnapshot(cmd.Context(), name, snap)
		if err != nil {
			return err
		}
		if f.json {
			return client.WriteJSON(cmd.OutOrStdout(), d)
		}
		fmt.Fprintln(cmd.OutOrStdout(), snap)
		fmt.Fprintf(cmd.ErrOrStderr(), "snapshot %s of %s (version %d) taken in %v\n", snap, name, derefInt64(d.ApplicationVersionId), time.Since(start).Round(10*time.Millisecond))
		return nil
	}
	cmd.Flags().BoolVar(&del, "delete", false, "delete SNAPSHOT instead of taking one")
	return cmd
}

func appsSnapshotsCommand(f *appsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "snapshots NAME",
		Short: "List an application's snapshots",
		Args:  cli.Args(1, 1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client(cmd.Context())
			if err != nil {
				return err
			}
			snaps, err := cl.Snapshots(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if f.json {
				return client.WriteJSONList(cmd.OutOrStdout(), "SnapshotSummaries", snaps)
			}
			return client.WriteSnapshots(cmd.OutOrStdout(), snaps)
		},
	}
}

func appsVersionsCommand(f *appsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "versions NAME [VERSION]",
		Short: "List an application's versions, or show one",
		Args:  cli.Args(1, 2, "NAME [VERSION]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client(cmd.Context())
			if err != nil {
				return err
			}
			if len(args) == 2 {
				id, err := strconv.ParseInt(args[1], 10, 64)
				if err != nil || id < 1 {
					return cli.Usagef("VERSION %q: want a version number", args[1])
				}
				d, err := cl.Version(cmd.Context(), args[0], id)
				if err != nil {
					return err
				}
				if f.json {
					return client.WriteJSON(cmd.OutOrStdout(), d)
				}
				return client.WriteApplication(cmd.OutOrStdout(), d)
			}
			vs, err := cl.Versions(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if f.json {
				return client.WriteJSONList(cmd.OutOrStdout(), "ApplicationVersionSummaries", vs)
			}
			return client.WriteVersions(cmd.OutOrStdout(), vs)
		},
	}
}

func appsOperationsCommand(f *appsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "operations NAME [OPERATION_ID]",
		Short: "List an application's operations (starts, stops, updates, rollbacks), or show one",
		Args:  cli.Args(1, 2, "NAME [OPERATION_ID]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client(cmd.Context())
			if err != nil {
				return err
			}
			if len(args) == 2 {
				d, err := cl.Operation(cmd.Context(), args[0], args[1])
				if err != nil {
					return err
				}
				if f.json {
					return client.WriteJSON(cmd.OutOrStdout(), d)
				}
				return client.WriteOperation(cmd.OutOrStdout(), args[1], d)
			}
			ops, err := cl.Operations(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if f.json {
				return client.WriteJSONList(cmd.OutOrStdout(), "ApplicationOperationInfoList", ops)
			}
			return client.WriteOperations(cmd.OutOrStdout(), ops)
		},
	}
}

func appsRollbackCommand(f *appsFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollback NAME",
		Short: "Bring an application back to its previous version",
		Args:  cli.Args(1, 1, "NAME"),
	}
	wait := waitFlag(cmd, "the rollback has ended")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		cl, err := f.client(cmd.Context())
		if err != nil {
			return err
		}
		id, err := cl.Rollback(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		if !*wait {
			return printOperation(cmd.OutOrStdout(), f.json, id)
		}
		return waitOperation(cmd.Context(), cl, cmd, args[0], id, "rolled back")
	}
	return cmd
}

func appsLogsCommand(f *appsFlags) *cobra.Command {
	var o client.LogOptions
	cmd := &cobra.Command{
		Use:   "logs NAME",
		Short: "Print an application's log (--follow for new lines as they come)",
		Args:  cli.Args(1, 1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client(cmd.Context())
			if err != nil {
				return err
			}
			return cl.Logs(cmd.Context(), args[0], o, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "keep printing new lines until interrupted")
	cmd.Flags().StringVar(&o.Level, "level", "", "only lines of this level: debug, info, warn or error")
	cmd.Flags().IntVar(&o.Tail, "tail", 0, "only the last N lines written so far (0: all)")
	return cmd
}

func appsPackageCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "package BOOTSTRAP",
		Short: "Package an executable built with app.Main as an application's ZIP",
		Long: `Package an executable built with app.Main as the ZIP an application's code is: the
executable as 'bootstrap' at its root. 'runnel apps create --bootstrap' does this by itself;
the ZIP is for the AWS CLI, the SDKs, Terraform, or S3.`,
		Example: `  runnel apps package ./bootstrap -o iot.zip`,
		Args:    cli.Args(1, 1, "BOOTSTRAP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" {
				return cli.Usagef("give the ZIP to write with -o")
			}
			z, err := client.Package(args[0])
			if err != nil {
				return err
			}
			if err := os.WriteFile(output, z, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s packaged as bootstrap (%d bytes)\n", output, args[0], len(z))
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "the ZIP file to write")
	return cmd
}
