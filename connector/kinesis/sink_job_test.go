package kinesis_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/kinesis"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/internal/testing/kinesistest"
	"github.com/runnel-io/runnel/stream"
)

// TestSinkJobWritesEverything runs a bounded job into the sink and reads the stream back: every
// record is there once, with the partition key the function gave it.
func TestSinkJobWritesEverything(t *testing.T) {
	t.Parallel()
	srv := kinesistest.Start(t)
	name := srv.CreateStream(t, 3)
	const n = 4000
	vals := make([]int, n)
	for i := range vals {
		vals[i] = i
	}
	sink, err := kinesis.NewSink(srv.Client(), kinesis.SinkConfig[int]{
		Stream:       name,
		Encode:       func(v int) ([]byte, error) { return []byte(fmt.Sprint(v)), nil },
		PartitionKey: func(v int) string { return fmt.Sprintf("key-%d", v%40) },
	})
	if err != nil {
		t.Fatal(err)
	}
	env := stream.New("kinesis-sink", stream.Config{Parallelism: 2})
	stream.FromSlice(env, vals, eventtime.Strategy[int]{}).SinkTo(sink)
	start := time.Now()
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d records in %v", n, time.Since(start).Round(time.Millisecond))

	src, err := kinesis.NewSource(srv.Client(), kinesis.SourceConfig{Stream: name, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ec := &enumCtx{p: 1, assigned: map[int][]connector.Split{}}
	enum, err := src.NewEnumerator(ec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := enum.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = enum.AddReader(context.Background(), 0)
	r, err := src.NewReader(connector.ReaderContext{Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.AddSplits(ec.take(0))
	out := &collector{}
	drain(t, []connector.Reader[kinesis.Record]{r}, out, func() bool { return out.len() >= n }, 30*time.Second)
	checkExactly(t, out.recs, n, false) // two writers put the same keys concurrently
	for _, rec := range out.recs {
		var v int
		fmt.Sscan(string(rec.Data), &v)
		if want := fmt.Sprintf("key-%d", v%40); rec.PartitionKey != want {
			t.Fatalf("record %d has partition key %s, want %s", v, rec.PartitionKey, want)
		}
	}
}
