package file

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/filesystem"
)

// writer is one subtask's Writer. Its fields belong to the subtask's goroutine.
type writer[T any] struct {
	s    *Sink[T]
	sc   connector.SinkContext
	log  *slog.Logger
	base string // "part-<subtask>-<attempt>-<run><token>-"
	next int    // counter of the next part file

	open    map[string]*part[T]  // by bucket
	rolled  []filesystem.Pending // finished files not yet handed out by PreCommit
	buckets map[string]string    // bucket → directory name, for buckets already checked
}

// part is an open part file.
type part[T any] struct {
	w      filesystem.Writer
	enc    partEncoder[T]
	opened time.Time
}

// newWriter aborts the in-progress files of this subtask's earlier attempts and returns the
// subtask's writer.
func (s *Sink[T]) newWriter(ctx context.Context, sc connector.SinkContext) (*writer[T], error) {
	log := sc.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pending, err := s.fs.ListPending(ctx, s.dir)
	if err != nil {
		return nil, fmt.Errorf("file: sink subtask %d: looking for the files of earlier attempts: %w", sc.Subtask, err)
	}
	var errs []error
	for _, p := range pending {
		n, ok := parsePartName(baseName(p.Name))
		if !ok || !p.InProgress || n.subtask != sc.Subtask || n.attempt >= sc.Attempt {
			continue
		}
		if err := s.fs.Abort(ctx, p); err != nil {
			errs = append(errs, err)
			continue
		}
		log.Info("file sink: removed an in-progress file of an earlier attempt", "file", p.ID, "subtask", sc.Subtask)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("file: sink subtask %d: removing in-progress files of earlier attempts: %w", sc.Subtask, err)
	}
	var token [4]byte
	_, _ = rand.Read(token[:]) // never fails (crypto/rand crashes the program instead)
	return &writer[T]{
		s:    s,
		sc:   sc,
		log:  log,
		base: fmt.Sprintf("part-%d-%d-%s%s-", sc.Subtask, sc.Attempt, s.run, hex.EncodeToString(token[:])),
		open: map[string]*part[T]{},
	}, nil
}

// Write appends v to the open part file of its bucket, opening one if needed. It rolls the
// file when it reached the roll size, or was open longer than the roll interval when v came.
// Errors name the file.
func (w *writer[T]) Write(ctx context.Context, v T, ts int64) error {
	bucket := ""
	if w.s.cfg.Bucket != nil {
		bucket = w.s.cfg.Bucket(v, ts)
	}
	p := w.open[bucket]
	if p != nil && w.s.cfg.RollInterval > 0 && w.s.cfg.Clock.Since(p.opened) >= w.s.cfg.RollInterval {
		delete(w.open, bucket)
		if err := w.roll(p); err != nil {
			return err
		}
		p = nil
	}
	if p == nil {
		var err error
		if p, err = w.openPart(ctx, bucket); err != nil {
			return err
		}
		w.open[bucket] = p
	}
	if err := p.enc.WriteOne(v); err != nil {
		w.abandon(p)
		delete(w.open, bucket)
		return fmt.Errorf("file: sink subtask %d: writing a record: %w", w.sc.Subtask, err)
	}
	if p.w.Size() >= w.s.cfg.RollSize {
		delete(w.open, bucket)
		return w.roll(p)
	}
	return nil
}

// openPart creates the next part file in bucket.
func (w *writer[T]) openPart(ctx context.Context, bucket string) (*part[T], error) {
	dir, ok := w.buckets[bucket]
	if !ok {
		if err := checkBucket(bucket); err != nil {
			return nil, fmt.Errorf("file: sink subtask %d: %w", w.sc.Subtask, err)
		}
		dir = filesystem.Join(w.s.dir, bucket)
		if w.buckets == nil {
			w.buckets = map[string]string{}
		}
		w.buckets[bucket] = dir
	}
	name := filesystem.Join(dir, w.base+strconv.Itoa(w.next)+w.s.suffix)
	w.next++
	fw, err := w.s.fs.Create(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("file: sink subtask %d: creating a part file: %w", w.sc.Subtask, err)
	}
	enc, err := w.s.newPart(fw)
	if err != nil { // the format's options were checked by the constructor: not reached
		_ = fw.Abort()
		return nil, fmt.Errorf("file: sink subtask %d: %s: %w", w.sc.Subtask, name, err)
	}
	return &part[T]{w: fw, enc: enc, opened: w.s.cfg.Clock.Now()}, nil
}

// roll ends p's file (a gzip trailer, a Parquet footer, an Avro last block), makes it durable
// and queues it for the next PreCommit. On error it discards p: the task fails and replays from
// the last checkpoint.
func (w *writer[T]) roll(p *part[T]) error {
	if err := p.enc.Close(); err != nil {
		w.abandon(p)
		return fmt.Errorf("file: sink subtask %d: ending a %s part file: %w", w.sc.Subtask, w.s.format, err)
	}
	pending, err := p.w.Finish()
	if err != nil {
		return fmt.Errorf("file: sink subtask %d: %w", w.sc.Subtask, err)
	}
	w.rolled = append(w.rolled, pending)
	return nil
}

// abandon discards an open part, logging a failure (the file stays hidden).
func (w *writer[T]) abandon(p *part[T]) {
	if err := p.w.Abort(); err != nil {
		w.log.Warn("file sink: discarding a part file failed; Recover or a lifecycle rule must remove it",
			"subtask", w.sc.Subtask, "error", err)
	}
}

// PreCommit rolls every open part file, in bucket order, and returns one committable per file
// finished since the previous PreCommit: the file system's description of the pending file
// (filesystem.Pending.Data). It returns nil if nothing was written.
func (w *writer[T]) PreCommit(ctx context.Context, checkpointID int64) ([]connector.Committable, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("file: sink subtask %d: pre-commit of checkpoint %d: %w", w.sc.Subtask, checkpointID, err)
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
	if len(w.rolled) == 0 {
		return nil, nil
	}
	cs := make([]connector.Committable, len(w.rolled))
	for i, p := range w.rolled {
		cs[i] = p.Data
	}
	w.rolled = w.rolled[:0]
	return cs, nil
}

// Close discards the open part files and the finished ones no PreCommit handed out. Failures
// are logged: the files stay hidden, and Recover (or a lifecycle rule) removes them.
func (w *writer[T]) Close() error {
	for b, p := range w.open {
		w.abandon(p)
		delete(w.open, b)
	}
	if len(w.rolled) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, p := range w.rolled {
			if err := w.s.fs.Abort(ctx, p); err != nil {
				w.log.Warn("file sink: discarding a finished part file failed; Recover or a lifecycle rule must remove it",
					"subtask", w.sc.Subtask, "file", p.Name, "error", err)
			}
		}
		w.rolled = nil
	}
	return nil
}
