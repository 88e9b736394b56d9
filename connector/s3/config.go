package s3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
)

// Connection says how to reach S3 or an S3-compatible store. The zero value takes everything
// from the standard AWS configuration chain (environment, shared config and credentials files,
// web identity, container and EC2 instance roles), like the AWS CLI does.
type Connection struct {
	// Endpoint is the base URL of an S3-compatible server, such as "http://127.0.0.1:7070".
	// Default: the SDK's own resolution, which honours the AWS_ENDPOINT_URL_S3 and
	// AWS_ENDPOINT_URL environment variables (and endpoint_url in the shared config file),
	// else AWS's endpoint for the region.
	Endpoint string
	// Region is the bucket's region. Default: the configuration chain's (AWS_REGION,
	// AWS_DEFAULT_REGION, the profile's region); if that is empty too, "us-east-1".
	Region string
	// PathStyle forces path-style addressing (http://host/bucket/key). It is also used,
	// whatever this field says, whenever an endpoint is configured (by Endpoint or by the
	// environment): S3-compatible servers rarely resolve bucket subdomains. Default false.
	PathStyle bool
	// AccessKeyID and SecretAccessKey, when both set, are static credentials used instead of
	// the configuration chain's.
	AccessKeyID, SecretAccessKey string
	// MaxAttempts bounds the attempts of each request, the first included, with the SDK's
	// standard exponential backoff between them. Default 3.
	MaxAttempts int
	// DialTimeout bounds each TCP connect, so that an unreachable endpoint fails instead of
	// hanging. Default 10 s.
	DialTimeout time.Duration
}

// Validate reports whether c is usable: an Endpoint must be an absolute http(s) URL,
// MaxAttempts and DialTimeout not negative, and the static credentials both set or both empty.
func (c Connection) Validate() error {
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("s3: endpoint %q is not an http:// or https:// URL", c.Endpoint)
		}
	}
	if c.MaxAttempts < 0 {
		return fmt.Errorf("s3: max attempts %d is negative", c.MaxAttempts)
	}
	if c.DialTimeout < 0 {
		return fmt.Errorf("s3: dial timeout %v is negative", c.DialTimeout)
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return errors.New("s3: static credentials need both an access key ID and a secret access key")
	}
	return nil
}

// location is a parsed s3://bucket/prefix URL. prefix is "" or ends in "/".
type location struct {
	bucket, prefix string
}

// parseURL parses "s3://bucket/prefix"; leading and trailing slashes of the prefix are
// ignored.
func parseURL(raw string) (location, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return location{}, fmt.Errorf("s3: URL %q: %w", raw, err)
	}
	if u.Scheme != "s3" || u.Host == "" {
		return location{}, fmt.Errorf("s3: URL %q is not of the form s3://bucket/prefix", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return location{}, fmt.Errorf("s3: URL %q: only s3://bucket/prefix is accepted (credentials and endpoints come from the AWS configuration or the Connection option)", u.Redacted())
	}
	p := strings.Trim(u.Path, "/")
	if p != "" {
		p += "/"
	}
	return location{bucket: u.Host, prefix: p}, nil
}

func (l location) String() string { return "s3://" + l.bucket + "/" + l.prefix }

// client is an S3 client with what error messages need.
type client struct {
	*s3.Client
	endpoint string // the configured endpoint, "" for AWS
}

// where names the object or prefix key of bucket for messages, with the endpoint.
func (c *client) where(bucket, key string) string {
	s := "s3://" + bucket + "/" + key
	if c.endpoint != "" {
		s += " at " + c.endpoint
	}
	return s
}

// newClient makes a client by c. It reads the environment and the shared configuration files
// but does not contact the network; credentials are resolved at the first request.
func newClient(ctx context.Context, c Connection) (*client, error) {
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 3
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 10 * time.Second
	}
	httpClient := awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = c.DialTimeout }).
		WithTransportOptions(func(tr *http.Transport) { tr.TLSHandshakeTimeout = c.DialTimeout })
	loadOpts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithRetryMaxAttempts(c.MaxAttempts),
		// Versity's posix backend races when concurrent PUTs create the same parent directory
		// and answers one of them with ExistingObjectIsDirectory; the retry succeeds. AWS S3
		// never returns the code.
		config.WithRetryer(func() aws.Retryer {
			return retry.AddWithErrorCodes(retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = c.MaxAttempts
			}), "ExistingObjectIsDirectory")
		}),
	}
	if c.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(c.Region))
	}
	if c.AccessKeyID != "" {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("s3: loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	cfg.Logger = logging.Nop{} // the SDK's notes (skipped checksum validation) are no errors
	var endpoint string
	cl := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if c.Endpoint != "" {
			so.BaseEndpoint = aws.String(c.Endpoint)
		}
		// BaseEndpoint is already resolved from the environment and the shared config here.
		if so.BaseEndpoint != nil {
			endpoint = *so.BaseEndpoint
			so.UsePathStyle = true
		}
		if c.PathStyle {
			so.UsePathStyle = true
		}
	})
	return &client{Client: cl, endpoint: endpoint}, nil
}

// isNotFound reports whether err is S3's answer for a missing object.
func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	if isCode(err, "NoSuchKey") || isCode(err, "NotFound") {
		return true
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound &&
		!isCode(err, "NoSuchBucket") && !isCode(err, "NoSuchUpload")
}

// isNoSuchUpload reports whether err says a multipart upload is unknown: completed, aborted,
// expired or never created.
func isNoSuchUpload(err error) bool {
	var nsu *types.NoSuchUpload
	if errors.As(err, &nsu) || isCode(err, "NoSuchUpload") {
		return true
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound && !isCode(err, "NoSuchBucket")
}

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}
