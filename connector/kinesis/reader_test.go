package kinesis

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/metrics"
)

// flakyShard is a SourceAPI serving one shard of records "0".."n-1" (sequence numbers equal to
// the data) in pages of 3, that throttles, expires iterators and ends the shard as told.
type flakyShard struct {
	fakeSourceAPI
	mu        sync.Mutex
	n         int
	throttle  map[int]bool // GetRecords calls (from 0) that are throttled
	expire    map[int]bool // GetRecords calls that find the iterator expired
	calls     int
	iterators []string // how each GetShardIterator call asked: type and sequence number
}

func (f *flakyShard) GetShardIterator(_ context.Context, in *kinesis.GetShardIteratorInput, _ ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	from := 0
	desc := string(in.ShardIteratorType)
	if in.ShardIteratorType == types.ShardIteratorTypeAfterSequenceNumber {
		fmt.Sscan(*in.StartingSequenceNumber, &from)
		from++
		desc += " " + *in.StartingSequenceNumber
	}
	f.iterators = append(f.iterators, desc)
	return &kinesis.GetShardIteratorOutput{ShardIterator: aws.String(fmt.Sprint(from))}, nil
}

func (f *flakyShard) GetRecords(_ context.Context, in *kinesis.GetRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := f.calls
	f.calls++
	switch {
	case f.throttle[call]:
		return nil, &types.ProvisionedThroughputExceededException{Message: aws.String("Rate exceeded")}
	case f.expire[call]:
		return nil, &types.ExpiredIteratorException{Message: aws.String("Iterator expired")}
	}
	var from int
	fmt.Sscan(*in.ShardIterator, &from)
	out := &kinesis.GetRecordsOutput{MillisBehindLatest: aws.Int64(int64(f.n-from) * 10)}
	to := min(from+3, f.n)
	now := time.Now()
	for i := from; i < to; i++ {
		s := fmt.Sprint(i)
		out.Records = append(out.Records, types.Record{Data: []byte(s), SequenceNumber: aws.String(s),
			PartitionKey: aws.String("k"), ApproximateArrivalTimestamp: &now})
	}
	if to < f.n {
		out.NextShardIterator = aws.String(fmt.Sprint(to))
	}
	return out, nil
}

type memOutput struct {
	recs     []Record
	released []string
}

func (m *memOutput) Split(string) connector.SplitOutput[Record] { return memSplit{m} }
func (m *memOutput) ReleaseSplit(id string)                     { m.released = append(m.released, id) }

type memSplit struct{ m *memOutput }

func (s memSplit) Collect(v Record, _ int64) { s.m.recs = append(s.m.recs, v) }

func TestReaderRetriesThrottlingAndExpiredIterators(t *testing.T) {
	api := &flakyShard{n: 20, throttle: map[int]bool{0: true, 1: true, 4: true}, expire: map[int]bool{6: true}}
	src, err := NewSource(api, SourceConfig{Stream: "s", PollInterval: time.Millisecond,
		BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, MaxRetries: 3})
	if err != nil {
		t.Fatal(err)
	}
	lag := new(atomic.Int64)
	lag.Store(-1)
	r, err := src.NewReader(connector.ReaderContext{Parallelism: 1, Gauges: func(name string) *atomic.Int64 {
		if name != metrics.MillisBehindLatest {
			t.Errorf("gauge %s", name)
		}
		return lag
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.AddSplits([]connector.Split{&Split{ShardID: "shardId-0"}})
	out := &memOutput{}
	deadline := time.Now().Add(10 * time.Second)
	for len(out.released) == 0 {
		st, err := r.Read(context.Background(), out)
		if err != nil {
			t.Fatal(err)
		}
		if st == connector.NothingAvailable {
			select {
			case <-r.(connector.Availability).Available():
			case <-time.After(10 * time.Millisecond):
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("shard not finished after 10s; %d records", len(out.recs))
		}
	}
	for i, rec := range out.recs {
		if string(rec.Data) != fmt.Sprint(i) {
			t.Fatalf("record %d is %s", i, rec.Data)
		}
	}
	if len(out.recs) != 20 {
		t.Fatalf("%d records, want 20", len(out.recs))
	}
	// Calls 0 and 1 are throttled, 2 and 3 read 0..5, 4 is throttled, 5 reads 6..8, 6 finds
	// the iterator expired: a new one starts after 8.
	want := []string{"TRIM_HORIZON", "AFTER_SEQUENCE_NUMBER 8"}
	if fmt.Sprint(api.iterators) != fmt.Sprint(want) {
		t.Errorf("iterators %q, want %q", api.iterators, want)
	}
	snap, _ := r.Snapshot(1)
	if len(snap) != 1 || !snap[0].(*Split).Finished || snap[0].(*Split).SequenceNumber != "19" {
		t.Errorf("snapshot %+v, want the shard finished at 19", snap[0])
	}
	if !src.lineage(false).finished("shardId-0") {
		t.Error("the finished shard is not recorded for the enumerator")
	}
	// Every GetRecords call set the gauge; the finished shard no longer counts.
	if got := lag.Load(); got != 0 {
		t.Errorf("millisBehindLatest %d once the shard is finished, want 0", got)
	}
}

func TestReaderGivesUpAfterMaxRetries(t *testing.T) {
	throttle := map[int]bool{}
	for i := range 100 {
		throttle[i] = true
	}
	api := &flakyShard{n: 5, throttle: throttle}
	src, err := NewSource(api, SourceConfig{Stream: "s", BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond, MaxRetries: 4})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := src.NewReader(connector.ReaderContext{Parallelism: 1})
	defer r.Close()
	r.AddSplits([]connector.Split{&Split{ShardID: "shardId-0"}})
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := r.Read(context.Background(), &memOutput{})
		if err != nil {
			want := "kinesis: stream s, shard shardId-0: GetRecords (5 attempts): ProvisionedThroughputExceededException: Rate exceeded"
			if err.Error() != want {
				t.Fatalf("Read: %v\nwant %s", err, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no error after 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
