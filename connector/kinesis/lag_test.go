package kinesis_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/kinesis"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/internal/testing/kinesistest"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/stream"
)

// behindAPI is the server's API, except that GetRecords says the reader is a minute behind when
// it returns records and caught up when it returns none: kinesalite always says 0. It is for
// streams of one shard, whose fetcher calls GetRecords one call after another.
type behindAPI struct {
	kinesis.SourceAPI
	// afterEmpty is signalled when GetRecords is called after a call that returned no
	// records: the fetcher has then handled that call's MillisBehindLatest of 0.
	afterEmpty chan struct{}
	lastEmpty  atomic.Bool
}

const behindMs = 60_000

func newBehindAPI(api kinesis.SourceAPI) *behindAPI {
	return &behindAPI{SourceAPI: api, afterEmpty: make(chan struct{}, 1)}
}

func (a *behindAPI) GetRecords(ctx context.Context, in *awskinesis.GetRecordsInput, opts ...func(*awskinesis.Options)) (*awskinesis.GetRecordsOutput, error) {
	if a.lastEmpty.Load() {
		select {
		case a.afterEmpty <- struct{}{}:
		default:
		}
	}
	out, err := a.SourceAPI.GetRecords(ctx, in, opts...)
	if err == nil {
		ms := int64(0)
		if len(out.Records) > 0 {
			ms = behindMs
		}
		out.MillisBehindLatest = &ms
		a.lastEmpty.Store(len(out.Records) == 0)
	}
	return out, err
}

// TestSourceLagGauge checks the reader's millisBehindLatest gauge: the MillisBehindLatest of the
// shard fetched, set before its records are handed over, and back to 0 once the reader has
// caught up.
func TestSourceLagGauge(t *testing.T) {
	t.Parallel()
	srv := kinesistest.Start(t)
	stream := srv.CreateStream(t, 1)
	const n = 300
	putAll(t, srv.Client(), stream, 0, n, 10)

	api := newBehindAPI(srv.Client())
	src, err := kinesis.NewSource(api, kinesis.SourceConfig{Stream: stream,
		PollInterval: 20 * time.Millisecond, MaxRecordsPerCall: 100})
	if err != nil {
		t.Fatal(err)
	}
	ec := &enumCtx{p: 1, assigned: map[int][]connector.Split{}}
	enum, err := src.NewEnumerator(ec, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enum.Close()
	ctx := context.Background()
	if err := enum.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := enum.AddReader(ctx, 0); err != nil {
		t.Fatal(err)
	}
	var gauge *atomic.Int64
	r, err := src.NewReader(connector.ReaderContext{Parallelism: 1, Gauges: func(name string) *atomic.Int64 {
		if name != metrics.MillisBehindLatest {
			t.Errorf("the reader made gauge %q", name)
		}
		gauge = new(atomic.Int64)
		return gauge
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if gauge == nil {
		t.Fatalf("the reader made no %s gauge", metrics.MillisBehindLatest)
	}
	r.AddSplits(ec.take(0))
	out := &collector{}
	readers := []connector.Reader[kinesis.Record]{r}
	drain(t, readers, out, func() bool { return out.len() > 0 }, 30*time.Second)
	if got := gauge.Load(); got != behindMs {
		t.Fatalf("millisBehindLatest %d with the first records read, want %d", got, behindMs)
	}
	drain(t, readers, out, func() bool { return out.len() >= n }, 30*time.Second)
	// The reader has every record; the fetcher's next poll finds none and says it caught up.
	// A signal of an empty poll before the last records (which kinesalite does not make, but
	// real Kinesis may) is dropped first.
	select {
	case <-api.afterEmpty:
	default:
	}
	select {
	case <-api.afterEmpty:
	case <-time.After(30 * time.Second):
		t.Fatal("the fetcher did not poll past the end of the shard within 30s")
	}
	if got := gauge.Load(); got != 0 {
		t.Fatalf("millisBehindLatest %d after a poll found no records, want 0", got)
	}
}

// TestSourceLagMetric is the Kafka source's TestSourceLagMetric for Kinesis: a job's metrics
// listener sees millisBehindLatest while the operator after the source holds the records back,
// and 0 once the job has read the shard to its end. With fan-out the figure is that of the
// subscription's events, which the emulation makes say the same as behindAPI: a minute behind
// with records, caught up without.
func TestSourceLagMetric(t *testing.T) {
	t.Parallel()
	for _, m := range readModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			testSourceLagMetric(t, m)
		})
	}
}

func testSourceLagMetric(t *testing.T, m readMode) {
	srv := kinesistest.Start(t)
	name := srv.CreateStream(t, 1)
	const n = 300
	putAll(t, srv.Client(), name, 0, n, 10)
	cfg := kinesis.SourceConfig{Stream: name, PollInterval: 20 * time.Millisecond, MaxRecordsPerCall: 10}
	api, fo := m.clientAndProxy(t, srv, &cfg)
	switch {
	case !m.fanOut:
		api = newBehindAPI(api)
	case fo == nil:
		t.Skip("the lag figures are made up by the fan-out emulation in front of kinesalite")
	default:
		fo.SetMillisBehindLatest(behindMs)
		fo.SetEventRecords(10)
	}
	src, err := kinesis.NewSource(api, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var (
		behind, caughtUp = make(chan struct{}), make(chan struct{})
		behindN          int64 // set before behind is closed
		once             sync.Once
	)
	listener := metrics.ListenerFunc(func(s metrics.Snapshot) {
		var out, lag int64
		seen := false
		for _, o := range s.Operators {
			if o.Operator != "kinesis" {
				continue
			}
			out += o.RecordsOut
			if v, ok := o.Gauges[metrics.MillisBehindLatest]; ok {
				lag, seen = max(lag, v), true
			}
		}
		select {
		case <-behind:
			if seen && lag == 0 && out == n {
				once.Do(func() { close(caughtUp) })
			}
		default:
			if seen && lag == behindMs && out < n {
				behindN = out
				close(behind)
			}
		}
	})
	env := stream.New("lag", stream.Config{Parallelism: 1, BatchSize: 16, BufferBatches: 1,
		Metrics: listener, MetricsInterval: time.Millisecond})
	in := stream.FromSource(env, src, eventtime.Strategy[kinesis.Record]{}).Name("kinesis")
	stream.Map(in.Rebalance(), func(r kinesis.Record) kinesis.Record {
		select {
		case <-behind:
		case <-ctx.Done():
		}
		return r
	}).Discard()
	done := make(chan error, 1)
	go func() { done <- env.Execute(ctx) }()
	select {
	case <-caughtUp:
	case err := <-done:
		t.Fatalf("the job ended (%v) before the metrics showed the source caught up", err)
	case <-ctx.Done():
		select {
		case <-behind:
			t.Fatal("the metrics showed the source behind but never caught up with millisBehindLatest 0")
		default:
			t.Fatal("the metrics never showed the source behind with millisBehindLatest above 0")
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("job error %v, want context.Canceled", err)
	}
	t.Logf("millisBehindLatest %d with %d of %d records out of the source, then 0 with all out", behindMs, behindN, n)
}
