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
	"net/http"
	"net/url"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/runnel-io/runnel/awsconn"
	"github.com/runnel-io/runnel/checkpoint"
)

// S3 part sizes: S3 requires every part of a multipart upload but the last to be at least
// 5 MiB.
const (
	DefaultPartSize = 8 << 20
	minPartSize     = 5 << 20
)

// Options configures New. The zero value takes the connection from the standard AWS
// configuration chain (see awsconn.Config) and the defaults below.
type Options struct {
	// Connection says how to reach S3 or an S3-compatible server: endpoint, region,
	// credentials, addressing, attempts and dial timeout (see awsconn.Config for the defaults).
	// URLs never carry credentials; static ones are for callers that hold them otherwise (tests,
	// a secrets manager).
	Connection awsconn.Config
	// PartSize is the size of the parts of multipart uploads; files up to PartSize bytes go
	// up in a single PutObject. Default DefaultPartSize (8 MiB); at least 5 MiB.
	PartSize int64
	// LeaseTTL is how long the location's lease (see S3.Lease) lasts without a renewal; the
	// holder renews it every third of it. A job killed without releasing it keeps the
	// location from jobs of other hosts for up to this long. Default DefaultLeaseTTL
	// (30 s); at least 3 s.
	LeaseTTL time.Duration
}

// Validate reports whether o is usable: a valid Connection (awsconn.Config.Validate), PartSize
// 0 or at least 5 MiB, LeaseTTL 0 or at least 3 s.
func (o Options) Validate() error {
	if err := o.Connection.Validate(); err != nil {
		return fmt.Errorf("checkpoint: s3: %w", err)
	}
	if o.PartSize != 0 && o.PartSize < minPartSize {
		return fmt.Errorf("checkpoint: s3 part size %d is below S3's minimum of 5 MiB", o.PartSize)
	}
	if o.LeaseTTL != 0 && o.LeaseTTL < 3*time.Second {
		return fmt.Errorf("checkpoint: s3 lease TTL %v is below 3s", o.LeaseTTL)
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
// permissions fail here, after at most o.Connection.MaxAttempts tries, rather than at the first
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
	if o.LeaseTTL == 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	cfg, err := o.Connection.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: s3 bucket %s: %w", bucket, err)
	}
	var endpoint string
	client := awss3.NewFromConfig(cfg, func(so *awss3.Options) {
		so.BaseEndpoint = o.Connection.BaseEndpoint(so.BaseEndpoint)
		so.UsePathStyle = o.Connection.UsePathStyle(so.BaseEndpoint)
		endpoint = aws.ToString(so.BaseEndpoint)
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
			o.Connection.Endpoint = v
		case "region":
			o.Connection.Region = v
		case "path_style":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return o, fmt.Errorf("checkpoint: s3 URL %q: path_style=%q is not a boolean", rawURL, v)
			}
			o.Connection.PathStyle = b
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
	if awsconn.IsNotFound(err) {
		return fmt.Errorf("checkpoint: %s %s: s3://%s/%s: %w (%w)", op, name, s.bucket, s.key(name), fs.ErrNotExist, err)
	}
	return fmt.Errorf("checkpoint: %s %s: s3://%s/%s: %w", op, name, s.bucket, s.key(name), err)
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
	if err != nil && !awsconn.IsCode(err, "NoSuchUpload") {
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
		if awsconn.StatusCode(err) == http.StatusRequestedRangeNotSatisfiable {
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
	if err != nil && !awsconn.IsNotFound(err) {
		return s.objErr("delete", name, err)
	}
	return nil
}
