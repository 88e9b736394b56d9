package app

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"time"

	"github.com/spf13/pflag"

	"github.com/runnel-io/runnel/restart"
)

// Default values of Options, as DefaultOptions sets them and --help shows them.
const (
	// DefaultCheckpointInterval is the time between checkpoints when a checkpoint directory is
	// set.
	DefaultCheckpointInterval = 10 * time.Second
	// DefaultCheckpointTimeout is how long a checkpoint may take before it is aborted.
	DefaultCheckpointTimeout = 10 * time.Minute
	// DefaultRetain is the number of completed checkpoints kept.
	DefaultRetain = 3
	// DefaultRESTAddress is where the REST API listens.
	DefaultRESTAddress = "127.0.0.1:8081"
	// DefaultRestartWithCheckpoints is the restart strategy of a job that takes checkpoints
	// and sets none; without checkpoints the default is "none".
	DefaultRestartWithCheckpoints = "fixed-delay:attempts=3,delay=1s"
	// DefaultProgressInterval is the time between two progress log lines.
	DefaultProgressInterval = 5 * time.Second
)

// Options configure how Execute runs a job. Every field but those at the end (S3Endpoint and the
// hooks) has a flag of the same meaning (see AddFlags); the zero Options is not the defaults:
// start from DefaultOptions.
type Options struct {
	// Parallelism is the default parallelism of operators; 0 means the number of CPUs.
	Parallelism int
	// MaxParallelism is the number of key groups, the most subtasks keyed state can be split
	// over; 0 means 128. It cannot change across a restore of keyed state.
	MaxParallelism int

	// CheckpointDir is where checkpoints go: a local path, file:// URL or s3://bucket/prefix.
	// Empty takes no checkpoints.
	CheckpointDir string
	// CheckpointInterval is the time between two checkpoints (default 10s); 0 disables periodic
	// checkpoints (savepoints still work). Used only with CheckpointDir.
	CheckpointInterval time.Duration
	// CheckpointTimeout aborts a checkpoint that takes longer; default 10 minutes.
	CheckpointTimeout time.Duration
	// MinPause is the least time between the end of one checkpoint and the start of the next;
	// default 0.
	MinPause time.Duration
	// TolerableFailures is the number of consecutive failed checkpoints tolerated before the
	// job fails (and restarts); default 0, as in Flink.
	TolerableFailures int
	// Retain is the number of completed checkpoints kept; default 3.
	Retain int

	// StateBackend is "memory" (the default) or "pebble" (keyed state on disk).
	StateBackend string
	// StateDir is the pebble backend's scratch directory; empty means a temporary directory
	// removed when the job ends. Checkpoints, not this directory, are what survives a crash.
	StateDir string

	// SavepointDir is where savepoints go when a request names no directory; empty means a
	// request must name one.
	SavepointDir string
	// FromSavepoint is a savepoint (or checkpoint) directory to start from.
	FromSavepoint string
	// Restore is "latest" (the latest snapshot of CheckpointDir's lineage: the newest
	// checkpoint or stop-with-savepoint of the run that last used it; fresh if there is none)
	// or a snapshot directory, like FromSavepoint. Empty starts fresh.
	Restore string
	// AllowNonRestoredState lets the job start from a snapshot holding state of operators it
	// no longer has (by UID), dropping that state.
	AllowNonRestoredState bool
	// RestartStrategy is a spec restart.Parse reads, such as "fixed-delay:attempts=3,delay=10s",
	// "exponential:initial=1s,max=1m" or "none". Empty means DefaultRestartWithCheckpoints with
	// a CheckpointDir, else "none".
	RestartStrategy string

	// Duration stops the job after this long; 0 runs until the input ends or ctx is cancelled.
	Duration time.Duration
	// RESTAddress is the host:port of the REST API (port 0 picks a free one); empty disables
	// it. Default 127.0.0.1:8081.
	RESTAddress string
	// ProgressInterval is the time between progress log lines; default 5s, 0 or less disables
	// them.
	ProgressInterval time.Duration

	// S3Endpoint, if set, is the endpoint (an http:// or https:// URL of an S3-compatible
	// store) of the s3:// locations that name none with "?endpoint=": CheckpointDir,
	// SavepointDir, FromSavepoint, Restore and the targets of savepoint requests. Empty leaves
	// them to the AWS configuration (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, ~/.aws). It has no
	// flag here: `runnel run` sets it from its --s3-endpoint, which the examples' connectors
	// use too.
	S3Endpoint string

	// Logger receives the job's logs; nil discards them. Main and Run log text to stderr.
	Logger *slog.Logger
	// Summary, if set, receives a few lines when the job finishes or is stopped (not when it
	// fails): the records its sources read and its sinks wrote, those dropped as late
	// (metrics.LateRecordsDropped) and dead-lettered (metrics.DeadLettered), from its last
	// metrics snapshot. Main and Run print it to stderr.
	Summary io.Writer
	// Ready, if set, is called with the REST API's address (host:port, the port resolved) once
	// it listens, before the job starts. It is not called when the API is disabled.
	Ready func(addr string)
}

// DefaultOptions returns the defaults: what the flags say when none is given.
func DefaultOptions() Options {
	return Options{
		CheckpointInterval: DefaultCheckpointInterval,
		CheckpointTimeout:  DefaultCheckpointTimeout,
		Retain:             DefaultRetain,
		StateBackend:       "memory",
		RESTAddress:        DefaultRESTAddress,
		ProgressInterval:   DefaultProgressInterval,
	}
}

// AddFlags defines the flags of every job on fs, bound to o's fields; o's current values are the
// flags' defaults. o must outlive the parsing of fs. The flags are POSIX style (--name value or
// --name=value), as pflag and `runnel run` read them; a program with flags of the standard flag
// package adds them to the same set with fs.AddGoFlagSet.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.IntVar(&o.Parallelism, "parallelism", o.Parallelism, "parallel subtasks per operator (0: number of CPUs)")
	fs.IntVar(&o.MaxParallelism, "max-parallelism", o.MaxParallelism, "key groups: the most subtasks keyed state can be split over; fixed for the life of the state (0: 128)")
	fs.StringVar(&o.CheckpointDir, "checkpoint-dir", o.CheckpointDir, "take checkpoints into this `location`: a path, file:// URL or s3://bucket/prefix (empty: no checkpoints)")
	fs.DurationVar(&o.CheckpointInterval, "checkpoint-interval", o.CheckpointInterval, "time between checkpoints, with --checkpoint-dir (0: only savepoints)")
	fs.DurationVar(&o.CheckpointTimeout, "checkpoint-timeout", o.CheckpointTimeout, "abort a checkpoint that takes longer")
	fs.DurationVar(&o.MinPause, "min-pause", o.MinPause, "least time between the end of a checkpoint and the start of the next")
	fs.IntVar(&o.TolerableFailures, "tolerable-failures", o.TolerableFailures, "consecutive failed checkpoints tolerated before the job fails and restarts")
	fs.IntVar(&o.Retain, "retain", o.Retain, "completed checkpoints to keep")
	fs.StringVar(&o.StateBackend, "state-backend", o.StateBackend, "where keyed state lives: memory or pebble (on disk)")
	fs.StringVar(&o.StateDir, "state-dir", o.StateDir, "scratch `directory` of the pebble backend (empty: a temporary directory, removed at the end)")
	fs.StringVar(&o.SavepointDir, "savepoint-dir", o.SavepointDir, "default `location` of savepoints requested without one (runnel savepoint)")
	fs.StringVar(&o.FromSavepoint, "from-savepoint", o.FromSavepoint, "start from the savepoint or checkpoint in this `directory`")
	fs.StringVar(&o.Restore, "restore", o.Restore, "start from `latest` (the newest checkpoint or stop-with-savepoint of the last run on --checkpoint-dir, or fresh if none) or from a snapshot directory")
	fs.BoolVar(&o.AllowNonRestoredState, "allow-non-restored-state", o.AllowNonRestoredState, "start even if the snapshot holds state of operators the job no longer has (that state is dropped)")
	fs.StringVar(&o.RestartStrategy, "restart-strategy", o.RestartStrategy, "restart after failures: none, fixed-delay:attempts=N,delay=D, exponential:initial=D,max=D, failure-rate:max=N,interval=D,delay=D (empty: "+DefaultRestartWithCheckpoints+" with --checkpoint-dir, else none)")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "stop after this long (0: when the input ends, or at Ctrl-C)")
	fs.StringVar(&o.RESTAddress, "rest-address", o.RESTAddress, "`host:port` of the REST API for savepoints and job status (port 0: any free port; empty: no API)")
	fs.DurationVar(&o.ProgressInterval, "progress-interval", o.ProgressInterval, "time between progress log lines (0: none)")
}

// Validate reports options that cannot work, naming the flag. It returns nil or an error
// joining every problem found.
func (o Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if o.Parallelism < 0 {
		bad("--parallelism %d is negative", o.Parallelism)
	}
	if o.MaxParallelism < 0 || o.MaxParallelism > 1<<15 {
		bad("--max-parallelism %d is out of range [1, 32768]", o.MaxParallelism)
	}
	if o.Parallelism > 0 && o.MaxParallelism > 0 && o.Parallelism > o.MaxParallelism {
		bad("--parallelism %d exceeds --max-parallelism %d", o.Parallelism, o.MaxParallelism)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"checkpoint-interval", o.CheckpointInterval}, {"checkpoint-timeout", o.CheckpointTimeout}, {"min-pause", o.MinPause}, {"duration", o.Duration}} {
		if d.v < 0 {
			bad("--%s %v is negative", d.name, d.v)
		}
	}
	if o.TolerableFailures < 0 {
		bad("--tolerable-failures %d is negative", o.TolerableFailures)
	}
	if o.Retain < 1 {
		bad("--retain %d: keep at least 1 checkpoint", o.Retain)
	}
	switch o.StateBackend {
	case "memory", "":
		if o.StateDir != "" {
			bad("--state-dir is for --state-backend pebble")
		}
	case "pebble":
	default:
		bad("--state-backend %q: want memory or pebble", o.StateBackend)
	}
	if o.FromSavepoint != "" && o.Restore != "" {
		bad("--from-savepoint and --restore both name a snapshot to start from; give one")
	}
	if o.Restore == "latest" && o.CheckpointDir == "" {
		bad("--restore latest needs --checkpoint-dir: the checkpoints to restore the newest of")
	}
	if o.RestartStrategy != "" {
		if _, err := restart.Parse(o.RestartStrategy); err != nil {
			bad("--restart-strategy: %v", err)
		}
	}
	if o.S3Endpoint != "" {
		if u, err := url.Parse(o.S3Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("--s3-endpoint %q: want an http:// or https:// URL", o.S3Endpoint)
		}
	}
	if o.RESTAddress != "" {
		if _, _, err := net.SplitHostPort(o.RESTAddress); err != nil {
			bad("--rest-address %q: want host:port: %v", o.RESTAddress, err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("app: invalid options: %w", errors.Join(errs...))
}

// restartSpec is the restart strategy spec in effect.
func (o Options) restartSpec() string {
	switch {
	case o.RestartStrategy != "":
		return o.RestartStrategy
	case o.CheckpointDir != "":
		return DefaultRestartWithCheckpoints
	}
	return "none"
}
