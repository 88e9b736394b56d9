package file

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/splitcodec"
	"github.com/runnel-io/runnel/filesystem"
)

// Split is one file of a Source, with the reader's position in it. Its id is the file's name.
type Split struct {
	// Path is the file's name (an absolute path for local files, an s3:// URL on S3).
	Path string
	// Size is the file's size in bytes when it was listed; 0 when unknown (an empty file, or a
	// split of an earlier version, which did not record it).
	Size int64
	// Version is the file's version when it was listed (an S3 ETag; "" where the file system
	// has none): readers read only that version.
	Version string
	// Offset is the byte offset of the next record in the file's content (the decompressed
	// content of a compressed file); 0 for Parquet and Avro files.
	Offset int64
	// Records is how many records precede the position: lines (CSV records, a header
	// included) of a line format, rows of a Parquet file, records of an Avro file. A plain
	// file resumes by reading from Offset; a compressed one by decompressing and skipping
	// Records records, checked against Offset (unless Offset is 0: the S3 source's splits of
	// earlier versions did not record it); Parquet and Avro files at record Records.
	Records int64
}

// SplitID returns the path.
func (s *Split) SplitID() string { return s.Path }

// info returns what the file system needs to read the split's file.
func (s *Split) info() filesystem.FileInfo {
	f := filesystem.FileInfo{Name: s.Path, Size: s.Size, Version: s.Version}
	if f.Size <= 0 {
		f.Size = -1
	}
	return f
}

// seenSplit is the enumerator's record of every file it has made a split for. It lives only in
// the enumerator's snapshots and is never assigned to a reader.
type seenSplit struct {
	paths []string // sorted
}

// seenSplitID is the id of the seenSplit; no file has it, since file names are absolute paths
// or URLs.
const seenSplitID = "file-source:seen"

func (s *seenSplit) SplitID() string { return seenSplitID }

// Split encodings. Each starts with a version byte and a kind byte.
//
// Version 2 (written since the source stands on a filesystem.FS): kind 'f' is a Split, followed
// by Path and Version as uvarint-prefixed strings, then Size, Offset and Records as uvarints;
// kind 's' is the record of files seen, followed by a uvarint count and that many
// uvarint-prefixed names.
//
// Version 1 is read still, in two flavours, whose kinds do not overlap. The file source's:
// kind 'f' with the path (absolute) and Offset and Records as uvarints, kind 's' as in version
// 2. The S3 source's (connector/s3 before it became a file system): kind 0 with the key and
// ETag as strings and Size, Offset and Line (the records read) as varints, kind 1 with the keys
// seen; keys are below the bucket of the source's Path.
const sourceSplitVersion = 2

const (
	kindFile   = 'f'
	kindSeen   = 's'
	kindS3File = 0 // version 1 only
	kindS3Seen = 1 // version 1 only
)

// ErrBadSplit is wrapped by the errors of DecodeSplit about bytes that are not a split of a
// file Source.
var ErrBadSplit = errors.New("file: bad split")

// EncodeSplit implements connector.SplitCodec for the source's splits, with their positions. It
// returns an error for splits of other sources.
func (s *Source[T]) EncodeSplit(sp connector.Split) ([]byte, error) {
	switch sp := sp.(type) {
	case *Split:
		b := make([]byte, 0, 2+4*binary.MaxVarintLen64+len(sp.Path)+len(sp.Version))
		b = append(b, sourceSplitVersion, kindFile)
		b = splitcodec.AppendString(b, sp.Path)
		b = splitcodec.AppendString(b, sp.Version)
		b = binary.AppendUvarint(b, uint64(sp.Size))
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

// DecodeSplit implements connector.SplitCodec: it decodes what EncodeSplit encoded, and the
// version 1 encodings of the file and S3 sources of earlier builds. It returns an error
// wrapping ErrBadSplit, naming the field, for bytes of an unknown version or kind, truncated,
// with trailing bytes, an empty name or a negative position, and for an S3 source's split given
// to a source not on S3. It does not keep b.
func (s *Source[T]) DecodeSplit(b []byte) (connector.Split, error) {
	d := splitcodec.NewDecoder(b, ErrBadSplit)
	version, kind := d.Byte("version"), d.Byte("kind")
	if err := d.Err(); err != nil {
		return nil, err
	}
	var out connector.Split
	switch {
	case version == 2 && kind == kindFile:
		sp := &Split{Path: d.String("path"), Version: d.String("file version"), Size: d.Int64("size"),
			Offset: d.Int64("offset"), Records: d.Int64("records")}
		if d.Err() == nil && sp.Path == "" {
			d.Fail("path", "empty")
		}
		out = sp
	case version == 1 && kind == kindFile:
		sp := &Split{Path: d.String("path"), Offset: d.Int64("offset"), Records: d.Int64("records")}
		if d.Err() == nil && !filepath.IsAbs(sp.Path) {
			d.Fail("path", "%q is not absolute", sp.Path)
		}
		out = sp
	case (version == 1 || version == 2) && kind == kindSeen:
		out = &seenSplit{paths: decodeNames(d, "")}
	case version == 1 && kind == kindS3File:
		key, etag := d.String("key"), d.String("etag")
		sp := &Split{Version: etag, Size: d.Varint("size"), Offset: d.Varint("offset"), Records: d.Varint("line")}
		if d.Err() == nil && (key == "" || sp.Size < 0 || sp.Offset < 0 || sp.Records < 0) {
			d.Fail("s3 split", "key %q, size %d, offset %d, line %d", key, sp.Size, sp.Offset, sp.Records)
		}
		sp.Path = s.s3Name(d, key)
		out = sp
	case version == 1 && kind == kindS3Seen:
		bucket := s.s3Name(d, "")
		out = &seenSplit{paths: decodeNames(d, bucket)}
	case version != 1 && version != 2:
		return nil, fmt.Errorf("%w: encoding version %d, this build reads versions 1 and 2", ErrBadSplit, version)
	default:
		return nil, fmt.Errorf("%w: unknown kind %q of version %d", ErrBadSplit, kind, version)
	}
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeNames reads a count and that many names, each prefixed with prefix.
func decodeNames(d *splitcodec.Decoder, prefix string) []string {
	n := d.Count("names", 1)
	names := make([]string, 0, n)
	for range n {
		names = append(names, prefix+d.String("name"))
	}
	return names
}

// s3Name returns the name of the key of an S3 source's split of an earlier build: the source's
// Path must be on S3, whose bucket the key is in.
func (s *Source[T]) s3Name(d *splitcodec.Decoder, key string) string {
	rest, ok := strings.CutPrefix(s.list.root, "s3://")
	if !ok {
		d.Fail("s3 split", "an S3 source's split, restored into a source of %s", s.list.root)
		return ""
	}
	bucket, _, _ := strings.Cut(rest, "/")
	return "s3://" + bucket + "/" + key
}
