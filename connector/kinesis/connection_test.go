package kinesis_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/runnel-io/runnel/connector/kinesis"
	"github.com/runnel-io/runnel/internal/testing/kinesistest"
)

func TestConnectionValidate(t *testing.T) {
	for _, tc := range []struct {
		c    kinesis.Connection
		want string
	}{
		{kinesis.Connection{Endpoint: "127.0.0.1:4567"}, "not an http:// or https:// URL"},
		{kinesis.Connection{DialTimeout: -time.Second}, "negative"},
		{kinesis.Connection{AccessKeyID: "k"}, "both an access key ID and a secret"},
	} {
		if err := tc.c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want an error containing %q", tc.c, err, tc.want)
		}
		if _, err := kinesis.NewClient(context.Background(), tc.c); err == nil {
			t.Errorf("NewClient(%+v) succeeded", tc.c)
		}
	}
	if err := (kinesis.Connection{Endpoint: "http://127.0.0.1:4567", AccessKeyID: "k", SecretAccessKey: "s"}).Validate(); err != nil {
		t.Errorf("valid connection: %v", err)
	}
}

// TestCreateStream creates a stream through a client made from a Connection, twice (the second
// time it exists), and finds it active with its shards.
func TestCreateStream(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kinesalite")
	}
	srv := kinesistest.Start(t)
	if srv.External {
		t.Skip("uses static test credentials and a fixed stream name: kinesalite only")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kinesis.NewClient(ctx, kinesis.Connection{Endpoint: srv.Endpoint, Region: srv.Region, AccessKeyID: "k", SecretAccessKey: "s"})
	if err != nil {
		t.Fatal(err)
	}
	name := "connection-test"
	for range 2 {
		if err := kinesis.CreateStream(ctx, cl, name, 3); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_, _ = cl.DeleteStream(context.Background(), &sdk.DeleteStreamInput{StreamName: aws.String(name)})
	})
	out, err := cl.ListShards(ctx, &sdk.ListShardsInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Shards) != 3 {
		t.Fatalf("stream has %d shards, want 3", len(out.Shards))
	}
}
