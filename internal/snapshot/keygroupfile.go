package snapshot

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"path"

	"github.com/runnel-io/runnel/checkpoint"

	"github.com/runnel-io/runnel/keygroup"
)

// KeyGroupWriter writes the keyed state of one subtask as a sequence of per-key-group blobs
// into one file, and returns the KeyedState that locates each blob, so a restore at another
// parallelism reads only the key groups it owns (ReadKeyGroup). The file is the blobs back to
// back, nothing else; offsets, lengths and checksums live in the metadata.
//
// Use: create the file with Storage.Create, wrap the writer, call WriteGroup for the key groups
// of the range in increasing order (groups left out get an empty blob), then Finish, then Close
// the file. A KeyGroupWriter is not safe for concurrent use.
type KeyGroupWriter struct {
	w    io.Writer
	file string
	r    keygroup.Range
	next int // the lowest key group WriteGroup may still be called with
	off  int64
	sp   []KeyGroupSpan
	err  error
}

// NewKeyGroupWriter returns a writer of the key groups r into w. file is the name the metadata
// will reference, relative to the snapshot's directory (what goes into KeyedState.File).
func NewKeyGroupWriter(w io.Writer, file string, r keygroup.Range) *KeyGroupWriter {
	return &KeyGroupWriter{w: w, file: file, r: r, next: r.Start, sp: make([]KeyGroupSpan, 0, max(0, r.Len()))}
}

// WriteGroup writes blob as the state of key group kg. Key groups must be in the writer's range
// and increasing; it returns an error otherwise, and after any write error (which it keeps
// returning).
func (w *KeyGroupWriter) WriteGroup(kg int, blob []byte) error {
	if w.err != nil {
		return w.err
	}
	if !w.r.Contains(kg) || kg < w.next {
		return fmt.Errorf("checkpoint: key-group file %s: key group %d out of order or outside %v (next %d)", w.file, kg, w.r, w.next)
	}
	w.pad(kg)
	n, err := w.w.Write(blob)
	if err != nil {
		w.err = fmt.Errorf("checkpoint: key-group file %s: writing key group %d: %w", w.file, kg, err)
		return w.err
	}
	w.sp = append(w.sp, KeyGroupSpan{Offset: w.off, Length: int64(n), CRC: crc32.Checksum(blob, castagnoli)})
	w.off += int64(n)
	w.next = kg + 1
	return nil
}

// pad records empty blobs for the key groups before kg not written.
func (w *KeyGroupWriter) pad(kg int) {
	for ; w.next < kg; w.next++ {
		w.sp = append(w.sp, KeyGroupSpan{Offset: w.off, CRC: crc32.Checksum(nil, castagnoli)})
	}
}

// Size returns the number of bytes written so far.
func (w *KeyGroupWriter) Size() int64 { return w.off }

// Finish records empty blobs for the key groups not written and returns the KeyedState for the
// metadata, or the write error if one happened. It does not close the underlying writer.
func (w *KeyGroupWriter) Finish() (*KeyedState, error) {
	if w.err != nil {
		return nil, w.err
	}
	w.pad(w.r.End)
	return &KeyedState{Start: w.r.Start, End: w.r.End, File: w.file, Groups: w.sp}, nil
}

// ReadKeyGroup reads the blob b locates in the snapshot in dir of st, reading only its bytes
// (through RangeOpener when st has it), and checks its length and checksum. A short or damaged
// blob is an error wrapping ErrCorrupt that names the file and key group.
func ReadKeyGroup(ctx context.Context, st checkpoint.Storage, dir string, b KeyGroupBlob) ([]byte, error) {
	name := path.Join(dir, b.File)
	rc, err := checkpoint.OpenRange(ctx, st, name, b.Span.Offset, b.Span.Length)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: reading key group %d: %w", b.Group, err)
	}
	defer rc.Close()
	buf, err := readUpTo(rc, b.Span.Length)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: reading key group %d from %s: %w", b.Group, name, err)
	}
	if int64(len(buf)) != b.Span.Length {
		return nil, fmt.Errorf("%w: key group %d in %s: %d bytes at offset %d, want %d", ErrCorrupt, b.Group, name, len(buf), b.Span.Offset, b.Span.Length)
	}
	if got := crc32.Checksum(buf, castagnoli); got != b.Span.CRC {
		return nil, fmt.Errorf("%w: key group %d in %s: checksum %08x, want %08x", ErrCorrupt, b.Group, name, got, b.Span.CRC)
	}
	return buf, nil
}

// preallocLimit is the most readUpTo allocates before any byte arrives: a length from damaged
// metadata then costs at most this much before the short read shows the damage.
const preallocLimit = 64 << 20

// readUpTo reads at most n bytes of r, fewer only when r ends first. Up to preallocLimit it
// allocates n once (growing a buffer from empty cost restores two thirds of their CPU); beyond
// it, the buffer grows as bytes arrive.
func readUpTo(r io.Reader, n int64) ([]byte, error) {
	if n <= preallocLimit {
		buf := make([]byte, n)
		k, err := io.ReadFull(r, buf)
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			err = nil
		}
		return buf[:k], err
	}
	var buf bytes.Buffer
	buf.Grow(preallocLimit)
	_, err := buf.ReadFrom(io.LimitReader(r, n))
	return buf.Bytes(), err
}
