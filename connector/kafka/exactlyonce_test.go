package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/kafka"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/restart"
	"github.com/runnel-io/runnel/stream"
)

func checkpointConfig(t testing.TB, dir string, interval time.Duration) stream.Config {
	t.Helper()
	st, err := checkpoint.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return stream.Config{Checkpoints: stream.Checkpoints{
		Storage:  st,
		Interval: interval, TolerableFailures: 1000,
		Restart: restart.FixedDelay(1000, 0),
	}}
}

// pipeline is the Kafka→Kafka job of the exactly-once tests: topic "in" through a map that
// may fail to topic "out", written in transactions.
type pipeline struct {
	cluster     testCluster
	parallelism int
	prefix      string
	// fail, if not nil, makes the map fail when it returns true for the count of records it
	// saw (over all attempts).
	fail func(seen int64) bool
}

func (p pipeline) build(t testing.TB, cfg stream.Config) *stream.Env {
	t.Helper()
	cfg.Parallelism = p.parallelism
	src, err := kafka.NewSource(kafka.SourceConfig{Cluster: p.cluster.Cluster, Topics: []string{p.cluster.topic("in")}, Bounded: true, MaxPollRecords: 50,
		Group: p.cluster.topic("eos-test")})
	if err != nil {
		t.Fatal(err)
	}
	sink, err := kafka.NewEncodedSink(kafka.SinkConfig{Cluster: p.cluster.Cluster, Topic: p.cluster.topic("out"), Guarantee: kafka.ExactlyOnce,
		TransactionalIDPrefix: p.cluster.topic(p.prefix), TransactionTimeout: time.Minute},
		func(r kafka.Record) (kafka.Record, error) {
			return kafka.Record{Key: r.Key, Value: r.Value, Headers: r.Headers}, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	env := stream.New("kafka-eos", cfg)
	var seen atomic.Int64
	in := stream.FromSource(env, src, eventtime.BoundedOutOfOrderness(time.Second, recordTime)).Uid("in")
	stream.Map(in, func(r kafka.Record) kafka.Record {
		if p.fail != nil && p.fail(seen.Add(1)) {
			panic(fmt.Sprintf("injected failure at %s/%d offset %d", r.Topic, r.Partition, r.Offset))
		}
		return r
	}).Uid("map").SinkTo(sink).Uid("out")
	return env
}

func TestExactlyOnceKafkaToKafkaWithFailures(t *testing.T) {
	const n = 20000
	for seed := range 2 {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			c := newCluster(t, 4, "in", "out")
			produce(t, c, "in", 0, n)
			points := []int64{int64(1500 + 1000*seed), 6000, 11000, 16500}
			var failures atomic.Int64
			p := pipeline{cluster: c, parallelism: 2, prefix: "eos", fail: func(seen int64) bool {
				if slices.Contains(points, seen) {
					failures.Add(1)
					return true
				}
				return false
			}}
			cfg := checkpointConfig(t, t.TempDir(), 5*time.Millisecond)
			var last atomic.Pointer[metrics.Checkpoints]
			cfg.MetricsInterval = time.Millisecond
			cfg.Metrics = metrics.ListenerFunc(func(s metrics.Snapshot) {
				if c := s.Checkpoints; c != nil {
					last.Store(c)
				}
			})
			if err := p.build(t, cfg).Execute(context.Background()); err != nil {
				t.Fatal(err)
			}
			ck := last.Load()
			// Two failures may fall in one attempt (the other subtask runs on for a moment
			// after the first), so restarts may be fewer than failures.
			if int(failures.Load()) != len(points) || ck.Restarts < 2 || ck.Restored == 0 {
				t.Fatalf("%d failures, %d restarts, restored checkpoint %d; want %d failures, restarts, and a restore from a checkpoint",
					failures.Load(), ck.Restarts, ck.Restored, len(points))
			}
			committed := consume(t, c, "out", true)
			checkExactlyOnce(t, values(committed), seq(0, n))
			all := consume(t, c, "out", false)
			t.Logf("%d failures, %d checkpoints completed; read_committed sees %d records, read_uncommitted %d (aborted attempts included)",
				failures.Load(), ck.Completed, len(committed), len(all)-4)
			// A bounded read_committed source over the output ends (the partitions end in
			// transaction markers) with the same records.
			src, err := kafka.NewSource(kafka.SourceConfig{Cluster: c.Cluster, Topics: []string{c.topic("out")}, Bounded: true, ReadCommitted: true})
			if err != nil {
				t.Fatal(err)
			}
			env := stream.New("read-out", stream.Config{Parallelism: 2})
			reread := stream.Collect(stream.FromSource(env, src, eventtime.Monotonous(recordTime)))
			if err := env.Execute(context.Background()); err != nil {
				t.Fatal(err)
			}
			var rs []kafka.Record // without consume's sentinels
			for _, r := range reread.Values() {
				if string(r.Value) != sentinel {
					rs = append(rs, r)
				}
			}
			checkExactlyOnce(t, ints(rs), seq(0, n))
			// The readers committed checkpointed positions to the group (best effort, and
			// partitions a bounded reader finished before a restore keep an older position).
			offs, err := kadm.NewClient(client(t, c)).FetchOffsets(context.Background(), c.topic("eos-test"))
			if err != nil {
				t.Fatal(err)
			}
			var parts int
			offs.Each(func(o kadm.OffsetResponse) {
				if o.At > 0 {
					parts++
				}
			})
			if parts != 4 {
				t.Fatalf("group offsets %v: want a position for each of the 4 partitions", offs)
			}
			for _, r := range committed {
				if len(r.Headers) != 1 || string(r.Headers[0].Value) != string(r.Value) {
					t.Fatalf("record %s lost its header", r.Value)
				}
			}
		})
	}
}

// TestExactlyOnceRecommitFromAnotherProcess pre-commits a transaction with one sink and
// commits it with the committer of another sink value (as a new process would, from the
// checkpoint's committable): the records become visible exactly once, and committing again is
// idempotent. A transaction pre-committed but never recorded is aborted by the next writer of
// the same subtask, so read_committed consumers are not blocked.
func TestExactlyOnceRecommitFromAnotherProcess(t *testing.T) {
	c := newCluster(t, 2, "out")
	ctx := context.Background()
	cfg := kafka.SinkConfig{Cluster: c.Cluster, Topic: c.topic("out"), Guarantee: kafka.ExactlyOnce, TransactionalIDPrefix: c.topic("px"),
		TransactionTimeout: time.Minute}
	newSink := func() *kafka.Sink[kafka.Record] {
		s, err := kafka.NewSink(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	sc := connector.SinkContext{Subtask: 0, Parallelism: 1}
	w, err := newSink().NewWriter(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	write := func(from, n int) {
		for i := from; i < from+n; i++ {
			v := []byte(strconv.Itoa(i))
			if err := w.Write(ctx, kafka.Record{Key: v, Value: v}, 1); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(0, 100)
	recorded, err := w.PreCommit(ctx, 1)
	if err != nil || len(recorded) != 1 {
		t.Fatalf("pre-commit: %v, %d committables", err, len(recorded))
	}
	write(100, 100)
	lost, err := w.PreCommit(ctx, 2) // never recorded: the "crash" comes first
	if err != nil || len(lost) != 1 {
		t.Fatalf("pre-commit: %v, %d committables", err, len(lost))
	}
	// The writer's next transaction, open with records in it when the process dies.
	open := client(t, c, kgo.TransactionalID(c.topic("px-1-0-2")), kgo.DefaultProduceTopic(c.topic("out")))
	if err := open.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := open.ProduceSync(ctx, &kgo.Record{Value: []byte("200")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// The crash: nothing is ended. (w is closed at the end only to release its client.)
	defer w.Close()

	// A new process: its committer commits the restored committable, twice.
	s2 := newSink()
	cm, err := s2.NewCommitter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cm.Close()
	for range 2 {
		if err := cm.Commit(ctx, recorded); err != nil {
			t.Fatalf("commit from another process: %v", err)
		}
	}
	// Its writer of the same subtask cleans up at its first pre-commit: the lost and the open
	// transactions are aborted.
	w2, err := s2.NewWriter(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if _, err := w2.PreCommit(ctx, 3); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, values(consume(t, c, "out", true)), seq(0, 100))
	// The lost transaction cannot be committed any more.
	if err := cm.Commit(ctx, lost); !errors.Is(err, kafka.ErrTransactionLost) {
		t.Fatalf("committing a transaction the successor aborted: %v, want ErrTransactionLost", err)
	} else {
		t.Logf("%v", err)
	}
}

// TestExactlyOnceSweepsOtherParallelisms leaves a transaction open as a crashed run at
// parallelism 2 would, and runs a writer at parallelism 1: once one of its own transactions
// is committed, it aborts the old one, so read_committed consumers go on.
func TestExactlyOnceSweepsOtherParallelisms(t *testing.T) {
	c := newCluster(t, 2, "out")
	ctx := context.Background()
	old := client(t, c, kgo.TransactionalID(c.topic("sw-2-1-7")), kgo.DefaultProduceTopic(c.topic("out")))
	if err := old.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := old.ProduceSync(ctx, &kgo.Record{Value: []byte("-1")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	sink, err := kafka.NewSink(kafka.SinkConfig{Cluster: c.Cluster, Topic: c.topic("out"), Guarantee: kafka.ExactlyOnce, TransactionalIDPrefix: c.topic("sw")})
	if err != nil {
		t.Fatal(err)
	}
	w, err := sink.NewWriter(ctx, connector.SinkContext{Subtask: 0, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	cm, _ := sink.NewCommitter(ctx)
	defer cm.Close()
	for i := range 3 {
		v := []byte(strconv.Itoa(i))
		if err := w.Write(ctx, kafka.Record{Value: v}, 1); err != nil {
			t.Fatal(err)
		}
		cs, err := w.PreCommit(ctx, int64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		if err := cm.Commit(ctx, cs); err != nil {
			t.Fatal(err)
		}
	}
	checkExactlyOnce(t, values(consume(t, c, "out", true)), seq(0, 3))
}
