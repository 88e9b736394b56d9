package kinesis_test

import (
	"context"
	"math/big"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/connectortest"
	"github.com/runnel-io/runnel/connector/kinesis"
	"github.com/runnel-io/runnel/internal/testing/kinesistest"
)

// TestConformance runs the connector conformance suite on the Kinesis source, polling and with
// enhanced fan-out, over a stream with a shard split between its records, and on the
// at-least-once sink, against kinesalite.
func TestConformance(t *testing.T) {
	srv := kinesistest.Start(t)
	for _, m := range readModes {
		t.Run("Source/"+m.name, func(t *testing.T) {
			connectortest.Source(t, connectortest.SourceHarness[kinesis.Record]{
				Setup: func(t *testing.T) connectortest.SourceFixture[kinesis.Record] {
					name := srv.CreateStream(t, 2)
					var want []string
					want = append(want, conformancePut(t, srv, name, 0, 150)...)
					conformanceSplit(t, srv, name)
					want = append(want, conformancePut(t, srv, name, 150, 300)...)
					// One consumer (and emulation) per stream, shared by the runs of a check as
					// by the restarts of a job.
					cfg := kinesis.SourceConfig{Stream: name,
						MaxRecordsPerCall: 16, PollInterval: 20 * time.Millisecond, BaseBackoff: 20 * time.Millisecond}
					api := m.client(t, srv, &cfg)
					return connectortest.SourceFixture[kinesis.Record]{Want: want, New: func() connector.Source[kinesis.Record] {
						src, err := kinesis.NewSource(api, cfg)
						if err != nil {
							t.Fatal(err)
						}
						return src
					}}
				},
				Key: func(r kinesis.Record) string { return string(r.Data) },
			})
		})
	}
	t.Run("Sink", func(t *testing.T) {
		connectortest.Sink(t, connectortest.SinkHarness[int]{
			Setup: func(t *testing.T) connectortest.SinkFixture[int] {
				name := srv.CreateStream(t, 2)
				return connectortest.SinkFixture[int]{
					New: func() connector.Sink[int] {
						s, err := kinesis.NewSink(srv.Client(), kinesis.SinkConfig[int]{Stream: name, BatchRecords: 64,
							Encode:       func(v int) ([]byte, error) { return []byte(strconv.Itoa(v)), nil },
							PartitionKey: strconv.Itoa})
						if err != nil {
							t.Fatal(err)
						}
						return s
					},
					Visible: func(t *testing.T) []string { return conformanceVisible(t, srv, name) },
				}
			},
			Record: func(i int) int { return i },
			Key:    strconv.Itoa,
		})
	})
}

// conformancePut puts records from..to-1 (data and partition key the number) and returns their
// keys.
func conformancePut(t *testing.T, srv *kinesistest.Server, stream string, from, to int) []string {
	t.Helper()
	var keys []string
	var entries []types.PutRecordsRequestEntry
	for i := from; i < to; i++ {
		k := strconv.Itoa(i)
		keys = append(keys, k)
		entries = append(entries, types.PutRecordsRequestEntry{Data: []byte(k), PartitionKey: aws.String(k)})
	}
	out, err := srv.Client().PutRecords(t.Context(), &awskinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
	if err != nil {
		t.Fatal(err)
	}
	if n := aws.ToInt32(out.FailedRecordCount); n > 0 {
		t.Fatalf("putting records: %d failed", n)
	}
	return keys
}

// conformanceSplit splits the stream's first open shard in two.
func conformanceSplit(t *testing.T, srv *kinesistest.Server, stream string) {
	t.Helper()
	out, err := srv.Client().ListShards(t.Context(), &awskinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	s := out.Shards[0]
	lo, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.StartingHashKey), 10)
	hi, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.EndingHashKey), 10)
	mid := new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1)
	if _, err := srv.Client().SplitShard(t.Context(), &awskinesis.SplitShardInput{StreamName: aws.String(stream),
		ShardToSplit: s.ShardId, NewStartingHashKey: aws.String(mid.String())}); err != nil {
		t.Fatal(err)
	}
	srv.WaitActive(t, stream)
}

// conformanceVisible returns the data of every record in the stream, reading each shard from
// TRIM_HORIZON until it is caught up.
func conformanceVisible(t *testing.T, srv *kinesistest.Server, stream string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cl := srv.Client()
	shards, err := cl.ListShards(ctx, &awskinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range shards.Shards {
		it, err := cl.GetShardIterator(ctx, &awskinesis.GetShardIteratorInput{StreamName: aws.String(stream),
			ShardId: s.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for iter != nil {
			res, err := cl.GetRecords(ctx, &awskinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res.Records {
				out = append(out, string(r.Data))
			}
			if len(res.Records) == 0 && aws.ToInt64(res.MillisBehindLatest) == 0 {
				break
			}
			iter = res.NextShardIterator
		}
	}
	return out
}
