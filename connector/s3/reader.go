package s3

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/zstd"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/format"
)

// NewReader implements connector.Source.
func (s *Source[T]) NewReader(rc connector.ReaderContext) (connector.Reader[T], error) {
	log := rc.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &reader[T]{src: s, rc: rc, log: log}, nil
}

// reader reads the objects assigned to one subtask, one at a time, in assignment order. Its
// fields belong to the subtask's goroutine.
type reader[T any] struct {
	src    *Source[T]
	rc     connector.ReaderContext
	log    *slog.Logger
	queue  []*Split
	cur    *openObject
	noMore bool
	line   []byte // scratch for lines longer than the read buffer
	rows   []T    // scratch for Parquet rows
}

// openObject is the object being read.
type openObject struct {
	sp      *Split
	where   string // "s3://bucket/key", the Source of positions
	comp    compression
	body    io.ReadCloser
	dec     io.Reader // decompressed stream (body itself for plain objects)
	closer  func()    // closes the decompressor, if any
	br      *bufio.Reader
	records any             // the rowReader[T] of a Parquet or Avro object: *parquet.Reader[T], *avro.FileReader[T]
	ra      *objectReaderAt // the Parquet reader's input, given each Read's context
}

func (o *openObject) close() {
	if o.closer != nil {
		o.closer()
	}
	if o.body != nil {
		_ = o.body.Close()
	}
}

// AddSplits queues splits, fresh or restored with their positions; it keeps copies.
func (r *reader[T]) AddSplits(splits []connector.Split) {
	for _, sp := range splits {
		if o, ok := sp.(*Split); ok {
			c := *o
			r.queue = append(r.queue, &c)
		}
	}
}

// NoMoreSplits says no further splits will come.
func (r *reader[T]) NoMoreSplits() { r.noMore = true }

// Read emits up to the batch size of lines from the current object, moving on to the next
// one when an object ends. It blocks while S3 answers a GET and while the response streams in.
func (r *reader[T]) Read(ctx context.Context, out connector.ReaderOutput[T]) (connector.ReadStatus, error) {
	budget := r.src.cfg.batch
	for budget > 0 {
		if r.cur == nil {
			if len(r.queue) == 0 {
				break
			}
			sp := r.queue[0]
			r.queue = r.queue[1:]
			o, err := r.open(ctx, sp)
			if err != nil {
				r.queue = append([]*Split{sp}, r.queue...) // still ours, for a snapshot
				return 0, err
			}
			if o == nil { // nothing left to read
				out.ReleaseSplit(sp.Key)
				continue
			}
			r.cur = o
		}
		read := r.readLines
		switch {
		case r.src.parquet:
			read = r.readRows
			r.cur.ra.ctx = ctx
		case r.src.avro:
			read = r.readRows
		}
		n, done, err := read(out.Split(r.cur.sp.Key), budget)
		budget -= n
		if err != nil {
			return 0, err
		}
		if done {
			r.cur.close()
			out.ReleaseSplit(r.cur.sp.Key)
			r.cur = nil
		}
	}
	switch {
	case r.cur != nil || len(r.queue) > 0:
		return connector.MoreAvailable, nil
	case r.noMore:
		return connector.EndOfInput, nil
	}
	return connector.NothingAvailable, nil
}

// open starts reading sp at its position: a ranged GET from Offset for plain objects, a GET of
// the whole object and skipping Line lines for compressed ones. It returns nil, nil when a
// plain object has nothing left after Offset.
func (r *reader[T]) open(ctx context.Context, sp *Split) (*openObject, error) {
	s := r.src
	o := &openObject{sp: sp, where: "s3://" + s.loc.bucket + "/" + sp.Key, comp: compressionOf(sp.Key)}
	if s.parquet {
		if err := r.openParquet(ctx, o); err != nil {
			return nil, err
		}
		return o, nil
	}
	if s.avro {
		if err := r.openAvro(ctx, o); err != nil {
			return nil, err
		}
		return o, nil
	}
	in := &s3.GetObjectInput{Bucket: aws.String(s.loc.bucket), Key: aws.String(sp.Key)}
	if sp.ETag != "" {
		in.IfMatch = aws.String(sp.ETag)
	}
	if o.comp == plain && sp.Offset > 0 {
		if sp.Offset >= sp.Size {
			return nil, nil
		}
		in.Range = aws.String("bytes=" + strconv.FormatInt(sp.Offset, 10) + "-")
	}
	res, err := s.cl.GetObject(ctx, in)
	if err != nil {
		if isCode(err, "PreconditionFailed") {
			return nil, fmt.Errorf("s3: source subtask %d: %s changed since it was listed (ETag %s); not reading another version: %w",
				r.rc.Subtask, s.cl.where(s.loc.bucket, sp.Key), sp.ETag, err)
		}
		return nil, fmt.Errorf("s3: source subtask %d: reading %s from offset %d: %w",
			r.rc.Subtask, s.cl.where(s.loc.bucket, sp.Key), sp.Offset, err)
	}
	o.body = res.Body
	switch o.comp {
	case plain:
		o.dec = res.Body
	case gzipped:
		gz, err := gzip.NewReader(res.Body)
		if err != nil && !errors.Is(err, io.EOF) {
			o.close()
			return nil, fmt.Errorf("s3: source subtask %d: %s: not a gzip stream: %w", r.rc.Subtask, o.where, err)
		}
		if err == nil {
			o.dec, o.closer = gz, func() { _ = gz.Close() }
		} else {
			o.dec = eofReader{} // an empty object
		}
	case zstded:
		zr, err := zstd.NewReader(res.Body, zstd.WithDecoderConcurrency(1))
		if err != nil {
			o.close()
			return nil, fmt.Errorf("s3: source subtask %d: %s: zstd: %w", r.rc.Subtask, o.where, err)
		}
		o.dec, o.closer = zr, zr.Close
	}
	o.br = bufio.NewReaderSize(o.dec, 64<<10)
	if o.comp != plain {
		for i := range sp.Line {
			if _, err := r.readLine(o); err != nil {
				o.close()
				if errors.Is(err, io.EOF) {
					err = fmt.Errorf("the object has only %d lines", i)
				}
				return nil, fmt.Errorf("s3: source subtask %d: %s: skipping the %d lines read before the restore: %w",
					r.rc.Subtask, o.where, sp.Line, err)
			}
		}
	}
	return o, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// readLine returns the next line with its line end; the slice is valid until the next call.
// At the end of the object it returns the last, unterminated line if any, then io.EOF.
func (r *reader[T]) readLine(o *openObject) ([]byte, error) {
	b, err := o.br.ReadSlice('\n')
	if err == nil || (errors.Is(err, io.EOF) && len(b) > 0) {
		return b, nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	r.line = append(r.line[:0], b...)
	for {
		b, err = o.br.ReadSlice('\n')
		r.line = append(r.line, b...)
		switch {
		case err == nil, errors.Is(err, io.EOF):
			return r.line, nil
		case !errors.Is(err, bufio.ErrBufferFull):
			return nil, err
		}
	}
}

// readLines emits up to max lines of the current object; done reports its end.
func (r *reader[T]) readLines(out connector.SplitOutput[T], max int) (n int, done bool, err error) {
	o := r.cur
	sp := o.sp
	s := r.src
	for n < max {
		raw, err := r.readLine(o)
		if errors.Is(err, io.EOF) {
			return n, true, nil
		}
		if err != nil {
			return n, false, fmt.Errorf("s3: source subtask %d: reading %s at line %d offset %d: %w",
				r.rc.Subtask, o.where, sp.Line+1, sp.Offset, err)
		}
		pos := format.Position{Source: o.where, Line: sp.Line + 1, Offset: -1}
		if o.comp == plain {
			pos.Offset = sp.Offset
			sp.Offset += int64(len(raw))
		}
		sp.Line++
		n++
		line := trimEOL(raw)
		if len(line) == 0 {
			continue
		}
		v, derr := s.decode(line)
		if derr == nil {
			out.Collect(v, 0)
			continue
		}
		if errors.Is(derr, format.ErrBlank) { // a JSON line of white space: skipped like an empty one
			continue
		}
		var rerr *format.RecordError
		if errors.As(derr, &rerr) {
			rerr.Position = pos
			if rerr.Raw == nil {
				rerr.Raw = append([]byte(nil), line...)
			}
		} else {
			rerr = format.NewRecordError("", pos, "", line, derr)
		}
		if err := s.cfg.policy.Handle(rerr, s.cfg.deadLetter); err != nil {
			return n, false, fmt.Errorf("s3: source subtask %d: %w", r.rc.Subtask, err)
		}
	}
	return n, false, nil
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

// Snapshot returns copies of the unfinished splits with their positions: the next line's
// offset (plain) or the number of lines consumed (compressed).
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

// Close closes the object being read.
func (r *reader[T]) Close() error {
	if r.cur != nil {
		r.cur.close()
		r.cur = nil
	}
	return nil
}
