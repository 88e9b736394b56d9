package app

import (
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/runnel-io/runnel/metrics"
)

// Job statuses, as GET /v1/job reports them (Flink's names).
const (
	StatusCreated  = "CREATED"  // building the job, restoring, opening storage
	StatusRunning  = "RUNNING"  // Execute is running the job (restarts included)
	StatusFinished = "FINISHED" // the input ended, or the job stopped with a savepoint
	StatusCanceled = "CANCELED" // stopped by its context or --duration
	StatusFailed   = "FAILED"   // failed, and the restart strategy gave up
)

// status is what the job is doing, shared by the metrics listener (writer), the REST handlers and
// Execute. It is safe for concurrent use.
type status struct {
	name    string
	plan    plan // the job's sources and sinks; set before the job runs
	log     *slog.Logger
	every   time.Duration // between progress lines; <= 0: none
	started time.Time

	mu struct {
		sync.Mutex
		status   string
		err      string
		restored string // the snapshot directory the job started from, if any
		totals   totals // of the latest snapshot
		ckpt     *metrics.Checkpoints
		snap     *metrics.Snapshot // the latest metrics snapshot, for GET /v1/metrics
		// progress line bookkeeping: the last line's time and record count
		lastAt      time.Time
		lastRecords int64
	}
}

func newStatus(name string, log *slog.Logger, every time.Duration) *status {
	s := &status{name: name, log: log, every: every, started: time.Now()}
	s.mu.status = StatusCreated
	s.mu.lastAt = s.started
	return s
}

func (s *status) set(st string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.status = st
	if err != nil {
		s.mu.err = err.Error()
	}
}

func (s *status) setRestored(dir string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.restored = dir
}

// checkpoints returns the job's latest checkpoint figures, nil if it has none.
func (s *status) checkpoints() *metrics.Checkpoints {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.ckpt
}

// Report is the job's metrics listener: it keeps the figures for GET /v1/job and logs a progress
// line every s.every.
func (s *status) Report(snap metrics.Snapshot) {
	t := totalsOf(s.plan, snap)
	n := t.read
	var lag map[string]int64 // the sources' gauges (their lag), the largest over subtasks
	for _, o := range snap.Operators {
		if !slices.ContainsFunc(s.plan.sources, func(p planNode) bool { return p.id == o.ID }) {
			continue
		}
		for name, v := range o.Gauges {
			if lag == nil {
				lag = map[string]int64{}
			}
			lag[name] = max(lag[name], v)
		}
	}
	s.mu.Lock()
	s.mu.totals = t
	s.mu.snap = cloneSnapshot(snap)
	if snap.Checkpoints != nil {
		c := *snap.Checkpoints
		s.mu.ckpt = &c
	}
	due := s.every > 0 && snap.Time.Sub(s.mu.lastAt) >= s.every
	var rate float64
	if due {
		rate = float64(n-s.mu.lastRecords) / snap.Time.Sub(s.mu.lastAt).Seconds()
		s.mu.lastAt, s.mu.lastRecords = snap.Time, n
	}
	ck := s.mu.ckpt
	s.mu.Unlock()
	if !due {
		return
	}
	attrs := []any{"records", n, "records_per_s", int64(rate)}
	for _, name := range slices.Sorted(maps.Keys(lag)) {
		attrs = append(attrs, name, lag[name])
	}
	if ck != nil {
		attrs = append(attrs, "checkpoints", ck.Completed, "failed", ck.Failed, "restarts", ck.Restarts)
		if ck.LastID > 0 {
			attrs = append(attrs, "last_checkpoint", ck.LastID, "last_duration", ck.LastDuration.Round(time.Millisecond),
				"last_size_bytes", ck.LastSize, "last_alignment", ck.LastAlignment.Round(time.Millisecond))
		}
	}
	s.log.Info("progress", attrs...)
}

// JobInfo is the body of GET /v1/job.
type JobInfo struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	// Error is why the job failed, when Status is FAILED.
	Error     string    `json:"error,omitempty"`
	StartTime time.Time `json:"startTime"`
	// Records is the number of records the sources read.
	Records int64 `json:"records"`
	// RestoredFrom is the snapshot directory the job started from, if any.
	RestoredFrom string `json:"restoredFrom,omitempty"`
	// Checkpoints are the checkpoint figures; nil when the job takes no snapshots.
	Checkpoints *CheckpointInfo `json:"checkpoints,omitempty"`
}

// CheckpointInfo is the checkpoint part of JobInfo (metrics.Checkpoints with JSON names;
// durations in milliseconds).
type CheckpointInfo struct {
	Completed       int64 `json:"completed"`
	Failed          int64 `json:"failed"`
	Restarts        int   `json:"restarts"`
	LastID          int64 `json:"lastId"`
	LastDurationMs  int64 `json:"lastDurationMs"`
	LastSizeBytes   int64 `json:"lastSizeBytes"`
	LastAlignmentMs int64 `json:"lastAlignmentMs"`
	Restored        int64 `json:"restored"`
}

func (s *status) info() JobInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := JobInfo{Name: s.name, Status: s.mu.status, Error: s.mu.err, StartTime: s.started,
		Records: s.mu.totals.read, RestoredFrom: s.mu.restored}
	if c := s.mu.ckpt; c != nil {
		in.Checkpoints = &CheckpointInfo{Completed: c.Completed, Failed: c.Failed, Restarts: c.Restarts,
			LastID: c.LastID, LastDurationMs: c.LastDuration.Milliseconds(), LastSizeBytes: c.LastSize,
			LastAlignmentMs: c.LastAlignment.Milliseconds(), Restored: c.Restored}
	}
	return in
}

// totals returns the figures of the latest metrics snapshot.
func (s *status) totals() totals {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.totals
}

func (s *status) current() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.status
}
