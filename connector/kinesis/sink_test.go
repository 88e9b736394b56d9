package kinesis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/runnel-io/runnel/connector"
)

// fakePut is a PutRecordsAPI that fails what fail says and keeps what succeeds.
type fakePut struct {
	mu sync.Mutex
	// fail decides per call (from 0) and record whether the record fails; nil: none fails.
	fail func(call int, data string) bool
	// callErr, if set, fails whole calls.
	callErr func(call int) error
	calls   int
	batches []int // records per call
	bytes   []int // bytes per call
	written []string
}

func (f *fakePut) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := f.calls
	f.calls++
	if f.callErr != nil {
		if err := f.callErr(call); err != nil {
			return nil, err
		}
	}
	f.batches = append(f.batches, len(in.Records))
	size := 0
	out := &kinesis.PutRecordsOutput{FailedRecordCount: aws.Int32(0)}
	for _, r := range in.Records {
		size += len(r.Data) + len(*r.PartitionKey)
		if f.fail != nil && f.fail(call, string(r.Data)) {
			*out.FailedRecordCount++
			out.Records = append(out.Records, types.PutRecordsResultEntry{
				ErrorCode: aws.String("ProvisionedThroughputExceededException"), ErrorMessage: aws.String("Rate exceeded for shard")})
			continue
		}
		f.written = append(f.written, string(r.Data))
		out.Records = append(out.Records, types.PutRecordsResultEntry{SequenceNumber: aws.String("1"), ShardId: aws.String("shardId-000000000000")})
	}
	f.bytes = append(f.bytes, size)
	return out, nil
}

func newTestSink(t *testing.T, api PutRecordsAPI, mod func(*SinkConfig[string])) connector.Writer[string] {
	t.Helper()
	cfg := SinkConfig[string]{
		Stream:       "s",
		Encode:       func(v string) ([]byte, error) { return []byte(v), nil },
		PartitionKey: func(v string) string { return "k" + v[:1] },
		BaseBackoff:  time.Millisecond, MaxBackoff: 4 * time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewSink(api, cfg)
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.NewWriter(context.Background(), connector.SinkContext{})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestSinkRetriesPartialFailures(t *testing.T) {
	// Every record fails on its first two tries: call 0 fails everything, call 1 (the retry)
	// too, the odd ones once more, then all succeed.
	tries := map[string]int{}
	f := &fakePut{fail: func(_ int, data string) bool {
		tries[data]++
		var n int
		fmt.Sscan(data, &n)
		return tries[data] <= 2 || (n%2 == 1 && tries[data] == 3)
	}}
	w := newTestSink(t, f, nil)
	ctx := context.Background()
	var want []string
	for i := range 1200 {
		v := fmt.Sprint(i)
		want = append(want, v)
		if err := w.Write(ctx, v, 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.PreCommit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if len(f.written) != len(want) {
		t.Fatalf("wrote %d records, want %d", len(f.written), len(want))
	}
	seen := map[string]bool{}
	for _, v := range f.written {
		if seen[v] {
			t.Fatalf("record %s written twice", v)
		}
		seen[v] = true
	}
	for _, b := range f.batches {
		if b > MaxBatchRecords {
			t.Fatalf("a call carried %d records", b)
		}
	}
}

func TestSinkBatchLimits(t *testing.T) {
	f := &fakePut{}
	w := newTestSink(t, f, nil)
	ctx := context.Background()
	big := strings.Repeat("x", 900<<10) // 12 of these pass 5 MiB
	for i := range 12 {
		if err := w.Write(ctx, fmt.Sprint(i%10)+big, 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.PreCommit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if len(f.written) != 12 {
		t.Fatalf("wrote %d records, want 12", len(f.written))
	}
	for i, b := range f.bytes {
		if b > MaxBatchBytes {
			t.Errorf("call %d carried %d bytes", i, b)
		}
	}
	if len(f.bytes) != 3 { // 5 + 5 + 2
		t.Errorf("%d calls (%v bytes), want 3", len(f.bytes), f.bytes)
	}
	err := w.Write(ctx, "0"+strings.Repeat("x", MaxRecordBytes), 0)
	if !errors.Is(err, ErrRecordTooLarge) {
		t.Errorf("writing a record over 1 MiB: %v, want ErrRecordTooLarge", err)
	}
	w2 := newTestSink(t, f, func(c *SinkConfig[string]) { c.PartitionKey = func(string) string { return "" } })
	if err := w2.Write(ctx, "a", 0); err == nil || !strings.Contains(err.Error(), "partition key") {
		t.Errorf("writing with an empty partition key: %v", err)
	}
}

func TestSinkGivesUp(t *testing.T) {
	f := &fakePut{fail: func(_ int, data string) bool { return data == "7" }}
	w := newTestSink(t, f, func(c *SinkConfig[string]) { c.MaxRetries = 3 })
	ctx := context.Background()
	for i := range 10 {
		if err := w.Write(ctx, fmt.Sprint(i), 0); err != nil {
			t.Fatal(err)
		}
	}
	_, err := w.PreCommit(ctx, 1)
	if err == nil || !strings.Contains(err.Error(), "1 of 1 records still failed after 4 attempts") ||
		!strings.Contains(err.Error(), "ProvisionedThroughputExceededException") {
		t.Fatalf("PreCommit: %v", err)
	}
	if f.calls != 4 {
		t.Errorf("%d calls, want 4", f.calls)
	}

	// A throttled call is retried as a whole; another error fails at once.
	f = &fakePut{callErr: func(call int) error {
		if call < 2 {
			return &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}
		}
		return nil
	}}
	w = newTestSink(t, f, nil)
	if err := w.Write(ctx, "1", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := w.PreCommit(ctx, 1); err != nil || len(f.written) != 1 {
		t.Fatalf("PreCommit after throttled calls: %v, %d written", err, len(f.written))
	}
	f = &fakePut{callErr: func(int) error { return &types.ResourceNotFoundException{Message: aws.String("no stream s")} }}
	w = newTestSink(t, f, nil)
	_ = w.Write(ctx, "1", 0)
	if _, err := w.PreCommit(ctx, 1); err == nil || !strings.Contains(err.Error(), "no stream s") || f.calls != 1 {
		t.Fatalf("PreCommit to a missing stream: %v after %d calls", err, f.calls)
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := NewSource(&fakeSourceAPI{}, SourceConfig{}); err == nil {
		t.Error("a source without a stream was accepted")
	}
	if _, err := NewSource(&fakeSourceAPI{}, SourceConfig{Stream: "s", Start: StartPosition{Kind: AtTimestamp}}); err == nil {
		t.Error("AT_TIMESTAMP without a timestamp was accepted")
	}
	if _, err := NewSink(&fakePut{}, SinkConfig[string]{Stream: "s", Encode: func(string) ([]byte, error) { return nil, nil }}); err == nil {
		t.Error("a sink without a partition key function was accepted")
	}
	if _, err := NewSink(&fakePut{}, SinkConfig[string]{Stream: "s", Encode: func(string) ([]byte, error) { return nil, nil },
		PartitionKey: func(string) string { return "k" }, BatchRecords: 501}); err == nil {
		t.Error("BatchRecords 501 was accepted")
	}
}

// fakeSourceAPI is a SourceAPI that answers nothing; tests override what they need.
type fakeSourceAPI struct{ SourceAPI }
