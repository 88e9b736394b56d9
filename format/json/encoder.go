package json

import (
	"fmt"

	gojson "github.com/goccy/go-json"
)

// Encoder appends values of type T as JSON lines: compact JSON with HTML characters left as
// they are, then '\n'. An Encoder is immutable and safe for concurrent use.
type Encoder[T any] struct{}

// NewEncoder returns an Encoder for T. It returns an error, naming the field, when T or a type
// it contains cannot be encoded as JSON (channels, functions, complex numbers, unsafe pointers)
// and does not implement json.Marshaler or encoding.TextMarshaler.
func NewEncoder[T any]() (*Encoder[T], error) {
	if err := checkType[T](marshalerTypes); err != nil {
		return nil, fmt.Errorf("json: new encoder: %w", err)
	}
	return &Encoder[T]{}, nil
}

// Append appends v as one JSON line to dst and returns the extended slice. On error, from a
// custom marshaler or an unsupported value held in an interface, it returns dst unchanged and an
// error naming the operation.
func (e *Encoder[T]) Append(dst []byte, v T) ([]byte, error) {
	b, err := gojson.MarshalWithOption(&v, gojson.DisableHTMLEscape())
	if err != nil {
		return dst, fmt.Errorf("json: encode %T: %w", v, err)
	}
	dst = append(dst, b...)
	return append(dst, '\n'), nil
}
