package kinesis_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go/logging"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/kinesis"
	"github.com/runnel-io/runnel/internal/testing/kinesistest"
)

// enumCtx is a connector.EnumeratorContext that records assignments.
type enumCtx struct {
	p        int
	assigned map[int][]connector.Split
}

func (c *enumCtx) Parallelism() int { return c.p }
func (c *enumCtx) Assign(sub int, splits ...connector.Split) {
	c.assigned[sub] = append(c.assigned[sub], splits...)
}
func (c *enumCtx) NoMoreSplits(int)     {}
func (c *enumCtx) Logger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// take returns and forgets the splits assigned to sub.
func (c *enumCtx) take(sub int) []connector.Split {
	s := c.assigned[sub]
	delete(c.assigned, sub)
	return s
}

// collector is a connector.ReaderOutput keeping what it gets.
type collector struct {
	mu       sync.Mutex
	recs     []kinesis.Record
	released []string
}

func (c *collector) Split(string) connector.SplitOutput[kinesis.Record] { return splitOut{c} }
func (c *collector) ReleaseSplit(id string)                             { c.released = append(c.released, id) }
func (c *collector) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.recs)
}

type splitOut struct{ c *collector }

func (o splitOut) Collect(v kinesis.Record, _ int64) {
	o.c.mu.Lock()
	o.c.recs = append(o.c.recs, v)
	o.c.mu.Unlock()
}

// drain reads from readers into out until done says so; it fails the test after timeout.
func drain(t *testing.T, readers []connector.Reader[kinesis.Record], out *collector, done func() bool, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	ctx := context.Background()
	for !done() {
		idle := true
		for _, r := range readers {
			st, err := r.Read(ctx, out)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if st == connector.MoreAvailable {
				idle = false
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v with %d records", timeout, out.len())
		}
		if idle {
			select {
			case <-readers[0].(connector.Availability).Available():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// putAll writes n records "i" with partition keys "key-<i%keys>" through the sink.
func putAll(t *testing.T, api kinesis.PutRecordsAPI, stream string, from, n, keys int) {
	t.Helper()
	sink, err := kinesis.NewSink(api, kinesis.SinkConfig[int]{
		Stream:       stream,
		Encode:       func(v int) ([]byte, error) { return []byte(fmt.Sprint(v)), nil },
		PartitionKey: func(v int) string { return fmt.Sprintf("key-%d", v%keys) },
		BatchRecords: 100,
	})
	if err != nil {
		t.Fatal(err)
	}
	w, err := sink.NewWriter(context.Background(), connector.SinkContext{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := from; i < from+n; i++ {
		if err := w.Write(context.Background(), i, 0); err != nil {
			t.Fatal(err)
		}
	}
	if cs, err := w.PreCommit(context.Background(), 1); err != nil || cs != nil {
		t.Fatalf("PreCommit: %v, %v", cs, err)
	}
}

// checkExactly checks that recs hold each of 0..n-1 once and, if ordered, each key's records
// in order.
func checkExactly(t *testing.T, recs []kinesis.Record, n int, ordered bool) {
	t.Helper()
	seen := make([]int, n)
	last := map[string]int{}
	for _, r := range recs {
		var v int
		if _, err := fmt.Sscan(string(r.Data), &v); err != nil || v < 0 || v >= n {
			t.Fatalf("unexpected record %q", r.Data)
		}
		seen[v]++
		if prev, ok := last[r.PartitionKey]; ok && prev > v && ordered {
			t.Errorf("key %s: record %d after %d", r.PartitionKey, v, prev)
		}
		last[r.PartitionKey] = v
		if r.ShardID == "" || r.SequenceNumber == "" || r.ApproximateArrivalTimestamp.IsZero() {
			t.Fatalf("record without metadata: %+v", r)
		}
	}
	var missing, dup []int
	for v, c := range seen {
		switch {
		case c == 0:
			missing = append(missing, v)
		case c > 1:
			dup = append(dup, v)
		}
	}
	if len(missing) > 0 || len(dup) > 0 {
		t.Fatalf("%d records missing (first %v), %d duplicated (first %v)", len(missing), first(missing), len(dup), first(dup))
	}
}

func first(s []int) []int { return s[:min(len(s), 5)] }

// TestSourceReadsAllShardsAndRestoresExactly reads half a stream, snapshots, and restores at
// another parallelism, by polling, by fan-out, and switching from one to the other across the
// restore (the positions are the same sequence numbers).
func TestSourceReadsAllShardsAndRestoresExactly(t *testing.T) {
	t.Parallel()
	polling, fanOut := readModes[0], readModes[1]
	for _, modes := range [][2]readMode{{polling, polling}, {fanOut, fanOut}, {polling, fanOut}, {fanOut, polling}} {
		t.Run(modes[0].name+"→"+modes[1].name, func(t *testing.T) {
			t.Parallel()
			testSourceRestoresExactly(t, modes[0], modes[1])
		})
	}
}

func testSourceRestoresExactly(t *testing.T, before, after readMode) {
	srv := kinesistest.Start(t)
	stream := srv.CreateStream(t, 4)
	const n = 3000
	putAll(t, srv.Client(), stream, 0, n, 40)

	cfg := kinesis.SourceConfig{Stream: stream, PollInterval: 20 * time.Millisecond, MaxRecordsPerCall: 100}
	src, err := kinesis.NewSource(before.client(t, srv, &cfg), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ec := &enumCtx{p: 2, assigned: map[int][]connector.Split{}}
	enum, err := src.NewEnumerator(ec, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := enum.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var readers []connector.Reader[kinesis.Record]
	for i := range 2 {
		if err := enum.AddReader(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		r, err := src.NewReader(connector.ReaderContext{Subtask: i, Parallelism: 2})
		if err != nil {
			t.Fatal(err)
		}
		splits := ec.take(i)
		if len(splits) != 2 {
			t.Fatalf("reader %d got %d shards, want 2 of 4", i, len(splits))
		}
		r.AddSplits(splits)
		readers = append(readers, r)
	}
	first := &collector{}
	drain(t, readers, first, func() bool { return first.len() >= n/2 }, 30*time.Second)

	// Snapshot as a checkpoint would, through the codec, and stop.
	codec := connector.SplitCodec(src)
	encode := func(splits []connector.Split) [][]byte {
		var out [][]byte
		for _, sp := range splits {
			b, err := codec.EncodeSplit(sp)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		return out
	}
	enumSnap, err := enum.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	enumBlobs := encode(enumSnap)
	var readerBlobs [][][]byte
	for _, r := range readers {
		snap, err := r.Snapshot(1)
		if err != nil {
			t.Fatal(err)
		}
		readerBlobs = append(readerBlobs, encode(snap))
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	enum.Close()

	// Restore into a new source, as a new process would, at parallelism 1.
	cfg.FanOut = nil
	src2, err := kinesis.NewSource(after.client(t, srv, &cfg), cfg)
	if err != nil {
		t.Fatal(err)
	}
	decode := func(blobs [][]byte) []connector.Split {
		out := []connector.Split{}
		for _, b := range blobs {
			sp, err := src2.DecodeSplit(b)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, sp)
		}
		return out
	}
	ec2 := &enumCtx{p: 1, assigned: map[int][]connector.Split{}}
	enum2, err := src2.NewEnumerator(ec2, decode(enumBlobs))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := src2.NewReader(connector.ReaderContext{Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	for _, blobs := range readerBlobs {
		r2.AddSplits(decode(blobs))
	}
	if err := enum2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := enum2.AddReader(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if got := ec2.take(0); len(got) != 0 {
		t.Fatalf("the restored enumerator assigned %d shards the readers hold", len(got))
	}
	rest := &collector{}
	drain(t, []connector.Reader[kinesis.Record]{r2}, rest, func() bool { return first.len()+rest.len() >= n }, 30*time.Second)
	// A duplicate arriving later is caught below: the next records are counted to n+100.
	t.Logf("%d records before the snapshot, %d after", first.len(), rest.len())
	checkExactly(t, append(slices.Clone(first.recs), rest.recs...), n, true)

	// More records put now arrive too: the readers follow the open shards.
	putAll(t, srv.Client(), stream, n, 100, 40)
	drain(t, []connector.Reader[kinesis.Record]{r2}, rest, func() bool { return first.len()+rest.len() >= n+100 }, 30*time.Second)
	checkExactly(t, append(slices.Clone(first.recs), rest.recs...), n+100, true)
}

// TestSourceStartPositions reads a stream from TRIM_HORIZON, AT_TIMESTAMP and LATEST, polling
// and with fan-out (the subscriptions' StartingPosition).
func TestSourceStartPositions(t *testing.T) {
	t.Parallel()
	for _, m := range readModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			testSourceStartPositions(t, m)
		})
	}
}

func testSourceStartPositions(t *testing.T, m readMode) {
	srv := kinesistest.Start(t)
	stream := srv.CreateStream(t, 2)
	putAll(t, srv.Client(), stream, 0, 100, 10)
	time.Sleep(1100 * time.Millisecond) // arrival timestamps have a resolution of a second or so
	mid := time.Now()
	time.Sleep(1100 * time.Millisecond)
	putAll(t, srv.Client(), stream, 100, 50, 10)

	read := func(start kinesis.StartPosition, want int, putMore bool) []kinesis.Record {
		cfg := kinesis.SourceConfig{Stream: stream, Start: start, PollInterval: 20 * time.Millisecond}
		api, fo := m.clientAndProxy(t, srv, &cfg)
		iterators := &iteratorCount{SourceAPI: api}
		if fo == nil {
			api = iterators
		}
		src, err := kinesis.NewSource(api, cfg)
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
		if putMore {
			// Once both shards' fetchers have their LATEST iterators, or the emulation opened a
			// subscription to each, they are positioned.
			positioned := func() bool { return iterators.n.Load() >= 2 }
			if fo != nil {
				positioned = func() bool { return fo.Subscriptions() >= 2 }
			}
			for deadline := time.Now().Add(10 * time.Second); !positioned(); time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the readers were not positioned at LATEST within 10s")
				}
			}
			putAll(t, srv.Client(), stream, 150, 30, 10)
		}
		drain(t, []connector.Reader[kinesis.Record]{r}, out, func() bool { return out.len() >= want }, 20*time.Second)
		time.Sleep(100 * time.Millisecond)
		drain(t, []connector.Reader[kinesis.Record]{r}, out, func() bool { return true }, time.Second)
		return out.recs
	}
	if got := read(kinesis.StartPosition{}, 150, false); len(got) != 150 {
		t.Errorf("TRIM_HORIZON read %d records, want 150", len(got))
	}
	got := read(kinesis.StartPosition{Kind: kinesis.AtTimestamp, Timestamp: mid}, 50, false)
	if len(got) != 50 || string(got[0].Data) < "100" {
		t.Errorf("AT_TIMESTAMP read %d records, want the 50 put after it", len(got))
	}
	got = read(kinesis.StartPosition{Kind: kinesis.Latest}, 30, true)
	for _, r := range got {
		if v := string(r.Data); len(v) < 3 || v < "150" {
			t.Fatalf("LATEST read record %s, put before the start", v)
		}
	}
	if len(got) != 30 {
		t.Errorf("LATEST read %d records, want 30", len(got))
	}
}

// unreachable returns a client of an endpoint nothing listens on, that tries each call once.
func unreachable(t *testing.T) *awskinesis.Client {
	t.Helper()
	return awskinesis.New(awskinesis.Options{
		BaseEndpoint:     aws.String("http://127.0.0.1:1"),
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("a", "b", ""),
		Logger:           logging.Nop{},
		RetryMaxAttempts: 1,
	})
}

func TestUnreachableEndpoint(t *testing.T) {
	t.Parallel()
	api := unreachable(t)
	ctx := context.Background()
	src, err := kinesis.NewSource(api, kinesis.SourceConfig{Stream: "nowhere", MaxRetries: 3,
		BaseBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	enum, err := src.NewEnumerator(&enumCtx{p: 1, assigned: map[int][]connector.Split{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = enum.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "kinesis: listing the shards of stream nowhere") {
		t.Fatalf("Start: %v", err)
	}
	t.Log(err)

	r, err := src.NewReader(connector.ReaderContext{Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.AddSplits([]connector.Split{&kinesis.Split{ShardID: "shardId-000000000000"}})
	start := time.Now()
	for {
		_, err := r.Read(ctx, &collector{})
		if err != nil {
			if !strings.Contains(err.Error(), "kinesis: stream nowhere, shard shardId-000000000000: getting a shard iterator (4 attempts)") {
				t.Fatalf("Read: %v", err)
			}
			t.Log(err)
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatal("Read did not fail within 20s")
		}
		select {
		case <-r.(connector.Availability).Available():
		case <-time.After(10 * time.Millisecond):
		}
	}

	sink, err := kinesis.NewSink(api, kinesis.SinkConfig[string]{Stream: "nowhere",
		Encode: func(s string) ([]byte, error) { return []byte(s), nil }, PartitionKey: func(s string) string { return s }})
	if err != nil {
		t.Fatal(err)
	}
	w, _ := sink.NewWriter(ctx, connector.SinkContext{})
	_ = w.Write(ctx, "x", 0)
	if _, err := w.PreCommit(ctx, 1); err == nil || !strings.Contains(err.Error(), "kinesis: putting 1 records to stream nowhere") {
		t.Fatalf("PreCommit: %v", err)
	}
}

// iteratorCount counts the shard iterators a client handed out.
type iteratorCount struct {
	kinesis.SourceAPI
	n atomic.Int64
}

func (c *iteratorCount) GetShardIterator(ctx context.Context, in *awskinesis.GetShardIteratorInput, opts ...func(*awskinesis.Options)) (*awskinesis.GetShardIteratorOutput, error) {
	out, err := c.SourceAPI.GetShardIterator(ctx, in, opts...)
	if err == nil {
		c.n.Add(1)
	}
	return out, err
}
