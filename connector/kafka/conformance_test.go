package kafka_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/connectortest"
	"github.com/runnel-io/runnel/connector/kafka"
)

// TestConformance runs the connector conformance suite on the Kafka source, bounded and not, and on the
// at-least-once and exactly-once sinks, against kfake (or the cluster of RUNNEL_KAFKA_TEST_BROKERS).
func TestConformance(t *testing.T) {
	for _, bounded := range []bool{true, false} {
		name := map[bool]string{true: "Source/Bounded", false: "Source/Unbounded"}[bounded]
		t.Run(name, func(t *testing.T) {
			connectortest.Source(t, connectortest.SourceHarness[kafka.Record]{
				Setup: func(t *testing.T) connectortest.SourceFixture[kafka.Record] {
					c := newCluster(t, 3, "conformance")
					topic := c.topic("conformance")
					want := make([]string, 300)
					recs := make([]*kgo.Record, len(want))
					for i := range want {
						want[i] = strconv.Itoa(i)
						recs[i] = &kgo.Record{Key: []byte(want[i]), Value: []byte(want[i])}
					}
					if err := client(t, c, kgo.DefaultProduceTopic(topic)).ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
						t.Fatal(err)
					}
					return connectortest.SourceFixture[kafka.Record]{Want: want, New: func() connector.Source[kafka.Record] {
						src, err := kafka.NewSource(kafka.SourceConfig{Cluster: c.Cluster, Topics: []string{topic}, Bounded: bounded,
							MaxPollRecords: 16})
						if err != nil {
							t.Fatal(err)
						}
						return src
					}}
				},
				Key: func(r kafka.Record) string { return string(r.Value) },
			})
		})
	}
	for _, g := range []kafka.Guarantee{kafka.AtLeastOnce, kafka.ExactlyOnce} {
		name := map[kafka.Guarantee]string{kafka.AtLeastOnce: "Sink/AtLeastOnce", kafka.ExactlyOnce: "Sink/ExactlyOnce"}[g]
		t.Run(name, func(t *testing.T) {
			connectortest.Sink(t, connectortest.SinkHarness[int]{
				Setup: func(t *testing.T) connectortest.SinkFixture[int] {
					c := newCluster(t, 3, "conformance")
					topic := c.topic("conformance")
					return connectortest.SinkFixture[int]{
						New: func() connector.Sink[int] {
							s, err := kafka.NewEncodedSink(kafka.SinkConfig{Cluster: c.Cluster, Topic: topic, Guarantee: g,
								TransactionalIDPrefix: topic, TransactionTimeout: time.Minute},
								func(v int) (kafka.Record, error) {
									b := []byte(strconv.Itoa(v))
									return kafka.Record{Key: b, Value: b}, nil
								})
							if err != nil {
								t.Fatal(err)
							}
							return s
						},
						Visible: func(t *testing.T) []string { return conformanceVisible(t, c, topic) },
					}
				},
				Record:      func(i int) int { return i },
				Key:         strconv.Itoa,
				ExactlyOnce: g == kafka.ExactlyOnce,
			})
		})
	}
}

// conformanceVisible returns the values a read_committed consumer of topic sees now. It writes
// a sentinel to every partition; when the last stable offsets get past them within 3s (no
// transaction is open), it reads until it saw them all; otherwise it reads what is below the
// last stable offsets, until 1.5s pass without a record.
func conformanceVisible(t *testing.T, c testCluster, topic string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(client(t, c))
	details, err := adm.ListTopics(ctx, topic)
	if err != nil || details.Error() != nil {
		t.Fatalf("listing %s: %v %v", topic, err, details.Error())
	}
	parts := details[topic].Partitions.Numbers()
	prod := client(t, c, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	sentinels := map[int32]int64{}
	for _, p := range parts {
		r, err := prod.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte(conformanceSentinel)}).First()
		if err != nil {
			t.Fatal(err)
		}
		sentinels[p] = r.Offset
	}
	// stable reports whether every partition's last stable offset is past its sentinel: then
	// no open transaction holds back what read_committed readers see, and reading up to the
	// sentinels reads everything visible.
	stable := func() bool {
		lso, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil || lso.Error() != nil {
			t.Fatalf("listing the last stable offsets of %s: %v %v", topic, err, lso.Error())
		}
		for p, off := range sentinels {
			if o, ok := lso.Lookup(topic, p); !ok || o.Offset <= off {
				return false
			}
		}
		return true
	}
	// A transaction's markers may land after EndTxn returns, later on a loaded machine.
	blocked := true
	for deadline := time.Now().Add(3 * time.Second); blocked && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		blocked = !stable()
	}
	cl := client(t, c, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if blocked {
		// The quiet period below must measure fetches, not connecting.
		if err := cl.Ping(ctx); err != nil {
			t.Fatalf("reaching the cluster: %v", err)
		}
	}
	var out []string
	for seen := 0; seen < len(parts); {
		pctx := ctx
		if blocked {
			var cancel context.CancelFunc
			pctx, cancel = context.WithTimeout(ctx, 1500*time.Millisecond)
			defer cancel()
		}
		fs := cl.PollFetches(pctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v", topic, ctx.Err())
		}
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			if string(r.Value) == conformanceSentinel {
				// Earlier calls left sentinels too: only this call's mark the end. Counting
				// any cut reads short when a fetch returned some partitions only.
				if r.Offset == sentinels[r.Partition] {
					seen++
				}
			} else {
				out = append(out, string(r.Value))
			}
		})
		if blocked && n == 0 {
			if !stable() {
				break // held back by an open transaction: everything visible was read
			}
			blocked = false // the transaction ended meanwhile: read on to the sentinels
		}
	}
	return out
}

const conformanceSentinel = "conformance-sentinel"
