// Package format holds what every record format (format/json, format/csv, format/parquet and
// format/avro) shares: where a record came from (Position), how a record that cannot be decoded is reported
// (RecordError) and what a connector does with it (Policy).
//
// A format package turns one record's bytes into a Go value with a Decoder[T] whose
// Decode(raw, pos) returns the value or a *RecordError naming the source, line, offset, field
// and reason and holding a copy of the raw bytes. The connector that read the bytes then applies
// its Policy: under Fail the error ends the job; under DeadLetter the raw record and the error go
// to a dead-letter output. A malformed record is never dropped silently.
//
// Framing (splitting a stream into records) is the connector's job; format packages that need a
// format-aware splitter, such as CSV with quoted newlines, export a bufio.SplitFunc.
package format

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Position says where a record was read. The zero Position means "unknown"; fields that are
// zero are left out of error messages.
type Position struct {
	// Source names what the record was read from: a file path or object key, a Kafka topic and
	// partition ("orders/3"), a Kinesis shard.
	Source string
	// Line is the 1-based line or record number within Source; 0 means unknown.
	Line int64
	// Offset is the byte offset of the record's first byte within Source, or the partition or
	// shard offset of a message; -1 means unknown. Zero is a valid offset, so callers that do
	// not know it must say -1.
	Offset int64
}

// String formats p for error messages, e.g. "data/bids.json line 12 offset 3456".
func (p Position) String() string {
	var b strings.Builder
	b.WriteString(p.Source)
	if p.Line > 0 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("line ")
		b.WriteString(strconv.FormatInt(p.Line, 10))
	}
	if p.Offset >= 0 && (p.Offset > 0 || p.Source != "" || p.Line > 0) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("offset ")
		b.WriteString(strconv.FormatInt(p.Offset, 10))
	}
	return b.String()
}

// RecordError reports a record that could not be decoded. Decoders return it as a pointer;
// connectors either return it (Policy Fail), which fails the job with a message naming the
// source, position and reason, or route it to a dead-letter output (Policy DeadLetter).
type RecordError struct {
	// Position is where the record was read.
	Position
	// Format names the format that rejected the record: "json", "csv".
	Format string
	// Field names the field or column at fault, when one is known.
	Field string
	// Raw is a copy of the record's bytes, owned by the error: the caller may keep it after the
	// connector reuses its read buffer.
	Raw []byte
	// Err is the reason. It is never nil.
	Err error
}

// NewRecordError returns a RecordError at pos holding a copy of raw. It is for format packages.
func NewRecordError(format string, pos Position, field string, raw []byte, err error) *RecordError {
	return &RecordError{
		Position: pos,
		Format:   format,
		Field:    field,
		Raw:      append([]byte(nil), raw...),
		Err:      err,
	}
}

// Error formats e as `format: malformed json record at <source> line <n> offset <o>: field
// "<f>": <reason>`, leaving out what is unknown; "malformed" is "cannot decode" when Err wraps
// ErrUnavailable.
func (e *RecordError) Error() string {
	var b strings.Builder
	if errors.Is(e.Err, ErrUnavailable) {
		b.WriteString("format: cannot decode ") // the record may be fine
	} else {
		b.WriteString("format: malformed ")
	}
	if e.Format != "" {
		b.WriteString(e.Format)
		b.WriteByte(' ')
	}
	b.WriteString("record")
	if p := e.Position.String(); p != "" {
		b.WriteString(" at ")
		b.WriteString(p)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString("field ")
		b.WriteString(strconv.Quote(e.Field))
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("unknown reason")
	}
	return b.String()
}

// Unwrap returns e.Err.
func (e *RecordError) Unwrap() error { return e.Err }

// Policy says what a connector does with a record that cannot be decoded. The zero Policy is
// Fail.
type Policy uint8

const (
	// Fail ends the job with the *RecordError, which names the source, position and reason.
	Fail Policy = iota
	// DeadLetter hands the raw record and its error to a dead-letter output and goes on reading.
	DeadLetter
)

// ErrNoDeadLetter is wrapped by the error Policy.Handle returns under DeadLetter when no
// dead-letter output was given.
var ErrNoDeadLetter = errors.New("format: dead-letter policy without a dead-letter output")

// ErrBlank is wrapped by the Err of a RecordError for a record that holds no value at all, only
// white space its format ignores: format/json's ErrEmpty, for a line of spaces, tabs and carriage
// returns. A source of lines (connector/file, connector/s3) skips such a record as it skips an
// empty line, without applying the Policy. A source of messages (connector/kafka,
// connector/kinesis) has no lines: a blank message is a record that does not decode, and the
// Policy applies to it as to any other.
var ErrBlank = errors.New("format: blank record")

// ErrUnavailable is wrapped by the Err of a RecordError when the decoder could not reach
// something it needs to decode the record, such as a schema registry: the record is not at
// fault, so Policy.Handle fails the job with it under every policy, and the restart that follows
// reads the record again, instead of sending a good record to the dead letter.
var ErrUnavailable = errors.New("a service the decoder needs is unavailable")

// String returns "fail" or "dead-letter".
func (p Policy) String() string {
	switch p {
	case Fail:
		return "fail"
	case DeadLetter:
		return "dead-letter"
	}
	return "Policy(" + strconv.Itoa(int(p)) + ")"
}

// Validate reports whether p is Fail or DeadLetter.
func (p Policy) Validate() error {
	if p > DeadLetter {
		return fmt.Errorf("format: invalid policy %d", uint8(p))
	}
	return nil
}

// Handle applies p to a record that failed to decode. Under Fail it returns rerr, which the
// connector returns to fail the job. Under DeadLetter it calls deadLetter(rerr) and returns what
// that returns, nil meaning the connector goes on reading; deadLetter owns rerr and its Raw bytes.
// A nil deadLetter under DeadLetter gives an error wrapping ErrNoDeadLetter and rerr. An rerr
// wrapping ErrUnavailable is returned under every policy. Handle panics if rerr is nil.
func (p Policy) Handle(rerr *RecordError, deadLetter func(*RecordError) error) error {
	if rerr == nil {
		panic("format: Policy.Handle of a nil *RecordError")
	}
	if errors.Is(rerr.Err, ErrUnavailable) {
		return rerr
	}
	switch p {
	case Fail:
		return rerr
	case DeadLetter:
		if deadLetter == nil {
			return fmt.Errorf("%w: %w", ErrNoDeadLetter, rerr)
		}
		return deadLetter(rerr)
	}
	return fmt.Errorf("format: invalid policy %d: %w", uint8(p), rerr)
}
