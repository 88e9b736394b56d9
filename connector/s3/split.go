package s3

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/runnel-io/runnel/connector"
)

// Split is one object of a Source, with its read position. For plain objects the position is
// Offset, the byte offset of the next line, and a restored reader resumes there with a ranged
// GET. Compressed objects (".gz", ".zst") cannot be entered in the middle, so for them the
// position is Line, the number of lines consumed: a restored reader reads the object from its
// start again and skips that many lines. Line is kept for plain objects too, for messages.
type Split struct {
	// Key is the object's key.
	Key string
	// Size is the object's size in bytes when it was listed.
	Size int64
	// ETag is the object's ETag when it was listed; readers read only that version (If-Match).
	ETag string
	// Offset is the byte offset of the next line (plain objects; 0 for compressed ones).
	Offset int64
	// Line is the number of lines consumed, blank ones included.
	Line int64
}

// SplitID returns the object's key.
func (s *Split) SplitID() string { return s.Key }

// compression says how an object is compressed, by the extension of its key.
type compression uint8

const (
	plain compression = iota
	gzipped
	zstded
)

func compressionOf(key string) compression {
	switch {
	case strings.HasSuffix(key, ".gz"):
		return gzipped
	case strings.HasSuffix(key, ".zst"), strings.HasSuffix(key, ".zstd"):
		return zstded
	}
	return plain
}

// enumState is the enumerator's own state, stored among its unassigned splits in a checkpoint:
// the keys of every object it has made a split of, so that a restored monitoring enumerator
// does not read an object twice. It is never assigned to a reader.
type enumState struct {
	seen []string
}

// enumStateID is the SplitID of enumState. Listing skips hidden names (starting with '_'), so
// it is never an object's key.
const enumStateID = "_s3-source-enumerator"

func (*enumState) SplitID() string { return enumStateID }

// splitVersion is the version of the encoding EncodeSplit writes. Version 1 is the byte 1,
// then a kind byte: 0 for an object split, followed by the key and ETag as uvarint-prefixed
// strings and Size, Offset and Line as varints; 1 for the enumerator's state, followed by the
// number of seen keys as a uvarint and the keys as uvarint-prefixed strings.
const splitVersion = 1

const (
	kindObject = 0
	kindState  = 1
)

// ErrBadSplit is wrapped by the errors of DecodeSplit about bytes that are not a split this
// source wrote.
var ErrBadSplit = errors.New("s3: bad split")

// EncodeSplit implements connector.SplitCodec: it encodes a split of this source with its
// position. The result is the caller's. It returns an error for splits of other sources.
func (s *Source[T]) EncodeSplit(sp connector.Split) ([]byte, error) {
	switch sp := sp.(type) {
	case *Split:
		b := []byte{splitVersion, kindObject}
		b = appendString(b, sp.Key)
		b = appendString(b, sp.ETag)
		b = binary.AppendVarint(b, sp.Size)
		b = binary.AppendVarint(b, sp.Offset)
		b = binary.AppendVarint(b, sp.Line)
		return b, nil
	case *enumState:
		b := []byte{splitVersion, kindState}
		b = binary.AppendUvarint(b, uint64(len(sp.seen)))
		for _, k := range sp.seen {
			b = appendString(b, k)
		}
		return b, nil
	}
	return nil, fmt.Errorf("s3: cannot encode split %T: not a split of an s3 source", sp)
}

// DecodeSplit implements connector.SplitCodec: it decodes what EncodeSplit encoded. It returns
// an error wrapping ErrBadSplit for bytes of an unknown version or that are no valid split. It
// does not keep b.
func (s *Source[T]) DecodeSplit(b []byte) (connector.Split, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: %d bytes are too short", ErrBadSplit, len(b))
	}
	if b[0] != splitVersion {
		return nil, fmt.Errorf("%w: encoding version %d, this build reads version %d", ErrBadSplit, b[0], splitVersion)
	}
	d := decoder{b: b[2:]}
	switch b[1] {
	case kindObject:
		sp := &Split{Key: d.string("key"), ETag: d.string("etag"), Size: d.varint("size"),
			Offset: d.varint("offset"), Line: d.varint("line")}
		if err := d.end(); err != nil {
			return nil, err
		}
		if sp.Key == "" || sp.Size < 0 || sp.Offset < 0 || sp.Line < 0 || sp.Offset > sp.Size {
			return nil, fmt.Errorf("%w: invalid object split %+v", ErrBadSplit, *sp)
		}
		if compressionOf(sp.Key) != plain && sp.Offset != 0 {
			return nil, fmt.Errorf("%w: compressed object %s with a byte offset", ErrBadSplit, sp.Key)
		}
		return sp, nil
	case kindState:
		n := d.uvarint("count")
		if n > uint64(len(d.b)) { // every key takes at least a byte
			return nil, fmt.Errorf("%w: %d keys in %d bytes", ErrBadSplit, n, len(d.b))
		}
		st := &enumState{seen: make([]string, 0, n)}
		for range n {
			st.seen = append(st.seen, d.string("key"))
		}
		if err := d.end(); err != nil {
			return nil, err
		}
		return st, nil
	}
	return nil, fmt.Errorf("%w: unknown kind %d", ErrBadSplit, b[1])
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// decoder reads the fields of an encoding, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated or malformed %s", ErrBadSplit, what)
	}
	d.b = nil
}

func (d *decoder) uvarint(what string) uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(what string) int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string(what string) string {
	n := d.uvarint(what)
	if n > uint64(len(d.b)) {
		d.fail(what)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) end() error {
	if d.err != nil {
		return d.err
	}
	if len(d.b) > 0 {
		return fmt.Errorf("%w: %d bytes after the split", ErrBadSplit, len(d.b))
	}
	return nil
}
