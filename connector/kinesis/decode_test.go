package kinesis_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/runnel-io/runnel/connector/kinesis"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/format"
	"github.com/runnel-io/runnel/internal/testing/kinesistest"
	"github.com/runnel-io/runnel/stream"
)

type decoded struct {
	N   int
	Key string
}

func decodeInt(r *kinesis.Record) (decoded, error) {
	n, err := strconv.Atoi(string(r.Data))
	return decoded{N: n, Key: r.PartitionKey}, err
}

// TestDecodedSourceMalformedRecord puts a malformed record among good ones and runs a job
// under each policy: Fail ends the job with an error naming the stream, shard and sequence
// number; DeadLetter hands the raw record on and the job reads every good record.
func TestDecodedSourceMalformedRecord(t *testing.T) {
	t.Parallel()
	srv := kinesistest.Start(t)
	name := srv.CreateStream(t, 2)
	const n = 100
	putAll(t, srv.Client(), name, 0, n, 10)
	bad, err := srv.Client().PutRecord(context.Background(), &awskinesis.PutRecordInput{StreamName: &name,
		Data: []byte("not a number"), PartitionKey: aws.String("key-3")})
	if err != nil {
		t.Fatal(err)
	}
	putAll(t, srv.Client(), name, n, n, 10)

	t.Run("Fail", func(t *testing.T) {
		src, err := kinesis.NewDecodedSource(srv.Client(), kinesis.SourceConfig{Stream: name, PollInterval: 20 * time.Millisecond},
			decodeInt, format.Fail, nil)
		if err != nil {
			t.Fatal(err)
		}
		env := stream.New("kinesis-malformed-fail", stream.Config{Parallelism: 2})
		stream.Collect(stream.FromSource(env, src, eventtime.Strategy[decoded]{}))
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		err = env.Execute(ctx)
		var rerr *format.RecordError
		if !errors.As(err, &rerr) {
			t.Fatalf("Execute: %v, want a *format.RecordError", err)
		}
		want := "kinesis stream " + name + " shard " + *bad.ShardId + " sequence number " + *bad.SequenceNumber
		if !strings.Contains(err.Error(), want) || string(rerr.Raw) != "not a number" {
			t.Fatalf("Execute: %v (raw %q), want it to name %q", err, rerr.Raw, want)
		}
		t.Log(err)
	})

	t.Run("DeadLetter", func(t *testing.T) {
		var mu sync.Mutex
		var dead []*format.RecordError
		src, err := kinesis.NewDecodedSource(srv.Client(), kinesis.SourceConfig{Stream: name, PollInterval: 20 * time.Millisecond},
			decodeInt, format.DeadLetter, func(e *format.RecordError) error {
				mu.Lock()
				defer mu.Unlock()
				dead = append(dead, e)
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
		env := stream.New("kinesis-malformed-dead-letter", stream.Config{Parallelism: 2})
		got := stream.Collect(stream.FromSource(env, src, eventtime.Strategy[decoded]{}))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- env.Execute(ctx) }()
		waitFor(t, done, "every good record", func() bool { return len(got.Values()) >= 2*n })
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("Execute: %v", err)
		}
		seen := map[int]int{}
		for _, v := range got.Values() {
			seen[v.N]++
		}
		for i := range 2 * n {
			if seen[i] != 1 {
				t.Errorf("record %d arrived %d times", i, seen[i])
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(dead) != 1 || string(dead[0].Raw) != "not a number" || !strings.Contains(dead[0].Error(), *bad.SequenceNumber) {
			t.Fatalf("dead letters: %v", dead)
		}
	})

	if _, err := kinesis.NewDecodedSource(srv.Client(), kinesis.SourceConfig{Stream: name}, decodeInt, format.DeadLetter, nil); !errors.Is(err, format.ErrNoDeadLetter) {
		t.Errorf("DeadLetter without a dead-letter function: %v", err)
	}
}
