package kinesistest_test

import (
	"context"
	"errors"
	"testing"

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
