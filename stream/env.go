package stream

import (
	"context"
	"errors"

	"github.com/runnel-io/runnel/internal/runtime"
)

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
	rc, err := e.cfg.runtime()
	if err != nil {
		return err
	}
	err = runtime.Run(ctx, e.g, rc)
	if oe := (*runtime.OperatorError)(nil); errors.As(err, &oe) {
		return execError{err}
	}
	return err
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
// Execute's error gives it to errors.As.
type OperatorError struct {
	// Operator is the operator's name and Subtask the failed subtask's index.
	Operator string
	Subtask  int
	// Record is the record (or timer) being processed, formatted and truncated; empty if none.
	Record string
	// Err is what user code returned or panicked with.
	Err error
}

func (e *OperatorError) Error() string {
	return (&runtime.OperatorError{Operator: e.Operator, Subtask: e.Subtask, Record: e.Record, Err: e.Err}).Error()
}

func (e *OperatorError) Unwrap() error { return e.Err }

// execError is an error of Execute: the runtime's, which errors.As also finds as an
// *OperatorError.
type execError struct{ err error }

func (e execError) Error() string { return e.err.Error() }
func (e execError) Unwrap() error { return e.err }

// As sets an **OperatorError target from the runtime's operator error, if there is one.
func (e execError) As(target any) bool {
	t, ok := target.(**OperatorError)
	if !ok {
		return false
	}
	var oe *runtime.OperatorError
	if !errors.As(e.err, &oe) {
		return false
	}
	*t = &OperatorError{Operator: oe.Operator, Subtask: oe.Subtask, Record: oe.Record, Err: oe.Err}
	return true
}
