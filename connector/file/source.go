package file

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/filesystem"
	"github.com/runnel-io/runnel/format"
)

// Defaults of SourceConfig.
const (
	// DefaultReadBatch is the number of records a reader emits per Read at most.
	DefaultReadBatch = 1024
	// DefaultMaxRecordSize is the size of the largest line or CSV record a source reads.
	DefaultMaxRecordSize = 16 << 20
)

// SourceConfig configures a Source of records of type T. Path and Format are required; the zero
// value of every other field means the default it documents.
type SourceConfig[T any] struct {
	// FS is the file system read. Default: filesystem.Local{}.
	FS filesystem.FS
	// Path is what to read, as FS.Resolve accepts it: a directory (or key prefix), whose
	// files are read at any depth; a single file; or a glob pattern of path.Match ('*', '?',
	// '[...]' within one element), such as "/data/*/part-*.jsonl" or
	// "s3://bucket/logs/*.gz". Required.
	Path string
	// Format says how a file becomes records: JSONLines, CSV, Lines, Parquet or Avro.
	// Required.
	Format Format[T]
	// Filter, if set, restricts the source to the files whose names it returns true for.
	// Whatever it says, files with an element below Path starting with '.' or '_' (hidden,
	// such as a sink's uncommitted parts or _SUCCESS) are skipped. It is called from the
	// enumerator's goroutine. Default: every other file.
	Filter func(name string) bool
	// Monitor makes the source unbounded: besides the files present at the start, it lists
	// Path again every Monitor and reads each new file once. Default 0: bounded, the files
	// present at the start are read and the source ends.
	Monitor time.Duration
	// DeadLetter sets the malformed-record policy to format.DeadLetter: a line or CSV record
	// that does not decode is handed to it, with its file, line, byte offset and raw bytes, and
	// reading goes on; an error it returns fails the job. It is called from the readers'
	// goroutines concurrently and owns its argument. Dead letters are at least once: records
	// read after the last completed checkpoint are read, and dead-lettered, again after a
	// restore. Default nil: format.Fail, the first malformed record fails the job with a
	// *format.RecordError naming the file, line, offset and reason. Parquet and Avro files have
	// no records to skip: an unreadable one always fails the job.
	DeadLetter func(*format.RecordError) error
	// ReadBatch is how many records a reader emits per Read at most. Default
	// DefaultReadBatch.
	ReadBatch int
	// MaxRecordSize is the size in bytes of the longest line or CSV record the source reads;
	// a longer one fails the job naming the file and offset. Default DefaultMaxRecordSize.
	MaxRecordSize int
}

// Validate reports whether c is usable: a Path FS resolves (a valid pattern if it is one), a
// Format, and no negative Monitor, ReadBatch or MaxRecordSize.
func (c SourceConfig[T]) Validate() error {
	_, err := c.resolve()
	return err
}

// resolve validates c and returns the listing it describes.
func (c SourceConfig[T]) resolve() (listing, error) {
	switch {
	case c.Path == "":
		return listing{}, errors.New("file: source: empty Path")
	case c.Format.name == "":
		return listing{}, errors.New("file: source: zero Format (use JSONLines, CSV, Lines, Parquet or Avro)")
	case c.Monitor < 0:
		return listing{}, fmt.Errorf("file: source: monitor interval %v is negative", c.Monitor)
	case c.ReadBatch < 0:
		return listing{}, fmt.Errorf("file: source: read batch %d is negative", c.ReadBatch)
	case c.MaxRecordSize < 0:
		return listing{}, fmt.Errorf("file: source: max record size %d is negative", c.MaxRecordSize)
	}
	if err := c.Format.validate(); err != nil {
		return listing{}, fmt.Errorf("file: source: %w", err)
	}
	fsys := c.FS
	if fsys == nil {
		fsys = filesystem.Local{}
	}
	name, err := fsys.Resolve(c.Path)
	if err != nil {
		return listing{}, fmt.Errorf("file: source: %w", err)
	}
	l := listing{fs: fsys, root: name, recursive: true, filter: c.Filter}
	if i := strings.IndexAny(name, `*?[`); i >= 0 {
		if _, err := path.Match(name, ""); err != nil {
			return listing{}, fmt.Errorf("file: source: bad pattern %q: %w", c.Path, err)
		}
		l.pattern = name
		l.root = name[:max(strings.LastIndexByte(name[:i], '/'), 0)]
		if l.root == "" {
			l.root = "/"
		}
		// A pattern of one element below its root needs no deeper listing.
		l.recursive = strings.Contains(strings.TrimPrefix(name[len(l.root):], "/"), "/")
	}
	return l, nil
}

// Source reads records of type T from the files of a file system below a directory, or
// matching a glob, once (bounded) or, with Monitor, watching for new files (unbounded). A Source
// is immutable and safe for concurrent use.
//
// # Splits and positions
//
// Each file is one Split, read by one reader from start to end, its id the file's name. The
// position is where the next record starts: for a plain JSON-lines or CSV file the byte offset
// (a restored reader reads from there: a ranged GET on S3); for a gzip or Zstandard file the
// number of records read (a restored reader decompresses from the start and skips them,
// checking that they end at the recorded decompressed offset); for a Parquet file the row index
// (a restored reader seeks to the row group and page holding it, reading only what it needs);
// for an Avro file the record index (a restored reader reads up to it). Positions advance after
// each record is emitted, so a checkpoint between two Reads holds exactly the records emitted
// so far. A split also records the file's size and version (an S3 ETag) when it was listed:
// reads are of that version only. The split encoding is versioned (see EncodeSplit).
//
// # Which files are read, across restores
//
// The enumerator lists the files at the start (and, with Monitor, every interval), makes a split
// of every file it has not seen before, and hands the splits to the readers round robin. It
// remembers every name it made a split of, and its checkpoint holds that record (one extra,
// never-assigned split) beside the splits not yet assigned. At a checkpoint a file is thus in
// exactly one of: the enumerator's unassigned splits, a reader's splits (assigned, unfinished,
// at its position), or neither (finished); and it is in the record in all three cases. A
// restored enumerator takes the record and the unassigned splits, the runtime hands the readers'
// splits back to the new readers (at any parallelism), and files already finished are never
// read again, because discovery skips recorded names. The record grows by one name per file;
// jobs monitoring a directory that receives millions of files should move read files away and
// start from a savepoint now and then.
//
// A bounded source lists once: a restored bounded job reads the files of its first listing
// only. Files must not change once visible: write them under a hidden name ('.' or '_' prefix)
// and rename them into place, as the file sink does (on S3 objects appear whole). A file that
// disappears or changes before it is read fails the job.
//
// # Malformed records
//
// A line or CSV record that does not decode is a *format.RecordError naming the file, the
// line (record number, a CSV header counting as line 1), the byte offset (in the decompressed
// content) and the reason. By default it fails the job (format.Fail); with DeadLetter it goes to
// the dead-letter function and reading goes on. Empty lines are skipped, and so are JSON lines
// of white space only (a decoder error wrapping format.ErrBlank); they still count as lines.
type Source[T any] struct {
	list   listing
	format Format[T]
	cfg    SourceConfig[T] // with defaults
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

// NewSource returns a source of the files cfg describes. Compression is chosen per file by its
// name: ".gz" is gzip, ".zst" or ".zstd" is Zstandard (line formats only). It does no I/O: the
// enumerator's first listing does, and fails the job if Path cannot be listed.
//
// NewSource returns an error when cfg is invalid, including when the Format cannot decode T
// (see JSONLines, CSV, Parquet and Avro).
func NewSource[T any](cfg SourceConfig[T]) (*Source[T], error) {
	l, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	cfg.ReadBatch = cmp.Or(cfg.ReadBatch, DefaultReadBatch)
	cfg.MaxRecordSize = cmp.Or(cfg.MaxRecordSize, DefaultMaxRecordSize)
	return &Source[T]{list: l, format: cfg.Format, cfg: cfg}, nil
}

// Boundedness implements connector.Source: Unbounded with Monitor, else Bounded.
func (s *Source[T]) Boundedness() connector.Boundedness {
	if s.cfg.Monitor > 0 {
		return connector.Unbounded
	}
	return connector.Bounded
}

// listing is what a Source lists: the files below root (matching pattern, if any), without
// hidden ones.
type listing struct {
	fs        filesystem.FS
	root      string // a directory, a file, or the directory above a pattern's first wildcard
	pattern   string // "" for no glob
	recursive bool
	filter    func(string) bool
}

// hidden reports whether a relative path has an element starting with '.' or '_'.
func hidden(rel string) bool {
	for seg := range strings.SplitSeq(rel, "/") {
		if strings.HasPrefix(seg, ".") || strings.HasPrefix(seg, "_") {
			return true
		}
	}
	return false
}

// files returns the files of the listing, sorted by name.
func (l listing) files(ctx context.Context) ([]filesystem.FileInfo, error) {
	all, err := l.fs.List(ctx, l.root, l.recursive)
	if err != nil {
		return nil, fmt.Errorf("file: source: %w", err)
	}
	out := all[:0]
	for _, f := range all {
		rel, ok := filesystem.Rel(l.root, f.Name)
		if !ok || hidden(rel) {
			continue
		}
		if l.pattern != "" {
			if ok, _ := path.Match(l.pattern, f.Name); !ok {
				continue
			}
		}
		if l.filter != nil && !l.filter(f.Name) {
			continue
		}
		out = append(out, f)
	}
	return out, nil
}

// NewEnumerator implements connector.Source. On a fresh start the enumerator lists the files
// at Start; on a restore it takes the restored unassigned files and the record of the files
// already seen, and lists nothing until the next discovery (with Monitor). It returns an error
// for restored splits this source did not make.
func (s *Source[T]) NewEnumerator(ctx connector.EnumeratorContext, restored []connector.Split) (connector.Enumerator, error) {
	e := &enumerator{
		list:       s.list.files,
		ctx:        ctx,
		bounded:    s.cfg.Monitor == 0,
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
	if s.cfg.Monitor > 0 {
		return &monitoringEnumerator{enumerator: e, interval: s.cfg.Monitor}, nil
	}
	return e, nil
}

// NewReader implements connector.Source.
func (s *Source[T]) NewReader(rc connector.ReaderContext) (connector.Reader[T], error) {
	return &reader[T]{s: s, rc: rc}, nil
}
