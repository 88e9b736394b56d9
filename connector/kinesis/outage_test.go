package kinesis_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connector/kinesis"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/internal/testing/kinesistest"
	"github.com/runnel-io/runnel/stream"
)

// TestJobRidesOutServerOutage runs a job reading through a proxy that is cut while records are
// being put: the readers report their failed calls (naming the stream and shard) and back off,
// and when the proxy is restored the job reads on, every record once, each key's in order.
// With fan-out, the cut also breaks the open subscriptions, and the readers subscribe again
// after their last continuation once it is restored.
func TestJobRidesOutServerOutage(t *testing.T) {
	t.Parallel()
	for _, m := range readModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			testJobRidesOutServerOutage(t, m)
		})
	}
}

func testJobRidesOutServerOutage(t *testing.T, m readMode) {
	srv := kinesistest.Start(t)
	if !strings.HasPrefix(srv.Endpoint, "http://") {
		t.Skipf("the proxy needs a plain-HTTP server, not %q", srv.Endpoint)
	}
	name := srv.CreateStream(t, 2)
	cfg := kinesis.SourceConfig{
		Stream: name, DiscoveryInterval: 100 * time.Millisecond, PollInterval: 20 * time.Millisecond,
		MaxRetries: 1000, BaseBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
	}
	target := srv.Endpoint
	if m.fanOut {
		target = kinesistest.StartFanOut(t, srv).Endpoint
		cfg.FanOut = &kinesis.FanOut{ConsumerName: "outage"}
	}
	proxy := kinesistest.StartProxy(t, target)

	retries := &retryLog{}
	src, err := kinesis.NewSource(srv.ClientAt(proxy.Endpoint), cfg)
	if err != nil {
		t.Fatal(err)
	}
	env := stream.New("kinesis-outage", stream.Config{Parallelism: 2, Logger: retries.logger()})
	got := stream.Collect(stream.FromSource(env, src, eventtime.Strategy[kinesis.Record]{}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- env.Execute(ctx) }()

	const keys, before, during = 8, 200, 200
	putAll(t, srv.Client(), name, 0, before, keys)
	waitFor(t, done, "the records put before the outage", func() bool { return len(got.Values()) >= before })

	proxy.Cut()
	putAll(t, srv.Client(), name, before, during, keys) // behind the proxy's back
	// Both readers' fetchers fail and back off; wait for several retries in a row.
	waitFor(t, done, "retries during the outage", func() bool { return len(retries.errors()) >= 6 })
	if n := len(got.Values()); n != before {
		t.Errorf("%d records read while the server could not be reached, want %d", n, before)
	}
	first := retries.errors()[0]
	if !strings.Contains(first.Error(), "kinesis: stream "+name+", shard shardId-") {
		t.Errorf("retry error %q does not name the stream and shard", first)
	}
	t.Logf("first retry: %v", first)

	proxy.Restore()
	const after = 100
	putAll(t, srv.Client(), name, before+during, after, keys)
	total := before + during + after
	waitFor(t, done, "every record after the outage", func() bool { return len(got.Values()) >= total })
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Execute: %v", err)
	}
	checkExactly(t, got.Values(), total, true)
}

// waitFor polls cond until it holds, failing the test if the job ends first or 60 seconds pass.
func waitFor(t *testing.T, done <-chan error, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		select {
		case err := <-done:
			t.Fatalf("the job ended while waiting for %s: %v", what, err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 60s", what)
		}
	}
}
