package parquet

import (
	"errors"
	"fmt"
	"io"
	"reflect"

	pq "github.com/parquet-go/parquet-go"
)

// Reader reads the rows of one Parquet file as values of type T, from any row on. A Reader
// belongs to one goroutine.
type Reader[T any] struct {
	name string
	file *pq.File
	r    *pq.GenericReader[T]
	row  int64 // index of the next row Read returns
}

// NewReader opens the Parquet file of size bytes in in, named name in errors (a path or an
// object key). The Reader reads from in until Close but does not close it. NewReader returns an
// error naming the file when its footer cannot be read or its schema cannot be read as T (see the
// package documentation), and an error naming T when T has no Parquet mapping.
func NewReader[T any](in io.ReaderAt, size int64, name string) (r *Reader[T], err error) {
	if err := checkType[T](); err != nil {
		return nil, fmt.Errorf("parquet: new reader of %s: %w", name, err)
	}
	f, err := pq.OpenFile(in, size)
	if err != nil {
		return nil, fmt.Errorf("parquet: opening %s: %w", name, err)
	}
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("parquet: reading %s as %v: %v", name, reflect.TypeFor[T](), p)
		}
	}()
	return &Reader[T]{name: name, file: f, r: pq.NewGenericReader[T](f)}, nil
}

// NumRows returns the number of rows in the file.
func (r *Reader[T]) NumRows() int64 { return r.file.NumRows() }

// NumRowGroups returns the number of row groups in the file.
func (r *Reader[T]) NumRowGroups() int { return len(r.file.RowGroups()) }

// Row returns the position: the index of the next row Read returns, NumRows at the end.
func (r *Reader[T]) Row() int64 { return r.row }

// SeekToRow makes the next Read start at row index row, 0 <= row <= NumRows. It returns an error
// naming the file for a row out of range or a file whose pages cannot be read.
func (r *Reader[T]) SeekToRow(row int64) error {
	if row < 0 || row > r.NumRows() {
		return fmt.Errorf("parquet: %s: seek to row %d of %d", r.name, row, r.NumRows())
	}
	if err := r.r.SeekToRow(row); err != nil {
		return fmt.Errorf("parquet: %s: seek to row %d: %w", r.name, row, err)
	}
	r.row = row
	return nil
}

// Read reads up to len(rows) rows into rows, returning how many. At the end of the file it
// returns 0 and io.EOF (possibly with n > 0 first: rows[:n] are valid whatever the error).
// Other errors name the file and the row at which reading failed; a corrupt page ends the
// file for the Reader. The values in rows do not share memory with the Reader.
func (r *Reader[T]) Read(rows []T) (n int, err error) {
	defer func() {
		if p := recover(); p != nil { // a corrupt file must not take the process down
			err = fmt.Errorf("parquet: %s: reading row %d: library panic: %v", r.name, r.row+int64(n), p)
		}
	}()
	n, err = r.r.Read(rows)
	r.row += int64(n)
	switch {
	case err == nil, errors.Is(err, io.EOF):
		if err == nil && r.row >= r.NumRows() && n == 0 {
			err = io.EOF
		}
		return n, err
	default:
		return n, fmt.Errorf("parquet: %s: reading row %d: %w", r.name, r.row, err)
	}
}

// Close releases the Reader's buffers. It does not close the input.
func (r *Reader[T]) Close() error {
	if err := r.r.Close(); err != nil {
		return fmt.Errorf("parquet: closing reader of %s: %w", r.name, err)
	}
	return nil
}

// CheckType returns an error naming T when T is not a struct or has no Parquet schema (see the
// package documentation): what NewWriter and NewReader would report, without I/O.
func CheckType[T any]() error { return checkType[T]() }

// checkType reports a T that is not a struct, or whose schema the library rejects.
func checkType[T any]() error {
	_, err := schemaOf[T]()
	return err
}

// schemaOf returns T's schema, or an error naming T when it has none.
func schemaOf[T any]() (s *pq.Schema, err error) {
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("type %v is not a struct", t)
	}
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, fmt.Errorf("type %v has no Parquet schema: %v", t, p)
		}
	}()
	s = pq.SchemaOf(reflect.New(t).Elem().Interface())
	if len(s.Columns()) == 0 {
		return nil, fmt.Errorf("type %v has no columns (no exported fields)", t)
	}
	return s, nil
}

// SchemaOf returns the schema a Writer[T] writes, in the Parquet message syntax that
// parquet-tools prints ("required int64 window_start (TIMESTAMP(isAdjustedToUTC=true,
// unit=MILLIS));"), or the error NewWriter would return for T.
func SchemaOf[T any]() (string, error) {
	s, err := schemaOf[T]()
	if err != nil {
		return "", fmt.Errorf("parquet: schema: %w", err)
	}
	return s.String(), nil
}
