package snapshot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"

	"github.com/runnel-io/runnel/checkpoint"
)

// The metadata file format. A file is a header line, then a body:
//
//	runnel-checkpoint v<version> <fields>\n
//	<body>
//
// The first two words of the header never change, so any build can tell a metadata file and
// its version apart from garbage. Version 1: fields is "crc32c=<8 hex digits>", the CRC-32
// (Castagnoli) of the body, and the body is the Metadata as JSON.
const (
	// FormatVersion is the metadata format version this build writes and reads.
	FormatVersion = 1
	formatMagic   = "runnel-checkpoint"
	// maxMetadataSize bounds what ReadMetadata reads, against garbage posing as metadata.
	maxMetadataSize = 256 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// EncodeMetadata returns m in the current format (FormatVersion), after checking it with
// Validate.
func EncodeMetadata(m *Metadata) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("checkpoint: encoding metadata of snapshot %d: %w", m.ID, err)
	}
	body = append(body, '\n')
	header := fmt.Sprintf("%s v%d crc32c=%08x\n", formatMagic, FormatVersion, crc32.Checksum(body, castagnoli))
	return append([]byte(header), body...), nil
}

// DecodeMetadata parses a metadata file. It returns an error wrapping ErrUnsupportedVersion
// for a version other than FormatVersion (the message names both), and one wrapping ErrCorrupt
// for anything that is not a well-formed, checksummed, valid metadata file. It never panics.
func DecodeMetadata(data []byte) (*Metadata, error) {
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 || nl > 256 {
		return nil, fmt.Errorf("%w: no metadata header line", ErrCorrupt)
	}
	fields := strings.Fields(string(data[:nl]))
	body := data[nl+1:]
	if len(fields) < 2 || fields[0] != formatMagic || !strings.HasPrefix(fields[1], "v") {
		return nil, fmt.Errorf("%w: not a Runnel checkpoint metadata file (header %.40q)", ErrCorrupt, data[:nl])
	}
	version, err := strconv.Atoi(fields[1][1:])
	if err != nil {
		return nil, fmt.Errorf("%w: bad format version %q", ErrCorrupt, fields[1])
	}
	switch {
	case version == 1:
		return decodeV1(fields[2:], body)
	case version > FormatVersion:
		return nil, fmt.Errorf("%w: found version %d, this build reads version %d only (the snapshot was written by a newer Runnel)", ErrUnsupportedVersion, version, FormatVersion)
	default:
		return nil, fmt.Errorf("%w: found version %d, this build reads version %d only (the snapshot was written by an older Runnel: restore it with a version that reads both and take a new savepoint)", ErrUnsupportedVersion, version, FormatVersion)
	}
}

func decodeV1(fields []string, body []byte) (*Metadata, error) {
	if len(fields) != 1 || !strings.HasPrefix(fields[0], "crc32c=") {
		return nil, fmt.Errorf("%w: version 1 header wants one crc32c field, has %q", ErrCorrupt, fields)
	}
	want, err := strconv.ParseUint(strings.TrimPrefix(fields[0], "crc32c="), 16, 32)
	if err != nil {
		return nil, fmt.Errorf("%w: bad checksum field %q", ErrCorrupt, fields[0])
	}
	if got := crc32.Checksum(body, castagnoli); got != uint32(want) {
		return nil, fmt.Errorf("%w: checksum mismatch (header %08x, body %08x)", ErrCorrupt, want, got)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var m Metadata
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: version 1 body: %w", ErrCorrupt, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: version 1 body: data after the metadata", ErrCorrupt)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return &m, nil
}

// WriteMetadata writes m as the metadata file of the snapshot in dir (dir/_metadata), which
// completes the snapshot: write it after every other file of the snapshot is durable (every
// task acknowledged). The file appears atomically or not at all.
func WriteMetadata(ctx context.Context, st checkpoint.Storage, dir string, m *Metadata) error {
	data, err := EncodeMetadata(m)
	if err != nil {
		return err
	}
	if err := checkpoint.WriteFile(ctx, st, MetadataPath(dir), data); err != nil {
		return fmt.Errorf("checkpoint: writing metadata of snapshot %d: %w", m.ID, err)
	}
	return nil
}

// ReadMetadata reads the metadata of the snapshot in dir. Errors are those of Storage.Open
// (wrapping fs.ErrNotExist if the snapshot is incomplete or missing) and DecodeMetadata, and
// name the file.
func ReadMetadata(ctx context.Context, st checkpoint.Storage, dir string) (*Metadata, error) {
	name := MetadataPath(dir)
	data, err := checkpoint.ReadFile(ctx, st, name, maxMetadataSize)
	if err != nil {
		return nil, err
	}
	m, err := DecodeMetadata(data)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: reading %s: %w", name, err)
	}
	return m, nil
}
