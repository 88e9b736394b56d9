// Package s3 is the checkpoint.Storage in Amazon S3 and S3-compatible stores (aws-sdk-go-v2):
// checkpoints, savepoints and the location's lease as objects below a key prefix. Programs open
// it with Open, or name it in checkpoint.Schemes{"s3": s3.Scheme()} so that s3:// locations
// open by URL; a program that does not import it links no AWS SDK.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/runnel-io/runnel/checkpoint"
)

// S3 part sizes: S3 requires every part of a multipart upload but the last to be at least
// 5 MiB.
const (
	DefaultPartSize = 8 << 20
	minPartSize     = 5 << 20
)

// Options configures New. The zero value takes everything from the standard AWS
// configuration chain (environment, shared config and credentials files, web identity,
// container and EC2 instance roles), like the AWS CLI does.
type Options struct {
	// Endpoint is the base URL of an S3-compatible server, such as "http://127.0.0.1:9000".
	// Default: the SDK's own resolution, which honours the AWS_ENDPOINT_URL_S3 and
	// AWS_ENDPOINT_URL environment variables (and endpoint_url in the shared config file),
	// else AWS's endpoint for the region.
	Endpoint string
	// Region is the bucket's region. Default: the configuration chain's (AWS_REGION,
	// AWS_DEFAULT_REGION, the profile's region); if that is empty too, "us-east-1".
	Region string
	// PathStyle forces path-style addressing (http://host/bucket/key) instead of
	// virtual-hosted style (http://bucket.host/key). It is also used, whatever this field
	// says, whenever an endpoint is configured, by Endpoint or by the environment: local
	// S3-compatible servers rarely resolve bucket subdomains. Default false.
	PathStyle bool
	// AccessKeyID and SecretAccessKey, when both set, are static credentials used instead of
	// the configuration chain's. URLs never carry credentials; these are for callers that
	// hold them otherwise (tests, a secrets manager).
	AccessKeyID, SecretAccessKey string
	// PartSize is the size of the parts of multipart uploads; files up to PartSize bytes go
	// up in a single PutObject. Default DefaultPartSize (8 MiB); at least 5 MiB.
	PartSize int64
	// MaxAttempts bounds the attempts of each request, the first included, with the SDK's
	// standard exponential backoff between them. Default 3.
	MaxAttempts int
	// DialTimeout bounds each TCP connect, so an unreachable endpoint fails instead of
	// hanging. Default 10 s.
	DialTimeout time.Duration
	// LeaseTTL is how long the location's lease (see S3.Lease) lasts without a renewal; the
	// holder renews it every third of it. A job killed without releasing it keeps the
	// location from jobs of other hosts for up to this long. Default DefaultLeaseTTL
	// (30 s); at least 3 s.
	LeaseTTL time.Duration
}

// Validate reports whether o is usable: an Endpoint must be an absolute http(s) URL,
// PartSize 0 or at least 5 MiB, MaxAttempts and DialTimeout not negative, LeaseTTL 0 or at
// least 3 s, and the static
// credentials both set or both empty.
func (o Options) Validate() error {
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("checkpoint: s3 endpoint %q is not an http:// or https:// URL", o.Endpoint)
		}
	}
	if o.PartSize != 0 && o.PartSize < minPartSize {
		return fmt.Errorf("checkpoint: s3 part size %d is below S3's minimum of 5 MiB", o.PartSize)
	}
	if o.MaxAttempts < 0 {
		return fmt.Errorf("checkpoint: s3 max attempts %d is negative", o.MaxAttempts)
	}
	if o.DialTimeout < 0 {
		return fmt.Errorf("checkpoint: s3 dial timeout %v is negative", o.DialTimeout)
	}
	if o.LeaseTTL != 0 && o.LeaseTTL < 3*time.Second {
		return fmt.Errorf("checkpoint: s3 lease TTL %v is below 3s", o.LeaseTTL)
	}
	if (o.AccessKeyID == "") != (o.SecretAccessKey == "") {
		return errors.New("checkpoint: s3 static credentials need both an access key ID and a secret access key")
	}
	return nil
}

// Storage is a checkpoint.Storage in an S3 bucket, below a key prefix: the file "chk-7/_metadata" of the
// storage at s3://bucket/jobs/a is the object "jobs/a/chk-7/_metadata". Create buffers what is
// written and uploads it on Close in one PutObject, or, past one part size, as a multipart
// upload whose parts go up while writing and which Close completes; S3 makes an object
// visible only whole, so nothing appears under the name before Close succeeds.
//
// S3 is safe for concurrent use. Its OpenRange issues ranged GETs. A multipart upload left by
// a crashed process stays invisible but is billed until it is aborted: give the bucket a
// lifecycle rule that aborts incomplete multipart uploads after a day or so.
type Storage struct {
	client   *awss3.Client
	bucket   string
	prefix   string // "" or ending in "/"
	endpoint string // for messages: the configured endpoint, or "" for AWS
	partSize int64
	leaseTTL time.Duration
}

var (
	_ checkpoint.Storage     = (*Storage)(nil)
	_ checkpoint.RangeOpener = (*Storage)(nil)
	_ checkpoint.Locator     = (*Storage)(nil)
)

// New returns the S3 storage for the objects of bucket below prefix (leading and trailing
// slashes are ignored; "" is the whole bucket), configured by o. It checks that the bucket
// can be listed below prefix, so an unreachable endpoint, a missing bucket or missing
// permissions fail here, after at most o.MaxAttempts tries, rather than at the first
// checkpoint.
func New(ctx context.Context, bucket, prefix string, o Options) (*Storage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if bucket == "" {
		return nil, errors.New("checkpoint: s3 storage needs a bucket name")
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		if err := checkpoint.CheckName(prefix); err != nil {
			return nil, fmt.Errorf("checkpoint: s3 key prefix %q: %w", prefix, err)
		}
		prefix += "/"
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 3
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}

	httpClient := awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = o.DialTimeout }).
		WithTransportOptions(func(tr *http.Transport) { tr.TLSHandshakeTimeout = o.DialTimeout })
	loadOpts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithRetryMaxAttempts(o.MaxAttempts),
		// S3-compatible stores on a file system (Versity's posix backend) race when
		// concurrent PUTs create the same parent directory and answer one of them with
		// ExistingObjectIsDirectory; the retry succeeds. Tasks write one checkpoint's files
		// concurrently, so this happens. AWS S3 never returns the code.
		config.WithRetryer(func() aws.Retryer {
			return retry.AddWithErrorCodes(retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = o.MaxAttempts
			}), "ExistingObjectIsDirectory")
		}),
	}
	if o.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(o.Region))
	}
	if o.AccessKeyID != "" {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: s3 bucket %s: loading the AWS configuration: %w", bucket, err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	cfg.Logger = logging.Nop{} // the SDK's notes (skipped checksum validation) are no errors
	var endpoint string
	client := awss3.NewFromConfig(cfg, func(so *awss3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		// BaseEndpoint is already resolved from the environment and the shared config here.
		if so.BaseEndpoint != nil {
			endpoint = *so.BaseEndpoint
			so.UsePathStyle = true
		}
		if o.PathStyle {
			so.UsePathStyle = true
		}
	})
	s := &Storage{client: client, bucket: bucket, prefix: prefix, endpoint: endpoint, partSize: o.PartSize, leaseTTL: o.LeaseTTL}
	if _, err := client.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{
		Bucket:  aws.String(bucket),
		Prefix:  aws.String(prefix),
		MaxKeys: aws.Int32(1),
	}); err != nil {
		return nil, fmt.Errorf("checkpoint: opening %s: %w", s.where(), err)
	}
	return s, nil
}

// Scheme returns the checkpoint.Scheme of s3:// URLs, for checkpoint.Schemes{"s3": s3.Scheme()}.
func Scheme() checkpoint.Scheme {
	return checkpoint.Scheme{
		Open: func(ctx context.Context, rawURL string) (checkpoint.Storage, error) { return Open(ctx, rawURL) },
		Check: func(rawURL string) error {
			u, err := url.Parse(rawURL)
			if err == nil {
				_, err = parseS3URL(rawURL, u)
			}
			return err
		},
	}
}

// Open returns the storage of an s3://bucket/prefix URL, with the standard AWS configuration
// chain for credentials, region and endpoint (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL). The
// query parameters endpoint (an http(s) URL of an S3-compatible server), region and path_style
// (a boolean) override them, as in s3://ckpt/jobs/a?endpoint=http://127.0.0.1:9000&region=us-east-1.
// Path-style addressing is used whenever an endpoint is set. Credentials are never taken from
// the URL. Open checks that the bucket can be listed, failing after a bounded number of
// retries when the endpoint cannot be reached.
func Open(ctx context.Context, rawURL string) (*Storage, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "s3" {
		return nil, fmt.Errorf("checkpoint: %q is not an s3:// URL", rawURL)
	}
	o, err := parseS3URL(rawURL, u)
	if err != nil {
		return nil, err
	}
	return New(ctx, u.Host, u.Path, o)
}

// parseS3URL returns the options the query of an s3:// URL sets, after the checks of New
// that need no network: a bucket, a valid prefix, valid options. See Open.
func parseS3URL(rawURL string, u *url.URL) (Options, error) {
	var o Options
	if u.Host == "" {
		return o, fmt.Errorf("checkpoint: s3 URL %q names no bucket: use s3://bucket/prefix", rawURL)
	}
	if u.User != nil {
		return o, fmt.Errorf("checkpoint: s3 URL %q carries credentials: use the AWS configuration (environment, ~/.aws, roles) instead", redactURL(u))
	}
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		switch k {
		case "endpoint":
			o.Endpoint = v
		case "region":
			o.Region = v
		case "path_style":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return o, fmt.Errorf("checkpoint: s3 URL %q: path_style=%q is not a boolean", rawURL, v)
			}
			o.PathStyle = b
		default:
			return o, fmt.Errorf("checkpoint: s3 URL %q: unknown parameter %q (known: endpoint, region, path_style)", rawURL, k)
		}
	}
	if prefix := strings.Trim(u.Path, "/"); prefix != "" {
		if err := checkpoint.CheckName(prefix); err != nil {
			return o, fmt.Errorf("checkpoint: s3 key prefix %q: %w", prefix, err)
		}
	}
	return o, o.Validate()
}

func redactURL(u *url.URL) string {
	c := *u
	c.User = url.User("REDACTED")
	return c.String()
}

// Location implements checkpoint.Locator: the s3:// URL of dir below the prefix, with the
// endpoint parameter when one is configured.
func (s *Storage) Location(dir string) string {
	out := "s3://" + s.bucket + "/" + path.Join(s.prefix, dir)
	if s.endpoint != "" {
		out += "?endpoint=" + url.QueryEscape(s.endpoint)
	}
	return out
}

// String returns s's location as an s3:// URL, with its endpoint when one is configured.
func (s *Storage) String() string {
	out := "s3://" + s.bucket + "/" + strings.TrimSuffix(s.prefix, "/")
	if s.endpoint != "" {
		out += "?endpoint=" + url.QueryEscape(s.endpoint)
	}
	return out
}

// Bucket returns the name of s's bucket.
func (s *Storage) Bucket() string { return s.bucket }

// Prefix returns the key prefix of s's objects: "" or ending in a slash.
func (s *Storage) Prefix() string { return s.prefix }

// where names the storage's bucket and prefix for messages.
func (s *Storage) where() string {
	out := "s3://" + s.bucket + "/" + s.prefix
	if s.endpoint != "" {
		out += " at " + s.endpoint
	}
	return out
}

func (s *Storage) key(name string) string { return s.prefix + name }

// objErr wraps err of operation op on the file name, mapping S3's not-found answers to
// fs.ErrNotExist.
func (s *Storage) objErr(op, name string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("checkpoint: %s %s: s3://%s/%s: %w (%w)", op, name, s.bucket, s.key(name), fs.ErrNotExist, err)
	}
	return fmt.Errorf("checkpoint: %s %s: s3://%s/%s: %w", op, name, s.bucket, s.key(name), err)
}

func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		}
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound && !isCode(err, "NoSuchBucket")
}

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// Create implements checkpoint.Storage.
func (s *Storage) Create(ctx context.Context, name string) (checkpoint.FileWriter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkpoint.CheckName(name); err != nil {
		return nil, err
	}
	return &s3Writer{ctx: ctx, s: s, name: name}, nil
}

// s3Writer buffers up to one part; the first full part starts a multipart upload.
type s3Writer struct {
	ctx      context.Context
	s        *Storage
	name     string
	buf      []byte
	uploadID string // "" until a multipart upload starts
	parts    []types.CompletedPart
	done     bool  // closed or aborted
	err      error // the first write error
}

func (w *s3Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("checkpoint: write %s: %w", w.name, os.ErrClosed)
	}
	if w.err != nil {
		return 0, w.err
	}
	if err := w.ctx.Err(); err != nil {
		w.fail(w.s.objErr("write", w.name, err))
		return 0, w.err
	}
	n := 0
	for len(p) > 0 {
		room := int(w.s.partSize) - len(w.buf)
		if room > len(p) {
			room = len(p)
		}
		w.buf = append(w.buf, p[:room]...)
		p, n = p[room:], n+room
		if int64(len(w.buf)) >= w.s.partSize && len(p) > 0 {
			// Upload only once more data follows, so a file of exactly one part goes up in a
			// single PutObject.
			if err := w.uploadPart(); err != nil {
				w.fail(err)
				return n, w.err
			}
		}
	}
	return n, nil
}

// fail records the first write error and abandons the multipart upload.
func (w *s3Writer) fail(err error) {
	if w.err == nil {
		w.err = err
	}
	_ = w.abortUpload()
}

func (w *s3Writer) uploadPart() error {
	s := w.s
	key := s.key(w.name)
	if w.uploadID == "" {
		out, err := s.client.CreateMultipartUpload(w.ctx, &awss3.CreateMultipartUploadInput{
			Bucket:            aws.String(s.bucket),
			Key:               aws.String(key),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		})
		if err != nil {
			return s.objErr("create (starting the multipart upload of)", w.name, err)
		}
		w.uploadID = aws.ToString(out.UploadId)
	}
	num := int32(len(w.parts) + 1)
	out, err := s.client.UploadPart(w.ctx, &awss3.UploadPartInput{
		Bucket:            aws.String(s.bucket),
		Key:               aws.String(key),
		UploadId:          aws.String(w.uploadID),
		PartNumber:        aws.Int32(num),
		Body:              bytes.NewReader(w.buf),
		ContentLength:     aws.Int64(int64(len(w.buf))),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	})
	if err != nil {
		return s.objErr(fmt.Sprintf("write (uploading part %d of)", num), w.name, err)
	}
	w.parts = append(w.parts, types.CompletedPart{
		ETag:          out.ETag,
		PartNumber:    aws.Int32(num),
		ChecksumCRC32: out.ChecksumCRC32,
	})
	w.buf = w.buf[:0]
	return nil
}

// abortUpload aborts the multipart upload, if any, even when w.ctx has ended, so the parts do
// not linger. Its own failure is returned but leaves nothing visible either.
func (w *s3Writer) abortUpload() error {
	if w.uploadID == "" {
		return nil
	}
	id := w.uploadID
	w.uploadID = ""
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), time.Minute)
	defer cancel()
	_, err := w.s.client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{
		Bucket:   aws.String(w.s.bucket),
		Key:      aws.String(w.s.key(w.name)),
		UploadId: aws.String(id),
	})
	if err != nil && !isCode(err, "NoSuchUpload") {
		return w.s.objErr("abort (the multipart upload of)", w.name, err)
	}
	return nil
}

func (w *s3Writer) Close() error {
	if w.done {
		return fmt.Errorf("checkpoint: close %s: %w", w.name, os.ErrClosed)
	}
	w.done = true
	buf := w.buf
	w.buf = nil
	if w.err != nil {
		return fmt.Errorf("checkpoint: close %s: %w", w.name, w.err)
	}
	if err := w.ctx.Err(); err != nil {
		_ = w.abortUpload()
		return w.s.objErr("close", w.name, err)
	}
	s := w.s
	key := s.key(w.name)
	if w.uploadID == "" {
		_, err := s.client.PutObject(w.ctx, &awss3.PutObjectInput{
			Bucket:        aws.String(s.bucket),
			Key:           aws.String(key),
			Body:          bytes.NewReader(buf),
			ContentLength: aws.Int64(int64(len(buf))),
		})
		if err != nil {
			return s.objErr("close (putting)", w.name, err)
		}
		return nil
	}
	if len(buf) > 0 {
		w.buf = buf
		if err := w.uploadPart(); err != nil {
			_ = w.abortUpload()
			return fmt.Errorf("checkpoint: close %s: %w", w.name, err)
		}
		w.buf = nil
	}
	_, err := s.client.CompleteMultipartUpload(w.ctx, &awss3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.bucket),
		Key:             aws.String(key),
		UploadId:        aws.String(w.uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: w.parts},
	})
	if err != nil {
		_ = w.abortUpload()
		return s.objErr("close (completing the multipart upload of)", w.name, err)
	}
	w.uploadID = ""
	return nil
}

func (w *s3Writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.buf = nil
	return w.abortUpload()
}

// Open implements checkpoint.Storage.
func (s *Storage) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkpoint.CheckName(name); err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.key(name))})
	if err != nil {
		return nil, s.objErr("open", name, err)
	}
	return out.Body, nil
}

// OpenRange implements checkpoint.RangeOpener with a ranged GET.
func (s *Storage) OpenRange(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	if offset < 0 || length < 0 {
		return nil, fmt.Errorf("checkpoint: open %s: invalid range %d+%d: %w", name, offset, length, fs.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkpoint.CheckName(name); err != nil {
		return nil, err
	}
	if length == 0 {
		if _, err := s.Stat(ctx, name); err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	out, err := s.client.GetObject(ctx, &awss3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.key(name)),
		Range:  aws.String(fmt.Sprintf("bytes=%d-%d", offset, offset+length-1)),
	})
	if err != nil {
		var re *awshttp.ResponseError
		if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusRequestedRangeNotSatisfiable {
			return io.NopCloser(bytes.NewReader(nil)), nil // offset at or past the end
		}
		return nil, s.objErr(fmt.Sprintf("open (bytes %d+%d of)", offset, length), name, err)
	}
	// A server ignoring Range would send the whole object: never hand out more than asked.
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(out.Body, length), out.Body}, nil
}

// Stat implements checkpoint.Storage.
func (s *Storage) Stat(ctx context.Context, name string) (checkpoint.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return checkpoint.FileInfo{}, err
	}
	if err := checkpoint.CheckName(name); err != nil {
		return checkpoint.FileInfo{}, err
	}
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.key(name))})
	if err != nil {
		return checkpoint.FileInfo{}, s.objErr("stat", name, err)
	}
	return checkpoint.FileInfo{Name: name, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// List implements checkpoint.Storage. Objects below the storage's prefix whose names are not valid
// Storage names (directory markers "x/", hidden names) are skipped.
func (s *Storage) List(ctx context.Context, prefix string) ([]checkpoint.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []checkpoint.FileInfo
	p := awss3.NewListObjectsV2Paginator(s.client, &awss3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.prefix + prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("checkpoint: list %q in %s: %w", prefix, s.where(), err)
		}
		for _, obj := range page.Contents {
			name, ok := strings.CutPrefix(aws.ToString(obj.Key), s.prefix)
			if !ok || checkpoint.CheckName(name) != nil {
				continue
			}
			out = append(out, checkpoint.FileInfo{Name: name, Size: aws.ToInt64(obj.Size), ModTime: aws.ToTime(obj.LastModified)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Delete implements checkpoint.Storage.
func (s *Storage) Delete(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkpoint.CheckName(name); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.key(name))})
	if err != nil && !isNotFound(err) {
		return s.objErr("delete", name, err)
	}
	return nil
}
