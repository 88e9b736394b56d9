package file

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/format"
	"github.com/runnel-io/runnel/format/avro"
	"github.com/runnel-io/runnel/format/parquet"
)

// reader reads the files assigned to one subtask, one at a time in assignment order. Its fields
// belong to the subtask's goroutine.
type reader[T any] struct {
	s      *Source[T]
	rc     connector.ReaderContext
	queue  []*Split // assigned, not yet opened; the reader's own copies
	cur    *openFile[T]
	noMore bool
	dec    lineDecoder[T] // the reader's decoder of a line format, without a header bound
}

// openFile is the file being read, with its position in sp.
type openFile[T any] struct {
	sp   *Split
	out  connector.SplitOutput[T]
	body io.Closer // the stream of a line format or Avro file, the ReaderAt of a Parquet file
	// line formats
	zr       io.Closer // the decompressor, if any
	sc       *bufio.Scanner
	start    int64 // byte offset of the record the scanner returned last
	consumed int64 // byte offset after it
	dec      lineDecoder[T]
	// Parquet and Avro
	pr   *parquet.Reader[T]
	ar   *avro.FileReader[T]
	rows []T
}

func (o *openFile[T]) close() {
	if o.pr != nil {
		_ = o.pr.Close()
	}
	if o.ar != nil {
		_ = o.ar.Close()
	}
	if o.zr != nil {
		_ = o.zr.Close()
	}
	if o.body != nil {
		_ = o.body.Close() // read-only: nothing to lose
	}
}

// AddSplits queues copies of splits, fresh or restored at their positions.
func (r *reader[T]) AddSplits(splits []connector.Split) {
	for _, sp := range splits {
		c := *sp.(*Split)
		r.queue = append(r.queue, &c)
	}
}

func (r *reader[T]) NoMoreSplits() { r.noMore = true }

// Read emits up to the batch size of records from the current file, going on to the next file
// when one ends. Errors name the file and position.
func (r *reader[T]) Read(ctx context.Context, out connector.ReaderOutput[T]) (connector.ReadStatus, error) {
	budget := r.s.cfg.ReadBatch
	for budget > 0 {
		if r.cur == nil {
			if len(r.queue) == 0 {
				if r.noMore {
					return connector.EndOfInput, nil
				}
				return connector.NothingAvailable, nil
			}
			sp := r.queue[0]
			cur, err := r.open(ctx, sp)
			if err != nil {
				return connector.MoreAvailable, err // sp stays queued: it is still the reader's
			}
			r.queue = r.queue[1:]
			cur.out = out.Split(sp.Path)
			r.cur = cur
		}
		var n int
		var done bool
		var err error
		switch {
		case r.cur.pr != nil:
			n, done, err = r.readParquet(budget)
		case r.cur.ar != nil:
			n, done, err = r.readAvro(budget)
		default:
			n, done, err = r.readLines(budget)
		}
		budget -= n
		if err != nil {
			return connector.MoreAvailable, err
		}
		if done {
			r.cur.close()
			out.ReleaseSplit(r.cur.sp.Path)
			r.cur = nil
		}
	}
	return connector.MoreAvailable, nil
}

// compression returns the decompressor for a path's extension, or nil.
func compression(path string) func(io.Reader) (io.ReadCloser, error) {
	switch {
	case strings.HasSuffix(path, ".gz"):
		return func(r io.Reader) (io.ReadCloser, error) { return gzip.NewReader(r) }
	case strings.HasSuffix(path, ".zst"), strings.HasSuffix(path, ".zstd"):
		return func(r io.Reader) (io.ReadCloser, error) {
			d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
			if err != nil {
				return nil, err
			}
			return d.IOReadCloser(), nil
		}
	}
	return nil
}

// open opens sp's file at sp's position. On error it leaves sp as it was.
func (r *reader[T]) open(ctx context.Context, sp *Split) (_ *openFile[T], err error) {
	o := &openFile[T]{sp: sp}
	defer func() {
		if err != nil {
			o.close()
		}
	}()
	switch {
	case r.s.format.parquet:
		return o, r.openParquet(ctx, o)
	case r.s.format.avro:
		return o, r.openAvro(ctx, o)
	}
	if r.dec == nil {
		if r.dec, err = r.s.format.newLine(); err != nil {
			return nil, fmt.Errorf("file: source: %w", err) // NewSource made one already: not reached
		}
	}
	o.dec = r.dec
	decompress := compression(sp.Path)
	header := r.s.format.withHeader != nil
	// A plain file resumes where its position is; any other is read from its start, a header
	// first whatever the position.
	from := int64(0)
	if decompress == nil && !header {
		from = sp.Offset
	}
	body, err := r.openAt(ctx, o, from)
	if err != nil {
		return nil, err
	}
	if decompress == nil {
		o.sc = r.newScanner(o, body)
	} else {
		zr, err := decompress(bufio.NewReaderSize(body, 64<<10))
		if errors.Is(err, io.EOF) { // an empty gzip file
			if sp.Records > 0 {
				return nil, fmt.Errorf("file: source: %s: position at record %d but the file is empty", sp.Path, sp.Records)
			}
			return o, nil
		}
		if err != nil {
			return nil, fmt.Errorf("file: source: %s: %w", sp.Path, err)
		}
		o.zr = zr
		o.sc = r.newScanner(o, zr)
	}
	pos := *sp
	if header {
		if !o.sc.Scan() {
			if err := o.scanErr(); err != nil {
				return nil, err
			}
			if sp.Records > 0 {
				return nil, fmt.Errorf("file: source: %s: position at record %d but the file is empty", sp.Path, sp.Records)
			}
			o.sc = nil // an empty file
			return o, nil
		}
		hd, rerr := r.s.format.withHeader(r.dec, o.sc.Bytes(), format.Position{Source: sp.Path, Line: 1, Offset: 0})
		if rerr != nil {
			return nil, rerr
		}
		o.dec = hd
		if pos.Records == 0 {
			pos.Records, pos.Offset = 1, o.consumed
		}
	}
	switch {
	case pos.Records == 0 && pos.Offset == 0, pos.Offset == o.consumed && pos.Records > 0:
		// At the position already.
	case decompress == nil:
		// Past the header of a plain file: read again from the position.
		_ = o.body.Close()
		body, err := r.openAt(ctx, o, pos.Offset)
		if err != nil {
			return nil, err
		}
		o.sc = r.newScanner(o, body)
	default:
		// Compressed: skip records up to the position, checking that the content did not
		// change (a position of an earlier S3 source recorded no offset: 0).
		skipped := int64(0)
		if header {
			skipped = 1
		}
		for ; skipped < pos.Records; skipped++ {
			if !o.sc.Scan() {
				if err := o.scanErr(); err != nil {
					return nil, err
				}
				return nil, fmt.Errorf("file: source: %s: position at record %d but the file has %d", sp.Path, pos.Records, skipped)
			}
		}
		if pos.Offset != 0 && o.consumed != pos.Offset {
			return nil, fmt.Errorf("file: source: %s: record %d ends at offset %d, the checkpoint says %d: the file changed",
				sp.Path, pos.Records, o.consumed, pos.Offset)
		}
		pos.Offset = o.consumed
	}
	*sp = pos
	return o, nil
}

// openAt opens o's file to read its content from offset.
func (r *reader[T]) openAt(ctx context.Context, o *openFile[T], offset int64) (io.Reader, error) {
	body, err := r.s.list.fs.Open(ctx, o.sp.info(), offset)
	if err != nil {
		o.body = nil
		return nil, fmt.Errorf("file: source: subtask %d: %w", r.rc.Subtask, err)
	}
	o.body = body
	o.consumed = offset
	return body, nil
}

// newScanner returns a scanner of in that records in o the offsets of the records it returns.
func (r *reader[T]) newScanner(o *openFile[T], in io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, min(64<<10, r.s.cfg.MaxRecordSize)), r.s.cfg.MaxRecordSize)
	split := r.s.format.split
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		adv, tok, err := split(data, atEOF)
		o.start = o.consumed
		o.consumed += int64(adv)
		return adv, tok, err
	})
	return sc
}

// scanErr returns the scanner's error, naming the file and position, or nil at the end.
func (o *openFile[T]) scanErr() error {
	err := o.sc.Err()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bufio.ErrTooLong):
		return fmt.Errorf("file: source: %s line %d offset %d: record longer than the maximum record size: %w",
			o.sp.Path, o.sp.Records+1, o.consumed, err)
	}
	return fmt.Errorf("file: source: reading %s after line %d offset %d: %w", o.sp.Path, o.sp.Records, o.sp.Offset, err)
}

// readLines reads up to budget records of a line format (emitted, blank or dead-lettered) and
// returns how many it read. done means the file is finished.
func (r *reader[T]) readLines(budget int) (n int, done bool, err error) {
	o := r.cur
	if o.sc == nil {
		return 0, true, nil
	}
	sp := o.sp
	for n < budget {
		if !o.sc.Scan() {
			return n, true, o.scanErr()
		}
		raw := o.sc.Bytes()
		line := sp.Records + 1
		n++ // skipped records count against the budget too, so a Read stays short
		if blank(raw) {
			sp.Records, sp.Offset = line, o.consumed
			continue
		}
		v, rerr := o.dec.Decode(raw, format.Position{Source: sp.Path, Line: line, Offset: o.start})
		if rerr != nil {
			if !errors.Is(rerr.Err, format.ErrBlank) { // blank: a JSON line of white space, skipped
				policy := format.Fail
				if r.s.cfg.DeadLetter != nil {
					policy = format.DeadLetter
				}
				if err := policy.Handle(rerr, r.s.cfg.DeadLetter); err != nil {
					return n, false, fmt.Errorf("file: source: subtask %d: %w", r.rc.Subtask, err)
				}
			}
			sp.Records, sp.Offset = line, o.consumed
			continue
		}
		o.out.Collect(v, 0)
		sp.Records, sp.Offset = line, o.consumed
	}
	return n, false, nil
}

// openParquet opens o's file as Parquet at row o.sp.Records.
func (r *reader[T]) openParquet(ctx context.Context, o *openFile[T]) error {
	if compression(o.sp.Path) != nil {
		return fmt.Errorf("file: source: %s: a compressed Parquet file cannot be read (Parquet compresses its pages)", o.sp.Path)
	}
	ra, err := r.s.list.fs.OpenReaderAt(ctx, o.sp.info())
	if err != nil {
		return fmt.Errorf("file: source: subtask %d: %w", r.rc.Subtask, err)
	}
	o.body = ra
	pr, err := parquet.NewReader[T](ra, ra.Size(), o.sp.Path)
	if err != nil {
		return fmt.Errorf("file: source: %w", err)
	}
	o.pr = pr
	if o.sp.Records > 0 {
		if err := pr.SeekToRow(o.sp.Records); err != nil {
			return fmt.Errorf("file: source: %w", err)
		}
	}
	return nil
}

// readParquet emits up to budget rows of a Parquet file.
func (r *reader[T]) readParquet(budget int) (n int, done bool, err error) {
	o := r.cur
	if o.rows == nil {
		o.rows = make([]T, r.s.cfg.ReadBatch)
	}
	rows := o.rows[:budget]
	n, err = o.pr.Read(rows)
	for i := range n {
		o.out.Collect(rows[i], 0)
	}
	clear(rows[:n]) // the library may write into slices left in rows: the emitted rows own theirs
	o.sp.Records += int64(n)
	if errors.Is(err, io.EOF) {
		return n, true, nil
	}
	if err != nil {
		return n, false, fmt.Errorf("file: source: subtask %d: %w", r.rc.Subtask, err)
	}
	return n, o.sp.Records >= o.pr.NumRows(), nil
}

// openAvro opens o's file as an Avro container file at record o.sp.Records.
func (r *reader[T]) openAvro(ctx context.Context, o *openFile[T]) error {
	if compression(o.sp.Path) != nil {
		return fmt.Errorf("file: source: %s: a compressed Avro file cannot be read (Avro compresses its blocks)", o.sp.Path)
	}
	body, err := r.s.list.fs.Open(ctx, o.sp.info(), 0)
	if err != nil {
		return fmt.Errorf("file: source: subtask %d: %w", r.rc.Subtask, err)
	}
	o.body = body
	ar, err := avro.NewFileReader[T](bufio.NewReaderSize(body, 64<<10), o.sp.Path)
	if err != nil {
		return fmt.Errorf("file: source: %w", err)
	}
	o.ar = ar
	if err := ar.Skip(o.sp.Records); err != nil {
		return fmt.Errorf("file: source: %w", err)
	}
	return nil
}

// readAvro emits up to budget records of an Avro file.
func (r *reader[T]) readAvro(budget int) (n int, done bool, err error) {
	o := r.cur
	if o.rows == nil {
		o.rows = make([]T, r.s.cfg.ReadBatch)
	}
	rows := o.rows[:budget]
	n, err = o.ar.Read(rows)
	for i := range n {
		o.out.Collect(rows[i], 0)
	}
	clear(rows[:n])
	o.sp.Records += int64(n)
	if errors.Is(err, io.EOF) {
		return n, true, nil
	}
	if err != nil {
		return n, false, fmt.Errorf("file: source: subtask %d: %w", r.rc.Subtask, err)
	}
	return n, false, nil
}

// Snapshot returns copies of the unfinished files at their positions: the file being read at
// the position after the last record emitted, and the queued ones.
func (r *reader[T]) Snapshot(int64) ([]connector.Split, error) {
	out := make([]connector.Split, 0, len(r.queue)+1)
	if r.cur != nil {
		c := *r.cur.sp
		out = append(out, &c)
	}
	for _, sp := range r.queue {
		c := *sp
		out = append(out, &c)
	}
	return out, nil
}

// Close closes the open file.
func (r *reader[T]) Close() error {
	if r.cur != nil {
		r.cur.close()
		r.cur = nil
	}
	return nil
}
