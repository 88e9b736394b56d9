package json

import (
	"bytes"
	"errors"
	"fmt"

	gojson "github.com/goccy/go-json"

	"github.com/runnel-io/runnel/format"
)

// formatName is RecordError.Format for this package.
const formatName = "json"

// Decoder turns JSON lines into values of type T. Object keys that match no field of T are
// ignored, as encoding/json does. A Decoder is immutable and safe for concurrent use.
type Decoder[T any] struct{}

// NewDecoder returns a Decoder for T. It returns an error, naming the field, when T or a type
// it contains cannot be decoded from JSON (channels, functions, complex numbers, unsafe
// pointers) and does not implement json.Unmarshaler or encoding.TextUnmarshaler.
func NewDecoder[T any]() (*Decoder[T], error) {
	if err := checkType[T](unmarshalerTypes); err != nil {
		return nil, fmt.Errorf("json: new decoder: %w", err)
	}
	return &Decoder[T]{}, nil
}

// Errors that Decode wraps in a *format.RecordError, besides the JSON library's syntax and
// type errors.
var (
	// ErrEmpty is the reason for a line that is empty or only white space.
	ErrEmpty = errors.New("json: empty line")
	// ErrNull is the reason for a line that is the literal null: it would decode to the zero T,
	// which would silently stand for a record that never existed.
	ErrNull = errors.New("json: null record")
)

// Decode decodes line, one JSON value with optional surrounding white space and line end, into
// a T. On failure it returns the zero T and a *format.RecordError at pos holding a copy of line,
// whose Err is ErrEmpty, ErrNull or the library's syntax or type error; Field is set when the
// library names the field at fault. Decode does not keep line.
func (d *Decoder[T]) Decode(line []byte, pos format.Position) (T, *format.RecordError) {
	var v T
	if err := d.Unmarshal(line, &v); err != nil {
		var zero T
		return zero, format.NewRecordError(formatName, pos, fieldOf(err), line, err)
	}
	return v, nil
}

// Unmarshal decodes line into *v as Decode does, returning the bare reason instead of a
// RecordError. On error *v may be partly written.
func (d *Decoder[T]) Unmarshal(line []byte, v *T) (err error) {
	trimmed := bytes.TrimSpace(line)
	switch {
	case len(trimmed) == 0:
		return ErrEmpty
	case string(trimmed) == "null":
		return ErrNull
	}
	defer func() {
		// The library is fuzzed through FuzzDecode; this keeps a bug in it from taking the
		// task down on one bad record.
		if r := recover(); r != nil {
			err = fmt.Errorf("json: decoder panic: %v", r)
		}
	}()
	return gojson.Unmarshal(trimmed, v)
}

// fieldOf returns the field a library error names, or "".
func fieldOf(err error) string {
	var te *gojson.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return te.Field
		}
		return te.Struct
	}
	return ""
}
