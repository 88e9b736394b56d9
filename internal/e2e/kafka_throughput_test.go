package e2e

import (
	"context"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/connector/kafka"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/stream"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaToKafkaThroughput measures a Kafka → map → Kafka job through kfake, with the
// at-least-once sink and with the exactly-once (transactional) one, checkpoints every second,
// beside two baselines taken in the same run on the same cluster: producing the input with one
// franz-go client, and consuming it to its end with one. kfake runs in this process, so the
// job shares the CPU with the broker it talks to; the baselines say what the broker serves.
// Figures are records per second of wall time and per CPU-second of the whole process (job and
// kfake together). The output is read back read_committed: every record must be there, once for
// exactly-once.
//
// In the normal suite it runs on a few thousand records as a test of the measurement. For the
// figure:
//
//	RUNNEL_BENCH_KAFKA=1000000 go test -run TestKafkaToKafkaThroughput -v ./internal/e2e
func TestKafkaToKafkaThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("runs kfake and jobs")
	}
	records := 5000
	if s := os.Getenv("RUNNEL_BENCH_KAFKA"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("RUNNEL_BENCH_KAFKA=%q: want a positive number of records", s)
		}
		records = n
	}
	const partitions, parallelism = 4, 2
	for _, g := range []kafka.Guarantee{kafka.AtLeastOnce, kafka.ExactlyOnce} {
		name := map[kafka.Guarantee]string{kafka.AtLeastOnce: "at-least-once", kafka.ExactlyOnce: "exactly-once"}[g]
		t.Run(name, func(t *testing.T) {
			cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, "in", "out"))
			if err != nil {
				t.Fatal(err)
			}
			defer cluster.Close()
			brokers := cluster.ListenAddrs()

			produce := measure(func() { produceIDs(t, brokers, "in", records) })
			consume := measure(func() { consumeAll(t, brokers, "in", records) })
			job := measure(func() { runKafkaToKafka(t, brokers, g, parallelism) })
			seen := committedValues(t, brokers, "out")
			for i := range records {
				c := seen[strconv.Itoa(i)+"!"]
				if c == 0 || (g == kafka.ExactlyOnce && c > 1) {
					t.Fatalf("read_committed sees record %d %d times", i, c)
				}
			}
			if len(seen) != records {
				t.Fatalf("read_committed sees %d distinct values, want %d", len(seen), records)
			}
			n := float64(records)
			t.Logf("\nKafka → map → Kafka through kfake (in this process), %s sink, %d records, %d partitions, parallelism %d, checkpoints every 1s\n"+
				"  produce, one client:     %9.0f records/s  %9.0f per CPU-s\n"+
				"  consume, one client:     %9.0f records/s  %9.0f per CPU-s\n"+
				"  job, to the end:         %9.0f records/s  %9.0f per CPU-s",
				name, records, partitions, parallelism,
				n/produce.wall.Seconds(), n/produce.cpu.Seconds(),
				n/consume.wall.Seconds(), n/consume.cpu.Seconds(),
				n/job.wall.Seconds(), n/job.cpu.Seconds())
		})
	}
}

// runKafkaToKafka runs the measured job to the end of the input topic: source → map → sink,
// checkpoints every second (for exactly-once, the final checkpoint commits the last
// transaction before the job ends).
func runKafkaToKafka(t *testing.T, brokers []string, g kafka.Guarantee, parallelism int) {
	t.Helper()
	cluster := kafka.Cluster{Brokers: brokers, ConnectTimeout: 10 * time.Second}
	src, err := kafka.NewSource(kafka.SourceConfig{Cluster: cluster, Topics: []string{"in"}, Bounded: true})
	if err != nil {
		t.Fatal(err)
	}
	sink, err := kafka.NewSink(kafka.SinkConfig{Cluster: cluster, Topic: "out", Guarantee: g, TransactionalIDPrefix: "throughput"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := checkpoint.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	env := stream.New("kafka throughput", stream.Config{
		Parallelism: parallelism,
		Checkpoints: stream.Checkpoints{Storage: st, Interval: time.Second},
	})
	in := stream.FromSource(env, src, eventtime.Strategy[kafka.Record]{}).Uid("in")
	stream.Map(in, func(r kafka.Record) kafka.Record {
		return kafka.Record{Key: r.Key, Value: append(r.Value, '!')}
	}).Uid("map").SinkTo(sink).Uid("out")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	if err := env.Execute(ctx); err != nil {
		t.Fatal(err)
	}
}

// consumeAll reads topic from its start with one franz-go client until it has n records.
func consumeAll(t *testing.T, brokers []string, topic string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for got := 0; got < n; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s: %d of %d records, then %v", topic, got, n, err)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Fatalf("reading %s partition %d: %v", topic, p, err) })
		got += fs.NumRecords()
	}
}

// committedValues reads topic read_committed to its end with the connector's bounded source
// and returns how often each value occurs.
func committedValues(t *testing.T, brokers []string, topic string) map[string]int {
	t.Helper()
	src, err := kafka.NewSource(kafka.SourceConfig{
		Cluster: kafka.Cluster{Brokers: brokers}, Topics: []string{topic}, Bounded: true, ReadCommitted: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	env := stream.New("read "+topic, stream.Config{})
	values := stream.Collect(stream.Map(stream.FromSource(env, src, eventtime.Strategy[kafka.Record]{}),
		func(r kafka.Record) string { return string(r.Value) }))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	if err := env.Execute(ctx); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, v := range values.Values() {
		seen[v]++
	}
	return seen
}

// cost is what a piece of work took: wall time and the process's CPU time.
type cost struct{ wall, cpu time.Duration }

// measure runs f and returns its cost.
func measure(f func()) cost {
	cpu0, start := cpuTime(), time.Now()
	f()
	return cost{wall: time.Since(start), cpu: cpuTime() - cpu0}
}

// cpuTime returns the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
