package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/runnel-io/runnel/awsconn"
	"github.com/runnel-io/runnel/filesystem"
)

// The writing half of FS: multipart uploads, completed at Commit.

// ErrMissing is filesystem.ErrMissing: Commit wraps it when a file's multipart upload is
// unknown (aborted, expired by a lifecycle rule, or never made) and its object does not exist
// either.
var ErrMissing = filesystem.ErrMissing

// ErrMismatch is filesystem.ErrMismatch: Commit wraps it when a file's upload is unknown and
// an object exists under its key, but not with the size (or multipart ETag) the upload made.
var ErrMismatch = filesystem.ErrMismatch

// maxParts is S3's limit on the parts of a multipart upload.
const maxParts = 10000

// record is the Data of a Pending: one finished, not yet completed, multipart upload. (The S3
// sink's committables of earlier versions are exactly this.)
type record struct {
	Bucket   string          `json:"bucket"`
	Key      string          `json:"key"`
	UploadID string          `json:"uploadId"`
	Parts    []completedPart `json:"parts"`
	Size     int64           `json:"size"`
}

// completedPart is one uploaded part: its number, ETag, CRC32 checksum (base64) and size.
type completedPart struct {
	Number int32  `json:"n"`
	ETag   string `json:"etag"`
	CRC32  string `json:"crc32,omitempty"`
	Size   int64  `json:"size"`
}

func (r record) pending() filesystem.Pending {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // strings and integers always marshal
	}
	return filesystem.Pending{Name: nameOf(r.Bucket, r.Key), Size: r.Size, ID: r.UploadID, Data: b}
}

// Create implements filesystem.FS: it starts the multipart upload at once, so that ListPending
// finds the file even before its first part is uploaded. S3 cannot tell whether name exists
// without another request, and Create does not ask.
func (f *FS) Create(ctx context.Context, name string) (filesystem.Writer, error) {
	bucket, key, err := split(name)
	if err == nil && key == "" {
		err = fmt.Errorf("s3: create %s: %w", name, errNoBucket)
	}
	if err != nil {
		return nil, err
	}
	out, err := f.cl.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{
		Bucket:            aws.String(bucket),
		Key:               aws.String(key),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	})
	if err != nil {
		return nil, fmt.Errorf("s3: starting the multipart upload of %s: %w", f.where(name), err)
	}
	return &writer{ctx: ctx, f: f, rec: record{Bucket: bucket, Key: key, UploadID: aws.ToString(out.UploadId)}}, nil
}

// writer buffers up to a part and uploads it. It keeps Create's context: its writes belong to
// that caller.
type writer struct {
	ctx  context.Context
	f    *FS
	rec  record
	buf  bytes.Buffer
	done bool
	err  error // the first failure; the upload is aborted then
}

func (w *writer) name() string { return nameOf(w.rec.Bucket, w.rec.Key) }

func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("s3: writing %s: %w", w.name(), os.ErrClosed)
	}
	if w.err != nil {
		return 0, w.err
	}
	w.buf.Write(p)
	if int64(w.buf.Len()) >= w.f.partSize {
		if err := w.upload(); err != nil {
			return len(p), err
		}
	}
	return len(p), nil
}

func (w *writer) Size() int64 { return w.rec.Size + int64(w.buf.Len()) }

// upload uploads the buffer as the next part. On failure it aborts the upload.
func (w *writer) upload() error {
	num := int32(len(w.rec.Parts) + 1)
	if num > maxParts {
		w.fail(fmt.Errorf("s3: writing %s: more than S3's %d parts of %d bytes", w.name(), maxParts, w.f.partSize))
		return w.err
	}
	n := int64(w.buf.Len())
	out, err := w.f.cl.UploadPart(w.ctx, &awss3.UploadPartInput{
		Bucket:            aws.String(w.rec.Bucket),
		Key:               aws.String(w.rec.Key),
		UploadId:          aws.String(w.rec.UploadID),
		PartNumber:        aws.Int32(num),
		Body:              bytes.NewReader(w.buf.Bytes()),
		ContentLength:     aws.Int64(n),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	})
	if err != nil {
		w.fail(fmt.Errorf("s3: uploading part %d of %s: %w", num, w.f.where(w.name()), err))
		return w.err
	}
	w.rec.Parts = append(w.rec.Parts, completedPart{Number: num, ETag: aws.ToString(out.ETag),
		CRC32: aws.ToString(out.ChecksumCRC32), Size: n})
	w.rec.Size += n
	w.buf.Reset()
	return nil
}

// fail records the first failure and aborts the upload.
func (w *writer) fail(err error) {
	if w.err == nil {
		w.err = err
	}
	_ = w.f.abort(w.ctx, w.rec.Bucket, w.rec.Key, w.rec.UploadID)
}

// Finish uploads the rest as the last part (of any size; an empty file is one empty part).
func (w *writer) Finish() (filesystem.Pending, error) {
	if w.done {
		return filesystem.Pending{}, fmt.Errorf("s3: finishing %s: %w", w.name(), os.ErrClosed)
	}
	w.done = true
	if w.err != nil {
		return filesystem.Pending{}, w.err
	}
	if w.buf.Len() > 0 || len(w.rec.Parts) == 0 {
		if err := w.upload(); err != nil {
			return filesystem.Pending{}, err
		}
	}
	return w.rec.pending(), nil
}

// Abort aborts the upload, even when Create's context has ended.
func (w *writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	if w.err != nil {
		return nil // aborted already
	}
	return w.f.abort(w.ctx, w.rec.Bucket, w.rec.Key, w.rec.UploadID)
}

// abort aborts one multipart upload, for at most a minute, even when ctx has ended; an unknown
// upload is no error.
func (f *FS) abort(ctx context.Context, bucket, key, uploadID string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	_, err := f.cl.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{
		Bucket:   aws.String(bucket),
		Key:      aws.String(key),
		UploadId: aws.String(uploadID),
	})
	if err != nil && !awsconn.IsNoSuchUpload(err) {
		return fmt.Errorf("s3: aborting multipart upload %s of %s: %w", uploadID, f.where(nameOf(bucket, key)), err)
	}
	return nil
}

// DecodePending implements filesystem.FS.
func (f *FS) DecodePending(data []byte) (filesystem.Pending, error) {
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return filesystem.Pending{}, fmt.Errorf("s3: decoding pending file %q: %w", data, err)
	}
	if r.Bucket == "" || r.Key == "" || r.UploadID == "" || len(r.Parts) == 0 || r.Size < 0 {
		return filesystem.Pending{}, fmt.Errorf("s3: %q does not describe a multipart upload", data)
	}
	p := r.pending()
	p.Data = data
	return p, nil
}

// multipartETag returns the ETag S3 gives the object a multipart upload of these parts makes,
// the MD5 of the parts' MD5s followed by "-" and the number of parts, or "" when a part's ETag
// is not a plain MD5 (encrypted with SSE-KMS, or a store that computes ETags otherwise).
func (r record) multipartETag() string {
	h := md5.New()
	for _, p := range r.Parts {
		b, err := hex.DecodeString(strings.Trim(p.ETag, `"`))
		if err != nil || len(b) != md5.Size {
			return ""
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(r.Parts))
}

// checkETag returns an error wrapping ErrMismatch if etag is a multipart ETag other than the
// one r's parts make. ETags that are no multipart ETags (other stores, encryption) pass.
func (r record) checkETag(etag string) error {
	got := strings.Trim(etag, `"`)
	if want := r.multipartETag(); want != "" && strings.Contains(got, "-") && got != want {
		return fmt.Errorf("%w: the object's ETag is %s, its parts make %s", ErrMismatch, got, want)
	}
	return nil
}

// Commit implements filesystem.FS: it completes the multipart upload, then checks the object
// with a HEAD. When S3 no longer knows the upload but its object exists with the recorded size
// (and, where the store reports one, the multipart ETag its parts imply), the upload was
// completed before; an object of another size or ETag is ErrMismatch.
func (f *FS) Commit(ctx context.Context, p filesystem.Pending) error {
	var r record
	if err := json.Unmarshal(p.Data, &r); err != nil || r.UploadID == "" {
		return fmt.Errorf("s3: commit of %s: %q does not describe a multipart upload", p.Name, p.Data)
	}
	if err := f.commit(ctx, r); err != nil {
		return fmt.Errorf("s3: commit of %s: %w", f.where(nameOf(r.Bucket, r.Key)), err)
	}
	return nil
}

func (f *FS) commit(ctx context.Context, r record) error {
	parts := make([]types.CompletedPart, len(r.Parts))
	for i, p := range r.Parts {
		parts[i] = types.CompletedPart{PartNumber: aws.Int32(p.Number), ETag: aws.String(p.ETag)}
		if p.CRC32 != "" {
			parts[i].ChecksumCRC32 = aws.String(p.CRC32)
		}
	}
	_, err := f.cl.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
		Bucket:          aws.String(r.Bucket),
		Key:             aws.String(r.Key),
		UploadId:        aws.String(r.UploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	// S3 says NoSuchUpload for an upload it no longer knows; Versity's gateway looks for the
	// parts first and says InvalidPart.
	if err != nil && !awsconn.IsNoSuchUpload(err) && !awsconn.IsCode(err, "InvalidPart") {
		return fmt.Errorf("completing multipart upload %s: %w", r.UploadID, err)
	}
	// Completed now, or before (or aborted, or expired): the object tells which. It is looked
	// at after a success too: S3 answers a repeated completion with success even when another
	// object replaced ours since, and Versity's gateway answers success for an upload it does
	// not know when an object exists under the key.
	head, herr := f.cl.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(r.Bucket), Key: aws.String(r.Key)})
	switch {
	case herr != nil && awsconn.IsNotFound(herr) && err != nil:
		return fmt.Errorf("%w: multipart upload %s is unknown and no object exists", ErrMissing, r.UploadID)
	case herr != nil && err != nil:
		return fmt.Errorf("multipart upload %s is unknown; looking for the object: %w", r.UploadID, herr)
	case herr != nil:
		return fmt.Errorf("multipart upload %s completed; looking at the object: %w", r.UploadID, herr)
	}
	if size := aws.ToInt64(head.ContentLength); size != r.Size {
		return fmt.Errorf("%w: the object has %d bytes, the checkpoint recorded %d", ErrMismatch, size, r.Size)
	}
	return r.checkETag(aws.ToString(head.ETag)) // committed, if the ETag agrees
}

// Abort implements filesystem.FS: it aborts the multipart upload p.ID of p.Name.
func (f *FS) Abort(ctx context.Context, p filesystem.Pending) error {
	bucket, key, err := split(p.Name)
	if err != nil {
		return err
	}
	return f.abort(ctx, bucket, key, p.ID)
}

// ListPending implements filesystem.FS with ListMultipartUploads below dir: every upload not
// completed or aborted, in progress or finished (S3 cannot tell them apart).
func (f *FS) ListPending(ctx context.Context, dir string) ([]filesystem.Pending, error) {
	bucket, key, err := split(dir)
	if err != nil {
		return nil, err
	}
	var out []filesystem.Pending
	p := awss3.NewListMultipartUploadsPaginator(f.cl, &awss3.ListMultipartUploadsInput{
		Bucket: aws.String(bucket),
		Prefix: aws.String(prefixOf(key)),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return out, fmt.Errorf("s3: listing the multipart uploads below %s: %w", f.where(dir), err)
		}
		for _, u := range page.Uploads {
			out = append(out, filesystem.Pending{Name: nameOf(bucket, aws.ToString(u.Key)), Size: -1, ID: aws.ToString(u.UploadId)})
		}
	}
	return out, nil
}
