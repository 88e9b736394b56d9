package kafka_test

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

// The SIGKILL harness, as in stream/crash_test.go: the Kafka→Kafka job runs in a child
// process (this test binary running TestKafkaCrashChild) against a fake cluster in the parent,
// which kills the child with SIGKILL at random moments and starts it again; each start
// continues from the newest complete checkpoint. A read_committed consumer must then see every
// input record exactly once, and no transaction may be left open.

const kafkaCrashChildEnv = "RUNNEL_KAFKA_CRASH_CHILD"

const crashRecords = 20000

func TestKafkaCrashChild(t *testing.T) {
	if os.Getenv(kafkaCrashChildEnv) == "" {
		t.Skip("run by TestKafkaExactlyOnceSurvivesSIGKILL")
	}
	brokers, ckpt := os.Getenv("RUNNEL_KAFKA_BROKERS"), os.Getenv("RUNNEL_KAFKA_CKPT")
	ctx := context.Background()
	cfg := checkpointConfig(t, ckpt, 10*time.Millisecond)
	cfg.Checkpoints.RestoreLatest = true
	cfg.Checkpoints.OnStart = func(r *stream.Snapshot) {
		if r != nil {
			fmt.Fprintf(os.Stderr, "restored %s\n", filepath.Base(r.Location))
		}
	}
	var told atomic.Bool
	cfg.MetricsInterval = time.Millisecond
	cfg.Metrics = metrics.ListenerFunc(func(s metrics.Snapshot) {
		if c := s.Checkpoints; c != nil && c.LastID > c.Restored && told.CompareAndSwap(false, true) {
			fmt.Fprintln(os.Stderr, "checkpointed")
		}
	})
	// Pace the job (a millisecond every 20 records) so that it runs long enough to be killed.
	var seen atomic.Int64
	p := pipeline{
		cluster:     testCluster{Cluster: envCluster(t, strings.Split(brokers, ",")), prefix: os.Getenv("RUNNEL_KAFKA_PREFIX")},
		parallelism: 2,
		prefix:      "crash",
		fail: func(n int64) bool {
			if seen.Add(1)%20 == 0 {
				time.Sleep(time.Millisecond)
			}
			return false
		},
	}
	if err := p.build(t, cfg).Execute(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestKafkaExactlyOnceSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for seed := range 2 {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			c := newCluster(t, 4, "in", "out")
			produce(t, c, "in", 0, crashRecords)
			rng := rand.New(rand.NewPCG(uint64(seed), 11))
			ckpt := t.TempDir()
			kills, restores := 0, 0
			for run := 0; ; run++ {
				if run > 20 {
					t.Fatal("the job did not finish in 20 runs")
				}
				cmd := exec.Command(os.Args[0], "-test.run=^TestKafkaCrashChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), kafkaCrashChildEnv+"=1",
					"RUNNEL_KAFKA_BROKERS="+strings.Join(c.Brokers, ","), "RUNNEL_KAFKA_PREFIX="+c.prefix, "RUNNEL_KAFKA_CKPT="+ckpt)
				var stdout, stderr bytes.Buffer
				cmd.Stdout = &stdout
				pipe, err := cmd.StderrPipe()
				if err != nil {
					t.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
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
				if kills < 3 {
					select {
					case err = <-exited:
					case <-checkpointed:
						select {
						case err = <-exited:
						case <-time.After(time.Duration(rng.IntN(400)) * time.Millisecond):
							_ = cmd.Process.Signal(syscall.SIGKILL)
							err = <-exited
							kills++
						}
					}
				} else {
					err = <-exited
				}
				restores += strings.Count(stderr.String(), "restored ")
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
			checkExactlyOnce(t, values(consume(t, c, "out", true)), seq(0, crashRecords))
		})
	}
}
