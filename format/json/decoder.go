package json

import (
	"errors"
	"fmt"
	"unicode/utf8"

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
	// ErrEmpty is the reason for a line that is empty or only white space (spaces, tabs,
	// carriage returns and line feeds, JSON's white space). It wraps format.ErrBlank: line
	// sources skip such lines instead of applying their Policy.
	ErrEmpty error = &blankError{"json: empty line"}
	// ErrNull is the reason for a line that is the literal null: it would decode to the zero T,
	// which would silently stand for a record that never existed.
	ErrNull = errors.New("json: null record")
	// ErrInvalidUTF8 is wrapped by the reason for a line that is not valid UTF-8, which JSON
	// text must be (RFC 8259); the message gives the index of the first bad byte in the line.
	// The library would replace bad bytes in strings with U+FFFD, and ignore an object key
	// holding one, so a corrupted record would decode into different data.
	ErrInvalidUTF8 = errors.New("json: invalid UTF-8")
)

// blankError is the type of ErrEmpty: an error of this package that wraps format.ErrBlank.
type blankError struct{ msg string }

func (e *blankError) Error() string { return e.msg }
func (e *blankError) Unwrap() error { return format.ErrBlank }

// Decode decodes line, one JSON value with optional surrounding white space (spaces, tabs,
// carriage returns, line feeds) and line end, into a T. On failure it returns the zero T and a
// *format.RecordError at pos holding a copy of line, whose Err is ErrEmpty, ErrNull, an error
// wrapping ErrInvalidUTF8, or the library's syntax or type error; Field is set when the library
// names the field at fault. Decode does not keep line.
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
	trimmed := trimSpace(line)
	switch {
	case len(trimmed) == 0:
		return ErrEmpty
	case string(trimmed) == "null":
		return ErrNull
	case !utf8.Valid(trimmed): // about 10 ns for a Nexmark bid; see docs/PERFORMANCE.md
		return invalidUTF8(line)
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

// trimSpace returns line without JSON's white space (RFC 8259: space, tab, carriage return, line
// feed) at either end. bytes.TrimSpace would also remove what JSON does not count as white space,
// such as U+00A0 or a form feed, and so pass the library a line it should reject, or make a line
// of such characters blank; bytes.Trim with a cutset costs four times as much.
func trimSpace(line []byte) []byte {
	for len(line) > 0 && isSpace(line[0]) {
		line = line[1:]
	}
	for len(line) > 0 && isSpace(line[len(line)-1]) {
		line = line[:len(line)-1]
	}
	return line
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// invalidUTF8 returns the reason for line, which is not valid UTF-8: ErrInvalidUTF8 at the
// index of its first bad byte.
func invalidUTF8(line []byte) error {
	i := 0
	for i < len(line) {
		r, n := utf8.DecodeRune(line[i:])
		if r == utf8.RuneError && n == 1 {
			break
		}
		i += n
	}
	return fmt.Errorf("%w at byte %d of the line", ErrInvalidUTF8, i)
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
