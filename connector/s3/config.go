package s3

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/runnel-io/runnel/awsconn"
	"github.com/runnel-io/runnel/filesystem"
)

// Connection says how to reach S3 or an S3-compatible store: endpoint, region, credentials,
// path-style addressing, attempts and dial timeout. It is awsconn.Config, the configuration
// every AWS client of Runnel is made from; its zero value takes everything from the standard
// AWS configuration chain, which honours AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL.
type Connection = awsconn.Config

// Sizes of the multipart uploads an FS writes files with.
const (
	// MinPartSize is S3's minimum size of every part of a multipart upload but the last.
	MinPartSize = 5 << 20
	// DefaultPartSize is the default size of the parts a Writer uploads while it writes.
	DefaultPartSize = 8 << 20
)

// Config configures an FS. Its zero value reaches S3 through the standard AWS configuration
// chain with the defaults below.
type Config struct {
	// Connection says how to reach the store. Default: the zero awsconn.Config.
	Connection Connection
	// PartSize is the size of the parts a Writer uploads: it buffers what is written in
	// memory until it holds PartSize bytes, then uploads them as one part, so memory is about
	// PartSize per file being written. Default DefaultPartSize (8 MiB); at least MinPartSize
	// (5 MiB, S3's minimum for every part but the last). A file holds at most 10,000 parts.
	PartSize int64
}

// Validate reports whether c is usable: a valid Connection and a PartSize of 0 or at least
// MinPartSize.
func (c Config) Validate() error {
	if err := c.Connection.Validate(); err != nil {
		return fmt.Errorf("s3: %w", err)
	}
	if c.PartSize != 0 && c.PartSize < MinPartSize {
		return fmt.Errorf("s3: part size %d is below S3's minimum of 5 MiB", c.PartSize)
	}
	return nil
}

// FS is the filesystem.FS of Amazon S3 and S3-compatible stores (MinIO, Versity's gateway,
// Ceph, R2). Its names are "s3://bucket/key" URLs, of any bucket the connection may reach. A
// file is written as a multipart upload, invisible until Commit completes it; a finished
// file's Pending.Data is JSON of the bucket, key, upload ID, parts (number, ETag, CRC32, size)
// and size. Reads are pinned to the ETag the file had when it was listed (If-Match).
//
// A writer that crashes, or a checkpoint that never completes, leaves multipart uploads that
// are invisible but billed until aborted: the file connector's clean-up aborts what it can
// find (ListPending), and a lifecycle rule of the bucket must remove the rest (see the package
// documentation). An FS is safe for concurrent use.
type FS struct {
	cl       *awss3.Client
	endpoint string // the configured endpoint, "" for AWS: for messages
	partSize int64
}

var _ filesystem.FS = (*FS)(nil)

// NewFS returns the FS of c. It reads the environment and the shared AWS configuration files
// but does not contact the store; the first request does, failing after c.Connection's
// MaxAttempts when it cannot be reached. It returns an error if c is invalid.
func NewFS(ctx context.Context, c Config) (*FS, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	cfg, err := c.Connection.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	f := &FS{partSize: c.PartSize}
	if f.partSize == 0 {
		f.partSize = DefaultPartSize
	}
	f.cl = awss3.NewFromConfig(cfg, func(so *awss3.Options) {
		so.BaseEndpoint = c.Connection.BaseEndpoint(so.BaseEndpoint)
		so.UsePathStyle = c.Connection.UsePathStyle(so.BaseEndpoint)
		f.endpoint = aws.ToString(so.BaseEndpoint)
	})
	return f, nil
}

// Resolve returns path, an "s3://bucket/prefix" URL, without slashes around the prefix:
// "s3://bucket/prefix", or "s3://bucket" for the whole bucket. It returns an error for
// anything else, and for URLs with credentials, a query or a fragment (the connection comes
// from the Config).
func (f *FS) Resolve(path string) (string, error) {
	u, err := url.Parse(path)
	if err != nil {
		return "", fmt.Errorf("s3: URL %q: %w", path, err)
	}
	if u.Scheme != "s3" || u.Host == "" {
		return "", fmt.Errorf("s3: %q is not of the form s3://bucket/prefix", path)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("s3: URL %q: only s3://bucket/prefix is accepted (credentials and endpoints come from the Connection)", u.Redacted())
	}
	name := "s3://" + u.Host
	if p := strings.Trim(u.Path, "/"); p != "" {
		name += "/" + p
	}
	return name, nil
}

// split returns the bucket and key of a name.
func split(name string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(name, "s3://")
	if bucket, key, _ = strings.Cut(rest, "/"); !ok || bucket == "" {
		return "", "", fmt.Errorf("s3: %q is not an s3://bucket/key name", name)
	}
	return bucket, key, nil
}

// prefixOf returns the key prefix of the objects below a directory key: "" for the bucket,
// else the key and a slash.
func prefixOf(key string) string {
	if key == "" {
		return ""
	}
	return key + "/"
}

func nameOf(bucket, key string) string { return "s3://" + bucket + "/" + key }

// where names a name for messages, with the endpoint.
func (f *FS) where(name string) string {
	if f.endpoint != "" {
		return name + " at " + f.endpoint
	}
	return name
}

// errNoBucket is returned for names without a key where a file is needed.
var errNoBucket = errors.New("names a bucket, not a file")
