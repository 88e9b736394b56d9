package app

import (
	"maps"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"time"

	"github.com/runnel-io/runnel/metrics"
)

// GET /v1/metrics: the job's latest metrics snapshot, for the managed service's metrics and
// autoscaler and for the dashboard. Durations in milliseconds, watermarks in epoch
// milliseconds, counters since the job started.

// MetricsInfo is the body of GET /v1/metrics.
type MetricsInfo struct {
	// Time is when the snapshot was taken.
	Time time.Time `json:"time"`
	// Operators has one entry per operator subtask.
	Operators []OperatorMetrics `json:"operators"`
	// Tasks has one entry per task (a chain of operators in one goroutine).
	Tasks []TaskMetrics `json:"tasks"`
	// Checkpoints are the checkpoint figures; nil without checkpoints.
	Checkpoints *CheckpointInfo `json:"checkpoints,omitempty"`
	// Process describes the process.
	Process ProcessMetrics `json:"process"`
}

// OperatorMetrics are one operator subtask's figures.
type OperatorMetrics struct {
	Operator        string           `json:"operator"`
	ID              int              `json:"id"`
	Subtask         int              `json:"subtask"`
	RecordsIn       int64            `json:"recordsIn"`
	RecordsOut      int64            `json:"recordsOut"`
	InputWatermark  int64            `json:"inputWatermark"`
	OutputWatermark int64            `json:"outputWatermark"`
	Counters        map[string]int64 `json:"counters,omitempty"`
	Gauges          map[string]int64 `json:"gauges,omitempty"`
}

// TaskMetrics are one task's times since the job started.
type TaskMetrics struct {
	Name            string `json:"name"`
	Subtask         int    `json:"subtask"`
	BackpressuredMs int64  `json:"backpressuredMs"`
	IdleMs          int64  `json:"idleMs"`
}

// ProcessMetrics describe the process running the job.
type ProcessMetrics struct {
	PID int `json:"pid"`
	// HeapBytes is the Go heap in use; HeapLimitBytes the soft memory limit (GOMEMLIMIT),
	// 0 without one.
	HeapBytes      uint64 `json:"heapBytes"`
	HeapLimitBytes int64  `json:"heapLimitBytes"`
	Goroutines     int    `json:"goroutines"`
}

func cloneSnapshot(s metrics.Snapshot) *metrics.Snapshot {
	c := s
	c.Operators = slices.Clone(s.Operators)
	for i := range c.Operators {
		c.Operators[i].Counters = maps.Clone(c.Operators[i].Counters)
		c.Operators[i].Gauges = maps.Clone(c.Operators[i].Gauges)
	}
	c.Tasks = slices.Clone(s.Tasks)
	if s.Checkpoints != nil {
		ck := *s.Checkpoints
		c.Checkpoints = &ck
	}
	return &c
}

func (s *server) metrics(w http.ResponseWriter, _ *http.Request) {
	s.st.mu.Lock()
	snap := s.st.mu.snap
	s.st.mu.Unlock()
	out := MetricsInfo{Operators: []OperatorMetrics{}, Tasks: []TaskMetrics{}}
	if snap != nil {
		out.Time = snap.Time
		for _, o := range snap.Operators {
			out.Operators = append(out.Operators, OperatorMetrics{Operator: o.Operator, ID: o.ID, Subtask: o.Subtask,
				RecordsIn: o.RecordsIn, RecordsOut: o.RecordsOut, InputWatermark: o.InputWatermark, OutputWatermark: o.OutputWatermark,
				Counters: o.Counters, Gauges: o.Gauges})
		}
		for _, t := range snap.Tasks {
			out.Tasks = append(out.Tasks, TaskMetrics{Name: t.Name, Subtask: t.Subtask,
				BackpressuredMs: t.Backpressured.Milliseconds(), IdleMs: t.Idle.Milliseconds()})
		}
	}
	out.Checkpoints = s.st.info().Checkpoints
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out.Process = ProcessMetrics{PID: os.Getpid(), HeapBytes: ms.HeapAlloc, Goroutines: runtime.NumGoroutine()}
	if limit := debugMemoryLimit(); limit < 1<<62 {
		out.Process.HeapLimitBytes = limit
	}
	writeJSON(w, http.StatusOK, out)
}

// debugMemoryLimit returns the soft memory limit without changing it.
func debugMemoryLimit() int64 { return debug.SetMemoryLimit(-1) }
