package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/format/parquet"
)

// NewParquetSource returns a source of the Parquet objects (format/parquet) below url,
// "s3://bucket/prefix", each object a split and each row a record of type T, columns matched
// to T's fields by name. Objects are read by ranged GETs pinned to the listed ETag (the footer
// first, then the column chunks the rows need); a split's position is Split.Line, the index of
// the next row, and a restored reader seeks there (SeekToRow: the row group and page holding
// the row, not the object from its start). BatchLines sets the rows per Read. Parquet has no
// separate records to skip, so OnMalformed does not apply: an object whose footer or pages
// cannot be read fails the job with an error naming the bucket, key and row.
//
// It returns an error when T has no Parquet mapping, or url or an option is invalid.
func NewParquetSource[T any](url string, opts ...SourceOption) (*Source[T], error) {
	if err := parquet.CheckType[T](); err != nil {
		return nil, fmt.Errorf("s3: parquet source %s: %w", url, err)
	}
	s, err := NewSource(url, func([]byte) (T, error) { var zero T; return zero, errors.New("unused") }, opts...)
	if err != nil {
		return nil, err
	}
	s.parquet = true
	return s, nil
}

// openParquet opens sp's object as a Parquet file at row sp.Line.
func (r *reader[T]) openParquet(ctx context.Context, o *openObject) error {
	s := r.src
	ra := &objectReaderAt{ctx: ctx, cl: s.cl, bucket: s.loc.bucket, key: o.sp.Key, etag: o.sp.ETag}
	pr, err := parquet.NewReader[T](ra, o.sp.Size, o.where)
	if err != nil {
		return fmt.Errorf("s3: source subtask %d: %w", r.rc.Subtask, err)
	}
	if err := pr.SeekToRow(o.sp.Line); err != nil {
		_ = pr.Close()
		return fmt.Errorf("s3: source subtask %d: resuming: %w", r.rc.Subtask, err)
	}
	o.records, o.ra = pr, ra
	o.closer = func() { _ = pr.Close() }
	return nil
}

// rowReader reads the records of a Parquet or Avro object: *parquet.Reader[T],
// *avro.FileReader[T].
type rowReader[T any] interface {
	Read(rows []T) (int, error)
}

// readRows emits up to max records of the current Parquet or Avro object; done reports its end.
func (r *reader[T]) readRows(out connector.SplitOutput[T], max int) (n int, done bool, err error) {
	o := r.cur
	pr := o.records.(rowReader[T])
	if cap(r.rows) < max {
		r.rows = make([]T, max)
	}
	rows := r.rows[:max]
	k, err := pr.Read(rows)
	for _, v := range rows[:k] {
		out.Collect(v, 0)
	}
	clear(rows[:k])
	o.sp.Line += int64(k)
	if errors.Is(err, io.EOF) {
		return k, true, nil
	}
	if err != nil {
		return k, false, fmt.Errorf("s3: source subtask %d: %w", r.rc.Subtask, err)
	}
	return k, false, nil
}

// objectReaderAt reads an object's ranges with GETs pinned to its ETag. io.ReaderAt takes no
// context, so ctx is that of the reader's current Read call, set by Read before each use: the
// Parquet reader reads only within Read calls of the subtask's goroutine.
type objectReaderAt struct {
	ctx    context.Context
	cl     *client
	bucket string
	key    string
	etag   string
}

// ReadAt reads len(p) bytes at off with one ranged GET.
func (a *objectReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	in := &s3.GetObjectInput{Bucket: aws.String(a.bucket), Key: aws.String(a.key),
		Range: aws.String("bytes=" + strconv.FormatInt(off, 10) + "-" + strconv.FormatInt(off+int64(len(p))-1, 10))}
	if a.etag != "" {
		in.IfMatch = aws.String(a.etag)
	}
	res, err := a.cl.GetObject(a.ctx, in)
	if err != nil {
		return 0, fmt.Errorf("s3: reading %d bytes at %d of %s: %w", len(p), off, a.cl.where(a.bucket, a.key), err)
	}
	defer res.Body.Close()
	n, err := io.ReadFull(res.Body, p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}
