package kinesistest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/runnel-io/runnel/internal/testing/kinesistest"
)

func TestStart(t *testing.T) {
	s := kinesistest.Start(t)
	name := s.CreateStream(t, 2)
	out, err := s.Client().ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Shards) != 2 {
		t.Fatalf("%d shards, want 2", len(out.Shards))
	}
}

// TestFanOutConsumers drives the consumer calls of the fan-out emulation through the SDK.
func TestFanOutConsumers(t *testing.T) {
	s := kinesistest.Start(t)
	name := s.CreateStream(t, 1)
	fo := kinesistest.StartFanOut(t, s)
	c := s.ClientAt(fo.Endpoint)
	ctx := context.Background()
	sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &name}) // passed on
	if err != nil {
		t.Fatal(err)
	}
	arn := sum.StreamDescriptionSummary.StreamARN
	reg, err := c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: arn, ConsumerName: aws.String("c1")})
	if err != nil {
		t.Fatal(err)
	}
	if reg.Consumer.ConsumerStatus != types.ConsumerStatusCreating {
		t.Fatalf("a new consumer is %s, want CREATING", reg.Consumer.ConsumerStatus)
	}
	var inUse *types.ResourceInUseException
	if _, err := c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: arn, ConsumerName: aws.String("c1")}); !errors.As(err, &inUse) {
		t.Fatalf("registering twice: %v, want ResourceInUseException", err)
	}
	d, err := c.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: reg.Consumer.ConsumerARN})
	if err != nil || *d.ConsumerDescription.ConsumerName != "c1" || *d.ConsumerDescription.StreamARN != *arn {
		t.Fatalf("DescribeStreamConsumer: %+v, %v", d, err)
	}
	l, err := c.ListStreamConsumers(ctx, &kinesis.ListStreamConsumersInput{StreamARN: arn})
	if err != nil || len(l.Consumers) != 1 {
		t.Fatalf("ListStreamConsumers: %+v, %v", l, err)
	}
	if _, err := c.DeregisterStreamConsumer(ctx, &kinesis.DeregisterStreamConsumerInput{ConsumerARN: reg.Consumer.ConsumerARN}); err != nil {
		t.Fatal(err)
	}
	var notFound *types.ResourceNotFoundException
	if _, err := c.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{StreamARN: arn, ConsumerName: aws.String("c1")}); !errors.As(err, &notFound) {
		t.Fatalf("describing a deregistered consumer: %v, want ResourceNotFoundException", err)
	}
}

// TestFanOutSubscribe reads a shard through the emulation's SubscribeToShard with the SDK: the
// records with their continuation and the figure SetMillisBehindLatest gives, then an idle event
// caught up, and, after the shard is split, its end: ChildShards and no continuation.
func TestFanOutSubscribe(t *testing.T) {
	s := kinesistest.Start(t)
	name := s.CreateStream(t, 1)
	fo := kinesistest.StartFanOut(t, s)
	fo.SetMillisBehindLatest(5000)
	ctx := context.Background()
	c := s.ClientAt(fo.Endpoint)
	for i := range 3 {
		if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: &name, PartitionKey: aws.String("k"),
			Data: []byte{byte('a' + i)}}); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &name})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{
		StreamARN: sum.StreamDescriptionSummary.StreamARN, ConsumerName: aws.String("c")})
	if err != nil {
		t.Fatal(err)
	}
	shard := aws.String("shardId-000000000000")
	var inUse *types.ResourceInUseException
	_, err = c.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: reg.Consumer.ConsumerARN, ShardId: shard,
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}})
	if !errors.As(err, &inUse) {
		t.Fatalf("subscribing through a CREATING consumer: %v, want ResourceInUseException", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		d, err := c.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: reg.Consumer.ConsumerARN})
		if err != nil {
			t.Fatal(err)
		}
		if d.ConsumerDescription.ConsumerStatus == types.ConsumerStatusActive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the consumer is not ACTIVE after 10s")
		}
	}

	// subscribe returns the first n events of a subscription from pos, through a client of its
	// own (concurrent subscriptions through one client race in smithy-go's decoder).
	subscribe := func(pos types.StartingPosition, n int) []types.SubscribeToShardEvent {
		t.Helper()
		out, err := s.ClientAt(fo.Endpoint).SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{
			ConsumerARN: reg.Consumer.ConsumerARN, ShardId: shard, StartingPosition: &pos})
		if err != nil {
			t.Fatal(err)
		}
		es := out.GetStream()
		defer es.Close()
		var evs []types.SubscribeToShardEvent
		timeout := time.After(10 * time.Second)
		for len(evs) < n {
			select {
			case ev, ok := <-es.Events():
				if !ok {
					t.Fatalf("the subscription ended after %d events: %v", len(evs), es.Err())
				}
				evs = append(evs, ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent).Value)
			case <-timeout:
				t.Fatalf("%d events in 10s, want %d", len(evs), n)
			}
		}
		return evs
	}
	evs := subscribe(types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}, 2)
	recs, idle := evs[0], evs[1]
	if len(recs.Records) != 3 || string(recs.Records[2].Data) != "c" || recs.Records[0].ApproximateArrivalTimestamp == nil ||
		aws.ToInt64(recs.MillisBehindLatest) != 5000 ||
		aws.ToString(recs.ContinuationSequenceNumber) != aws.ToString(recs.Records[2].SequenceNumber) {
		t.Fatalf("first event %+v, want the 3 records, 5000 ms behind, continuing after the last", recs)
	}
	if len(idle.Records) != 0 || aws.ToInt64(idle.MillisBehindLatest) != 0 ||
		aws.ToString(idle.ContinuationSequenceNumber) != aws.ToString(recs.ContinuationSequenceNumber) {
		t.Fatalf("second event %+v, want none behind at the same continuation", idle)
	}

	if _, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: &name, ShardToSplit: shard,
		NewStartingHashKey: aws.String("170141183460469231731687303715884105728")}); err != nil {
		t.Fatal(err)
	}
	s.WaitActive(t, name)
	end := subscribe(types.StartingPosition{Type: types.ShardIteratorTypeAfterSequenceNumber,
		SequenceNumber: recs.ContinuationSequenceNumber}, 1)[0]
	if end.ContinuationSequenceNumber != nil || len(end.ChildShards) != 2 || len(end.Records) != 0 {
		t.Fatalf("event after the split %+v, want the end of the shard: its 2 children, no continuation", end)
	}
}
