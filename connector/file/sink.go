package file

import (
	"cmp"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/filesystem"
	"github.com/runnel-io/runnel/format/avro"
	"github.com/runnel-io/runnel/format/parquet"
)

// Defaults of SinkConfig.
const (
	// DefaultRollSize is the part-file size at which a writer rolls to a new part file.
	DefaultRollSize = 128 << 20
	// DefaultSuffix is the suffix of the part files of NewSink.
	DefaultSuffix = ".jsonl"
	// DefaultParquetSuffix is the suffix of the part files of NewParquetSink.
	DefaultParquetSuffix = ".parquet"
	// DefaultAvroSuffix is the suffix of the part files of NewAvroSink.
	DefaultAvroSuffix = ".avro"
)

// SinkConfig configures a Sink of records of type T. Dir is required, and Encode for NewSink;
// the zero value of every other field means the default it documents.
type SinkConfig[T any] struct {
	// FS is the file system the part files are written to. Default: filesystem.Local{}.
	FS filesystem.FS
	// Dir is the directory below which the sink writes, as FS.Resolve accepts it: a local
	// path (made absolute) or an "s3://bucket/prefix" URL on connector/s3's FS. Required.
	Dir string
	// Encode appends one encoded record to dst, its delimiter included (format/json's and
	// format/csv's encoders end rows with '\n'), and returns the extended slice. The sink owns
	// dst and reuses it, so Encode must not keep it. It is called from the subtasks'
	// goroutines concurrently. Required by NewSink; NewParquetSink and NewAvroSink refuse it,
	// their formats encode records themselves.
	Encode func(dst []byte, v T) []byte
	// Bucket returns the bucket of a record: a relative, slash-separated path below Dir, such
	// as "country=fr" or "dt=2026-01-01/hour=05" ("" is Dir itself), without empty, "." or ".."
	// elements, or the write fails. Hourly[T] buckets by the UTC hour of the timestamp. It is
	// called from the subtasks' goroutines concurrently. Default nil: every record in Dir.
	Bucket func(v T, ts int64) string
	// RollSize makes a writer roll to a new part file once the current one holds at least this
	// many bytes (compressed bytes with Gzip, which lag the input by the compressor's buffer).
	// Writers also roll at every checkpoint whatever the size. Default DefaultRollSize
	// (128 MiB).
	RollSize int64
	// RollInterval makes a writer roll a part file that has been open this long when the next
	// record arrives for it. Default 0: no time-based rolling.
	RollInterval time.Duration
	// Suffix is the suffix of committed part files, such as ".jsonl" or ".csv"; with Gzip,
	// ".gz" is appended. It must not contain a path separator. Default DefaultSuffix for
	// NewSink, DefaultParquetSuffix and DefaultAvroSuffix for the others.
	Suffix string
	// Gzip compresses each part file of NewSink as one gzip stream, at GzipLevel
	// (gzip.BestSpeed ... gzip.BestCompression, gzip.HuffmanOnly; 0 is
	// gzip.DefaultCompression). Default false.
	Gzip      bool
	GzipLevel int
	// Clock is what RollInterval measures with. Default: the wall clock.
	Clock eventtime.Clock
}

// Validate reports whether c is usable (Encode aside, which the constructors check): a Dir the
// FS resolves, RollSize and RollInterval not negative, a Suffix without path separators that
// does not hide part files, and a valid GzipLevel.
func (c SinkConfig[T]) Validate() error {
	_, err := c.resolve()
	return err
}

// resolve validates c and returns its directory's name.
func (c SinkConfig[T]) resolve() (string, error) {
	switch {
	case c.RollSize < 0:
		return "", fmt.Errorf("file: sink: roll size %d is negative", c.RollSize)
	case c.RollInterval < 0:
		return "", fmt.Errorf("file: sink: roll interval %v is negative", c.RollInterval)
	case strings.ContainsAny(c.Suffix, `/\`):
		return "", fmt.Errorf("file: sink: suffix %q contains a path separator", c.Suffix)
	case strings.HasSuffix(c.Suffix, ".inprogress") || strings.HasSuffix(c.Suffix, ".pending"):
		return "", fmt.Errorf("file: sink: suffix %q would hide committed files", c.Suffix)
	case c.GzipLevel != 0 && (c.GzipLevel < gzip.HuffmanOnly || c.GzipLevel > gzip.BestCompression):
		return "", fmt.Errorf("file: sink: invalid gzip level %d", c.GzipLevel)
	case c.Dir == "":
		return "", errors.New("file: sink: empty Dir")
	}
	dir, err := c.fs().Resolve(c.Dir)
	if err != nil {
		return "", fmt.Errorf("file: sink: %w", err)
	}
	return dir, nil
}

func (c SinkConfig[T]) fs() filesystem.FS {
	if c.FS == nil {
		return filesystem.Local{}
	}
	return c.FS
}

// Sink writes records of type T as part files below a directory of a file system, exactly once
// when its committables are committed by checkpoints (see the package documentation): rows of
// a line format (NewSink), or Parquet (NewParquetSink) or Avro container files (NewAvroSink). A
// Sink is immutable and safe for concurrent use; each subtask gets its own Writer.
type Sink[T any] struct {
	fs     filesystem.FS
	dir    string
	cfg    SinkConfig[T] // with defaults
	suffix string        // with ".gz" when compressed
	run    string        // random hex drawn once; starts the token of every part name (see committer)
	format string        // "lines", "parquet", "avro": for messages
	// newPart makes the encoder of one part file writing to w.
	newPart func(w io.Writer) (partEncoder[T], error)
}

// partEncoder writes the records of one part file.
type partEncoder[T any] interface {
	WriteOne(v T) error
	Close() error // writes what ends the file (a gzip trailer, a Parquet footer, an Avro last block); does not close w
}

var (
	_ connector.Sink[int]         = (*Sink[int])(nil)
	_ connector.TwoPhaseCommitter = (*Sink[int])(nil)
	_ connector.Writer[int]       = (*writer[int])(nil)
	_ connector.Committer         = (*committer)(nil)
)

// NewSink returns a sink writing the rows cfg.Encode makes into part files below cfg.Dir. It
// does no I/O: the writers create what they need. It returns an error if cfg is invalid or
// Encode is nil.
func NewSink[T any](cfg SinkConfig[T]) (*Sink[T], error) {
	if cfg.Encode == nil {
		return nil, errors.New("file: sink: nil Encode function")
	}
	level := cmp.Or(cfg.GzipLevel, gzip.DefaultCompression)
	encode := cfg.Encode
	return newSink(cfg, "lines", DefaultSuffix, func(w io.Writer) (partEncoder[T], error) {
		e := &lineEncoder[T]{encode: encode, w: w}
		if cfg.Gzip {
			e.gz, _ = gzip.NewWriterLevel(w, level) // the level was validated
			e.w = e.gz
		}
		return e, nil
	})
}

// NewParquetSink returns a sink of Parquet part files (format/parquet) below cfg.Dir; popts sets
// the compression and row-group size of the files, and each part is one complete,
// self-describing file. cfg.Encode and cfg.Gzip are errors, since Parquet encodes and
// compresses its pages itself; Suffix defaults to DefaultParquetSuffix.
//
// It returns an error when T has no Parquet mapping (see format/parquet), or popts or cfg is
// invalid.
func NewParquetSink[T any](cfg SinkConfig[T], popts parquet.WriterOptions) (*Sink[T], error) {
	if err := parquet.CheckType[T](); err != nil {
		return nil, fmt.Errorf("file: parquet sink: %w", err)
	}
	if err := popts.Validate(); err != nil {
		return nil, fmt.Errorf("file: parquet sink: %w", err)
	}
	if err := checkBulk(cfg, "parquet"); err != nil {
		return nil, err
	}
	return newSink(cfg, "parquet", DefaultParquetSuffix, func(w io.Writer) (partEncoder[T], error) {
		return parquet.NewWriter[T](w, popts)
	})
}

// NewAvroSink returns a sink of Avro object container part files (format/avro: the schema in
// each file's header, records in blocks compressed by aopts.Codec) below cfg.Dir. cfg applies
// as to NewParquetSink; Suffix defaults to DefaultAvroSuffix.
//
// It returns an error when T does not fit the schema (see format/avro), or aopts or cfg is
// invalid.
func NewAvroSink[T any](cfg SinkConfig[T], aopts avro.FileOptions) (*Sink[T], error) {
	if err := avro.CheckFile[T](aopts); err != nil {
		return nil, fmt.Errorf("file: avro sink: %w", err)
	}
	if err := checkBulk(cfg, "avro"); err != nil {
		return nil, err
	}
	return newSink(cfg, "avro", DefaultAvroSuffix, func(w io.Writer) (partEncoder[T], error) {
		return avro.NewFileWriter[T](w, aopts)
	})
}

func checkBulk[T any](cfg SinkConfig[T], format string) error {
	if cfg.Encode != nil || cfg.Gzip {
		return fmt.Errorf("file: %s sink: Encode and Gzip do not apply to %s files, which encode and compress their records themselves", format, format)
	}
	return nil
}

func newSink[T any](cfg SinkConfig[T], format, suffix string, newPart func(io.Writer) (partEncoder[T], error)) (*Sink[T], error) {
	dir, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	cfg.RollSize = cmp.Or(cfg.RollSize, DefaultRollSize)
	cfg.Suffix = cmp.Or(cfg.Suffix, suffix)
	if cfg.Clock == nil {
		cfg.Clock = eventtime.RealClock()
	}
	s := &Sink[T]{fs: cfg.fs(), dir: dir, cfg: cfg, suffix: cfg.Suffix, run: newRunToken(), format: format, newPart: newPart}
	if cfg.Gzip {
		s.suffix += ".gz"
	}
	return s, nil
}

// newRunToken returns runTokenLen random hex characters.
func newRunToken() string {
	var b [runTokenLen / 2]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand crashes the program instead)
	return hex.EncodeToString(b[:])
}

// Dir returns the name of the sink's directory: absolute for a local one.
func (s *Sink[T]) Dir() string { return s.dir }

// NewWriter returns the writer of subtask sc.Subtask. It first aborts the in-progress files
// this subtask left in earlier attempts (sc.Attempt lower than now) where the file system can
// tell them (see the package documentation); listing them also checks that the directory can be
// reached, so a wrong endpoint, bucket or permission fails here. It returns an error if that
// fails.
func (s *Sink[T]) NewWriter(ctx context.Context, sc connector.SinkContext) (connector.Writer[T], error) {
	w, err := s.newWriter(ctx, sc)
	if err != nil {
		return nil, err
	}
	return w, nil
}

// NewCommitter returns a Committer for the committables of this sink's writers. Besides
// committing, it aborts the uncommitted files that failed attempts of this job run left behind
// (see the package documentation). It never fails.
func (s *Sink[T]) NewCommitter(context.Context) (connector.Committer, error) {
	return &committer{fs: s.fs, dir: s.dir, run: s.run}, nil
}

// lineEncoder writes the rows of a line format, through gzip if configured.
type lineEncoder[T any] struct {
	encode func(dst []byte, v T) []byte
	w      io.Writer // gz, or the part file
	gz     *gzip.Writer
	row    []byte
}

func (e *lineEncoder[T]) WriteOne(v T) error {
	e.row = e.encode(e.row[:0], v)
	_, err := e.w.Write(e.row)
	return err
}

func (e *lineEncoder[T]) Close() error {
	if e.gz != nil {
		return e.gz.Close()
	}
	return nil
}
