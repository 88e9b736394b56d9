package kinesis_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/kinesis"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/internal/testing/kinesistest"
	"github.com/runnel-io/runnel/stream"
)

// readMode is how a test's source reads: polling GetRecords, or enhanced fan-out.
type readMode struct {
	name   string
	fanOut bool
}

var readModes = []readMode{{"polling", false}, {"fan-out", true}}

// client returns the client a source reads srv's streams through in mode m, setting cfg.FanOut
// for fan-out. Against kinesalite, fan-out goes through kinesistest.FanOut with subscriptions
// of 300 ms, so that tests see the re-subscriptions that take five minutes on AWS; against an
// external server it is the server's own, and the consumer is deregistered at the end.
func (m readMode) client(t *testing.T, srv *kinesistest.Server, cfg *kinesis.SourceConfig) kinesis.SourceAPI {
	t.Helper()
	api, _ := m.clientAndProxy(t, srv, cfg)
	return api
}

// clientAndProxy is client, also returning the fan-out emulation it goes through; nil when
// polling or against an external server.
func (m readMode) clientAndProxy(t *testing.T, srv *kinesistest.Server, cfg *kinesis.SourceConfig) (kinesis.SourceAPI, *kinesistest.FanOut) {
	t.Helper()
	if !m.fanOut {
		return srv.Client(), nil
	}
	name := fmt.Sprintf("runnel-test-%d", time.Now().UnixNano())
	cfg.FanOut = &kinesis.FanOut{ConsumerName: name}
	if srv.External {
		t.Cleanup(func() { deregister(t, srv.Client(), cfg.Stream, name) })
		return srv.Client(), nil
	}
	fo := kinesistest.StartFanOut(t, srv)
	fo.SetSubscriptionLength(300 * time.Millisecond)
	return srv.ClientAt(fo.Endpoint), fo
}

func deregister(t *testing.T, api *awskinesis.Client, stream, consumer string) {
	ctx := context.Background()
	sum, err := api.DescribeStreamSummary(ctx, &awskinesis.DescribeStreamSummaryInput{StreamName: &stream})
	if err == nil {
		_, err = api.DeregisterStreamConsumer(ctx, &awskinesis.DeregisterStreamConsumerInput{
			StreamARN: sum.StreamDescriptionSummary.StreamARN, ConsumerName: &consumer})
	}
	if err != nil {
		t.Logf("deregistering consumer %s: %v", consumer, err)
	}
}

// runJob runs a job reading src at parallelism 2 until cond holds of what it read, then stops
// it and returns what it read and how it ended.
func runJob(t *testing.T, src *kinesis.Source, log *slog.Logger, cond func([]kinesis.Record) bool) ([]kinesis.Record, error) {
	t.Helper()
	env := stream.New("kinesis-fan-out", stream.Config{Parallelism: 2, Logger: log})
	got := stream.Collect(stream.FromSource(env, src, eventtime.Strategy[kinesis.Record]{}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- env.Execute(ctx) }()
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond) // polls the collected records, no synchronization
	defer tick.Stop()
	for !cond(got.Values()) {
		select {
		case err := <-done:
			return got.Values(), err
		case <-deadline:
			t.Fatalf("gave up after 60s with %d records", len(got.Values()))
		case <-tick.C:
		}
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return got.Values(), err
	}
	return got.Values(), nil
}

// TestFanOutReadsAndResubscribes reads a stream of four shards with enhanced fan-out while
// records keep coming, through subscriptions that end every 300 ms: every record arrives once
// and each key's in order, and the consumer is registered once. Only the source that registered
// it deregisters it.
func TestFanOutReadsAndResubscribes(t *testing.T) {
	t.Parallel()
	srv := kinesistest.Start(t)
	name := srv.CreateStream(t, 4)
	fo := kinesistest.StartFanOut(t, srv)
	fo.SetSubscriptionLength(300 * time.Millisecond)
	const n = 4000
	putAll(t, srv.Client(), name, 0, n/2, 40)
	retries := &retryLog{}
	src, err := kinesis.NewSource(srv.ClientAt(fo.Endpoint), kinesis.SourceConfig{Stream: name,
		FanOut: &kinesis.FanOut{ConsumerName: "analytics"}})
	if err != nil {
		t.Fatal(err)
	}
	putting := make(chan struct{})
	go func() {
		defer close(putting)
		for i := n / 2; i < n; i += 200 {
			putAll(t, srv.Client(), name, i, 200, 40)
			time.Sleep(50 * time.Millisecond) // a steady rate, not synchronization
		}
	}()
	recs, err := runJob(t, src, retries.logger(), func(r []kinesis.Record) bool { return len(r) >= n })
	<-putting
	if err != nil {
		t.Fatal(err)
	}
	checkExactly(t, recs, n, true)
	if got := fo.Consumers(); len(got) != 1 || got[0] != "analytics" {
		t.Fatalf("consumers %v, want [analytics]", got)
	}
	if s := fo.Subscriptions(); s <= 4 {
		t.Fatalf("%d subscriptions, want more than one per shard", s)
	}
	t.Logf("%d subscriptions, %d retries (a re-subscription can meet the last one still open)", fo.Subscriptions(), len(retries.errors()))

	// A second job (a restarted process) reuses the consumer; so does one given its ARN.
	src2, err := kinesis.NewSource(srv.ClientAt(fo.Endpoint), kinesis.SourceConfig{Stream: name,
		FanOut: &kinesis.FanOut{ConsumerName: "analytics"}})
	if err != nil {
		t.Fatal(err)
	}
	if recs, err := runJob(t, src2, nil, func(r []kinesis.Record) bool { return len(r) >= n }); err != nil || len(recs) < n {
		t.Fatalf("second job: %d records, %v", len(recs), err)
	}
	if got := fo.Consumers(); len(got) != 1 {
		t.Fatalf("consumers %v after a second job, want one", got)
	}
	ctx := context.Background()
	if err := src2.DeregisterConsumer(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fo.Consumers(); len(got) != 1 {
		t.Fatalf("consumers %v after the second source deregistered, want the first's still there", got)
	}
	if err := src.DeregisterConsumer(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fo.Consumers(); len(got) != 0 {
		t.Fatalf("consumers %v after the registering source deregistered, want none", got)
	}
	if err := src.DeregisterConsumer(ctx); err != nil {
		t.Fatalf("deregistering twice: %v", err)
	}
}

// TestFanOutSubscribeFailures: refusals a subscription meets in normal operation
// (ResourceInUse, LimitExceeded) are retried with backoff, and nothing is lost; a refusal that
// no retry mends fails the job with an error naming the stream, the shard and the call.
func TestFanOutSubscribeFailures(t *testing.T) {
	t.Parallel()
	srv := kinesistest.Start(t)
	name := srv.CreateStream(t, 2)
	fo := kinesistest.StartFanOut(t, srv)
	putAll(t, srv.Client(), name, 0, 500, 20)
	fo.FailSubscribe("ResourceInUseException", "ResourceInUseException", "ResourceInUseException",
		"LimitExceededException", "LimitExceededException", "LimitExceededException")
	// The SDK would retry LimitExceededException itself (three attempts, seconds apart): a
	// client that tries each call once lets every refusal reach the source, whose retries are
	// under test. The two shards' calls take the refusals in turn, so either may get up to six
	// in a row.
	opts := srv.ClientAt(fo.Endpoint).Options()
	opts.RetryMaxAttempts = 1
	api := awskinesis.New(opts)
	retries := &retryLog{}
	cfg := kinesis.SourceConfig{Stream: name, FanOut: &kinesis.FanOut{ConsumerName: "alerts"},
		BaseBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, MaxRetries: 6}
	src, err := kinesis.NewSource(api, cfg)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := runJob(t, src, retries.logger(), func(r []kinesis.Record) bool { return len(r) >= 500 })
	if err != nil {
		t.Fatal(err)
	}
	checkExactly(t, recs, 500, true)
	retried := retries.errors()
	inUse, limited := 0, 0
	for _, err := range retried {
		if !strings.Contains(err.Error(), "SubscribeToShard (attempt") {
			continue
		}
		switch {
		case strings.Contains(err.Error(), "ResourceInUseException"):
			inUse++
		case strings.Contains(err.Error(), "LimitExceededException"):
			limited++
		}
	}
	if inUse != 3 || limited != 3 {
		t.Fatalf("retries %v, want the three refusals of each kind", retried)
	}

	for _, tc := range []struct {
		code, attempts string
	}{
		{"LimitExceededException", "(7 attempts)"}, // retried until MaxRetries is spent
		{"AccessDeniedException", "(1 attempts)"},  // not worth retrying
	} {
		fo.FailSubscribe(slices.Repeat([]string{tc.code}, 2*(cfg.MaxRetries+1))...)
		src, err = kinesis.NewSource(api, cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = runJob(t, src, nil, func([]kinesis.Record) bool { return false })
		if err == nil || !strings.Contains(err.Error(), "stream "+name+", shard shardId-") ||
			!strings.Contains(err.Error(), "SubscribeToShard "+tc.attempts) || !strings.Contains(err.Error(), tc.code) {
			t.Fatalf("job error %v, want the refused subscription named", err)
		}
		t.Log(err)
	}
}

// TestFanOutLatestResubscribes: a shard read from LATEST whose first subscription ends before
// an event gave a position is subscribed to again from the moment of the first, not at LATEST
// again, so the records put while no subscription was open are read.
func TestFanOutLatestResubscribes(t *testing.T) {
	t.Parallel()
	srv := kinesistest.Start(t)
	name := srv.CreateStream(t, 1)
	putAll(t, srv.Client(), name, 0, 50, 5) // before the start: not read
	fo := kinesistest.StartFanOut(t, srv)
	fo.SetSubscriptionLength(200 * time.Millisecond)
	refused := &retryLog{signal: make(chan struct{}, 1)}
	src, err := kinesis.NewSource(srv.ClientAt(fo.Endpoint), kinesis.SourceConfig{Stream: name,
		Start: kinesis.StartPosition{Kind: kinesis.Latest}, FanOut: &kinesis.FanOut{ConsumerName: "latest"},
		BaseBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ec := &enumCtx{p: 1, assigned: map[int][]connector.Split{}}
	enum, err := src.NewEnumerator(ec, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := enum.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := enum.AddReader(ctx, 0); err != nil {
		t.Fatal(err)
	}
	r, err := src.NewReader(connector.ReaderContext{Parallelism: 1, Logger: refused.logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.AddSplits(ec.take(0))
	for deadline := time.Now().Add(10 * time.Second); fo.Subscriptions() < 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no subscription within 10s")
		}
	}
	// The first subscription brings no event (nothing is put) and ends after 200 ms; the next
	// ones are refused for a while, and the records are put meanwhile.
	fo.FailSubscribe(slices.Repeat([]string{"ResourceInUseException"}, 8)...)
	select {
	case <-refused.signal:
	case <-time.After(10 * time.Second):
		t.Fatal("no refused re-subscription within 10s")
	}
	putAll(t, srv.Client(), name, 50, 30, 5)
	out := &collector{}
	drain(t, []connector.Reader[kinesis.Record]{r}, out, func() bool { return out.len() >= 30 }, 30*time.Second)
	time.Sleep(100 * time.Millisecond) // not synchronization: time for a duplicate to show
	drain(t, []connector.Reader[kinesis.Record]{r}, out, func() bool { return true }, time.Second)
	if out.len() != 30 {
		t.Fatalf("read %d records, want the 30 put after the start", out.len())
	}
	for i, rec := range out.recs {
		if want := fmt.Sprint(50 + i); string(rec.Data) != want {
			t.Fatalf("record %d is %s, want %s", i, rec.Data, want)
		}
	}
}

func TestFanOutConfig(t *testing.T) {
	srv := kinesistest.Start(t)
	for _, tc := range []struct {
		cfg  kinesis.SourceConfig
		api  kinesis.SourceAPI
		want string
	}{
		{kinesis.SourceConfig{Stream: "s", FanOut: &kinesis.FanOut{}}, srv.Client(), "needs a ConsumerName or a ConsumerARN"},
		{kinesis.SourceConfig{Stream: "s", FanOut: &kinesis.FanOut{ConsumerName: "c", RegisterTimeout: -1}}, srv.Client(), "negative FanOut.RegisterTimeout"},
		{kinesis.SourceConfig{Stream: "s", FanOut: &kinesis.FanOut{ConsumerName: "c"}}, pollingOnly{srv.Client()}, "needs a client with SubscribeToShard"},
	} {
		if _, err := kinesis.NewSource(tc.api, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewSource: %v, want an error containing %q", err, tc.want)
		}
	}
}

// pollingOnly hides a client's fan-out calls.
type pollingOnly struct{ kinesis.SourceAPI }
