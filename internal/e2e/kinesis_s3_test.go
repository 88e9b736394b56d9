package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/kinesis"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/internal/testing/kinesistest"
	"github.com/runnel-io/runnel/internal/testing/s3test"
	"github.com/runnel-io/runnel/stream"
)

// TestKinesisToS3ExactlyOnceSurvivesSIGKILL reads a four-shard kinesalite stream into the
// exactly-once S3 sink in a child process that is killed three times and restarted from its
// checkpoints. The source is unbounded, so the last run goes on until the bucket holds every
// record, and two checkpoints longer; then the bucket must hold every record once. kinesalite
// is a process of its own, so it survives the kills.
func TestKinesisToS3ExactlyOnceSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers and child processes")
	}
	const records = 4000
	srv := s3test.Start(t)
	kin := kinesistest.Start(t)
	for _, seed := range crashSeeds(t) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			name := kin.CreateStream(t, 4)
			putIDs(t, kin, name, records)
			c := &crashRun{job: "kinesis-s3", rng: rand.New(rand.NewPCG(seed, 0x4b696e65736973)), cfg: childConfig{
				Checkpoints:     t.TempDir(),
				Interval:        50 * time.Millisecond,
				Parallelism:     2,
				PaceEvery:       4,
				S3:              target(t, srv),
				KinesisEndpoint: kin.Endpoint,
				KinesisStream:   name,
			}}
			c.kill.times, c.kill.within = 3, 300*time.Millisecond
			c.records, c.committed, c.unbounded = records, committedCount(t, srv, c.cfg.S3), true
			c.run(t)
			checkExactlyOnce(t, srv.Client(), c.cfg.S3, records)
		})
	}
}

// putIDs puts the records "0".."n-1", keyed by themselves, with the connector's sink.
func putIDs(t *testing.T, srv *kinesistest.Server, stream string, n int) {
	t.Helper()
	sink, err := kinesis.NewSink(srv.Client(), kinesis.SinkConfig[int]{
		Stream:       stream,
		Encode:       func(id int) ([]byte, error) { return strconv.AppendInt(nil, int64(id), 10), nil },
		PartitionKey: strconv.Itoa,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	w, err := sink.NewWriter(ctx, connector.SinkContext{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for id := range n {
		if err := w.Write(ctx, id, 0); err != nil {
			t.Fatalf("putting record %d: %v", id, err)
		}
	}
	if _, err := w.PreCommit(ctx, 1); err != nil { // flushes
		t.Fatalf("putting records: %v", err)
	}
}

// buildKinesisToS3 is the child job: the stream from its oldest records → a paced map → S3.
func buildKinesisToS3(env *stream.Env, c childConfig) error {
	src, err := kinesis.NewSource(kinesistest.NewClient(c.KinesisEndpoint, "us-east-1"), kinesis.SourceConfig{
		Stream:       c.KinesisStream,
		PollInterval: 20 * time.Millisecond,
		// Small reads, so that barriers do not queue behind a whole shard's records.
		MaxRecordsPerCall: 100,
	})
	if err != nil {
		return err
	}
	sink, err := idSink(c.S3)
	if err != nil {
		return err
	}
	step := pace(c.PaceEvery)
	recs := stream.FromSource(env, src, eventtime.Strategy[kinesis.Record]{}).Uid("kinesis")
	stream.Map(recs, func(r kinesis.Record) int {
		step()
		id, err := strconv.Atoi(string(r.Data))
		if err != nil {
			panic(fmt.Sprintf("record %s of shard %s: %v", r.SequenceNumber, r.ShardID, err))
		}
		return id
	}).Uid("map").SinkTo(sink).Uid("s3")
	return nil
}
