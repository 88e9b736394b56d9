package file

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/runnel-io/runnel/connector"
)

// writer is one subtask's Writer. Its fields belong to the subtask's goroutine.
type writer[T any] struct {
	s    *Sink[T]
	sc   connector.SinkContext
	log  *slog.Logger
	base string // "part-<subtask>-<attempt>-<token>-"
	next int    // counter of the next part file

	open    map[string]*partFile // by bucket
	rolled  []record             // pending files not yet handed out by PreCommit
	row     []byte               // encode buffer
	buckets map[string]string    // bucket → directory, for buckets already validated
}

// partFile is an open in-progress file.
type partFile struct {
	dir, name string // directory and "part-...-<n>" (without prefix dot, extension or suffix)
	f         *os.File
	cw        countingWriter
	bw        *bufio.Writer
	gz        *gzip.Writer // nil when uncompressed
	out       io.Writer    // gz or bw
}

func (p *partFile) inProgressPath() string {
	return filepath.Join(p.dir, hiddenPrefix+p.name+inProgressExt)
}
func (p *partFile) pendingPath() string { return filepath.Join(p.dir, hiddenPrefix+p.name+pendingExt) }

// size is the number of bytes the file holds once flushed (compressed bytes with gzip, minus
// what the compressor still buffers).
func (p *partFile) size() int64 { return p.cw.n + int64(p.bw.Buffered()) }

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

const bufferSize = 64 << 10

// Write appends v's row to the in-progress file of its bucket, opening one if needed, and rolls
// the file if it reached the roll size. Errors name the file.
func (w *writer[T]) Write(_ context.Context, v T, ts int64) error {
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
	w.row = append(w.s.encode(w.row[:0], v), w.s.cfg.delimiter...)
	if _, err := p.out.Write(w.row); err != nil {
		return fmt.Errorf("file: subtask %d: writing %s: %w", w.sc.Subtask, p.inProgressPath(), err)
	}
	if p.size() >= w.s.cfg.rollSize {
		delete(w.open, bucket)
		if err := w.roll(p); err != nil {
			return err
		}
	}
	return nil
}

// openPart creates the next in-progress file in bucket.
func (w *writer[T]) openPart(bucket string) (*partFile, error) {
	dir, ok := w.buckets[bucket]
	if !ok {
		var err error
		if dir, err = bucketDir(w.s.dir, bucket); err != nil {
			return nil, fmt.Errorf("file: subtask %d: %w", w.sc.Subtask, err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("file: subtask %d: creating bucket directory: %w", w.sc.Subtask, err)
		}
		if w.buckets == nil {
			w.buckets = map[string]string{}
		}
		w.buckets[bucket] = dir
	}
	p := &partFile{dir: dir, name: w.base + strconv.Itoa(w.next)}
	w.next++
	path := p.inProgressPath()
	// O_EXCL: names are unique per writer, so an existing file means something else writes here.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("file: subtask %d: creating part file: %w", w.sc.Subtask, err)
	}
	p.f = f
	p.cw.w = f
	p.bw = bufio.NewWriterSize(&p.cw, bufferSize)
	p.out = p.bw
	if w.s.cfg.gzip {
		// The level was validated by NewSink.
		p.gz, _ = gzip.NewWriterLevel(p.bw, w.s.cfg.gzipLevel)
		p.out = p.gz
	}
	return p, nil
}

// roll makes p durable under its pending name and queues it for the next PreCommit. On error
// it deletes p's files: the task fails and replays from the last checkpoint.
func (w *writer[T]) roll(p *partFile) error {
	if err := p.finish(); err != nil {
		_ = p.f.Close()
		_ = os.Remove(p.inProgressPath())
		return fmt.Errorf("file: subtask %d: %w", w.sc.Subtask, err)
	}
	w.rolled = append(w.rolled, record{Pending: p.pendingPath(),
		Final: filepath.Join(p.dir, p.name+w.s.suffix), Size: p.cw.n})
	return nil
}

// finish flushes, fsyncs and closes p, then renames it to its pending name.
func (p *partFile) finish() error {
	path := p.inProgressPath()
	if p.gz != nil {
		if err := p.gz.Close(); err != nil {
			return fmt.Errorf("compressing %s: %w", path, err)
		}
	}
	if err := p.bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := p.f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	if err := p.f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", path, err)
	}
	if err := os.Rename(path, p.pendingPath()); err != nil {
		return fmt.Errorf("renaming in-progress file to pending: %w", err)
	}
	return nil
}

// PreCommit rolls every open part file and returns one committable per pending file made since
// the previous PreCommit, after syncing their directories. It returns nil if nothing was
// written.
func (w *writer[T]) PreCommit(ctx context.Context, checkpointID int64) ([]connector.Committable, error) {
	return preCommitParts(ctx, w.sc.Subtask, checkpointID, w.s.dir, w.open, w.roll, &w.rolled)
}

// Close deletes the open in-progress files and the pending files no PreCommit handed out.
func (w *writer[T]) Close() error {
	err := discard(w.sc.Subtask, slices.Collect(maps.Values(w.open)), w.rolled)
	clear(w.open)
	w.rolled = nil
	return err
}
