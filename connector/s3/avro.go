package s3

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/runnel-io/runnel/format/avro"
)

// DefaultAvroSuffix is the default suffix of an Avro sink's part objects.
const DefaultAvroSuffix = ".avro"

// NewAvroSink returns a sink writing records of type T below url, "s3://bucket/prefix", as Avro
// object container files (format/avro): each part object holds the schema in its header and
// the records in blocks compressed by aopts.Codec, with the same life as the line sink's part
// objects (a multipart upload completed when the checkpoint completes; see the package
// documentation). Of the SinkOptions, Gzip and Delimiter are errors, since Avro compresses and
// frames its records itself; Suffix defaults to DefaultAvroSuffix. It returns an error when T
// does not fit the schema (see format/avro), or url, aopts or an option is invalid.
func NewAvroSink[T any](url string, aopts avro.FileOptions, opts ...SinkOption) (*Sink[T], error) {
	loc, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	if err := avro.CheckFile[T](aopts); err != nil {
		return nil, fmt.Errorf("s3: avro sink %s: %w", loc, err)
	}
	cfg := defaultSinkConfig()
	cfg.suffix = DefaultAvroSuffix
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.gzip || cfg.delimiter != "\n" {
		return nil, fmt.Errorf("s3: avro sink %s: %w", loc, errors.New("the Gzip and Delimiter options do not apply to Avro objects"))
	}
	partition, err := validateSink[T](&cfg)
	if err != nil {
		return nil, fmt.Errorf("s3: avro sink %s: %w", loc, err)
	}
	cl, err := newClient(context.Background(), cfg.conn)
	if err != nil {
		return nil, fmt.Errorf("s3: avro sink %s: %w", loc, err)
	}
	return &Sink[T]{loc: loc, partition: partition, cfg: cfg, suffix: cfg.suffix, cl: cl,
		bulk: func(w io.Writer) (bulkWriter[T], error) { return avro.NewFileWriter[T](w, aopts) }}, nil
}

// NewAvroSource returns a source of the Avro object container files (format/avro) below url,
// "s3://bucket/prefix", each object a split and each record a value of type T, mapped by the
// names of T's `json` tags. An object is read with one GET pinned to the listed ETag and
// decoded as it streams in; a split's position is Split.Line, the index of the next record,
// and a restored reader reads the object up to it again. A corrupt block fails the job with an
// error naming the object and record; OnMalformed does not apply.
//
// It returns an error when T cannot be read from Avro, or url or an option is invalid.
func NewAvroSource[T any](url string, opts ...SourceOption) (*Source[T], error) {
	if err := avro.CheckFile[T](avro.FileOptions{}); err != nil {
		return nil, fmt.Errorf("s3: avro source %s: %w", url, err)
	}
	s, err := NewSource(url, func([]byte) (T, error) { var zero T; return zero, errors.New("unused") }, opts...)
	if err != nil {
		return nil, err
	}
	s.avro = true
	return s, nil
}

// openAvro opens sp's object as an Avro file at record sp.Line.
func (r *reader[T]) openAvro(ctx context.Context, o *openObject) error {
	s := r.src
	in := &s3.GetObjectInput{Bucket: aws.String(s.loc.bucket), Key: aws.String(o.sp.Key)}
	if o.sp.ETag != "" {
		in.IfMatch = aws.String(o.sp.ETag)
	}
	res, err := s.cl.GetObject(ctx, in)
	if err != nil {
		return fmt.Errorf("s3: source subtask %d: reading %s: %w", r.rc.Subtask, o.where, err)
	}
	o.body = res.Body
	ar, err := avro.NewFileReader[T](bufio.NewReaderSize(res.Body, 64<<10), o.where)
	if err == nil {
		err = ar.Skip(o.sp.Line)
	}
	if err != nil {
		_ = res.Body.Close()
		return fmt.Errorf("s3: source subtask %d: %w", r.rc.Subtask, err)
	}
	o.records = ar
	o.closer = func() { _ = ar.Close() }
	return nil
}
