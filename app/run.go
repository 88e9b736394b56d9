package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	goruntime "runtime"
	"syscall"
	"time"

	"github.com/runnel-io/runnel/checkpoint/s3"
	"github.com/runnel-io/runnel/statebackend/pebble"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/restart"
	"github.com/runnel-io/runnel/stream"
)

// Main runs the job that build adds to its Env, configured by the command line (the flags of
// `runnel run`, see Options.AddFlags), until its input ends, --duration passes, or SIGINT or
// SIGTERM stops it; then it exits the process: 0 on success or a requested stop, 1 when the job
// fails, 2 on bad flags. name is the job's name (in logs, snapshots and GET /v1/job).
func Main(name string, build func(env *stream.Env) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, a second one kills the process at once.
	context.AfterFunc(ctx, stop)
	code := Run(ctx, name, os.Args[1:], build, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Run parses args as Main's flags, runs the job like Execute with text logs to stderr, and
// returns the exit code Main would use. --help prints the flags to stderr and returns 0. stdout
// is unused by Run itself (Print sinks write to os.Stdout); it is there for programs that
// redirect their output.
func Run(ctx context.Context, name string, args []string, build func(env *stream.Env) error, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s [flags]\n\nRuns the job %q.\n\n", name, name)
		fs.PrintDefaults()
	}
	o := DefaultOptions()
	o.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments %v\n", name, fs.Args())
		return 2
	}
	if err := o.Validate(); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 2
	}
	o.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	if err := Execute(ctx, name, build, o); err != nil {
		o.Logger.Error("job failed", "job", name, "err", err)
		return 1
	}
	return 0
}

// Execute builds the job with build and runs it as o says: it opens the checkpoint storage,
// picks the snapshot to start from, serves the REST API, logs progress, and waits for the job
// to end. It returns nil when the input ended, the job stopped with a savepoint, o.Duration
// passed or ctx was cancelled (a requested stop), the error of o.Validate for bad options,
// and otherwise why the job failed (after the restart strategy gave up).
func Execute(ctx context.Context, name string, build func(env *stream.Env) error, o Options) (err error) {
	if err := o.Validate(); err != nil {
		return err
	}
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
	if st.sources, err = sourceIDs(env); err != nil {
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
		srv := &server{st: st, savepoints: ck.Savepoints, savepointDir: o.SavepointDir, ended: ended}
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

// sourceIDs returns the node IDs of env's sources.
func sourceIDs(env *stream.Env) (map[int]bool, error) {
	b, err := env.PlanJSON()
	if err != nil {
		return nil, fmt.Errorf("app: job graph: %w", err)
	}
	var plan struct {
		Nodes []struct {
			ID   int
			Kind string
		}
	}
	if err := json.Unmarshal(b, &plan); err != nil {
		return nil, fmt.Errorf("app: job graph: %w", err)
	}
	ids := map[int]bool{}
	for _, n := range plan.Nodes {
		if n.Kind == "source" {
			ids[n.ID] = true
		}
	}
	return ids, nil
}

var _ metrics.Listener = (*status)(nil)
