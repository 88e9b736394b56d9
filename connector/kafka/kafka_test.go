package kafka_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/connector/kafka"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/stream"
)

// produce writes values "0".."n-1" to topic, value i keyed by i, spread over the partitions by
// key, with timestamps i ms after a fixed time.
func produce(t testing.TB, c testCluster, topic string, from, n int) {
	t.Helper()
	cl := client(t, c, kgo.DefaultProduceTopic(c.topic(topic)))
	recs := make([]*kgo.Record, 0, n)
	for i := from; i < from+n; i++ {
		v := []byte(strconv.Itoa(i))
		recs = append(recs, &kgo.Record{Key: v, Value: v, Timestamp: time.UnixMilli(1_700_000_000_000 + int64(i)),
			Headers: []kgo.RecordHeader{{Key: "n", Value: v}}})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// consume reads every record of topic visible to a consumer of the given isolation level. It
// first writes a sentinel record to the end of every partition (outside any transaction) and
// reads until it saw them all: a read_committed consumer sees a sentinel only once every
// transaction before it ended, so a transaction left open makes consume fail after 30s.
func consume(t testing.TB, c testCluster, topic string, committed bool) []*kgo.Record {
	t.Helper()
	topic = c.topic(topic)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	details, err := kadm.NewClient(client(t, c)).ListTopics(ctx, topic)
	if err != nil || details.Error() != nil {
		t.Fatalf("listing %s: %v %v", topic, err, details.Error())
	}
	parts := details[topic].Partitions.Numbers()
	prod := client(t, c, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for _, p := range parts {
		if err := prod.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte(sentinel)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	opts := []kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
	if committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl := client(t, c, opts...)
	var out []*kgo.Record
	for seen := 0; seen < len(parts); {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consuming %s: %v; the sentinels of %d of %d partitions not seen (a transaction left open?)", topic, err, len(parts)-seen, len(parts))
		}
		fs.EachError(func(t2 string, p int32, err error) { t.Fatalf("consuming %s/%d: %v", t2, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Value) == sentinel {
				seen++
			} else {
				out = append(out, r)
			}
		})
	}
	return out
}

const sentinel = "sentinel"

func values(recs []*kgo.Record) []int {
	out := make([]int, 0, len(recs))
	for _, r := range recs {
		n, err := strconv.Atoi(string(r.Value))
		if err != nil {
			panic(err)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func seq(from, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = from + i
	}
	return out
}

func checkExactlyOnce(t testing.TB, got, want []int) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	count := map[int]int{}
	for _, v := range got {
		count[v]++
	}
	var missing, dup []int
	for _, v := range want {
		switch count[v] {
		case 0:
			missing = append(missing, v)
		case 1:
		default:
			dup = append(dup, v)
		}
	}
	t.Fatalf("got %d records, want %d: %d missing (first %v), %d duplicated (first %v)",
		len(got), len(want), len(missing), missing[:min(5, len(missing))], len(dup), dup[:min(5, len(dup))])
}

func recordTime(r kafka.Record) int64 { return r.Timestamp.UnixMilli() }

func TestSourceReadsAllPartitions(t *testing.T) {
	c := newCluster(t, 4, "in")
	produce(t, c, "in", 0, 2000)
	src, err := kafka.NewSource(kafka.SourceConfig{Cluster: c.Cluster, Topics: []string{c.topic("in")}, Bounded: true})
	if err != nil {
		t.Fatal(err)
	}
	env := stream.New("read", stream.Config{Parallelism: 3})
	got := stream.Collect(stream.FromSource(env, src, eventtime.BoundedOutOfOrderness(time.Second, recordTime)))
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	vals := got.Values()
	parts := map[int32]bool{}
	var nums []int
	for _, r := range vals {
		parts[r.Partition] = true
		n, _ := strconv.Atoi(string(r.Value))
		nums = append(nums, n)
		if string(r.Key) != string(r.Value) || len(r.Headers) != 1 || r.Headers[0].Key != "n" || string(r.Headers[0].Value) != string(r.Value) ||
			r.Topic != c.topic("in") || r.Timestamp.UnixMilli() != 1_700_000_000_000+int64(n) {
			t.Fatalf("record %+v does not match what was produced", r)
		}
	}
	slices.Sort(nums)
	checkExactlyOnce(t, nums, seq(0, 2000))
	if len(parts) != 4 {
		t.Fatalf("read partitions %v, want all 4", parts)
	}
	if ts := got.Timestamps(); ts[0] < 1_700_000_000_000 {
		t.Fatalf("stream timestamp %d, want the record's", ts[0])
	}
}

func TestSinkAtLeastOnce(t *testing.T) {
	c := newCluster(t, 3, "out")
	sink, err := kafka.NewEncodedSink(kafka.SinkConfig{Cluster: c.Cluster, Topic: c.topic("out")}, func(n int) (kafka.Record, error) {
		v := []byte(strconv.Itoa(n))
		return kafka.Record{Key: v, Value: v, Headers: []kafka.Header{{Key: "h", Value: []byte("x")}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	env := stream.New("write", stream.Config{Parallelism: 2})
	stream.FromSlice(env, seq(0, 3000), eventtime.Monotonous(func(n int) int64 { return 1000 + int64(n) })).SinkTo(sink)
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs := consume(t, c, "out", false)
	checkExactlyOnce(t, values(recs), seq(0, 3000))
	for _, r := range recs {
		if len(r.Headers) != 1 || string(r.Headers[0].Value) != "x" || string(r.Key) != string(r.Value) {
			t.Fatalf("record %v lacks its key or header", r)
		}
		if n, _ := strconv.Atoi(string(r.Value)); r.Timestamp.UnixMilli() != 1000+int64(n) {
			t.Fatalf("record %s has timestamp %d, want the stream timestamp %d", r.Value, r.Timestamp.UnixMilli(), 1000+n)
		}
	}
}

func TestUnreachableBrokerFails(t *testing.T) {
	// Port 1 on loopback: nothing listens, connections are refused.
	dead := kafka.Cluster{Brokers: []string{"127.0.0.1:1"}, ConnectTimeout: 2 * time.Second}
	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"source", func() error {
			src, err := kafka.NewSource(kafka.SourceConfig{Cluster: dead, Topics: []string{"in"}})
			if err != nil {
				return err
			}
			env := stream.New("dead", stream.Config{Parallelism: 1})
			stream.FromSource(env, src, eventtime.Monotonous(recordTime)).Discard()
			return env.Execute(context.Background())
		}},
		{"sink", func() error {
			sink, err := kafka.NewSink(kafka.SinkConfig{Cluster: dead, Topic: "out"})
			if err != nil {
				return err
			}
			env := stream.New("dead", stream.Config{Parallelism: 1})
			stream.FromSlice(env, []kafka.Record{{Value: []byte("x")}}, eventtime.Monotonous(recordTime)).SinkTo(sink)
			return env.Execute(context.Background())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := tc.run()
			if err == nil {
				t.Fatal("no error with an unreachable broker")
			}
			if el := time.Since(start); el > 20*time.Second {
				t.Fatalf("took %v to fail", el)
			}
			if !containsAll(err.Error(), "kafka", "127.0.0.1:1") {
				t.Fatalf("error %q does not name the brokers", err)
			}
			t.Logf("%v", err)
		})
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// TestSinkExactlyOnceWithoutCheckpoints: a job without checkpoints pre-commits and commits
// its transactions at the end of its input.
func TestSinkExactlyOnceWithoutCheckpoints(t *testing.T) {
	c := newCluster(t, 3, "out")
	sink, err := kafka.NewEncodedSink(kafka.SinkConfig{Cluster: c.Cluster, Topic: c.topic("out"), Guarantee: kafka.ExactlyOnce, TransactionalIDPrefix: c.topic("nock")},
		func(n int) (kafka.Record, error) { return kafka.Record{Value: []byte(strconv.Itoa(n))}, nil })
	if err != nil {
		t.Fatal(err)
	}
	env := stream.New("write", stream.Config{Parallelism: 2})
	stream.FromSlice(env, seq(0, 1000), eventtime.Monotonous(func(n int) int64 { return int64(n) })).SinkTo(sink)
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, values(consume(t, c, "out", true)), seq(0, 1000))
}
