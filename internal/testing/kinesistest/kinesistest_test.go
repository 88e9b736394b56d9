package kinesistest_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
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
