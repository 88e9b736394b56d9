package s3

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/runnel-io/runnel/awsconn"
)

// Connection says how to reach S3 or an S3-compatible store: endpoint, region, credentials,
// path-style addressing, attempts and dial timeout. It is awsconn.Config, the configuration
// every AWS client of Runnel is made from; its zero value takes everything from the standard
// AWS configuration chain, which honours AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL.
type Connection = awsconn.Config

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
	cfg, err := c.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	var endpoint string
	cl := s3.NewFromConfig(cfg, func(so *s3.Options) {
		so.BaseEndpoint = c.BaseEndpoint(so.BaseEndpoint)
		so.UsePathStyle = c.UsePathStyle(so.BaseEndpoint)
		endpoint = aws.ToString(so.BaseEndpoint)
	})
	return &client{Client: cl, endpoint: endpoint}, nil
}

// isNotFound reports whether err is S3's answer for a missing object.
func isNotFound(err error) bool { return awsconn.IsNotFound(err) }

// isNoSuchUpload reports whether err says a multipart upload is unknown: completed, aborted,
// expired or never created.
func isNoSuchUpload(err error) bool { return awsconn.IsNoSuchUpload(err) }

func isCode(err error, code string) bool { return awsconn.IsCode(err, code) }
