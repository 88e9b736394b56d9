package kinesis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Connection says how to reach Kinesis Data Streams, for programs that would rather not build
// an SDK client themselves (NewClient). Its zero value uses the standard AWS configuration
// chain for credentials, region and endpoint.
type Connection struct {
	// Endpoint is the base URL of a Kinesis-compatible server, such as
	// "http://127.0.0.1:4567". Default: the SDK's own resolution, which honours the
	// AWS_ENDPOINT_URL_KINESIS and AWS_ENDPOINT_URL environment variables, else AWS's
	// endpoint for the region.
	Endpoint string
	// Region is the stream's region. Default: the configuration chain's (AWS_REGION,
	// AWS_DEFAULT_REGION, the profile's region); if that is empty too, "us-east-1".
	Region string
	// AccessKeyID and SecretAccessKey, when both set, are static credentials used instead of
	// the configuration chain's.
	AccessKeyID, SecretAccessKey string
	// DialTimeout bounds each TCP connect, so that an unreachable endpoint fails instead of
	// hanging. Default 10 s.
	DialTimeout time.Duration
}

// Validate reports whether c is usable: an Endpoint must be an absolute http(s) URL,
// DialTimeout not negative, and the static credentials both set or both empty.
func (c Connection) Validate() error {
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("kinesis: endpoint %q is not an http:// or https:// URL", c.Endpoint)
		}
	}
	if c.DialTimeout < 0 {
		return fmt.Errorf("kinesis: dial timeout %v is negative", c.DialTimeout)
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return errors.New("kinesis: static credentials need both an access key ID and a secret access key")
	}
	return nil
}

// NewClient returns an SDK client for c, usable as the SourceAPI of NewSource and the
// PutRecordsAPI of NewSink. The SDK's own retries are left at their default; the source and
// sink retry on their own terms (SourceConfig.MaxRetries, the sink's backoff).
func NewClient(ctx context.Context, c Connection) (*kinesis.Client, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 10 * time.Second
	}
	httpClient := awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = c.DialTimeout }).
		WithTransportOptions(func(tr *http.Transport) { tr.TLSHandshakeTimeout = c.DialTimeout })
	opts := []func(*config.LoadOptions) error{config.WithHTTPClient(httpClient)}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	if c.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("kinesis: loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
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
