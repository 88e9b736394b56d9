package stream

import (
	"context"

	"github.com/runnel-io/runnel/internal/checkpoint"
	"github.com/runnel-io/runnel/internal/runtime"
)

// Config configures how a job runs: default parallelism, max parallelism (key groups), batch
// size, buffers, flush and watermark intervals, the clock, the logger and the metrics
// listener. The zero Config is valid; each field documents its default.
type Config = runtime.Config

// Checkpoints configures checkpoints, the snapshot a job starts from and its restarts
// (Config.Checkpoints).
type Checkpoints = runtime.Checkpoints

// Restore names the snapshot a job starts from (Checkpoints.Restore).
type Restore = runtime.Restore

// Handle takes savepoints of a running job (Checkpoints.Handle); make one with NewHandle.
type Handle = runtime.Handle

// RestoreFrom returns the Restore of the savepoint or checkpoint directory at location (a path
// or storage URL).
func RestoreFrom(ctx context.Context, location string) (*Restore, error) {
	return runtime.RestoreFrom(ctx, location)
}

// RestoreLatest returns the Restore of the latest snapshot of the lineage of the checkpoint
// location at location (a path or storage URL), or nil if it has none: the newest checkpoint
// or stop-with-savepoint of the run that last used the location, or the snapshot that run
// started from (see docs/CHECKPOINTS.md, "Lineage"). It is for looking; a job that resumes
// the lineage sets Checkpoints.RestoreLatest instead, which looks the snapshot up once the job
// holds the location's lease (runnel run --restore latest).
func RestoreLatest(ctx context.Context, location string) (*Restore, error) {
	st, err := checkpoint.Open(ctx, location)
	if err != nil {
		return nil, err
	}
	return runtime.RestoreLatest(ctx, st)
}

// NewHandle returns a Handle for Checkpoints.Handle.
func NewHandle() *Handle { return runtime.NewHandle() }

// Env builds one job. Sources are added to it, transformations derive streams from streams,
// and Execute runs the graph. An Env is not safe for concurrent use.
type Env struct {
	g   *runtime.Graph
	cfg Config
}

// New returns an Env for a job called name.
func New(name string, cfg Config) *Env {
	return &Env{g: &runtime.Graph{Name: name}, cfg: cfg}
}

// Execute runs the job until its bounded sources are exhausted and everything has drained,
// until ctx is cancelled, or until an operator fails. A failure of user code is returned as an
// *OperatorError naming the operator and the record. Execute may be called once.
func (e *Env) Execute(ctx context.Context) error {
	return runtime.Run(ctx, e.g, e.cfg)
}

// Plan returns the job graph as text, after resolving default parallelism.
func (e *Env) Plan() string {
	e.resolve()
	return e.g.Text()
}

// PlanJSON returns the job graph as JSON, for tools and the dashboard.
func (e *Env) PlanJSON() ([]byte, error) {
	e.resolve()
	return e.g.JSON()
}

// PlanDOT returns the job graph in Graphviz's language.
func (e *Env) PlanDOT() string {
	e.resolve()
	return e.g.DOT()
}

// Validate reports what would make Execute fail before it starts: a configuration that cannot
// work (Config.Validate: max parallelism out of range, a parallelism above it, negative
// checkpoint settings), a missing sink, a cycle, an impossible parallelism.
func (e *Env) Validate() error {
	if err := e.cfg.Validate(); err != nil {
		return err
	}
	e.resolve()
	return e.g.Validate(e.maxParallelism())
}

func (e *Env) resolve() {
	p := e.cfg.Parallelism
	if p <= 0 {
		p = defaultParallelism()
	}
	e.g.Resolve(p)
}

func (e *Env) maxParallelism() int {
	if e.cfg.MaxParallelism > 0 {
		return e.cfg.MaxParallelism
	}
	return 128
}

// OperatorError is a failure of user code: which operator, which subtask, which record.
type OperatorError = runtime.OperatorError
