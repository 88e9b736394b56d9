package s3

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/runnel-io/runnel/connector"
)

// ErrMissing is wrapped by Committer.Commit when a committable's multipart upload is unknown
// (aborted, expired by a lifecycle rule, or never made) and its object does not exist either:
// its rows are lost.
var ErrMissing = errors.New("s3: part object missing")

// ErrMismatch is wrapped by Committer.Commit when a committable's upload is unknown and an
// object exists under its key, but not with the size (or multipart ETag) the checkpoint
// recorded: something else wrote it.
var ErrMismatch = errors.New("s3: part object differs from the checkpoint's")

// record is the content of a Committable: one finished, not yet completed, multipart upload.
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

func (r record) marshal() connector.Committable {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // strings and integers always marshal
	}
	return b
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

// committer is the sink's Committer.
type committer struct {
	cl  *client
	loc location
}

// parse decodes a committable and checks that it names an upload below the sink's prefix.
func (c *committer) parse(b connector.Committable) (record, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("s3: decoding committable %q: %w", b, err)
	}
	if r.Bucket != c.loc.bucket || !strings.HasPrefix(r.Key, c.loc.prefix) || r.UploadID == "" || len(r.Parts) == 0 {
		return r, fmt.Errorf("s3: committable %q does not name a multipart upload below %s", b, c.loc)
	}
	return r, nil
}

// Commit completes the multipart upload of each committable, which makes its object visible.
// It is idempotent: when S3 no longer knows an upload but its object exists with the recorded
// size (and, where the store reports one, the multipart ETag its parts imply), the upload was
// completed before. It commits what it can and returns the errors of the others joined:
// ErrMissing (wrapped) when neither the upload nor the object exists, ErrMismatch when the
// object differs, or the S3 error, naming the object.
func (c *committer) Commit(ctx context.Context, cs []connector.Committable) error {
	var errs []error
	for _, b := range cs {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("s3: commit: %w", err))
			break
		}
		r, err := c.parse(b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := c.commitOne(ctx, r); err != nil {
			errs = append(errs, fmt.Errorf("s3: commit of %s: %w", c.cl.where(r.Bucket, r.Key), err))
		}
	}
	return errors.Join(errs...)
}

func (c *committer) commitOne(ctx context.Context, r record) error {
	parts := make([]types.CompletedPart, len(r.Parts))
	for i, p := range r.Parts {
		parts[i] = types.CompletedPart{PartNumber: aws.Int32(p.Number), ETag: aws.String(p.ETag)}
		if p.CRC32 != "" {
			parts[i].ChecksumCRC32 = aws.String(p.CRC32)
		}
	}
	out, err := c.cl.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(r.Bucket),
		Key:             aws.String(r.Key),
		UploadId:        aws.String(r.UploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err == nil {
		// S3 answers a repeated completion with success and the object's ETag; an object
		// written over ours since shows in it.
		return r.checkETag(aws.ToString(out.ETag))
	}
	// S3 says NoSuchUpload for an upload it no longer knows; Versity's gateway looks for the
	// parts first and says InvalidPart.
	if !isNoSuchUpload(err) && !isCode(err, "InvalidPart") {
		return fmt.Errorf("completing multipart upload %s: %w", r.UploadID, err)
	}
	// Completed before (or aborted, or expired): the object tells which.
	head, herr := c.cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(r.Bucket), Key: aws.String(r.Key)})
	switch {
	case herr != nil && isNotFound(herr):
		return fmt.Errorf("%w: multipart upload %s is unknown and no object exists", ErrMissing, r.UploadID)
	case herr != nil:
		return fmt.Errorf("multipart upload %s is unknown; looking for the object: %w", r.UploadID, herr)
	}
	if size := aws.ToInt64(head.ContentLength); size != r.Size {
		return fmt.Errorf("%w: the object has %d bytes, the checkpoint recorded %d", ErrMismatch, size, r.Size)
	}
	return r.checkETag(aws.ToString(head.ETag)) // committed before, if the ETag agrees
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

// Abort aborts the multipart uploads of the committables. An upload S3 no longer knows
// (aborted or completed) is no error; Abort never deletes an object. It returns the errors of
// undecodable committables and failed aborts, joined.
func (c *committer) Abort(ctx context.Context, cs []connector.Committable) error {
	var errs []error
	for _, b := range cs {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("s3: abort: %w", err))
			break
		}
		r, err := c.parse(b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := abortUpload(ctx, c.cl, r.Bucket, r.Key, r.UploadID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close does nothing: the committer holds no resources of its own.
func (c *committer) Close() error { return nil }

// abortUpload aborts one multipart upload; an unknown upload is no error.
func abortUpload(ctx context.Context, cl *client, bucket, key, uploadID string) error {
	_, err := cl.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket:   aws.String(bucket),
		Key:      aws.String(key),
		UploadId: aws.String(uploadID),
	})
	if err != nil && !isNoSuchUpload(err) {
		return fmt.Errorf("s3: aborting multipart upload %s of %s: %w", uploadID, cl.where(bucket, key), err)
	}
	return nil
}

// probe lists at most one key below loc's prefix, so that an unreachable endpoint, a missing
// bucket or missing permissions fail early with an error naming the location.
func probe(ctx context.Context, cl *client, loc location) error {
	_, err := cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket:  aws.String(loc.bucket),
		Prefix:  aws.String(loc.prefix),
		MaxKeys: aws.Int32(1),
	})
	if err != nil {
		return fmt.Errorf("listing %s: %w", cl.where(loc.bucket, loc.prefix), err)
	}
	return nil
}
