package s3

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/splitcodec"
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
		b = splitcodec.AppendString(b, sp.Key)
		b = splitcodec.AppendString(b, sp.ETag)
		b = binary.AppendVarint(b, sp.Size)
		b = binary.AppendVarint(b, sp.Offset)
		b = binary.AppendVarint(b, sp.Line)
		return b, nil
	case *enumState:
		b := []byte{splitVersion, kindState}
		b = binary.AppendUvarint(b, uint64(len(sp.seen)))
		for _, k := range sp.seen {
			b = splitcodec.AppendString(b, k)
		}
		return b, nil
	}
	return nil, fmt.Errorf("s3: cannot encode split %T: not a split of an s3 source", sp)
}

// DecodeSplit implements connector.SplitCodec: it decodes what EncodeSplit encoded. It returns
// an error wrapping ErrBadSplit, naming the field, for bytes of an unknown version or that are
// no valid split. It does not keep b.
func (s *Source[T]) DecodeSplit(b []byte) (connector.Split, error) {
	d := splitcodec.NewDecoder(b, ErrBadSplit)
	if v := d.Byte("version"); d.Err() == nil && v != splitVersion {
		return nil, fmt.Errorf("%w: encoding version %d, this build reads version %d", ErrBadSplit, v, splitVersion)
	}
	switch kind := d.Byte("kind"); {
	case d.Err() != nil:
		return nil, d.Err()
	case kind == kindObject:
		sp := &Split{Key: d.String("key"), ETag: d.String("etag"), Size: d.Varint("size"),
			Offset: d.Varint("offset"), Line: d.Varint("line")}
		switch {
		case d.Err() != nil:
		case sp.Key == "":
			d.Fail("key", "empty")
		case sp.Size < 0 || sp.Offset < 0 || sp.Line < 0 || sp.Offset > sp.Size:
			d.Fail("position", "size %d, offset %d, line %d", sp.Size, sp.Offset, sp.Line)
		case compressionOf(sp.Key) != plain && sp.Offset != 0:
			d.Fail("offset", "compressed object %s with a byte offset", sp.Key)
		}
		if err := d.Finish(); err != nil {
			return nil, err
		}
		return sp, nil
	case kind == kindState:
		n := d.Count("keys", 1)
		st := &enumState{seen: make([]string, 0, n)}
		for range n {
			st.seen = append(st.seen, d.String("key"))
		}
		if err := d.Finish(); err != nil {
			return nil, err
		}
		return st, nil
	default:
		return nil, fmt.Errorf("%w: unknown kind %d", ErrBadSplit, kind)
	}
}
