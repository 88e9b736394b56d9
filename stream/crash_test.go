package stream_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/runnel-io/runnel/metrics"
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
	ctx := context.Background()
	cfg := checkpointConfig(t, ckpt, 5*time.Millisecond)
	cfg.Checkpoints.RestoreLatest = true
	cfg.Checkpoints.OnStart = func(r *stream.Snapshot) {
		if r != nil {
			fmt.Fprintf(os.Stderr, "restored %s\n", filepath.Base(r.Location))
		}
	}
	// Tell the parent when this run completed its first checkpoint.
	var told atomic.Bool
	cfg.MetricsInterval = time.Millisecond
	cfg.Metrics = metrics.ListenerFunc(func(s metrics.Snapshot) {
		if c := s.Checkpoints; c != nil && c.LastID > c.Restored && told.CompareAndSwap(false, true) {
			fmt.Fprintln(os.Stderr, "checkpointed")
		}
	})
	if err := crashJob().build(t, out, cfg).Execute(ctx); err != nil {
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
			rng := rand.New(rand.NewPCG(uint64(seed), 7))
			out, ckpt := t.TempDir(), t.TempDir()
			kills, restores := 0, 0
			for run := 0; ; run++ {
				if run > 20 {
					t.Fatal("the job did not finish in 20 runs")
				}
				cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), crashChildEnv+"=1", "RUNNEL_CRASH_OUT="+out, "RUNNEL_CRASH_CKPT="+ckpt)
				var stdout, stderr bytes.Buffer // two: the one exec copies into may not be written by us
				cmd.Stdout = &stdout
				pipe, err := cmd.StderrPipe()
				if err != nil {
					t.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				// The child says when it completed a checkpoint of its own; the parent then
				// kills it at a random moment of what follows (the run lasts 1-2 s, longer
				// under the race detector).
				checkpointed := make(chan struct{})
				copied := make(chan struct{})
				go func() {
					defer close(copied)
					sc := bufio.NewScanner(pipe)
					for sc.Scan() {
						if sc.Text() == "checkpointed" {
							close(checkpointed)
						}
						stderr.WriteString(sc.Text() + "\n")
					}
				}()
				exited := make(chan error, 1)
				go func() {
					<-copied
					exited <- cmd.Wait()
				}()
				if kills < 4 {
					select {
					case err = <-exited:
					case <-checkpointed:
						select {
						case err = <-exited:
						case <-time.After(time.Duration(rng.IntN(500)) * time.Millisecond):
							_ = cmd.Process.Signal(syscall.SIGKILL)
							err = <-exited
							kills++
						}
					}
				} else {
					err = <-exited
				}
				restores += strings.Count(stderr.String(), "restored chk-")
				if err == nil {
					break
				}
				if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
					t.Fatalf("child failed: %v\n%s%s", err, stdout.String(), stderr.String())
				}
			}
			t.Logf("%d kills, %d restores from a checkpoint", kills, restores)
			if kills == 0 || restores == 0 {
				t.Fatalf("%d kills and %d restores: the harness tested nothing", kills, restores)
			}
			diffLines(t, committedLines(t, out), wantLines)
		})
	}
}
