package file

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/splitcodec"
)

// Split is one file of a Source, with the reader's position in it. Its id is the path.
type Split struct {
	// Path is the file's absolute path.
	Path string
	// Offset is the byte offset of the next record in the file's content (the decompressed
	// content of a compressed file); 0 for Parquet files.
	Offset int64
	// Records is how many records precede the position: lines (CSV records, a header
	// included) of a line format, rows of a Parquet file. A plain file resumes by seeking to
	// Offset; a compressed one by decompressing and skipping Records records, checked against
	// Offset; a Parquet file by seeking to row Records.
	Records int64
}

// SplitID returns the path.
func (s *Split) SplitID() string { return s.Path }

// seenSplit is the enumerator's record of every file it has made a split for. It lives only in
// the enumerator's snapshots and is never assigned to a reader.
type seenSplit struct {
	paths []string // sorted
}

// seenSplitID is the id of the seenSplit; no file has it, since file paths are absolute.
const seenSplitID = "file-source:seen"

func (s *seenSplit) SplitID() string { return seenSplitID }

// sourceSplitVersion is the version of the split encoding EncodeSplit writes. Version 1 is the
// byte 1, then a kind byte: 'f' for a Split followed by the path (uvarint length and bytes),
// Offset and Records as uvarints; 's' for the record of files seen, followed by a uvarint count
// and that many paths (uvarint length and bytes), nothing else.
const sourceSplitVersion = 1

const (
	kindFile = 'f'
	kindSeen = 's'
)

// ErrBadSplit is wrapped by the errors of DecodeSplit about bytes that are not a split of a
// file Source.
var ErrBadSplit = errors.New("file: bad split")

// EncodeSplit implements connector.SplitCodec for the source's splits, with their positions. It
// returns an error for splits of other sources.
func (s *Source[T]) EncodeSplit(sp connector.Split) ([]byte, error) {
	switch sp := sp.(type) {
	case *Split:
		b := make([]byte, 0, 2+3*binary.MaxVarintLen64+len(sp.Path))
		b = append(b, sourceSplitVersion, kindFile)
		b = splitcodec.AppendString(b, sp.Path)
		b = binary.AppendUvarint(b, uint64(sp.Offset))
		return binary.AppendUvarint(b, uint64(sp.Records)), nil
	case *seenSplit:
		n := 2 + binary.MaxVarintLen64
		for _, p := range sp.paths {
			n += binary.MaxVarintLen64 + len(p)
		}
		b := make([]byte, 0, n)
		b = append(b, sourceSplitVersion, kindSeen)
		b = binary.AppendUvarint(b, uint64(len(sp.paths)))
		for _, p := range sp.paths {
			b = splitcodec.AppendString(b, p)
		}
		return b, nil
	}
	return nil, fmt.Errorf("file: cannot encode split %T: not a split of a file source", sp)
}

// DecodeSplit implements connector.SplitCodec: it decodes what EncodeSplit encoded. It returns
// an error wrapping ErrBadSplit, naming the field, for bytes of an unknown version or kind,
// truncated, with trailing bytes, a relative path or a negative position. It does not keep b.
func (s *Source[T]) DecodeSplit(b []byte) (connector.Split, error) {
	d := splitcodec.NewDecoder(b, ErrBadSplit)
	if v := d.Byte("version"); d.Err() == nil && v != sourceSplitVersion {
		return nil, fmt.Errorf("%w: encoding version %d, this build reads version %d", ErrBadSplit, v, sourceSplitVersion)
	}
	switch kind := d.Byte("kind"); {
	case d.Err() != nil:
		return nil, d.Err()
	case kind == kindFile:
		sp := &Split{Path: d.String("path"), Offset: d.Int64("offset"), Records: d.Int64("records")}
		if d.Err() == nil && !filepath.IsAbs(sp.Path) {
			d.Fail("path", "%q is not absolute", sp.Path)
		}
		if err := d.Finish(); err != nil {
			return nil, err
		}
		return sp, nil
	case kind == kindSeen:
		n := d.Count("paths", 1)
		sp := &seenSplit{paths: make([]string, 0, n)}
		for range n {
			sp.paths = append(sp.paths, d.String("path"))
		}
		if err := d.Finish(); err != nil {
			return nil, err
		}
		return sp, nil
	default:
		return nil, fmt.Errorf("%w: unknown kind %q", ErrBadSplit, kind)
	}
}
