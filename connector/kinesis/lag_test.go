package kinesis_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/kinesis"
	"github.com/runnel-io/runnel/internal/testing/kinesistest"
	"github.com/runnel-io/runnel/metrics"
)

// behindAPI is the server's API, except that GetRecords says the reader is a minute behind when
// it returns records and caught up when it returns none: kinesalite always says 0.
type behindAPI struct{ kinesis.SourceAPI }

const behindMs = 60_000

func (a behindAPI) GetRecords(ctx context.Context, in *awskinesis.GetRecordsInput, opts ...func(*awskinesis.Options)) (*awskinesis.GetRecordsOutput, error) {
	out, err := a.SourceAPI.GetRecords(ctx, in, opts...)
	if err == nil {
		ms := int64(0)
		if len(out.Records) > 0 {
			ms = behindMs
		}
		out.MillisBehindLatest = &ms
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

	src, err := kinesis.NewSource(behindAPI{srv.Client()}, kinesis.SourceConfig{Stream: stream,
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
	deadline := time.Now().Add(10 * time.Second)
	for gauge.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("millisBehindLatest still %d 10 s after the last record was read", gauge.Load())
		}
		drain(t, readers, out, func() bool { return true }, time.Second)
		time.Sleep(10 * time.Millisecond) // polling a condition the fetch goroutine sets
	}
}
