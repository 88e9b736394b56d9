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

// TestNewClientValidates: a Connection is awsconn.Config (tested there); NewClient refuses an
// invalid one, naming the package.
func TestNewClientValidates(t *testing.T) {
	_, err := kinesis.NewClient(context.Background(), kinesis.Connection{Endpoint: "127.0.0.1:4567"})
	if err == nil || !strings.HasPrefix(err.Error(), "kinesis: ") || !strings.Contains(err.Error(), "not an http:// or https:// URL") {
		t.Fatalf("NewClient with an endpoint without a scheme: %v", err)
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
