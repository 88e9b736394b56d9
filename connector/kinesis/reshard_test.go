package kinesis_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/runnel-io/runnel/connector/kinesis"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/internal/testing/kinesistest"
	"github.com/runnel-io/runnel/stream"
)

// TestReshardWhileReading runs a job reading a stream while the stream is split and merged,
// and checks that every record arrives once and each key's records in the order they were put.
func TestReshardWhileReading(t *testing.T) {
	t.Parallel()
	srv := kinesistest.Start(t)
	name := srv.CreateStream(t, 2)
	api := srv.Client()

	src, err := kinesis.NewSource(api, kinesis.SourceConfig{Stream: name,
		DiscoveryInterval: 100 * time.Millisecond, PollInterval: 20 * time.Millisecond,
		MaxRecordsPerCall: 7}) // slow readers: the parents have a backlog when the children open
	if err != nil {
		t.Fatal(err)
	}
	env := stream.New("kinesis-reshard", stream.Config{Parallelism: 2})
	got := stream.Collect(stream.FromSource(env, src, eventtime.Strategy[kinesis.Record]{}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- env.Execute(ctx) }()

	const keys, rounds = 20, 36
	putSeq := map[string]string{} // sequence number to data, as PutRecords answered
	put := func(round int) {
		var entries []types.PutRecordsRequestEntry
		for k := range keys {
			entries = append(entries, types.PutRecordsRequestEntry{
				Data: fmt.Appendf(nil, "k%02d:%03d", k, round), PartitionKey: aws.String(fmt.Sprintf("k%02d", k))})
		}
		out, err := api.PutRecords(context.Background(), &awskinesis.PutRecordsInput{StreamName: &name, Records: entries})
		if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatalf("putting round %d: %v", round, err)
		}
		for i, r := range out.Records {
			putSeq[*r.SequenceNumber] = string(entries[i].Data)
		}
	}
	for round := range rounds {
		put(round)
		time.Sleep(10 * time.Millisecond)
		switch round {
		case 10:
			splitShard(t, srv, name)
		case 22:
			mergeShards(t, srv, name)
		}
	}
	shards := openShards(t, api, name)
	t.Logf("open shards after resharding: %d", len(shards))

	deadline := time.Now().Add(60 * time.Second)
	for len(got.Values()) < keys*rounds {
		select {
		case err := <-done:
			t.Fatalf("the job ended: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records after 60s", len(got.Values()), keys*rounds)
		}
	}
	time.Sleep(300 * time.Millisecond) // duplicates would arrive now
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Execute: %v", err)
	}

	recs := got.Values()
	seen := map[string]bool{}
	last := map[string]int{}
	lastRec := map[string]kinesis.Record{}
	byShard := map[string]int{}
	for _, r := range recs {
		d := string(r.Data)
		if putSeq[r.SequenceNumber] != d {
			t.Errorf("record %s of shard %s has sequence number %s, which PutRecords gave %s", d, r.ShardID, r.SequenceNumber, putSeq[r.SequenceNumber])
		}
		if seen[d] {
			t.Errorf("record %s arrived twice", d)
		}
		seen[d] = true
		byShard[r.ShardID]++
		key, num, _ := strings.Cut(d, ":")
		n, err := strconv.Atoi(num)
		if err != nil {
			t.Fatalf("record %q: %v", d, err)
		}
		if prev, ok := last[key]; ok && n < prev {
			t.Errorf("key %s: round %d (shard %s, %s) after round %d (shard %s, %s)", key, n, r.ShardID, r.SequenceNumber,
				prev, lastRec[key].ShardID, lastRec[key].SequenceNumber)
		}
		last[key], lastRec[key] = n, r
	}
	if len(recs) != keys*rounds {
		t.Errorf("%d records, want %d", len(recs), keys*rounds)
	}
	if len(byShard) < 5 { // 2 original, 2 children of the split, 1 of the merge
		t.Errorf("records came from %d shards (%v), want 5", len(byShard), byShard)
	}
	t.Logf("records per shard: %v", byShard)
}

// openShards returns the open shards by starting hash key.
func openShards(t *testing.T, api *awskinesis.Client, name string) []types.Shard {
	t.Helper()
	out, err := api.ListShards(context.Background(), &awskinesis.ListShardsInput{StreamName: &name})
	if err != nil {
		t.Fatal(err)
	}
	var open []types.Shard
	for _, s := range out.Shards {
		if s.SequenceNumberRange.EndingSequenceNumber == nil {
			open = append(open, s)
		}
	}
	slices.SortFunc(open, func(a, b types.Shard) int {
		return hashKey(a.HashKeyRange.StartingHashKey).Cmp(hashKey(b.HashKeyRange.StartingHashKey))
	})
	return open
}

func hashKey(s *string) *big.Int {
	v, _ := new(big.Int).SetString(*s, 10)
	return v
}

// splitShard splits the first open shard in the middle of its hash key range.
func splitShard(t *testing.T, srv *kinesistest.Server, name string) {
	t.Helper()
	s := openShards(t, srv.Client(), name)[0]
	mid := new(big.Int).Add(hashKey(s.HashKeyRange.StartingHashKey), hashKey(s.HashKeyRange.EndingHashKey))
	mid.Rsh(mid, 1)
	if _, err := srv.Client().SplitShard(context.Background(), &awskinesis.SplitShardInput{StreamName: &name,
		ShardToSplit: s.ShardId, NewStartingHashKey: aws.String(mid.String())}); err != nil {
		t.Fatalf("splitting %s: %v", *s.ShardId, err)
	}
	srv.WaitActive(t, name)
}

// mergeShards merges the last two open shards, which are adjacent.
func mergeShards(t *testing.T, srv *kinesistest.Server, name string) {
	t.Helper()
	open := openShards(t, srv.Client(), name)
	a, b := open[len(open)-2], open[len(open)-1]
	if _, err := srv.Client().MergeShards(context.Background(), &awskinesis.MergeShardsInput{StreamName: &name,
		ShardToMerge: a.ShardId, AdjacentShardToMerge: b.ShardId}); err != nil {
		t.Fatalf("merging %s and %s: %v", *a.ShardId, *b.ShardId, err)
	}
	srv.WaitActive(t, name)
}
