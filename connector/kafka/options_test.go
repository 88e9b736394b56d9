package kafka_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/connector/kafka"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/stream"
	"github.com/runnel-io/runnel/window"
)

// TestSourceStartAtTimestamp starts a bounded source at a time in the middle of the topic: it
// reads, from every partition, exactly the records stamped at or after it.
func TestSourceStartAtTimestamp(t *testing.T) {
	c := newCluster(t, 3, "in")
	produce(t, c, "in", 0, 600) // record i is stamped 1_700_000_000_000 + i ms
	src, err := kafka.NewSource(kafka.SourceConfig{Cluster: c.Cluster, Topics: []string{c.topic("in")}, Bounded: true,
		Start: kafka.AtTimestamp, StartTimestamp: time.UnixMilli(1_700_000_000_000 + 400)})
	if err != nil {
		t.Fatal(err)
	}
	env := stream.New("read", stream.Config{Parallelism: 2})
	got := stream.Collect(stream.FromSource(env, src, eventtime.BoundedOutOfOrderness(time.Second, recordTime)))
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	var nums []int
	for _, r := range got.Values() {
		n, _ := strconv.Atoi(string(r.Value))
		nums = append(nums, n)
	}
	slices.Sort(nums)
	checkExactlyOnce(t, nums, seq(400, 200))
}

// TestSinkPartitioner writes through a sink with a user partition function and finds every
// record in the partition it chose.
func TestSinkPartitioner(t *testing.T) {
	c := newCluster(t, 3, "out")
	sink, err := kafka.NewEncodedSink(kafka.SinkConfig{Cluster: c.Cluster, Topic: c.topic("out"),
		Partitioner: func(r *kafka.Record, n int) int {
			v, _ := strconv.Atoi(string(r.Value))
			return v % n
		}}, func(n int) (kafka.Record, error) {
		return kafka.Record{Value: []byte(strconv.Itoa(n))}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	env := stream.New("write", stream.Config{Parallelism: 2})
	stream.FromSlice(env, seq(0, 900), eventtime.Strategy[int]{}).SinkTo(sink)
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs := consume(t, c, "out", false)
	checkExactlyOnce(t, values(recs), seq(0, 900))
	for _, r := range recs {
		if n, _ := strconv.Atoi(string(r.Value)); int32(n%3) != r.Partition {
			t.Fatalf("record %d is in partition %d, want %d", n, r.Partition, n%3)
		}
	}
}

// TestSourceStartCommitted starts a bounded source at a consumer group's committed offsets:
// partition 0 committed at its end, partition 1 in the middle, partition 2 not at all (so it
// starts at the earliest record). It reads exactly the records at and after those offsets.
func TestSourceStartCommitted(t *testing.T) {
	c := newCluster(t, 3, "in")
	produce(t, c, "in", 0, 600)
	all := consume(t, c, "in", false)
	ends := map[int32]int64{}
	for _, r := range all {
		if string(r.Value) != sentinel {
			ends[r.Partition] = max(ends[r.Partition], r.Offset+1)
		}
	}
	from := map[int32]int64{0: ends[0], 1: ends[1] / 2}
	var offs kadm.Offsets
	for p, o := range from {
		offs.AddOffset(c.topic("in"), p, o, -1)
	}
	ctx := context.Background()
	resp, err := kadm.NewClient(client(t, c)).CommitOffsets(ctx, c.topic("g"), offs)
	if err != nil || resp.Error() != nil {
		t.Fatalf("committing offsets: %v %v", err, resp.Error())
	}
	var want []int
	for _, r := range all {
		if string(r.Value) == sentinel || r.Offset < from[r.Partition] {
			continue
		}
		n, _ := strconv.Atoi(string(r.Value))
		want = append(want, n)
	}
	slices.Sort(want)
	if len(want) == 0 || len(want) == 600 {
		t.Fatalf("the committed offsets select %d records: the test needs some, not all", len(want))
	}

	src, err := kafka.NewSource(kafka.SourceConfig{Cluster: c.Cluster, Topics: []string{c.topic("in")}, Bounded: true,
		Start: kafka.Committed, Group: c.topic("g")})
	if err != nil {
		t.Fatal(err)
	}
	env := stream.New("read", stream.Config{Parallelism: 2})
	got := stream.Collect(stream.FromSource(env, src, eventtime.BoundedOutOfOrderness(time.Second, recordTime)))
	if err := env.Execute(ctx); err != nil {
		t.Fatal(err)
	}
	var nums []int
	for _, r := range got.Values() {
		if string(r.Value) == sentinel {
			continue
		}
		n, _ := strconv.Atoi(string(r.Value))
		nums = append(nums, n)
	}
	slices.Sort(nums)
	if !slices.Equal(nums, want) {
		t.Fatalf("read %d records, want the %d at or after the committed offsets", len(nums), len(want))
	}
}

// TestPerPartitionWatermarks reads two partitions whose event times are far apart with one
// reader, into one-second event-time windows allowing no disorder. The watermark is the least
// of the partitions' own, so the records of the partition that is behind are not late: every
// record is counted. (With one watermark per reader, the partition ahead would make most of
// the other's records late, and the windows would drop them.)
func TestPerPartitionWatermarks(t *testing.T) {
	c := newCluster(t, 2, "in")
	cl := client(t, c, kgo.DefaultProduceTopic(c.topic("in")), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	const perPartition = 1000
	var recs []*kgo.Record
	for i := range perPartition {
		for p, base := range []int64{1_000_000_000, 0} { // partition 0 is 11 days ahead
			recs = append(recs, &kgo.Record{Partition: int32(p), Value: []byte("x"), Timestamp: time.UnixMilli(base + int64(i)*10)})
		}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	src, err := kafka.NewSource(kafka.SourceConfig{Cluster: c.Cluster, Topics: []string{c.topic("in")}, Bounded: true, MaxPollRecords: 10})
	if err != nil {
		t.Fatal(err)
	}
	env := stream.New("read", stream.Config{Parallelism: 1})
	in := stream.FromSource(env, src, eventtime.BoundedOutOfOrderness(0, recordTime))
	ones := stream.Map(in, func(kafka.Record) int { return 1 })
	byAll := stream.KeyBy(ones, func(int) int { return 0 })
	counts := stream.Collect(stream.WindowReduce(stream.Window(byAll, window.TumblingEventTime(time.Second)), func(a, b int) int { return a + b }))
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range counts.Values() {
		total += n
	}
	if total != 2*perPartition {
		t.Fatalf("windows counted %d records of %d: the partition behind was taken as late", total, 2*perPartition)
	}
}
