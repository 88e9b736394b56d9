package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/runnel-io/runnel/awsconn"
	"github.com/runnel-io/runnel/filesystem"
)

// The reading half of FS: listing, streamed and ranged reads, deletes.

// List implements filesystem.FS with ListObjectsV2 below the key prefix name + "/" (with the
// delimiter "/" unless recursive). When nothing is below it, name may be an object itself: a
// HEAD tells. Keys ending in "/" (directory markers) are left out.
func (f *FS) List(ctx context.Context, name string, recursive bool) ([]filesystem.FileInfo, error) {
	bucket, key, err := split(name)
	if err != nil {
		return nil, err
	}
	in := &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefixOf(key))}
	if !recursive {
		in.Delimiter = aws.String("/")
	}
	var out []filesystem.FileInfo
	p := awss3.NewListObjectsV2Paginator(f.cl, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3: listing %s: %w", f.where(name), err)
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if strings.HasSuffix(k, "/") {
				continue
			}
			out = append(out, filesystem.FileInfo{Name: nameOf(bucket, k), Size: aws.ToInt64(o.Size),
				ModTime: aws.ToTime(o.LastModified), Version: aws.ToString(o.ETag)})
		}
	}
	if len(out) > 0 || key == "" {
		return out, nil
	}
	head, err := f.cl.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	switch {
	case awsconn.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("s3: listing %s: %w", f.where(name), err)
	}
	return []filesystem.FileInfo{{Name: name, Size: aws.ToInt64(head.ContentLength),
		ModTime: aws.ToTime(head.LastModified), Version: aws.ToString(head.ETag)}}, nil
}

// readErr wraps the error of reading name: fs.ErrNotExist for a missing object, ErrChanged
// for one whose ETag is no longer f.Version.
func (f *FS) readErr(what string, fi filesystem.FileInfo, err error) error {
	switch {
	case awsconn.IsNotFound(err):
		return fmt.Errorf("s3: %s %s: %w (%w)", what, f.where(fi.Name), fs.ErrNotExist, err)
	case awsconn.IsCode(err, "PreconditionFailed") || awsconn.StatusCode(err) == http.StatusPreconditionFailed:
		return fmt.Errorf("s3: %s %s: %w (it had ETag %s; not reading another version): %w",
			what, f.where(fi.Name), filesystem.ErrChanged, fi.Version, err)
	}
	return fmt.Errorf("s3: %s %s: %w", what, f.where(fi.Name), err)
}

// Open implements filesystem.FS with one GET, ranged from offset.
func (f *FS) Open(ctx context.Context, fi filesystem.FileInfo, offset int64) (io.ReadCloser, error) {
	bucket, key, err := split(fi.Name)
	if err == nil && key == "" {
		err = fmt.Errorf("s3: open %s: %w", fi.Name, errNoBucket)
	}
	if err != nil {
		return nil, err
	}
	if fi.Size >= 0 && offset >= fi.Size && offset > 0 {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	in := &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if fi.Version != "" {
		in.IfMatch = aws.String(fi.Version)
	}
	if offset > 0 {
		in.Range = aws.String("bytes=" + strconv.FormatInt(offset, 10) + "-")
	}
	res, err := f.cl.GetObject(ctx, in)
	if err != nil {
		if awsconn.StatusCode(err) == http.StatusRequestedRangeNotSatisfiable {
			return io.NopCloser(bytes.NewReader(nil)), nil // offset at or past the end
		}
		return nil, f.readErr(fmt.Sprintf("reading from offset %d of", offset), fi, err)
	}
	return res.Body, nil
}

// OpenReaderAt implements filesystem.FS: every ReadAt is one ranged GET pinned to the ETag
// (fi.Version, or the one a HEAD finds when fi.Size is unknown).
func (f *FS) OpenReaderAt(ctx context.Context, fi filesystem.FileInfo) (filesystem.ReaderAt, error) {
	bucket, key, err := split(fi.Name)
	if err == nil && key == "" {
		err = fmt.Errorf("s3: open %s: %w", fi.Name, errNoBucket)
	}
	if err != nil {
		return nil, err
	}
	if fi.Size < 0 {
		in := &awss3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
		if fi.Version != "" {
			in.IfMatch = aws.String(fi.Version)
		}
		head, err := f.cl.HeadObject(ctx, in)
		if err != nil {
			return nil, f.readErr("opening", fi, err)
		}
		fi.Size, fi.Version = aws.ToInt64(head.ContentLength), aws.ToString(head.ETag)
	}
	return &readerAt{ctx: ctx, f: f, fi: fi, bucket: bucket, key: key}, nil
}

// readerAt reads an object's ranges with GETs pinned to its ETag. io.ReaderAt takes no
// context, so it keeps the one OpenReaderAt got: its reads belong to that caller.
type readerAt struct {
	ctx         context.Context
	f           *FS
	fi          filesystem.FileInfo
	bucket, key string
}

func (r *readerAt) Size() int64  { return r.fi.Size }
func (r *readerAt) Close() error { return nil }

// ReadAt reads len(p) bytes at off with one ranged GET.
func (r *readerAt) ReadAt(p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if off >= r.fi.Size {
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), r.fi.Size) - 1
	in := &awss3.GetObjectInput{Bucket: aws.String(r.bucket), Key: aws.String(r.key),
		Range: aws.String("bytes=" + strconv.FormatInt(off, 10) + "-" + strconv.FormatInt(end, 10))}
	if r.fi.Version != "" {
		in.IfMatch = aws.String(r.fi.Version)
	}
	res, err := r.f.cl.GetObject(r.ctx, in)
	if err != nil {
		return 0, r.f.readErr(fmt.Sprintf("reading %d bytes at %d of", len(p), off), r.fi, err)
	}
	defer res.Body.Close()
	want := end - off + 1
	n, err := io.ReadFull(res.Body, p[:want])
	if err == nil && want < int64(len(p)) {
		err = io.EOF
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}

// Delete implements filesystem.FS.
func (f *FS) Delete(ctx context.Context, name string) error {
	bucket, key, err := split(name)
	if err == nil && key == "" {
		err = fmt.Errorf("s3: delete %s: %w", name, errNoBucket)
	}
	if err != nil {
		return err
	}
	_, err = f.cl.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil && !awsconn.IsNotFound(err) {
		return fmt.Errorf("s3: deleting %s: %w", f.where(name), err)
	}
	return nil
}
