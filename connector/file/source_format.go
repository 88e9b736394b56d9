package file

import (
	"bufio"
	"bytes"
	"errors"

	"github.com/runnel-io/runnel/format"
	"github.com/runnel-io/runnel/format/avro"
	"github.com/runnel-io/runnel/format/csv"
	"github.com/runnel-io/runnel/format/json"
	"github.com/runnel-io/runnel/format/parquet"
)

// Format says how a Source turns a file into records of type T. Make one with JSONLines, CSV,
// Lines, Parquet or Avro; the zero Format is invalid. A Format is immutable.
type Format[T any] struct {
	name string
	// Line formats: the framing, a decoder per reader (CSV decoders reuse buffers), and, for
	// CSV with a header, how to bind a decoder to a file's header.
	split      bufio.SplitFunc
	newLine    func() (lineDecoder[T], error)
	withHeader func(d lineDecoder[T], header []byte, pos format.Position) (lineDecoder[T], *format.RecordError)
	// Parquet and Avro files: the type check (NewSource reports it), and the marker of the
	// format.
	check   func() error
	parquet bool
	avro    bool
}

// lineDecoder decodes one record of a line format.
type lineDecoder[T any] interface {
	Decode(raw []byte, pos format.Position) (T, *format.RecordError)
}

// JSONLines reads one JSON value per line (format/json), mapped to T by `json` struct tags.
// Blank lines, empty or of JSON white space only (spaces, tabs, carriage returns), are skipped;
// every other line that does not decode is a malformed record.
func JSONLines[T any]() Format[T] {
	return Format[T]{
		name:  "json",
		split: bufio.ScanLines,
		newLine: func() (lineDecoder[T], error) {
			d, err := json.NewDecoder[T]()
			if err != nil {
				return nil, err
			}
			return d, nil
		},
	}
}

// CSV reads CSV records (format/csv) with opts, where a quoted field may span lines. With
// header, the first record of every file is a header naming the columns (Decoder.WithHeader);
// a header that does not match T fails the job. Without it, columns are T's fields in order.
// Empty records are skipped; a record of spaces is a record (spaces are data in CSV).
func CSV[T any](opts csv.Options, header bool) Format[T] {
	f := Format[T]{
		name:  "csv",
		split: csv.ScanRecords,
		newLine: func() (lineDecoder[T], error) {
			d, err := csv.NewDecoder[T](opts)
			if err != nil {
				return nil, err
			}
			return d, nil
		},
	}
	if header {
		f.withHeader = func(d lineDecoder[T], h []byte, pos format.Position) (lineDecoder[T], *format.RecordError) {
			hd, err := d.(*csv.Decoder[T]).WithHeader(h, pos)
			if err != nil {
				return nil, err
			}
			return hd, nil
		}
	}
	return f
}

// Parquet reads Parquet files (format/parquet), mapped to T by `parquet` struct tags; a
// file's position is a row index, and a restored reader seeks to its row group and page.
// Compressed file extensions do not apply: Parquet compresses its pages itself.
func Parquet[T any]() Format[T] {
	return Format[T]{
		name:    "parquet",
		parquet: true,
		check:   parquet.CheckType[T],
	}
}

// Avro reads Avro object container files (format/avro): each file's header holds the schema
// it was written with, and its records map to T by the names of T's `json` tags (fields T lacks
// are skipped, T's fields the file lacks stay zero). A file's position is a record index; a
// restored reader reads up to it again, block by block. A corrupt block fails the job, naming
// the file and record. Compressed file extensions do not apply: Avro compresses its blocks
// itself.
func Avro[T any]() Format[T] {
	return Format[T]{
		name:  "avro",
		avro:  true,
		check: func() error { return avro.CheckFile[T](avro.FileOptions{}) },
	}
}

// Lines reads one record per line, decoded by decode, for line formats JSONLines and CSV do not
// cover. decode gets the line without its line end and must not keep it; it is called from the
// readers' goroutines concurrently. An error it returns makes the line a malformed record (see
// SourceConfig.DeadLetter): a *format.RecordError is completed with the position, any other
// error is wrapped in one; an error wrapping format.ErrBlank skips the line. Empty lines are
// skipped.
func Lines[T any](decode func(line []byte) (T, error)) Format[T] {
	return Format[T]{
		name:  "lines",
		split: bufio.ScanLines,
		newLine: func() (lineDecoder[T], error) {
			if decode == nil {
				return nil, errors.New("nil decode function")
			}
			return funcDecoder[T](decode), nil
		},
	}
}

// funcDecoder is the lineDecoder of Lines.
type funcDecoder[T any] func(line []byte) (T, error)

func (f funcDecoder[T]) Decode(raw []byte, pos format.Position) (T, *format.RecordError) {
	v, err := f(raw)
	if err == nil {
		return v, nil
	}
	var rerr *format.RecordError
	if errors.As(err, &rerr) {
		rerr.Position = pos
		if rerr.Raw == nil {
			rerr.Raw = append([]byte(nil), raw...)
		}
		return v, rerr
	}
	return v, format.NewRecordError("", pos, "", raw, err)
}

// validate reports whether f can decode records of type T.
func (f Format[T]) validate() error {
	if f.newLine != nil {
		if _, err := f.newLine(); err != nil {
			return err
		}
	}
	if f.check != nil {
		return f.check()
	}
	return nil
}

// blank reports whether a record is empty, after ScanLines removed its line end. Lines of white
// space are left to the decoder: format/json rejects them with an error wrapping
// format.ErrBlank, which the reader skips too, and in CSV they are data.
func blank(b []byte) bool { return len(bytes.TrimRight(b, "\r")) == 0 }
