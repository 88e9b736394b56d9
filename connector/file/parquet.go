package file

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/format/parquet"
)

// ParquetSink writes records of type T as rows of Parquet part files (format/parquet), with
// the same life of a part file, committables, Committer and Recover as Sink (see the package
// documentation). Each part is a complete, self-describing Parquet file: a part rolls at every
// PreCommit, and when its row groups on disk reach RollSize. A ParquetSink is immutable and safe
// for concurrent use; each subtask gets its own Writer.
type ParquetSink[T any] struct {
	dir    string
	popts  parquet.WriterOptions
	bucket func(T, int64) string
	cfg    config
	run    string // as Sink.run
}

var (
	_ connector.Sink[struct{ A int }] = (*ParquetSink[struct{ A int }])(nil)
	_ connector.TwoPhaseCommitter     = (*ParquetSink[struct{ A int }])(nil)
)

// NewParquetSink returns a Parquet sink writing below dir, which it creates if missing. popts
// sets the compression and row-group size of the files. Of the Options, RollSize, Suffix
// (default ".parquet"), BucketBy and HourlyBuckets apply; Gzip and Delimiter are errors, since
// Parquet compresses its pages and frames its rows itself.
//
// It returns an error when T has no Parquet mapping (see format/parquet), when popts or an
// option is invalid, or when dir cannot be created.
func NewParquetSink[T any](dir string, popts parquet.WriterOptions, opts ...Option) (*ParquetSink[T], error) {
	if dir == "" {
		return nil, errors.New("file: empty output directory")
	}
	if err := parquet.CheckType[T](); err != nil {
		return nil, fmt.Errorf("file: parquet sink: %w", err)
	}
	if err := popts.Validate(); err != nil {
		return nil, fmt.Errorf("file: parquet sink: %w", err)
	}
	cfg := defaultConfig()
	cfg.suffix = ".parquet"
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.gzip || cfg.delimiter != "\n" {
		return nil, errors.New("file: parquet sink: Gzip and Delimiter do not apply to Parquet files")
	}
	bucket, err := validate[T](&cfg)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("file: output directory %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("file: creating output directory %s: %w", abs, err)
	}
	return &ParquetSink[T]{dir: abs, popts: popts, bucket: bucket, cfg: cfg, run: newRunToken()}, nil
}

// Dir returns the sink's absolute root directory.
func (s *ParquetSink[T]) Dir() string { return s.dir }

// NewWriter returns the writer of subtask sc.Subtask, after deleting the in-progress files this
// subtask left in earlier attempts, as Sink.NewWriter does.
func (s *ParquetSink[T]) NewWriter(ctx context.Context, sc connector.SinkContext) (connector.Writer[T], error) {
	log := sc.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	removed, err := removeLeftovers(ctx, s.dir, func(n partName) bool {
		return n.state == stateInProgress && n.subtask == sc.Subtask && n.attempt < sc.Attempt
	}, nil)
	for _, p := range removed {
		log.Info("file sink: removed in-progress file of an earlier attempt", "path", p, "subtask", sc.Subtask)
	}
	if err != nil {
		return nil, fmt.Errorf("file: subtask %d: removing in-progress files of earlier attempts: %w", sc.Subtask, err)
	}
	var token [4]byte
	_, _ = rand.Read(token[:])
	return &parquetWriter[T]{s: s, sc: sc,
		base: fmt.Sprintf("part-%d-%d-%s%s-", sc.Subtask, sc.Attempt, s.run, hex.EncodeToString(token[:])),
		open: map[string]*parquetPart[T]{}}, nil
}

// NewCommitter returns the Committer of this sink's committables, the same as Sink's.
func (s *ParquetSink[T]) NewCommitter(context.Context) (connector.Committer, error) {
	return &committer{dir: s.dir, run: s.run}, nil
}

// parquetWriter is one subtask's Writer. Its fields belong to the subtask's goroutine.
type parquetWriter[T any] struct {
	s      *ParquetSink[T]
	sc     connector.SinkContext
	base   string
	next   int
	open   map[string]*parquetPart[T] // by bucket
	rolled []record
}

type parquetPart[T any] struct {
	p  partFile // the part's names, file and buffered writer (no gzip)
	pw *parquet.Writer[T]
}

func (w *parquetWriter[T]) Write(_ context.Context, v T, ts int64) error {
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

func (w *parquetWriter[T]) openPart(bucket string) (*parquetPart[T], error) {
	dir, err := bucketDir(w.s.dir, bucket)
	if err != nil {
		return nil, fmt.Errorf("file: subtask %d: %w", w.sc.Subtask, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("file: subtask %d: creating bucket directory: %w", w.sc.Subtask, err)
	}
	p := &parquetPart[T]{p: partFile{dir: dir, name: w.base + strconv.Itoa(w.next)}}
	w.next++
	f, err := os.OpenFile(p.p.inProgressPath(), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("file: subtask %d: creating part file: %w", w.sc.Subtask, err)
	}
	p.p.f = f
	p.p.cw.w = f
	p.p.bw = bufio.NewWriterSize(&p.p.cw, bufferSize)
	p.p.out = p.p.bw
	if p.pw, err = parquet.NewWriter[T](p.p.bw, w.s.popts); err != nil { // checked by NewParquetSink
		_ = f.Close()
		return nil, fmt.Errorf("file: subtask %d: %w", w.sc.Subtask, err)
	}
	return p, nil
}

// roll writes p's footer, makes it durable under its pending name and queues it for the next
// PreCommit. On error it deletes p's files.
func (w *parquetWriter[T]) roll(p *parquetPart[T]) error {
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
func (w *parquetWriter[T]) PreCommit(ctx context.Context, checkpointID int64) ([]connector.Committable, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("file: subtask %d: pre-commit of checkpoint %d: %w", w.sc.Subtask, checkpointID, err)
	}
	var errs []error
	for _, b := range slices.Sorted(maps.Keys(w.open)) {
		p := w.open[b]
		delete(w.open, b)
		errs = append(errs, w.roll(p))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("file: pre-commit of checkpoint %d: %w", checkpointID, err)
	}
	cs, err := handOut(w.rolled, w.s.dir)
	if err != nil {
		return nil, fmt.Errorf("file: subtask %d: pre-commit of checkpoint %d: %w", w.sc.Subtask, checkpointID, err)
	}
	w.rolled = w.rolled[:0]
	return cs, nil
}

// Close deletes the open in-progress files and the pending files no PreCommit handed out.
func (w *parquetWriter[T]) Close() error {
	var errs []error
	remove := func(path string) {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	for b, p := range w.open {
		_ = p.p.f.Close()
		remove(p.p.inProgressPath())
		delete(w.open, b)
	}
	for _, r := range w.rolled {
		remove(r.Pending)
	}
	w.rolled = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("file: subtask %d: removing uncommitted files: %w", w.sc.Subtask, err)
	}
	return nil
}
