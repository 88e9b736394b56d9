// Package json decodes and encodes JSON lines: one JSON value per record, mapped to a Go type T
// with the usual `json:"name"` struct tags.
//
// It uses github.com/goccy/go-json, chosen by benchmark over encoding/json,
// github.com/bytedance/sonic and github.com/segmentio/encoding/json on Nexmark bids
// (bench_test.go has the comparison with encoding/json; docs in the package's change record the
// rest). goccy/go-json is pure Go, so it runs on every GOARCH, and it follows encoding/json's
// struct-tag rules, so a type that works with encoding/json works here.
//
// A Decoder turns one line into a T or a *format.RecordError naming the source, line, offset and
// reason; the connector then applies its format.Policy. A line that is not valid UTF-8 is such
// an error (ErrInvalidUTF8), never decoded with U+FFFD in place of its bad bytes. A blank line
// (empty, or only JSON white space) is an error too, ErrEmpty, which wraps format.ErrBlank: the
// line sources of connector/file and connector/s3 skip such lines. An Encoder appends a T as one
// line.
package json
