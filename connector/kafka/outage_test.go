package kafka_test

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connector/kafka"
	"github.com/runnel-io/runnel/metrics"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestBrokerOutageRecovers stops the cluster while an exactly-once Kafka → Kafka job runs and
// starts it again on the same address from its data directory. Whether the job's clients ride
// out the outage with their retries or the job fails and restarts from its latest checkpoint,
// it finishes once the broker is back, and read_committed readers of the output see every
// input record exactly once.
func TestBrokerOutageRecovers(t *testing.T) {
	kfakeOnly(t, "it stops the broker and starts it again from its data directory")
	const n = 20000
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	start := func() *kfake.Cluster {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(dir), kfake.SeedTopics(4, "in", "out"))
		if err != nil {
			t.Fatalf("starting kfake on port %d: %v", port, err)
		}
		return c
	}
	var (
		mu      sync.Mutex
		cluster = start()
	)
	t.Cleanup(func() { mu.Lock(); cluster.Close(); mu.Unlock() })
	c := testCluster{Cluster: kafka.Cluster{Brokers: cluster.ListenAddrs(), ConnectTimeout: 2 * time.Second}}
	produce(t, c, "in", 0, n)

	// Midway, take the broker away for a moment, from another goroutine (the map must go on
	// reading so that it notices).
	var outage sync.Once
	back := make(chan struct{})
	p := pipeline{cluster: c, parallelism: 2, prefix: "outage", fail: func(seen int64) bool {
		if seen == n/2 {
			outage.Do(func() {
				go func() {
					defer close(back)
					mu.Lock()
					defer mu.Unlock()
					cluster.Close()
					time.Sleep(500 * time.Millisecond) // the outage itself, not synchronization
					cluster = start()
				}()
			})
		}
		return false
	}}
	cfg := checkpointConfig(t, t.TempDir(), 20*time.Millisecond)
	var last atomic.Pointer[metrics.Checkpoints]
	cfg.MetricsInterval = time.Millisecond
	cfg.Metrics = metrics.ListenerFunc(func(s metrics.Snapshot) {
		if c := s.Checkpoints; c != nil {
			last.Store(c)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := p.build(t, cfg).Execute(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-back:
	default:
		t.Fatal("the job ended without an outage")
	}
	committed := consume(t, c, "out", true)
	checkExactlyOnce(t, values(committed), seq(0, n))
	if ck := last.Load(); ck != nil {
		t.Logf("%d restarts, %d checkpoints completed, restored checkpoint %d", ck.Restarts, ck.Completed, ck.Restored)
	}
}
