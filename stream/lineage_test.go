package stream_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/checkpoint/checkpointtest"
	"github.com/runnel-io/runnel/internal/snapshot"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/stream"
)

// The lineage of a checkpoint location (docs/CHECKPOINTS.md, "Lineage"): a run on a location
// that holds another run's checkpoints keeps its own, "restore latest" resumes the run that
// last used the location, from a stop-with-savepoint as well as a checkpoint, and the
// location's lease keeps a second job off it.

// untilCheckpoint returns a metrics listener that calls stop once the run completed a
// checkpoint of its own (above the snapshot it restored), and the config's interval for it.
func untilCheckpoint(cfg *stream.Config, stop func()) {
	var once atomic.Bool
	cfg.MetricsInterval = time.Millisecond
	cfg.Metrics = metrics.ListenerFunc(func(s metrics.Snapshot) {
		if c := s.Checkpoints; c != nil && c.LastID > c.Restored && c.Completed > 0 && once.CompareAndSwap(false, true) {
			stop()
		}
	})
}

// checkpointIDs returns the IDs of the complete checkpoints in dir.
func checkpointIDs(t *testing.T, dir string) []int64 {
	t.Helper()
	st, err := checkpoint.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	infos, err := snapshot.List(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, i := range infos {
		if i.Complete && !i.Savepoint {
			ids = append(ids, i.ID)
		}
	}
	return ids
}

// TestNewRunOnAnOldLocation is defect A: a run started fresh on a location that holds a
// finished run's checkpoints (with higher IDs than a new run's would have been) restarts from
// its own checkpoints after task failures, keeps them against retention, and a later
// --restore latest resumes it, not the finished run.
func TestNewRunOnAnOldLocation(t *testing.T) {
	j := keyedJob{n: 30000, splits: 4, parallelism: 2}
	want := t.TempDir()
	if err := j.build(t, want, stream.Config{}).Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantLines := committedLines(t, want)
	ckpt := t.TempDir()

	// The first run on the location, to the end: many checkpoints.
	j.paced = true
	if err := j.build(t, t.TempDir(), checkpointConfig(t, ckpt, time.Millisecond)).Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := checkpointIDs(t, ckpt)
	if len(first) == 0 {
		t.Fatal("the first run left no checkpoint")
	}
	old := first[len(first)-1]

	// A fresh run on the same location: task failures, restarts from its own checkpoints,
	// then stopped after a checkpoint of its own (as a kill would).
	var failures atomic.Int64
	j.fail = func(seen int64) bool {
		if seen == 4000 || seen == 9000 {
			failures.Add(1)
			return true
		}
		return false
	}
	out := t.TempDir()
	cfg := checkpointConfig(t, ckpt, 2*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	var restarted atomic.Bool
	cfg.MetricsInterval = time.Millisecond
	cfg.Metrics = metrics.ListenerFunc(func(s metrics.Snapshot) {
		// Stopped once both failures happened and a checkpoint completed after them.
		if c := s.Checkpoints; c != nil && c.Restarts == 2 && c.LastID > c.Restored && c.Restored > old {
			restarted.Store(true)
			cancel()
		}
	})
	err := j.build(t, out, cfg).Execute(ctx)
	if !restarted.Load() {
		t.Fatalf("the second run ended (%v) before it restarted twice from its own checkpoints", err)
	}
	ids := checkpointIDs(t, ckpt)
	if len(ids) == 0 || ids[0] <= old {
		t.Fatalf("after the second run the location keeps checkpoints %v; want only the second run's, above the first run's %d", ids, old)
	}

	// Resume the second run: its output is exactly the uninterrupted run's.
	j.fail = nil
	cfg = checkpointConfig(t, ckpt, 2*time.Millisecond)
	cfg.Checkpoints.RestoreLatest = true
	var restored atomic.Int64
	cfg.MetricsInterval = time.Millisecond
	cfg.Metrics = metrics.ListenerFunc(func(s metrics.Snapshot) {
		if s.Checkpoints != nil {
			restored.CompareAndSwap(0, s.Checkpoints.Restored)
		}
	})
	if err := j.build(t, out, cfg).Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := restored.Load(); !slices.Contains(ids, r) {
		t.Errorf("--restore latest restored %d, want the second run's newest of %v", r, ids)
	}
	diffLines(t, committedLines(t, out), wantLines)
}

// TestRestoreLatestAfterStopWithSavepoint is defect B: after a stop-with-savepoint (whose
// output the sinks committed), --restore latest resumes from the savepoint, not from the
// checkpoint before it; and a run started from that savepoint and stopped before its first
// checkpoint leaves the savepoint as the latest.
func TestRestoreLatestAfterStopWithSavepoint(t *testing.T) {
	j := keyedJob{n: 30000, splits: 4, parallelism: 2}
	want := t.TempDir()
	if err := j.build(t, want, stream.Config{}).Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantLines := committedLines(t, want)
	ckpt, out, sps := t.TempDir(), t.TempDir(), t.TempDir()

	// Run with checkpoints and stop with a savepoint after one.
	j.paced = true
	cfg := checkpointConfig(t, ckpt, 2*time.Millisecond)
	h := stream.NewSavepoints()
	cfg.Checkpoints.Savepoints = h
	checkpointed := make(chan struct{})
	untilCheckpoint(&cfg, func() { close(checkpointed) })
	done := make(chan error, 1)
	go func() { done <- j.build(t, out, cfg).Execute(context.Background()) }()
	<-checkpointed
	sp, err := h.Take(context.Background(), sps, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	latest := func() *stream.Snapshot {
		t.Helper()
		r, err := stream.LatestSnapshot(context.Background(), cfg.Checkpoints.Storage, nil)
		if err != nil || r == nil {
			t.Fatalf("LatestSnapshot = %v, %v", r, err)
		}
		return r
	}
	if r := latest(); !r.Savepoint || r.Location != sp {
		t.Fatalf("after the stop the latest is %s (savepoint %t), want the savepoint %s", r.Location, r.Savepoint, sp)
	}

	// Start from the savepoint (--from-savepoint), stopped before any checkpoint of its own.
	cfg = checkpointConfig(t, ckpt, time.Hour)
	cfg.Checkpoints.RestoreFrom = sp
	ctx, cancel := context.WithCancel(context.Background())
	cfg.Checkpoints.OnStart = func(*stream.Snapshot) { cancel() }
	if err := j.build(t, out, cfg).Execute(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("the run stopped at its start: %v", err)
	}
	if r := latest(); r.Location != sp {
		t.Fatalf("after a run from the savepoint stopped before a checkpoint, the latest is %s, want %s", r.Location, sp)
	}

	// --restore latest to the end: nothing lost, nothing twice.
	j.paced = false
	cfg = checkpointConfig(t, ckpt, 2*time.Millisecond)
	cfg.Checkpoints.RestoreLatest = true
	if err := j.build(t, out, cfg).Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	diffLines(t, committedLines(t, out), wantLines)
}

// TestSecondJobOnALocation is defect C: while a job runs on a checkpoint location, another
// job on it refuses to start, naming the holder, and commits nothing; the first job's output
// is exact. A job that loses its lease stops for good, without restarting.
func TestSecondJobOnALocation(t *testing.T) {
	j := keyedJob{n: 30000, splits: 4, parallelism: 2}
	want := t.TempDir()
	if err := j.build(t, want, stream.Config{}).Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantLines := committedLines(t, want)
	ckpt, out := t.TempDir(), t.TempDir()

	j.paced = true
	cfg := checkpointConfig(t, ckpt, 2*time.Millisecond)
	checkpointed := make(chan struct{})
	untilCheckpoint(&cfg, func() { close(checkpointed) })
	done := make(chan error, 1)
	go func() { done <- j.build(t, out, cfg).Execute(context.Background()) }()
	<-checkpointed

	second := t.TempDir()
	cfg2 := checkpointConfig(t, ckpt, 2*time.Millisecond)
	cfg2.Checkpoints.RestoreLatest = true
	err := j.build(t, second, cfg2).Execute(context.Background())
	if !errors.Is(err, checkpoint.ErrLeased) || !strings.Contains(err.Error(), `"checkpoint-test"`) {
		t.Fatalf("the second job: %v, want a refusal naming the holder", err)
	}
	if entries, _ := os.ReadDir(second); len(entries) != 0 {
		t.Errorf("the refused job wrote %d entries into its output", len(entries))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	diffLines(t, committedLines(t, out), wantLines)

	t.Run("LeaseLost", func(t *testing.T) {
		mem := checkpointtest.NewMem()
		cfg := checkpointConfig(t, t.TempDir(), 2*time.Millisecond)
		cfg.Checkpoints.Storage = mem
		untilCheckpoint(&cfg, func() { mem.LoseLease() })
		out := t.TempDir()
		err := j.build(t, out, cfg).Execute(context.Background())
		if !errors.Is(err, checkpoint.ErrLeaseLost) {
			t.Fatalf("Execute after the lease was lost = %v, want ErrLeaseLost", err)
		}
		if _, ok := mem.LeaseHolder(); ok {
			t.Error("the lease is held after the job ended")
		}
		lines := committedLines(t, out)
		if len(lines) >= len(wantLines) {
			t.Errorf("the job committed %d lines after losing its lease; want it stopped early", len(lines))
		}
	})
}
