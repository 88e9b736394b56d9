package csv

import (
	"bytes"
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"time"
	"unsafe"
)

// Encoder appends values of type T as CSV records ending in '\n', with T's mapped fields in
// declaration order. It is immutable and safe for concurrent use.
type Encoder[T any] struct {
	comma  byte
	fields []field
}

// NewEncoder returns an Encoder for T. It returns an error naming the field when a field's type
// is not supported or its tag is invalid, and when opts is invalid.
func NewEncoder[T any](opts Options) (*Encoder[T], error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	fields, err := fieldsOf[T](false)
	if err != nil {
		return nil, fmt.Errorf("csv: new encoder: %w", err)
	}
	return &Encoder[T]{comma: opts.comma(), fields: fields}, nil
}

// AppendHeader appends the header record, the column names, to dst.
func (e *Encoder[T]) AppendHeader(dst []byte) []byte {
	for i, f := range e.fields {
		if i > 0 {
			dst = append(dst, e.comma)
		}
		dst = e.appendField(dst, []byte(f.name))
	}
	return append(dst, '\n')
}

// Append appends v as one record to dst and returns the extended slice. Only a field's
// TextMarshaler can fail; then Append returns dst unchanged and the error.
func (e *Encoder[T]) Append(dst []byte, v T) ([]byte, error) {
	start := len(dst)
	rv := reflect.ValueOf(&v).Elem()
	var scratch [64]byte
	for i := range e.fields {
		f := &e.fields[i]
		if i > 0 {
			dst = append(dst, e.comma)
		}
		fv := rv.Field(f.index)
		switch {
		case f.isTime:
			t := fv.Interface().(time.Time)
			if f.time == epochMillis {
				dst = strconv.AppendInt(dst, t.UnixMilli(), 10)
			} else {
				dst = t.AppendFormat(dst, time.RFC3339Nano)
			}
			continue
		case f.text:
			b, err := fv.Interface().(encoding.TextMarshaler).MarshalText()
			if err != nil {
				return dst[:start], fmt.Errorf("csv: encode field %s: %w", f.goName, err)
			}
			dst = e.appendField(dst, b)
			continue
		}
		switch f.kind {
		case reflect.String:
			s := fv.String()
			dst = e.appendField(dst, unsafe.Slice(unsafe.StringData(s), len(s))) // read only
		case reflect.Bool:
			dst = strconv.AppendBool(dst, fv.Bool())
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			dst = strconv.AppendInt(dst, fv.Int(), 10)
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			dst = strconv.AppendUint(dst, fv.Uint(), 10)
		case reflect.Float32, reflect.Float64:
			dst = append(dst, strconv.AppendFloat(scratch[:0], fv.Float(), 'g', -1, f.typ.Bits())...)
		}
	}
	return append(dst, '\n'), nil
}

// appendField appends b, quoted per RFC 4180 when it holds the separator, a quote or a line
// break.
func (e *Encoder[T]) appendField(dst, b []byte) []byte {
	needs := bytes.IndexByte(b, e.comma) >= 0 || bytes.ContainsAny(b, "\"\r\n")
	if !needs {
		return append(dst, b...)
	}
	dst = append(dst, '"')
	for {
		i := bytes.IndexByte(b, '"')
		if i < 0 {
			break
		}
		dst = append(dst, b[:i+1]...)
		dst = append(dst, '"')
		b = b[i+1:]
	}
	dst = append(dst, b...)
	return append(dst, '"')
}
