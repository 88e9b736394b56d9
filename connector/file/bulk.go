package file

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/format/avro"
	"github.com/runnel-io/runnel/format/parquet"
)

// BulkSink writes records of type T as part files of a format that frames and compresses its
// records itself and ends each file with something written at its close: Parquet
// (NewParquetSink) or Avro object container files (NewAvroSink). A part file has the same life,
// committables, Committer and Recover as Sink's (see the package documentation); each part is
// a complete, self-describing file: a part rolls at every PreCommit, and when its bytes on disk
// reach RollSize. A BulkSink is immutable and safe for concurrent use; each subtask gets its
// own Writer.
type BulkSink[T any] struct {
	dir     string
	format  string // "parquet", "avro": for messages
	newBulk func(io.Writer) (bulkWriter[T], error)
	bucket  func(T, int64) string
	cfg     config
	run     string // as Sink.run
}

// bulkWriter writes one part file of a BulkSink.
type bulkWriter[T any] interface {
	WriteOne(T) error
	Close() error // writes what ends the file; does not close the file
}

var (
	_ connector.Sink[struct{ A int }] = (*BulkSink[struct{ A int }])(nil)
	_ connector.TwoPhaseCommitter     = (*BulkSink[struct{ A int }])(nil)
)

// NewParquetSink returns a sink of Parquet part files (format/parquet) below dir, which it
// creates if missing. popts sets the compression and row-group size of the files. Of the
// Options, RollSize, Suffix (default ".parquet"), BucketBy and HourlyBuckets apply; Gzip and
// Delimiter are errors, since Parquet compresses its pages and frames its rows itself.
//
// It returns an error when T has no Parquet mapping (see format/parquet), when popts or an
// option is invalid, or when dir cannot be created.
func NewParquetSink[T any](dir string, popts parquet.WriterOptions, opts ...Option) (*BulkSink[T], error) {
	if err := parquet.CheckType[T](); err != nil {
		return nil, fmt.Errorf("file: parquet sink: %w", err)
	}
	if err := popts.Validate(); err != nil {
		return nil, fmt.Errorf("file: parquet sink: %w", err)
	}
	return newBulkSink(dir, "parquet", ".parquet", func(w io.Writer) (bulkWriter[T], error) {
		return parquet.NewWriter[T](w, popts)
	}, opts)
}

// NewAvroSink returns a sink of Avro object container part files (format/avro: the schema in
// each file's header, records in blocks compressed by aopts.Codec) below dir, which it creates
// if missing. The Options apply as to NewParquetSink; Suffix defaults to ".avro".
//
// It returns an error when T does not fit the schema (see format/avro), when aopts or an
// option is invalid, or when dir cannot be created.
func NewAvroSink[T any](dir string, aopts avro.FileOptions, opts ...Option) (*BulkSink[T], error) {
	if err := avro.CheckFile[T](aopts); err != nil {
		return nil, fmt.Errorf("file: avro sink: %w", err)
	}
	return newBulkSink(dir, "avro", ".avro", func(w io.Writer) (bulkWriter[T], error) {
		return avro.NewFileWriter[T](w, aopts)
	}, opts)
}

func newBulkSink[T any](dir, format, suffix string, newBulk func(io.Writer) (bulkWriter[T], error), opts []Option) (*BulkSink[T], error) {
	cfg := defaultConfig()
	cfg.suffix = suffix
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.gzip || cfg.delimiter != "\n" {
		return nil, fmt.Errorf("file: %s sink: Gzip and Delimiter do not apply to %s files, which compress and frame their records themselves", format, format)
	}
	bucket, err := validate[T](&cfg)
	if err != nil {
		return nil, err
	}
	abs, err := makeRoot(dir)
	if err != nil {
		return nil, err
	}
	return &BulkSink[T]{dir: abs, format: format, newBulk: newBulk, bucket: bucket, cfg: cfg, run: newRunToken()}, nil
}

// Dir returns the sink's absolute root directory.
func (s *BulkSink[T]) Dir() string { return s.dir }

// NewWriter returns the writer of subtask sc.Subtask, after deleting the in-progress files this
// subtask left in earlier attempts, as Sink.NewWriter does.
func (s *BulkSink[T]) NewWriter(ctx context.Context, sc connector.SinkContext) (connector.Writer[T], error) {
	base, _, err := startWriter(ctx, s.dir, s.run, sc)
	if err != nil {
		return nil, err
	}
	return &bulkFileWriter[T]{s: s, sc: sc, base: base, open: map[string]*bulkPart[T]{}}, nil
}

// NewCommitter returns the Committer of this sink's committables, the same as Sink's.
func (s *BulkSink[T]) NewCommitter(context.Context) (connector.Committer, error) {
	return &committer{dir: s.dir, run: s.run}, nil
}

// bulkFileWriter is one subtask's Writer. Its fields belong to the subtask's goroutine.
type bulkFileWriter[T any] struct {
	s      *BulkSink[T]
	sc     connector.SinkContext
	base   string
	next   int
	open   map[string]*bulkPart[T] // by bucket
	rolled []record
}

type bulkPart[T any] struct {
	p  partFile // the part's names, file and buffered writer (no gzip)
	pw bulkWriter[T]
}

func (w *bulkFileWriter[T]) Write(_ context.Context, v T, ts int64) error {
	bucket := ""
	if w.s.bucket != nil {
		bucket = w.s.bucket(v, ts)
	}
	p := w.open[bucket]
	if p == nil {
		var err error
		if p, err = w.openPart(bucket); err != nil {
			return err
		}
		w.open[bucket] = p
	}
	if err := p.pw.WriteOne(v); err != nil {
		return fmt.Errorf("file: subtask %d: writing %s: %w", w.sc.Subtask, p.p.inProgressPath(), err)
	}
	if p.p.size() >= w.s.cfg.rollSize {
		delete(w.open, bucket)
		return w.roll(p)
	}
	return nil
}

func (w *bulkFileWriter[T]) openPart(bucket string) (*bulkPart[T], error) {
	dir, err := bucketDir(w.s.dir, bucket)
	if err != nil {
		return nil, fmt.Errorf("file: subtask %d: %w", w.sc.Subtask, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("file: subtask %d: creating bucket directory: %w", w.sc.Subtask, err)
	}
	p := &bulkPart[T]{p: partFile{dir: dir, name: w.base + strconv.Itoa(w.next)}}
	w.next++
	f, err := os.OpenFile(p.p.inProgressPath(), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("file: subtask %d: creating part file: %w", w.sc.Subtask, err)
	}
	p.p.f = f
	p.p.cw.w = f
	p.p.bw = bufio.NewWriterSize(&p.p.cw, bufferSize)
	p.p.out = p.p.bw
	if p.pw, err = w.s.newBulk(p.p.bw); err != nil { // the options were checked by the sink's constructor
		_ = f.Close()
		return nil, fmt.Errorf("file: subtask %d: %w", w.sc.Subtask, err)
	}
	return p, nil
}

// roll writes the end of p's file (a Parquet footer, an Avro last block), makes it durable
// under its pending name and queues it for the next PreCommit. On error it deletes p's files.
func (w *bulkFileWriter[T]) roll(p *bulkPart[T]) error {
	err := p.pw.Close()
	if err == nil {
		err = p.p.finish()
	}
	if err != nil {
		_ = p.p.f.Close()
		_ = os.Remove(p.p.inProgressPath())
		return fmt.Errorf("file: subtask %d: %w", w.sc.Subtask, err)
	}
	w.rolled = append(w.rolled, record{Pending: p.p.pendingPath(),
		Final: filepath.Join(p.p.dir, p.p.name+w.s.cfg.suffix), Size: p.p.cw.n})
	return nil
}

// PreCommit rolls every open part and returns one committable per pending file since the
// previous PreCommit, after syncing their directories.
func (w *bulkFileWriter[T]) PreCommit(ctx context.Context, checkpointID int64) ([]connector.Committable, error) {
	return preCommitParts(ctx, w.sc.Subtask, checkpointID, w.s.dir, w.open, w.roll, &w.rolled)
}

// Close deletes the open in-progress files and the pending files no PreCommit handed out.
func (w *bulkFileWriter[T]) Close() error {
	open := make([]*partFile, 0, len(w.open))
	for _, p := range w.open {
		open = append(open, &p.p)
	}
	err := discard(w.sc.Subtask, open, w.rolled)
	clear(w.open)
	w.rolled = nil
	return err
}
