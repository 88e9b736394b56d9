package parquet

import (
	"fmt"
	"io"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"

	"github.com/runnel-io/runnel/internal/version"
)

// Compression is the codec of a file's pages.
type Compression uint8

const (
	// Snappy is the default: fast, and read by every Parquet implementation.
	Snappy Compression = iota
	// Zstd compresses better at some cost in speed.
	Zstd
	// Gzip is the most widely read codec and the slowest.
	Gzip
	// Uncompressed stores pages as they are.
	Uncompressed
)

// String returns "snappy", "zstd", "gzip" or "uncompressed".
func (c Compression) String() string {
	switch c {
	case Snappy:
		return "snappy"
	case Zstd:
		return "zstd"
	case Gzip:
		return "gzip"
	case Uncompressed:
		return "uncompressed"
	}
	return fmt.Sprintf("Compression(%d)", uint8(c))
}

func (c Compression) codec() compress.Codec {
	switch c {
	case Zstd:
		return &pq.Zstd
	case Gzip:
		return &pq.Gzip
	case Uncompressed:
		return &pq.Uncompressed
	}
	return &pq.Snappy
}

// DefaultRowGroupRows is the number of rows after which a Writer starts a new row group.
const DefaultRowGroupRows = 128 << 10

// WriterOptions configure a Writer. The zero value is the default.
type WriterOptions struct {
	// Compression of the pages; Snappy by default.
	Compression Compression
	// RowGroupRows is the number of rows per row group (a reader's unit of parallelism and of
	// memory); 0 means DefaultRowGroupRows. Writer.Flush also ends a row group.
	RowGroupRows int64
}

// Validate reports whether o is usable.
func (o WriterOptions) Validate() error {
	if o.Compression > Uncompressed {
		return fmt.Errorf("parquet: invalid compression %d", uint8(o.Compression))
	}
	if o.RowGroupRows < 0 {
		return fmt.Errorf("parquet: negative rows per row group %d", o.RowGroupRows)
	}
	return nil
}

// Writer writes values of type T as rows of one Parquet file. It buffers a row group in memory
// and writes it when it is full, at Flush, or at Close, which also writes the footer; the file
// is readable only after Close. A Writer belongs to one goroutine.
type Writer[T any] struct {
	w   *pq.GenericWriter[T]
	one [1]T
}

// NewWriter returns a Writer of a new file to out, which the Writer does not close. The file's
// created_by names the Runnel version that wrote it ("runnel version v0.4.0 (build
// 3fa2c0d1e4b5)", see internal/version). It returns an
// error, naming T, when T is not a struct or its fields and tags have no Parquet mapping (see the
// package documentation), and when opts is invalid.
func NewWriter[T any](out io.Writer, opts WriterOptions) (w *Writer[T], err error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := checkType[T](); err != nil {
		return nil, fmt.Errorf("parquet: new writer: %w", err)
	}
	rows := opts.RowGroupRows
	if rows == 0 {
		rows = DefaultRowGroupRows
	}
	defer func() {
		if r := recover(); r != nil {
			w, err = nil, fmt.Errorf("parquet: new writer for %T: %v", *new(T), r)
		}
	}()
	return &Writer[T]{w: pq.NewGenericWriter[T](out,
		pq.Compression(opts.Compression.codec()),
		pq.MaxRowsPerRowGroup(rows),
		// created_by in parquet-mr's form, with the real version (pq.CreatedBy leaves out the
		// space before "(build", and an empty build as "(build )").
		&pq.WriterConfig{CreatedBy: version.Get().CreatedBy()},
	)}, nil
}

// Write adds rows to the file. The Writer does not keep rows. Errors are the output's write
// errors and the library's encoding errors, wrapped.
func (w *Writer[T]) Write(rows []T) error {
	if _, err := w.w.Write(rows); err != nil {
		return fmt.Errorf("parquet: writing %d rows: %w", len(rows), err)
	}
	return nil
}

// WriteOne adds one row to the file.
func (w *Writer[T]) WriteOne(v T) error {
	w.one[0] = v
	err := w.Write(w.one[:])
	var zero T
	w.one[0] = zero
	return err
}

// Flush ends the current row group, writing it to the output. The file is still incomplete
// until Close.
func (w *Writer[T]) Flush() error {
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("parquet: flushing row group: %w", err)
	}
	return nil
}

// Close writes the last row group and the footer. It does not close the output.
func (w *Writer[T]) Close() error {
	if err := w.w.Close(); err != nil {
		return fmt.Errorf("parquet: closing file: %w", err)
	}
	return nil
}
