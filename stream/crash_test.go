package stream_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/internal/testing/crashtest"
	"github.com/runnel-io/runnel/stream"
)

// The SIGKILL harness: the job of keyedJob runs in a child process (this test binary, running
// TestCrashChild), which the parent kills with SIGKILL at random moments and starts again; each
// start continues from the newest complete checkpoint in the checkpoint directory. The
// committed output must equal a failure-free run's exactly.
//
// RUNNEL_CRASH_SEEDS=n runs n seeds instead of 3 (the longer mode, by hand).

const crashChildEnv = "RUNNEL_CRASH_CHILD"

func crashJob() keyedJob { return keyedJob{n: 30000, splits: 4, parallelism: 2, paced: true} }

func TestCrashChild(t *testing.T) {
	if os.Getenv(crashChildEnv) == "" {
		t.Skip("run by TestCheckpointCrashRecovery")
	}
	out, ckpt := os.Getenv("RUNNEL_CRASH_OUT"), os.Getenv("RUNNEL_CRASH_CKPT")
	cfg := checkpointConfig(t, ckpt, 5*time.Millisecond)
	var rep crashtest.Reporter
	cfg.Checkpoints.RestoreLatest = true
	cfg.Checkpoints.OnStart = func(r *stream.Snapshot) {
		if r != nil {
			rep.Restored(r.ID)
		}
	}
	cfg.MetricsInterval, cfg.Metrics = time.Millisecond, rep.Listener()
	if err := crashJob().build(t, out, cfg).Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestCheckpointCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	want := t.TempDir()
	j := crashJob()
	j.paced = false
	if err := j.build(t, want, stream.Config{}).Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantLines := committedLines(t, want)
	seeds := 3
	if s := os.Getenv("RUNNEL_CRASH_SEEDS"); s != "" {
		fmt.Sscan(s, &seeds)
	}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			out, ckpt := t.TempDir(), t.TempDir()
			st, err := checkpoint.NewLocal(ckpt)
			if err != nil {
				t.Fatal(err)
			}
			r := &crashtest.Run{
				Command: func() *exec.Cmd {
					return crashtest.Command("TestCrashChild", crashChildEnv+"=1", "RUNNEL_CRASH_OUT="+out, "RUNNEL_CRASH_CKPT="+ckpt)
				},
				Latest: func() int64 {
					s, err := stream.LatestSnapshot(t.Context(), st, nil)
					if err != nil {
						t.Fatal(err)
					}
					if s == nil {
						return 0
					}
					return s.ID
				},
				Rng: rand.New(rand.NewPCG(uint64(seed), 7)), Kills: 4, Within: 500 * time.Millisecond,
			}
			r.Do(t)
			diffLines(t, committedLines(t, out), wantLines)
		})
	}
}
