// Package splitcodec is what the connectors' split codecs (connector.SplitCodec) share: a
// Decoder that reads the fields of a binary encoding with bounds checks, and the Append
// functions that write them. Splits end up in checkpoints, which a later build must read, so
// each codec writes a version byte first and keeps a decoder for every version it ever wrote;
// the field layout after it is the codec's own.
//
// Integers are varints (encoding/binary's AppendUvarint and AppendVarint), strings and byte
// slices a uvarint length and the bytes, counts of repeated fields a uvarint. Decoding never
// allocates more than the input could hold: a length or count past the bytes left is an error,
// not an allocation.
package splitcodec

import (
	"encoding/binary"
	"fmt"
	"math"
)

// AppendString appends s as a uvarint length and its bytes.
func AppendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// AppendBytes appends p as a uvarint length and its bytes.
func AppendBytes(b, p []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(p))), p...)
}

// AppendBool appends v as the byte 1 or 0.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// Decoder reads the fields of an encoding in order. The first failure sticks: later reads
// return zero values and consume nothing, and Err and Finish report the failure. Every error
// wraps the sentinel the Decoder was made with (a connector's ErrBadSplit) and names the field
// that failed. A Decoder belongs to one goroutine; it does not keep the input past the calls
// (String and Bytes copy).
type Decoder struct {
	b   []byte
	bad error
	err error
}

// NewDecoder returns a Decoder of b whose errors wrap bad.
func NewDecoder(b []byte, bad error) *Decoder { return &Decoder{b: b, bad: bad} }

// Fail records that field is malformed for the reason given (as fmt.Sprintf(format, args...)),
// unless a failure is recorded already, and stops the decoding.
func (d *Decoder) Fail(field, format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s: %s", d.bad, field, fmt.Sprintf(format, args...))
	}
	d.b = nil
}

// Err returns the first failure, or nil.
func (d *Decoder) Err() error { return d.err }

// Len returns the number of bytes not read yet.
func (d *Decoder) Len() int { return len(d.b) }

// Finish returns the first failure, or an error if bytes are left after the last field.
func (d *Decoder) Finish() error {
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%w: %d bytes after the split's last field", d.bad, len(d.b))
	}
	return d.err
}

// Byte reads one byte.
func (d *Decoder) Byte(field string) byte {
	if len(d.b) == 0 {
		d.Fail(field, "missing")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

// Bool reads a byte that must be 0 or 1.
func (d *Decoder) Bool(field string) bool {
	switch v := d.Byte(field); v {
	case 0, 1:
		return v == 1
	default:
		d.Fail(field, "%d is not a boolean", v)
		return false
	}
}

// Uvarint reads an unsigned varint.
func (d *Decoder) Uvarint(field string) uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.Fail(field, "truncated or malformed varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Varint reads a signed (zig-zag) varint.
func (d *Decoder) Varint(field string) int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.Fail(field, "truncated or malformed varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Int64 reads an unsigned varint that must fit an int64 (a size, an offset, a count of
// records).
func (d *Decoder) Int64(field string) int64 {
	v := d.Uvarint(field)
	if v > math.MaxInt64 {
		d.Fail(field, "%d out of range", v)
		return 0
	}
	return int64(v)
}

// Count reads the uvarint count of a repeated field whose elements take at least minSize
// bytes each (at least 1), and fails if the bytes left cannot hold that many.
func (d *Decoder) Count(field string, minSize int) int {
	n := d.Uvarint(field + " count")
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.b)/max(minSize, 1)) {
		d.Fail(field+" count", "%d elements in %d bytes", n, len(d.b))
		return 0
	}
	return int(n)
}

// String reads a uvarint length and that many bytes as a string.
func (d *Decoder) String(field string) string {
	return string(d.bytes(field))
}

// Bytes reads a uvarint length and that many bytes, copied.
func (d *Decoder) Bytes(field string) []byte {
	p := d.bytes(field)
	if p == nil {
		return nil
	}
	return append([]byte{}, p...)
}

func (d *Decoder) bytes(field string) []byte {
	n := d.Uvarint(field + " length")
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.Fail(field, "%d bytes announced, %d left", n, len(d.b))
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}
