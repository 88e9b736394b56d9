package kafka_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/internal/testing/crashtest"
	"github.com/runnel-io/runnel/stream"
)

// The SIGKILL harness (internal/testing/crashtest): the Kafka→Kafka job runs in a child
// process (this test binary running TestKafkaCrashChild) against a fake cluster in the parent,
// which kills the child with SIGKILL at random moments and starts it again; each start
// continues from the latest snapshot. A read_committed consumer must then see every
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
	var rep crashtest.Reporter
	cfg.Checkpoints.OnStart = func(r *stream.Snapshot) {
		if r != nil {
			rep.Restored(r.ID)
		}
	}
	cfg.MetricsInterval, cfg.Metrics = time.Millisecond, rep.Listener()
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
			ckpt := t.TempDir()
			st, err := checkpoint.NewLocal(ckpt)
			if err != nil {
				t.Fatal(err)
			}
			r := &crashtest.Run{
				Command: func() *exec.Cmd {
					return crashtest.Command("TestKafkaCrashChild", kafkaCrashChildEnv+"=1",
						"RUNNEL_KAFKA_BROKERS="+strings.Join(c.Brokers, ","), "RUNNEL_KAFKA_PREFIX="+c.prefix, "RUNNEL_KAFKA_CKPT="+ckpt)
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
				Rng: rand.New(rand.NewPCG(uint64(seed), 11)), Kills: 3, Within: 400 * time.Millisecond,
			}
			r.Do(t)
			checkExactlyOnce(t, values(consume(t, c, "out", true)), seq(0, crashRecords))
		})
	}
}
