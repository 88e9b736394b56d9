package kinesis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/runnel-io/runnel/awsconn"
)

// Connection says how to reach Kinesis Data Streams, for programs that would rather not build
// an SDK client themselves (NewClient): endpoint, region, credentials, attempts and dial
// timeout. It is awsconn.Config, the configuration every AWS client of Runnel is made from;
// its zero value uses the standard AWS configuration chain, which honours
// AWS_ENDPOINT_URL_KINESIS and AWS_ENDPOINT_URL. PathStyle does not apply to Kinesis.
type Connection = awsconn.Config

// NewClient returns an SDK client for c, usable as the SourceAPI of NewSource and the
// PutRecordsAPI of NewSink. Its retries are awsconn's (MaxAttempts, default 3, with the SDK's
// standard backoff); the source and sink retry on their own terms above that
// (SourceConfig.MaxRetries, the sink's backoff). It returns an error if c is invalid or the
// shared AWS configuration cannot be read; it does not contact the network.
func NewClient(ctx context.Context, c Connection) (*kinesis.Client, error) {
	cfg, err := c.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("kinesis: %w", err)
	}
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
		o.BaseEndpoint = c.BaseEndpoint(o.BaseEndpoint)
	}), nil
}

// CreateStream creates the stream name with the given number of shards, unless it exists, and
// waits until it is ACTIVE or ctx ends. It is for examples, benchmarks and development
// servers: production streams are made by infrastructure code, not by jobs.
func CreateStream(ctx context.Context, cl *kinesis.Client, name string, shards int32) error {
	_, err := cl.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("kinesis: creating stream %s: %w", name, err)
	}
	w := kinesis.NewStreamExistsWaiter(cl, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
	})
	deadline := 5 * time.Minute
	if d, ok := ctx.Deadline(); ok {
		deadline = time.Until(d)
	}
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, deadline); err != nil {
		return fmt.Errorf("kinesis: waiting for stream %s to be active: %w", name, err)
	}
	return nil
}
