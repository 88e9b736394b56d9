package kafka_test

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/runnel-io/runnel/connector/kafka"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/stream"
)

// TestDiscoveryWhileRunning runs an unbounded source over the topics matching a regex: a topic
// created while the job runs is found by the runtime's periodic Discover and read from its
// start.
func TestDiscoveryWhileRunning(t *testing.T) {
	c := newCluster(t, 2, "d-a")
	produce(t, c, "d-a", 0, 10)
	src, err := kafka.NewSource(kafka.SourceConfig{Cluster: c.Cluster, TopicRegex: "^" + regexp.QuoteMeta(c.topic("d-")), DiscoveryInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	env := stream.New("discover", stream.Config{Parallelism: 2})
	got := stream.Collect(stream.FromSource(env, src, eventtime.Monotonous(recordTime)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- env.Execute(ctx) }()
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for len(got.Values()) < n {
			if time.Now().After(deadline) {
				t.Fatalf("collected %d records, want %d", len(got.Values()), n)
			}
			select {
			case err := <-done:
				t.Fatalf("job ended: %v", err)
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	waitFor(10)
	if _, err := kadm.NewClient(client(t, c)).CreateTopic(ctx, 3, -1, nil, c.topic("d-b")); err != nil {
		t.Fatal(err)
	}
	produce(t, c, "d-b", 10, 30)
	waitFor(40)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("job: %v", err)
	}
	checkExactlyOnce(t, ints(got.Values()), seq(0, 40))
}
