package csv

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"time"
	"unsafe"

	"github.com/runnel-io/runnel/format"
)

// formatName is RecordError.Format for this package.
const formatName = "csv"

// Decoder turns CSV records into values of type T. It reuses buffers between calls, so a
// Decoder belongs to one goroutine; the reader of a split typically owns one.
type Decoder[T any] struct {
	opts   Options
	fields []field
	cols   []int // for each column, an index into fields, or -1 to skip it
	sp     splitter
}

// NewDecoder returns a Decoder for T whose columns are T's mapped fields in declaration order;
// use WithHeader for input with a header. It returns an error naming the field when a field's
// type is not supported or its tag is invalid, and when opts is invalid.
func NewDecoder[T any](opts Options) (*Decoder[T], error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	fields, err := fieldsOf[T](true)
	if err != nil {
		return nil, fmt.Errorf("csv: new decoder: %w", err)
	}
	cols := make([]int, len(fields))
	for i := range cols {
		cols[i] = i
	}
	return &Decoder[T]{opts: opts, fields: fields, cols: cols, sp: splitter{comma: opts.comma()}}, nil
}

// WithHeader returns a new Decoder whose columns are bound by the names in header, one CSV
// record. d is unchanged. Every mapped field must have a column; a column matching no field is
// an error unless Options.IgnoreUnknownColumns. Errors are *format.RecordError at pos.
func (d *Decoder[T]) WithHeader(header []byte, pos format.Position) (*Decoder[T], *format.RecordError) {
	names, n, err := d.sp.split(header)
	if err != nil {
		return nil, format.NewRecordError(formatName, pos, "", header, fmt.Errorf("header field %d: %w", n, err))
	}
	byName := make(map[string]int, len(d.fields))
	for i, f := range d.fields {
		byName[f.name] = i
	}
	cols := make([]int, len(names))
	bound := make([]bool, len(d.fields))
	for i, name := range names {
		fi, ok := byName[string(name)]
		switch {
		case ok && bound[fi]:
			return nil, format.NewRecordError(formatName, pos, string(name), header, fmt.Errorf("csv: header names column %q twice", name))
		case ok:
			cols[i], bound[fi] = fi, true
		case d.opts.IgnoreUnknownColumns:
			cols[i] = -1
		default:
			return nil, format.NewRecordError(formatName, pos, string(name), header,
				fmt.Errorf("csv: header column %d %q matches no field of %s", i+1, name, reflect.TypeFor[T]()))
		}
	}
	for i, ok := range bound {
		if !ok {
			return nil, format.NewRecordError(formatName, pos, d.fields[i].name, header,
				fmt.Errorf("csv: header has no column for field %s", d.fields[i].goName))
		}
	}
	return &Decoder[T]{opts: d.opts, fields: d.fields, cols: cols, sp: splitter{comma: d.sp.comma}}, nil
}

// Decode decodes record, one CSV record with an optional line end, into a T. On failure it
// returns the zero T and a *format.RecordError at pos holding a copy of record, whose Field names
// the column at fault when there is one and whose Err wraps ErrEmpty, ErrQuote, ErrUnterminated,
// ErrFieldCount, or a conversion error (strconv.ErrSyntax, strconv.ErrRange, a time parse error or
// a TextUnmarshaler's error). Decode does not keep record.
func (d *Decoder[T]) Decode(record []byte, pos format.Position) (T, *format.RecordError) {
	var v T
	col, err := d.decode(record, &v)
	if err != nil {
		var zero T
		name := ""
		if col >= 0 && col < len(d.cols) && d.cols[col] >= 0 {
			name = d.fields[d.cols[col]].name
		}
		return zero, format.NewRecordError(formatName, pos, name, record, err)
	}
	return v, nil
}

// decode fills *v, returning on error the 0-based column at fault or -1.
func (d *Decoder[T]) decode(record []byte, v *T) (int, error) {
	vals, n, err := d.sp.split(record)
	if err != nil {
		return n - 1, fmt.Errorf("field %d: %w", n, err)
	}
	if len(vals) != len(d.cols) {
		return -1, fmt.Errorf("%w: got %d, want %d", ErrFieldCount, len(vals), len(d.cols))
	}
	rv := reflect.ValueOf(v).Elem()
	for i, b := range vals {
		fi := d.cols[i]
		if fi < 0 {
			continue
		}
		if err := set(&d.fields[fi], rv.Field(d.fields[fi].index), b); err != nil {
			return i, fmt.Errorf("column %d: %w", i+1, err)
		}
	}
	return -1, nil
}

// set parses b into fv. Errors quote a copy of b, never b itself.
func set(f *field, fv reflect.Value, b []byte) error {
	// s aliases b; it does not outlive this call (errors get copies).
	s := unsafe.String(unsafe.SliceData(b), len(b))
	switch {
	case f.isTime:
		if f.time == epochMillis {
			ms, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return fmt.Errorf("invalid epoch milliseconds %q: %w", string(b), numErr(err))
			}
			fv.Set(reflect.ValueOf(time.UnixMilli(ms).UTC()))
			return nil
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("invalid RFC 3339 time %q", string(b))
		}
		fv.Set(reflect.ValueOf(t))
		return nil
	case f.text:
		if err := fv.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText(b); err != nil {
			return fmt.Errorf("invalid %s %q: %w", f.typ, string(b), err)
		}
		return nil
	}
	switch f.kind {
	case reflect.String:
		fv.SetString(string(b))
	case reflect.Bool:
		x, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("invalid bool %q: %w", string(b), numErr(err))
		}
		fv.SetBool(x)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		x, err := strconv.ParseInt(s, 10, f.typ.Bits())
		if err != nil {
			return fmt.Errorf("invalid %s %q: %w", f.typ, string(b), numErr(err))
		}
		fv.SetInt(x)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		x, err := strconv.ParseUint(s, 10, f.typ.Bits())
		if err != nil {
			return fmt.Errorf("invalid %s %q: %w", f.typ, string(b), numErr(err))
		}
		fv.SetUint(x)
	case reflect.Float32, reflect.Float64:
		x, err := strconv.ParseFloat(s, f.typ.Bits())
		if err != nil {
			return fmt.Errorf("invalid %s %q: %w", f.typ, string(b), numErr(err))
		}
		fv.SetFloat(x)
	default:
		panic("csv: unreachable field kind " + f.kind.String())
	}
	return nil
}

// numErr returns the sentinel inside a *strconv.NumError (ErrSyntax, ErrRange), which does not
// alias the input.
func numErr(err error) error {
	if ne, ok := err.(*strconv.NumError); ok {
		return ne.Err
	}
	return err
}
