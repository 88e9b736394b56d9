package kafka_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/connector/kafka"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/stream"
)

// The tests run against kfake, the in-process cluster that speaks the real protocol
// (transactions included), each test on a cluster of its own. With RUNNEL_KAFKA_TEST_BROKERS
// set ("host:port,..."), the tests that take their cluster from newCluster run against that
// cluster instead: each test makes its topics under a prefix of its own and deletes them at the
// end. RUNNEL_KAFKA_TEST_TLS=1 connects with TLS (the system's CAs), and
// RUNNEL_KAFKA_TEST_SASL=MECHANISM:USER:PASSWORD (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) or
// AWS_MSK_IAM (the AWS default credential chain) authenticates. The tests that need to control
// the cluster (an outage, refused credentials) keep using kfake.
const (
	brokersEnv = "RUNNEL_KAFKA_TEST_BROKERS"
	tlsEnv     = "RUNNEL_KAFKA_TEST_TLS"
	saslEnv    = "RUNNEL_KAFKA_TEST_SASL"
)

// testCluster is a test's cluster, and the prefix of its topics (and transactional ids and
// groups) on a shared real cluster; "" on kfake.
type testCluster struct {
	kafka.Cluster
	prefix string
}

// topic returns the name a test's topic (or transactional id, or group) has on the cluster.
func (c testCluster) topic(name string) string { return c.prefix + name }

// newCluster returns the cluster of a test with the given topics of partitions partitions
// each: an in-process fake cluster closed at the end of the test, or the real one.
func newCluster(t testing.TB, partitions int32, topics ...string) testCluster {
	t.Helper()
	if os.Getenv(brokersEnv) != "" {
		return realCluster(t, partitions, topics...)
	}
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(partitions, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return testCluster{Cluster: kafka.Cluster{Brokers: c.ListenAddrs(), ConnectTimeout: 10 * time.Second}}
}

// envCluster returns a cluster at brokers with the security settings of the environment.
func envCluster(t testing.TB, brokers []string) kafka.Cluster {
	t.Helper()
	c := kafka.Cluster{Brokers: brokers, ConnectTimeout: 30 * time.Second}
	if os.Getenv(tlsEnv) == "1" {
		c.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if v := os.Getenv(saslEnv); v != "" {
		mech, rest, _ := strings.Cut(v, ":")
		user, pass, _ := strings.Cut(rest, ":")
		c.SASL = kafka.SASL{Mechanism: kafka.Mechanism(mech), User: user, Password: pass}
	}
	return c
}

// realCluster makes the test's topics on the cluster of the environment under a fresh prefix,
// and deletes every topic with that prefix at the end of the test.
func realCluster(t testing.TB, partitions int32, topics ...string) testCluster {
	t.Helper()
	c := testCluster{Cluster: envCluster(t, strings.Split(os.Getenv(brokersEnv), ",")),
		prefix: fmt.Sprintf("runnel-test-%x-", rand.Uint64())}
	adm := kadm.NewClient(client(t, c))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	named := make([]string, len(topics))
	for i, tp := range topics {
		named[i] = c.topic(tp)
	}
	if len(named) > 0 {
		res, err := adm.CreateTopics(ctx, partitions, -1, nil, named...)
		if err == nil {
			err = res.Error()
		}
		if err != nil {
			t.Fatalf("creating topics %v on %v: %v", named, c.Brokers, err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		listed, err := adm.ListTopics(ctx)
		if err != nil {
			t.Errorf("listing the test's topics to delete them: %v", err)
			return
		}
		var mine []string
		for _, name := range listed.Names() {
			if strings.HasPrefix(name, c.prefix) {
				mine = append(mine, name)
			}
		}
		if len(mine) > 0 {
			if _, err := adm.DeleteTopics(ctx, mine...); err != nil {
				t.Errorf("deleting topics %v: %v", mine, err)
			}
		}
	})
	return c
}

func client(t testing.TB, c testCluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append(kafka.ClientOpts(c.Cluster), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

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
