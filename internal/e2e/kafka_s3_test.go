package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connector/kafka"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/internal/testing/s3test"
	"github.com/runnel-io/runnel/stream"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaToS3ExactlyOnceSurvivesSIGKILL reads a kfake topic (bounded) into the exactly-once
// S3 sink in a child process that is killed three times and restarted from its checkpoints;
// the bucket then holds every record once. kfake runs in this process, so it survives the
// kills.
func TestKafkaToS3ExactlyOnceSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers and child processes")
	}
	const records = 20000
	srv := s3test.Start(t)
	for _, seed := range crashSeeds(t) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "in"))
			if err != nil {
				t.Fatal(err)
			}
			defer cluster.Close()
			produceIDs(t, cluster.ListenAddrs(), "in", records)
			c := &crashRun{job: "kafka-s3", rng: rand.New(rand.NewPCG(seed, 0x4b61666b61)), cfg: childConfig{
				Checkpoints:  t.TempDir(),
				Interval:     50 * time.Millisecond,
				Parallelism:  2,
				PaceEvery:    10,
				S3:           target(t, srv),
				KafkaBrokers: cluster.ListenAddrs(),
				KafkaTopic:   "in",
			}}
			c.kill.times, c.kill.within = 3, 300*time.Millisecond
			c.records, c.committed = records, committedCount(t, srv, c.cfg.S3)
			c.run(t)
			checkExactlyOnce(t, srv.Client(), c.cfg.S3, records)
		})
	}
}

// produceIDs writes the values "0".."n-1" to topic, keyed by themselves.
func produceIDs(t *testing.T, brokers []string, topic string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		v := []byte(strconv.Itoa(i))
		recs[i] = &kgo.Record{Key: v, Value: v}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("producing to %s: %v", topic, err)
	}
}

// buildKafkaToS3 is the child job: the topic, read to its end, → a paced map → S3.
func buildKafkaToS3(env *stream.Env, c childConfig) error {
	src, err := kafka.NewDecodedSource(kafka.SourceConfig{
		Cluster: kafka.Cluster{Brokers: c.KafkaBrokers, ConnectTimeout: 10 * time.Second},
		Topics:  []string{c.KafkaTopic},
		Bounded: true,
	}, func(r *kafka.Record) (int, error) { return strconv.Atoi(string(r.Value)) })
	if err != nil {
		return err
	}
	sink, err := idSink(c.S3)
	if err != nil {
		return err
	}
	step := pace(c.PaceEvery)
	ids := stream.FromSource(env, src, eventtime.Strategy[int]{}).Uid("kafka")
	stream.Map(ids, func(id int) int { step(); return id }).Uid("map").
		SinkTo(sink).Uid("s3")
	return nil
}
