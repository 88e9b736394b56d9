package avro

import (
	"errors"
	"fmt"
	"io"

	hamba "github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"
)

// FileOptions configure the writing of Avro object container files: a header holding the
// schema, then blocks of records, each compressed by Codec.
type FileOptions struct {
	// Schema is the schema (JSON) of the records; empty derives it from T with SchemaOf.
	Schema string
	// Codec compresses the blocks: "null" (none, the default), "deflate", "snappy" or
	// "zstandard", the codecs of the Avro specification.
	Codec string
	// BlockLength is how many records a block holds at most; 0 means 1000.
	BlockLength int
}

// fileConfig is what a FileWriter needs from FileOptions, checked.
type fileConfig[T any] struct {
	records *Encoder[T]
	opts    []ocf.EncoderFunc
}

func fileConfigOf[T any](o FileOptions) (fileConfig[T], error) {
	var zero fileConfig[T]
	e, err := NewEncoder[T](Options{Schema: o.Schema})
	if err != nil {
		return zero, err
	}
	codec := ocf.Null
	switch o.Codec {
	case "", "null":
	case "deflate":
		codec = ocf.Deflate
	case "snappy":
		codec = ocf.Snappy
	case "zstandard":
		codec = ocf.ZStandard
	default:
		return zero, fmt.Errorf("avro: unknown file codec %q (want null, deflate, snappy or zstandard)", o.Codec)
	}
	if o.BlockLength < 0 {
		return zero, fmt.Errorf("avro: negative BlockLength %d", o.BlockLength)
	}
	if o.BlockLength == 0 {
		o.BlockLength = 1000
	}
	// The container's own header is encoded with the library's default configuration (its
	// struct has `avro` tags); the records are encoded by e, with `json` tags.
	return fileConfig[T]{records: e, opts: []ocf.EncoderFunc{ocf.WithCodec(codec), ocf.WithBlockLength(o.BlockLength)}}, nil
}

// CheckFile reports whether records of type T can be written as Avro files with o: the schema
// parses and fits T, and the codec is known. Sinks call it when they are made.
func CheckFile[T any](o FileOptions) error {
	_, err := fileConfigOf[T](o)
	return err
}

// FileWriter writes records of type T as one Avro object container file. Close writes the last
// block; it does not close the io.Writer.
type FileWriter[T any] struct {
	enc     *ocf.Encoder
	records *Encoder[T]
	buf     []byte
}

// NewFileWriter writes the header of an Avro file to w and returns its writer.
func NewFileWriter[T any](w io.Writer, o FileOptions) (*FileWriter[T], error) {
	c, err := fileConfigOf[T](o)
	if err != nil {
		return nil, err
	}
	enc, err := ocf.NewEncoderWithSchema(c.records.schema, w, c.opts...)
	if err != nil {
		return nil, fmt.Errorf("avro: writing a file header: %w", err)
	}
	return &FileWriter[T]{enc: enc, records: c.records}, nil
}

// WriteOne appends v to the file.
func (w *FileWriter[T]) WriteOne(v T) error {
	var err error
	if w.buf, err = w.records.Append(w.buf[:0], v); err != nil {
		return err
	}
	if _, err := w.enc.Write(w.buf); err != nil {
		return fmt.Errorf("avro: writing a block: %w", err)
	}
	return nil
}

// Close writes the records not yet written as a last block.
func (w *FileWriter[T]) Close() error { return w.enc.Close() }

// FileReader reads the records of one Avro object container file into values of type T, by
// the names of T's `json` tags: fields of the file that T lacks are skipped, and T's fields the
// file lacks stay zero.
type FileReader[T any] struct {
	dec  *ocf.Decoder
	name string
	n    int64 // records read
}

// NewFileReader reads the header of the Avro file r, which name names in errors.
func NewFileReader[T any](r io.Reader, name string) (*FileReader[T], error) {
	c, err := newCodec[T](Options{})
	if err != nil {
		return nil, err
	}
	dec, err := ocf.NewDecoder(r, ocf.WithDecoderConfig(c.api), ocf.WithDecoderSchemaCache(&hamba.SchemaCache{}))
	if err != nil {
		return nil, fmt.Errorf("avro: %s: not a readable Avro file: %w", name, err)
	}
	return &FileReader[T]{dec: dec, name: name}, nil
}

// Read reads up to len(rows) records into rows and returns how many it read; at the end of the
// file it returns io.EOF. An error names the file and the record.
func (r *FileReader[T]) Read(rows []T) (n int, err error) {
	defer func() {
		if p := recover(); p != nil { // the library's, on a corrupt block
			err = fmt.Errorf("avro: %s record %d: decoder failed: %v", r.name, r.n+1, p)
		}
	}()
	for n < len(rows) {
		if !r.dec.HasNext() {
			if err := r.dec.Error(); err != nil {
				return n, fmt.Errorf("avro: %s after record %d: %w", r.name, r.n, err)
			}
			return n, io.EOF
		}
		var v T
		if err := r.dec.Decode(&v); err != nil {
			return n, fmt.Errorf("avro: %s record %d: %w", r.name, r.n+1, err)
		}
		rows[n] = v
		n++
		r.n++
	}
	return n, nil
}

// Skip reads n records and drops them: a restored reader goes back to its position so.
func (r *FileReader[T]) Skip(n int64) error {
	buf := make([]T, min(n, 1024))
	for n > 0 {
		k, err := r.Read(buf[:min(n, int64(len(buf)))])
		n -= int64(k)
		if errors.Is(err, io.EOF) && n > 0 {
			return fmt.Errorf("avro: %s: position at record %d but the file has %d", r.name, r.n+n, r.n)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
	}
	return nil
}

// Close releases the decompressor.
func (r *FileReader[T]) Close() error { return r.dec.Close() }
