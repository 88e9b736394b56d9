package s3

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/runnel-io/runnel/format/parquet"
)

// DefaultParquetSuffix is the default suffix of a Parquet sink's part objects.
const DefaultParquetSuffix = ".parquet"

// NewParquetSink returns a sink writing records of type T below url, "s3://bucket/prefix", as
// rows of Parquet part objects (format/parquet): each part object is one complete,
// self-describing Parquet file, with the same life as the line sink's part objects (a
// multipart upload completed when the checkpoint completes; see the package documentation).
// popts sets the column compression (Snappy by default) and the rows per row group. The
// Parquet writer's output is uploaded as parts of PartSize while the file grows, so memory
// stays about a row group plus a part per open object; rolling (RollSize, RollInterval, every
// checkpoint) writes the footer and uploads the last part.
//
// Of the SinkOptions, Gzip and Delimiter are errors, since Parquet compresses its pages and
// frames its rows itself; Suffix defaults to DefaultParquetSuffix. It returns an error when T
// has no Parquet mapping (see format/parquet), or url, popts or an option is invalid.
func NewParquetSink[T any](url string, popts parquet.WriterOptions, opts ...SinkOption) (*Sink[T], error) {
	loc, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	if err := parquet.CheckType[T](); err != nil {
		return nil, fmt.Errorf("s3: parquet sink %s: %w", loc, err)
	}
	if err := popts.Validate(); err != nil {
		return nil, fmt.Errorf("s3: parquet sink %s: %w", loc, err)
	}
	cfg := defaultSinkConfig()
	cfg.suffix = DefaultParquetSuffix
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.gzip || cfg.delimiter != "\n" {
		return nil, fmt.Errorf("s3: parquet sink %s: %w", loc, errors.New("the Gzip and Delimiter options do not apply to Parquet objects"))
	}
	partition, err := validateSink[T](&cfg)
	if err != nil {
		return nil, fmt.Errorf("s3: parquet sink %s: %w", loc, err)
	}
	cl, err := newClient(context.Background(), cfg.conn)
	if err != nil {
		return nil, fmt.Errorf("s3: parquet sink %s: %w", loc, err)
	}
	return &Sink[T]{loc: loc, partition: partition, cfg: cfg, suffix: cfg.suffix, cl: cl,
		bulk: func(w io.Writer) (bulkWriter[T], error) { return parquet.NewWriter[T](w, popts) }}, nil
}
