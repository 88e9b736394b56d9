package file

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/format"
)

// Source reads records of type T from the files below a directory, or matching a glob, once
// (bounded) or, with Monitor, watching for new files (unbounded). A Source is immutable and safe
// for concurrent use.
//
// # Splits and positions
//
// Each file is one Split, read by one reader from start to end, its id the absolute path. The
// position is where the next record starts: for a plain JSON-lines or CSV file the byte offset
// (a restored reader seeks there); for a gzip or Zstandard file the number of records read (a
// restored reader decompresses from the start and skips them, checking that they end at the
// recorded decompressed offset); for a Parquet file the row index (a restored reader seeks to
// the row group and page holding it). Positions advance after each record is emitted, so a
// checkpoint between two Reads holds exactly the records emitted so far. The split encoding is
// versioned (see EncodeSplit).
//
// # Which files are read, across restores
//
// The enumerator lists the files at the start (and, with Monitor, every interval), makes a split
// of every file it has not seen before, and hands the splits to the readers round robin. It
// remembers every path it made a split of, and its checkpoint holds that record (one extra,
// never-assigned split) beside the splits not yet assigned. At a checkpoint a file is thus in
// exactly one of: the enumerator's unassigned splits, a reader's splits (assigned, unfinished,
// at its position), or neither (finished); and it is in the record in all three cases. A
// restored enumerator takes the record and the unassigned splits, the runtime hands the readers'
// splits back to the new readers (at any parallelism), and files already finished are never
// read again, because discovery skips recorded paths. The record grows by one path per file;
// jobs monitoring a directory that receives millions of files should move read files away and
// start from a savepoint now and then.
//
// A bounded source lists once: a restored bounded job reads the files of its first listing
// only. Files must not change once visible: write them under a hidden name ('.' or '_' prefix)
// and rename them into place, as the file sink does. A file that disappears before it is read
// fails the job.
//
// # Malformed records
//
// A line or CSV record that does not decode is a *format.RecordError naming the file, the
// line (record number, a CSV header counting as line 1), the byte offset (in the decompressed
// content) and the reason. By default it fails the job (format.Fail); with DeadLetter it goes to
// the dead-letter function and reading goes on. Empty lines are skipped, and so are JSON lines
// of white space only (a decoder error wrapping format.ErrBlank); they still count as lines.
type Source[T any] struct {
	root    string // absolute directory, or absolute glob pattern
	glob    bool
	format  Format[T]
	cfg     sourceConfig
	monitor bool
}

var (
	_ connector.Source[int] = (*Source[int])(nil)
	_ connector.SplitCodec  = (*Source[int])(nil)
	_ connector.Reader[int] = (*reader[int])(nil)
	_ connector.Enumerator  = (*enumerator)(nil)
	_ connector.Discoverer  = (*monitoringEnumerator)(nil)
	_ connector.Split       = (*Split)(nil)
	_ connector.Split       = (*seenSplit)(nil)
)

// SourceOption configures a Source.
type SourceOption func(*sourceConfig)

type sourceConfig struct {
	monitor    time.Duration // 0: bounded
	deadLetter func(*format.RecordError) error
	batch      int
	maxRecord  int
}

// DefaultReadBatch is the number of records a reader emits per Read at most.
const DefaultReadBatch = 1024

// DefaultMaxRecordSize is the size of the largest line or CSV record a source reads.
const DefaultMaxRecordSize = 16 << 20

// Monitor makes the source unbounded: besides the files present at the start, it lists the
// directory or glob every interval and reads each new file once. The default is to read the
// files present at the start and end. interval must be positive.
func Monitor(interval time.Duration) SourceOption {
	return func(c *sourceConfig) { c.monitor = interval }
}

// DeadLetter sets the malformed-record policy to format.DeadLetter: a line or CSV record that
// does not decode is handed to fn, with its file, line, byte offset and raw bytes, and reading
// goes on; an error from fn fails the job. fn is called from the readers' goroutines
// concurrently and owns its argument. By default (format.Fail) the first malformed record fails
// the job with a *format.RecordError naming the file, line, offset and reason. Dead letters are
// at least once: records read after the last completed checkpoint are read, and dead-lettered,
// again after a restore. Parquet files have
// no records to skip: an unreadable Parquet file always fails the job.
func DeadLetter(fn func(*format.RecordError) error) SourceOption {
	return func(c *sourceConfig) { c.deadLetter = fn }
}

// ReadBatch sets how many records a reader emits per Read at most; the default is
// DefaultReadBatch. n must be positive.
func ReadBatch(n int) SourceOption { return func(c *sourceConfig) { c.batch = n } }

// MaxRecordSize sets the size in bytes of the longest line or CSV record the source reads; a
// longer one fails the job naming the file and offset. The default is DefaultMaxRecordSize. n
// must be positive.
func MaxRecordSize(n int) SourceOption { return func(c *sourceConfig) { c.maxRecord = n } }

// NewSource returns a source of the files below the directory path (recursively), or of the
// files matching the glob pattern path (filepath.Match syntax), decoded by f. Names starting with
// '.' or '_' are skipped, files and directories alike, so a file sink's uncommitted parts are never
// read. Compression is chosen per file by its extension: ".gz" is gzip, ".zst" or ".zstd" is
// Zstandard (line formats only).
//
// NewSource returns an error when an option is invalid, when f's decoder cannot be made for T
// (see JSONLines, CSV and Parquet) and when path is neither an existing directory nor a valid
// pattern.
func NewSource[T any](path string, f Format[T], opts ...SourceOption) (*Source[T], error) {
	cfg := sourceConfig{batch: DefaultReadBatch, maxRecord: DefaultMaxRecordSize}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case path == "":
		return nil, errors.New("file: source: empty path")
	case f.name == "":
		return nil, errors.New("file: source: zero Format (use JSONLines, CSV or Parquet)")
	case cfg.monitor < 0:
		return nil, fmt.Errorf("file: source: monitor interval %v is negative", cfg.monitor)
	case cfg.batch <= 0:
		return nil, fmt.Errorf("file: source: read batch %d is not positive", cfg.batch)
	case cfg.maxRecord <= 0:
		return nil, fmt.Errorf("file: source: max record size %d is not positive", cfg.maxRecord)
	}
	if f.newLine != nil {
		if _, err := f.newLine(); err != nil {
			return nil, fmt.Errorf("file: source: %w", err)
		}
	}
	if f.check != nil {
		if err := f.check(); err != nil {
			return nil, fmt.Errorf("file: source: %w", err)
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("file: source %s: %w", path, err)
	}
	s := &Source[T]{root: abs, format: f, cfg: cfg, monitor: cfg.monitor > 0}
	if st, err := os.Stat(abs); err == nil && st.IsDir() {
		return s, nil
	}
	if _, err := filepath.Match(abs, ""); err != nil {
		return nil, fmt.Errorf("file: source: bad pattern %q: %w", path, err)
	}
	if !strings.ContainsAny(path, `*?[\`) {
		if _, err := os.Stat(abs); err != nil && !s.monitor {
			return nil, fmt.Errorf("file: source: %w", err)
		}
	}
	s.glob = true
	return s, nil
}

// Boundedness implements connector.Source: Unbounded with Monitor, else Bounded.
func (s *Source[T]) Boundedness() connector.Boundedness {
	if s.monitor {
		return connector.Unbounded
	}
	return connector.Bounded
}

// hidden reports whether a file or directory name is skipped.
func hidden(name string) bool { return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") }

// list returns the absolute paths of the source's files, sorted.
func (s *Source[T]) list() ([]string, error) {
	var out []string
	if s.glob {
		matches, err := filepath.Glob(s.root)
		if err != nil {
			return nil, fmt.Errorf("file: source: listing %s: %w", s.root, err)
		}
		for _, m := range matches {
			if hidden(filepath.Base(m)) {
				continue
			}
			if st, err := os.Stat(m); err == nil && st.Mode().IsRegular() {
				out = append(out, m)
			}
		}
		slices.Sort(out)
		return out, nil
	}
	err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p != s.root && errors.Is(err, fs.ErrNotExist) {
				return nil // removed while listing
			}
			return err
		}
		if p != s.root && hidden(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("file: source: listing %s: %w", s.root, err)
	}
	return out, nil // WalkDir walks in lexical order
}

// NewEnumerator implements connector.Source. On a fresh start the enumerator lists the files
// at Start; on a restore it takes the restored unassigned files and the record of the files
// already seen, and lists nothing until the next discovery (with Monitor). It returns an error
// for restored splits this source did not make.
func (s *Source[T]) NewEnumerator(ctx connector.EnumeratorContext, restored []connector.Split) (connector.Enumerator, error) {
	e := &enumerator{
		list:       s.list,
		ctx:        ctx,
		bounded:    !s.monitor,
		seen:       map[string]bool{},
		queues:     make([][]*Split, ctx.Parallelism()),
		registered: make([]bool, ctx.Parallelism()),
		fresh:      restored == nil,
	}
	if restored != nil {
		var haveSeen bool
		var files []*Split
		for _, sp := range restored {
			switch sp := sp.(type) {
			case *seenSplit:
				haveSeen = true
				for _, p := range sp.paths {
					e.seen[p] = true
				}
			case *Split:
				c := *sp
				files = append(files, &c)
			default:
				return nil, fmt.Errorf("file: source: restored split %T is not a file source split", sp)
			}
		}
		if !haveSeen && len(files) > 0 {
			return nil, fmt.Errorf("file: source: restored state has %d files but no record of the files already read", len(files))
		}
		for _, f := range files {
			e.seen[f.Path] = true
			e.enqueue(f)
		}
	}
	if s.monitor {
		return &monitoringEnumerator{enumerator: e, interval: s.cfg.monitor}, nil
	}
	return e, nil
}

// NewReader implements connector.Source.
func (s *Source[T]) NewReader(rc connector.ReaderContext) (connector.Reader[T], error) {
	return &reader[T]{s: s, rc: rc}, nil
}
