package kinesis_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
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

// TestReshardWhileReading runs a job reading a stream while producers write to it and the
// stream is split and then merged, and checks that every record arrives once and each key's
// records in the order they were put. The split comes once the job has read records, the merge
// once it has read from a child of the split, and the producers stop once it has read from the
// child of the merge, so both happen while the job reads and the producers write.
func TestReshardWhileReading(t *testing.T) {
	t.Parallel()
	for _, m := range readModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			testReshardWhileReading(t, m)
		})
	}
}

func testReshardWhileReading(t *testing.T, m readMode) {
	srv := kinesistest.Start(t)
	name := srv.CreateStream(t, 2)
	api := srv.Client()

	cfg := kinesis.SourceConfig{Stream: name,
		DiscoveryInterval: 100 * time.Millisecond, PollInterval: 20 * time.Millisecond,
		MaxRecordsPerCall: 10} // slow readers: the parents have a backlog when the children open
	src, err := kinesis.NewSource(m.client(t, srv, &cfg), cfg)
	if err != nil {
		t.Fatal(err)
	}
	env := stream.New("kinesis-reshard", stream.Config{Parallelism: 2})
	got := stream.Collect(stream.FromSource(env, src, eventtime.Strategy[kinesis.Record]{}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- env.Execute(ctx) }()

	// Producers own disjoint keys and put "kNN:RRRR" for each of their keys in round RRRR, one
	// PutRecords call per round, so each key's order is the order of its rounds.
	const producers, keysPer = 2, 10
	var (
		mu     sync.Mutex
		putSeq = map[string]string{} // sequence number to data, as PutRecords answered
		puts   int
	)
	put := func(p, round int) error {
		var entries []types.PutRecordsRequestEntry
		for k := p * keysPer; k < (p+1)*keysPer; k++ {
			entries = append(entries, types.PutRecordsRequestEntry{
				Data: fmt.Appendf(nil, "k%02d:%04d", k, round), PartitionKey: aws.String(fmt.Sprintf("k%02d", k))})
		}
		out, err := api.PutRecords(context.Background(), &awskinesis.PutRecordsInput{StreamName: &name, Records: entries})
		if err != nil {
			return fmt.Errorf("producer %d, round %d: %w", p, round, err)
		}
		if n := aws.ToInt32(out.FailedRecordCount); n != 0 {
			return fmt.Errorf("producer %d, round %d: %d records failed", p, round, n)
		}
		mu.Lock()
		defer mu.Unlock()
		for i, r := range out.Records {
			putSeq[*r.SequenceNumber] = string(entries[i].Data)
		}
		puts += len(entries)
		return nil
	}
	stop := make(chan struct{})
	rounds := make([]int, producers) // rounds put by each producer, once the producers ended
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for p := range producers {
		wg.Go(func() {
			tick := time.NewTicker(20 * time.Millisecond) // a steady rate, not synchronization
			defer tick.Stop()
			for round := 0; round < 9999; round++ {
				select {
				case <-stop:
					rounds[p] = round
					return
				case <-tick.C:
				}
				if err := put(p, round); err != nil {
					errs <- err
					rounds[p] = round
					return
				}
			}
			errs <- fmt.Errorf("producer %d ran out of rounds", p)
			rounds[p] = 9999
		})
	}
	producing := true
	stopProducers := func() {
		if producing {
			producing = false
			close(stop)
			wg.Wait()
		}
	}
	defer stopProducers()

	fromShardsOutside := func(known map[string]bool) func() bool {
		return func() bool {
			for _, r := range got.Values() {
				if !known[r.ShardID] {
					return true
				}
			}
			return false
		}
	}
	shardSet := func() map[string]bool {
		m := map[string]bool{}
		out, err := api.ListShards(context.Background(), &awskinesis.ListShardsInput{StreamName: &name})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range out.Shards {
			m[*s.ShardId] = true
		}
		return m
	}
	waitReshard(t, done, errs, "records of the first shards", func() bool { return len(got.Values()) >= 100 })
	before := shardSet()
	splitShard(t, srv, name)
	waitReshard(t, done, errs, "records of a child of the split", fromShardsOutside(before))
	beforeMerge := shardSet()
	mergeShards(t, srv, name)
	waitReshard(t, done, errs, "records of the child of the merge", fromShardsOutside(beforeMerge))
	stopProducers()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	t.Logf("open shards after resharding: %d; rounds put: %v", len(openShards(t, api, name)), rounds)

	// Every record put, and then the last one of each key: one more round, put after the
	// producers ended. A key's records arrive in order, so once each key's last round is in,
	// no earlier record of it can still arrive, duplicate or not.
	for p := range producers {
		if err := put(p, rounds[p]); err != nil {
			t.Fatal(err)
		}
		rounds[p]++
	}
	lastRound := map[string]int{}
	for p := range producers {
		for k := p * keysPer; k < (p+1)*keysPer; k++ {
			lastRound[fmt.Sprintf("k%02d", k)] = rounds[p] - 1
		}
	}
	waitReshard(t, done, errs, "the last round of every key", func() bool {
		seen := 0
		for _, r := range got.Values() {
			key, num, _ := strings.Cut(string(r.Data), ":")
			if n, _ := strconv.Atoi(num); n == lastRound[key] {
				seen++
			}
		}
		return seen >= len(lastRound)
	})
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
		if prev, ok := last[key]; ok && n != prev+1 {
			t.Errorf("key %s: round %d (shard %s, %s) after round %d (shard %s, %s)", key, n, r.ShardID, r.SequenceNumber,
				prev, lastRec[key].ShardID, lastRec[key].SequenceNumber)
		} else if !ok && n != 0 {
			t.Errorf("key %s: first record is round %d", key, n)
		}
		last[key], lastRec[key] = n, r
	}
	if len(recs) != puts {
		t.Errorf("%d records, want %d", len(recs), puts)
	}
	if len(byShard) < 5 { // 2 original, 2 children of the split, 1 of the merge
		t.Errorf("records came from %d shards (%v), want 5", len(byShard), byShard)
	}
	t.Logf("%d records; per shard: %v", len(recs), byShard)
}

// waitReshard polls cond until it holds, failing the test if the job ends, a producer fails or
// 60 seconds pass first.
func waitReshard(t *testing.T, done <-chan error, errs <-chan error, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		select {
		case err := <-done:
			t.Fatalf("the job ended while waiting for %s: %v", what, err)
		case err := <-errs:
			t.Fatalf("waiting for %s: %v", what, err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 60s", what)
		}
	}
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
