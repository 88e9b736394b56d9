package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	goruntime "runtime"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/checkpoint/s3"
	"github.com/runnel-io/runnel/internal/cli"
	"github.com/runnel-io/runnel/internal/version"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/restart"
	"github.com/runnel-io/runnel/statebackend/pebble"
	"github.com/runnel-io/runnel/stream"
)

// Main runs the job that build adds to its Env, configured by the command line (the flags of
// `runnel run`, see Options.AddFlags), until its input ends, --duration passes, or SIGINT or
// SIGTERM stops it; then it exits the process: 0 on success or a requested stop, 1 when the job
// fails, 2 on bad flags. name is the job's name (in logs, snapshots and GET /v1/job) and the
// program's name in help and errors.
func Main(name string, build func(env *stream.Env) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, a second one kills the process at once.
	context.AfterFunc(ctx, stop)
	code := Run(ctx, name, os.Args[1:], build, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Run parses args as Main's flags, runs the job like Execute with text logs and a summary at
// the end to stderr, and returns the exit code Main would use. It follows the conventions of
// the runnel command (internal/cli): --help prints the flags and --version the version to
// stdout, returning 0; a bad flag or argument prints one line to stderr, naming it and the fix,
// and returns 2; a failed job's error is the last line of stderr. stdout is unused otherwise
// (Print sinks write to os.Stdout); it is there for programs that redirect their output.
func Run(ctx context.Context, name string, args []string, build func(env *stream.Env) error, stdout, stderr io.Writer) int {
	o := DefaultOptions()
	cmd := &cobra.Command{
		Use:     name + " [flags]",
		Short:   fmt.Sprintf("Runs the job %q.", name),
		Long:    fmt.Sprintf("Runs the job %q until its input ends, --duration passes, or Ctrl-C (SIGINT) or SIGTERM stops it.", name),
		Args:    cli.Args(0, 0, ""),
		Version: version.Get().String(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return cli.Invalid(err)
			}
			o.Logger = slog.New(slog.NewTextHandler(stderr, nil))
			o.Summary = stderr
			return Execute(cmd.Context(), name, build, o)
		},
	}
	o.AddFlags(cmd.Flags())
	cli.Setup(cmd)
	return cli.Execute(ctx, cmd, args, stdout, stderr)
}

// Execute builds the job with build and runs it as o says: it opens the checkpoint storage,
// picks the snapshot to start from, serves the REST API, logs progress, and waits for the job
// to end. It returns nil when the input ended, the job stopped with a savepoint, o.Duration
// passed or ctx was cancelled (a requested stop), the error of o.Validate for bad options,
// and otherwise why the job failed (after the restart strategy gave up).
//
// With o.S3Endpoint set, s3:// locations in o that name no endpoint get it (a "?endpoint="
// parameter), as do the targets of savepoint requests.
func Execute(ctx context.Context, name string, build func(env *stream.Env) error, o Options) (err error) {
	if err := o.Validate(); err != nil {
		return err
	}
	o = o.withS3Endpoint()
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("job", name)

	st := newStatus(name, log, o.ProgressInterval)
	cfg := stream.Config{
		Parallelism:     o.Parallelism,
		MaxParallelism:  o.MaxParallelism,
		Logger:          log,
		Metrics:         st,
		MetricsInterval: time.Second,
	}
	if o.ProgressInterval > 0 && o.ProgressInterval < time.Second {
		cfg.MetricsInterval = o.ProgressInterval
	}

	if o.StateBackend == "pebble" {
		dir := o.StateDir
		if dir == "" {
			tmp, err := os.MkdirTemp("", "runnel-state-")
			if err != nil {
				return fmt.Errorf("app: state directory: %w", err)
			}
			defer os.RemoveAll(tmp)
			dir = tmp
		}
		cfg.StateBackend = pebble.Factory(dir, 0)
		log.Info("keyed state on disk", "backend", "pebble", "dir", dir)
	}

	ck := &cfg.Checkpoints
	ck.Schemes = Schemes()
	if o.CheckpointDir != "" {
		ck.Storage, err = ck.Schemes.Open(ctx, o.CheckpointDir)
		if err != nil {
			return fmt.Errorf("app: checkpoint storage %s: %w", o.CheckpointDir, err)
		}
		ck.Interval, ck.MinPause, ck.Timeout = o.CheckpointInterval, o.MinPause, o.CheckpointTimeout
		ck.TolerableFailures = o.TolerableFailures
		ck.Retain = o.Retain
		log.Info("checkpoints", "dir", o.CheckpointDir, "interval", o.CheckpointInterval, "retain", o.Retain)
	}
	spec := o.restartSpec()
	if ck.Restart, err = restart.Parse(spec); err != nil {
		return fmt.Errorf("app: --restart-strategy: %w", err)
	}
	if spec != "none" {
		log.Info("restart strategy", "strategy", ck.Restart.String())
	}
	ck.RestoreFrom = o.FromSavepoint
	if o.Restore == "latest" {
		ck.RestoreLatest = true
	} else if o.Restore != "" {
		ck.RestoreFrom = o.Restore
	}
	ck.AllowNonRestoredState = o.AllowNonRestoredState
	ck.OnStart = func(from *stream.Snapshot) {
		if from == nil {
			st.setRestored("")
			return
		}
		st.setRestored(from.Location)
		log.Info("restoring", "snapshot", from.Location, "id", from.ID, "savepoint", from.Savepoint, "taken", from.Timestamp)
	}

	if o.RESTAddress != "" {
		ck.Savepoints = stream.NewSavepoints()
	}
	env := stream.New(name, cfg)
	if err := build(env); err != nil {
		return fmt.Errorf("app: building job %s: %w", name, err)
	}
	if err := env.Validate(); err != nil {
		return fmt.Errorf("app: job %s: %w", name, err)
	}
	if st.plan, err = planOf(env); err != nil {
		return err
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.Duration > 0 {
		var stop context.CancelFunc
		runCtx, stop = context.WithTimeoutCause(runCtx, o.Duration, errDuration)
		defer stop()
	}
	p := o.Parallelism
	if p == 0 {
		p = goruntime.GOMAXPROCS(0)
	}
	// RUNNING from here: a savepoint request waits until the job takes it.
	st.set(StatusRunning, nil)
	if o.RESTAddress != "" {
		ended, end := context.WithCancelCause(context.Background())
		srv := &server{st: st, savepoints: ck.Savepoints, savepointDir: o.SavepointDir, s3Endpoint: o.S3Endpoint, ended: ended}
		addr, shutdown, err := srv.serve(ctx, o.RESTAddress)
		if err != nil {
			end(errJobEnded)
			return err
		}
		defer func() {
			end(errJobEnded) // answers the savepoint requests still waiting
			shutdown()
		}()
		log.Info("REST API listening", "address", "http://"+addr)
		if o.Ready != nil {
			o.Ready(addr)
		}
	}
	log.Info("job starting", "parallelism", p, "state_backend", o.StateBackend)
	start := time.Now()
	err = env.Execute(runCtx)
	switch {
	case err == nil:
		st.set(StatusFinished, nil)
		log.Info("job finished", "elapsed", time.Since(start).Round(time.Millisecond))
		if o.Summary != nil {
			st.totals().print(o.Summary, name, "finished", time.Since(start))
		}
		return nil
	case runCtx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errDuration)):
		why := "stopped"
		if errors.Is(context.Cause(runCtx), errDuration) {
			why = "stopped after --duration"
		}
		if c := st.checkpoints(); o.CheckpointDir != "" && c != nil && c.Completed == 0 && c.Failed > 0 {
			// Asked for checkpoints, got none: the job did not do what it was asked.
			err := fmt.Errorf("app: the job %s, but none of its %d snapshots completed; the last failed: %s", why, c.Failed, c.LastFailure)
			st.set(StatusFailed, err)
			return err
		}
		st.set(StatusCanceled, nil)
		log.Info("job "+why, "elapsed", time.Since(start).Round(time.Millisecond))
		if o.Summary != nil {
			st.totals().print(o.Summary, name, why, time.Since(start))
		}
		return nil
	}
	st.set(StatusFailed, err)
	return err
}

// errDuration is the cause of the stop after Options.Duration.
var errDuration = errors.New("app: --duration passed")

// Schemes returns the storages that checkpoint, savepoint and restore locations can name
// besides local paths: s3:// (package checkpoint/s3).
func Schemes() checkpoint.Schemes { return checkpoint.Schemes{"s3": s3.Scheme()} }

// planOf returns env's sources and sinks, in the order of its graph.
func planOf(env *stream.Env) (plan, error) {
	b, err := env.PlanJSON()
	if err != nil {
		return plan{}, fmt.Errorf("app: job graph: %w", err)
	}
	var g struct {
		Nodes []struct {
			ID   int
			Name string
			Kind string
		}
	}
	if err := json.Unmarshal(b, &g); err != nil {
		return plan{}, fmt.Errorf("app: job graph: %w", err)
	}
	var p plan
	for _, n := range g.Nodes {
		switch n.Kind {
		case "source":
			p.sources = append(p.sources, planNode{n.ID, n.Name})
		case "sink":
			p.sinks = append(p.sinks, planNode{n.ID, n.Name})
		}
	}
	return p, nil
}

// withS3Endpoint returns o with o.S3Endpoint added to its s3:// locations that name none.
func (o Options) withS3Endpoint() Options {
	o.CheckpointDir = withEndpoint(o.CheckpointDir, o.S3Endpoint)
	o.SavepointDir = withEndpoint(o.SavepointDir, o.S3Endpoint)
	o.FromSavepoint = withEndpoint(o.FromSavepoint, o.S3Endpoint)
	if o.Restore != "latest" {
		o.Restore = withEndpoint(o.Restore, o.S3Endpoint)
	}
	return o
}

// withEndpoint returns loc with the query parameter endpoint=endpoint if loc is an s3:// URL
// without an endpoint parameter and endpoint is not empty; otherwise loc.
func withEndpoint(loc, endpoint string) string {
	if endpoint == "" || !strings.HasPrefix(loc, "s3://") {
		return loc
	}
	_, query, hasQuery := strings.Cut(loc, "?")
	if q, err := url.ParseQuery(query); err == nil && q.Has("endpoint") {
		return loc
	}
	sep := "?"
	if hasQuery {
		sep = "&"
	}
	return loc + sep + "endpoint=" + url.QueryEscape(endpoint)
}

var _ metrics.Listener = (*status)(nil)
