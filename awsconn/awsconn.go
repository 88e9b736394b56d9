// Package awsconn is the one place that says how Runnel reaches AWS and AWS-compatible servers
// (S3, Kinesis): the endpoint, region and credentials of a Config, and what every client made
// from one shares: the HTTP client's dial timeout, the retry rules and the quiet logger. The S3
// file system of connector/s3, the S3 checkpoint storage of checkpoint/s3 and the clients of
// connector/kinesis are all made from a Config.
//
// It knows no service: a client package loads the SDK configuration with Config.Load and
// applies BaseEndpoint (and, for S3, UsePathStyle) to its client's options.
package awsconn

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
)

// Defaults of the zero Config.
const (
	// DefaultMaxAttempts is the number of attempts of a request, the first included.
	DefaultMaxAttempts = 3
	// DefaultDialTimeout bounds each TCP connect and TLS handshake.
	DefaultDialTimeout = 10 * time.Second
	// DefaultRegion is the region when neither the Config nor the configuration chain names
	// one.
	DefaultRegion = "us-east-1"
)

// Config says how to reach an AWS service or a compatible server. The zero value takes
// everything from the standard AWS configuration chain (environment, shared config and
// credentials files, web identity, container and EC2 instance roles), as the AWS CLI does. A
// Config holds no connection; it is a plain value, safe to copy.
type Config struct {
	// Endpoint is the base URL of a compatible server, such as "http://127.0.0.1:7070".
	// Default: the SDK's own resolution, which honours the service's AWS_ENDPOINT_URL_<SERVICE>
	// variable, AWS_ENDPOINT_URL (and endpoint_url in the shared config file), else AWS's
	// endpoint for the region.
	Endpoint string
	// Region is the region of the bucket or stream. Default: the configuration chain's
	// (AWS_REGION, AWS_DEFAULT_REGION, the profile's region); if that is empty too,
	// DefaultRegion.
	Region string
	// PathStyle (S3 only) forces path-style addressing (http://host/bucket/key) instead of
	// virtual-hosted style (http://bucket.host/key). It is also used, whatever this field says,
	// whenever an endpoint is configured (here or by the environment): compatible servers
	// rarely resolve bucket subdomains. Default false.
	PathStyle bool
	// AccessKeyID and SecretAccessKey, when both set, are static credentials used instead of
	// the configuration chain's. URLs never carry credentials; these are for callers that hold
	// them otherwise (tests, a secrets manager). Default: the chain's.
	AccessKeyID, SecretAccessKey string
	// MaxAttempts bounds the attempts of each request, the first included, with the SDK's
	// standard exponential backoff between them (see Load for what is retried). Default
	// DefaultMaxAttempts.
	MaxAttempts int
	// DialTimeout bounds each TCP connect and TLS handshake, so that an unreachable endpoint
	// fails instead of hanging. Default DefaultDialTimeout.
	DialTimeout time.Duration
}

// Validate reports whether c is usable: an Endpoint must be an absolute http(s) URL,
// MaxAttempts and DialTimeout not negative, and the static credentials both set or both empty.
// Its errors name the field.
func (c Config) Validate() error {
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("awsconn: endpoint %q is not an http:// or https:// URL", c.Endpoint)
		}
	}
	if c.MaxAttempts < 0 {
		return fmt.Errorf("awsconn: max attempts %d is negative", c.MaxAttempts)
	}
	if c.DialTimeout < 0 {
		return fmt.Errorf("awsconn: dial timeout %v is negative", c.DialTimeout)
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return errors.New("awsconn: static credentials need both an access key ID and a secret access key")
	}
	return nil
}

// retryCodes are the error codes retried besides the SDK's standard ones (throttling,
// transient server and connection errors). Versity's posix backend races when concurrent PUTs
// create the same parent directory and answers one of them with ExistingObjectIsDirectory; the
// retry succeeds. AWS never returns the code.
var retryCodes = []string{"ExistingObjectIsDirectory"}

// Load returns the SDK configuration of c, for a service client's NewFromConfig: the
// configuration chain's with c's region and credentials, an HTTP client whose connects and TLS
// handshakes are bounded by DialTimeout, the standard retryer with MaxAttempts (retrying also
// ExistingObjectIsDirectory, a transient answer of S3-compatible servers on a file system), the
// region DefaultRegion when nothing names one, and a logger that drops the SDK's notes (such
// as skipped checksum validations), which are no errors. Apply BaseEndpoint to the client's
// options. Load reads the environment and the shared configuration files but does not contact
// the network; credentials are resolved at the first request. It returns Validate's error, or
// the chain's when a shared file cannot be read.
func (c Config) Load(ctx context.Context) (aws.Config, error) {
	if err := c.Validate(); err != nil {
		return aws.Config{}, err
	}
	attempts := cmp.Or(c.MaxAttempts, DefaultMaxAttempts)
	dial := cmp.Or(c.DialTimeout, DefaultDialTimeout)
	httpClient := awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = dial }).
		WithTransportOptions(func(tr *http.Transport) { tr.TLSHandshakeTimeout = dial })
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithRetryMaxAttempts(attempts),
		config.WithRetryer(func() aws.Retryer {
			return retry.AddWithErrorCodes(retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = attempts
			}), retryCodes...)
		}),
	}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	if c.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("awsconn: loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	cfg.Logger = logging.Nop{}
	return cfg, nil
}

// BaseEndpoint returns the endpoint a client of c uses: c.Endpoint if set, else resolved, the
// BaseEndpoint the SDK resolved from the environment and shared files (nil for AWS's own).
// Set a client's Options.BaseEndpoint to it in the function given to NewFromConfig, where
// resolved is that field.
func (c Config) BaseEndpoint(resolved *string) *string {
	if c.Endpoint != "" {
		return aws.String(c.Endpoint)
	}
	return resolved
}

// UsePathStyle reports whether an S3 client of c with the given base endpoint uses path-style
// addressing: with PathStyle, and whenever an endpoint is configured.
func (c Config) UsePathStyle(endpoint *string) bool { return c.PathStyle || endpoint != nil }

// IsCode reports whether err is a service's answer with one of the error codes.
func IsCode(err error, codes ...string) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	for _, c := range codes {
		if ae.ErrorCode() == c {
			return true
		}
	}
	return false
}

// StatusCode returns the HTTP status of a service's answer err, or 0 when err is no answer.
func StatusCode(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// IsNotFound reports whether err is S3's answer for an object that does not exist: the codes
// NoSuchKey or NotFound (HEAD answers carry no body, hence no code), or a 404 that is neither
// NoSuchBucket nor NoSuchUpload.
func IsNotFound(err error) bool {
	if IsCode(err, "NoSuchKey", "NotFound") {
		return true
	}
	return StatusCode(err) == http.StatusNotFound && !IsCode(err, "NoSuchBucket", "NoSuchUpload")
}

// IsNoSuchUpload reports whether err is S3's answer for a multipart upload it does not know:
// completed, aborted, expired or never created (the code NoSuchUpload, or a 404 that is not
// NoSuchBucket).
func IsNoSuchUpload(err error) bool {
	if IsCode(err, "NoSuchUpload") {
		return true
	}
	return StatusCode(err) == http.StatusNotFound && !IsCode(err, "NoSuchBucket")
}
