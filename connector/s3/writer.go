package s3

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/runnel-io/runnel/connector"
)

// writer is one subtask's Writer. Its fields belong to the subtask's goroutine.
type writer[T any] struct {
	s    *Sink[T]
	sc   connector.SinkContext
	log  *slog.Logger
	base string // "part-<subtask>-<attempt>-<token>-"
	next int    // counter of the next part object

	open   map[string]*partObject // by partition
	rolled []record               // finished uploads not yet handed out by PreCommit
	row    []byte                 // encode buffer
}

// partObject is an open part object: a multipart upload (created at its first part) and the
// bytes not yet uploaded.
type partObject struct {
	key      string
	uploadID string // "" until the first part goes up
	parts    []completedPart
	uploaded int64        // bytes in parts
	buf      bytes.Buffer // bytes not yet uploaded
	gz       *gzip.Writer // nil when uncompressed; writes to buf
	bulk     any          // the bulkWriter[T] of a Parquet or Avro sink, writing to buf; else nil
	opened   time.Time
}

func (p *partObject) size() int64 { return p.uploaded + int64(p.buf.Len()) }

// Write appends v's row to the open part object of its partition, opening one if needed. It
// uploads a part when the buffer reaches the part size, and rolls the object when it reached
// the roll size or is older than the roll interval. Errors name the object.
func (w *writer[T]) Write(ctx context.Context, v T, ts int64) error {
	partition := ""
	if w.s.partition != nil {
		partition = w.s.partition(v, ts)
	}
	p := w.open[partition]
	if p != nil && w.s.cfg.rollInterval > 0 && w.s.cfg.clock.Since(p.opened) >= w.s.cfg.rollInterval {
		delete(w.open, partition)
		if err := w.roll(ctx, p); err != nil {
			return err
		}
		p = nil
	}
	if p == nil {
		if err := checkPartition(partition); err != nil {
			return fmt.Errorf("s3: sink subtask %d: %w", w.sc.Subtask, err)
		}
		var err error
		if p, err = w.openPart(partition); err != nil {
			return err
		}
		w.open[partition] = p
	}
	if p.bulk != nil {
		if err := p.bulk.(bulkWriter[T]).WriteOne(v); err != nil {
			return fmt.Errorf("s3: sink subtask %d: %s: %w", w.sc.Subtask, p.key, err)
		}
	} else if w.row = append(w.s.encode(w.row[:0], v), w.s.cfg.delimiter...); p.gz != nil {
		_, _ = p.gz.Write(w.row) // writes to a bytes.Buffer: never fails
	} else {
		p.buf.Write(w.row)
	}
	if int64(p.buf.Len()) >= w.s.cfg.partSize {
		if err := w.uploadPart(ctx, p); err != nil {
			return err
		}
	}
	if p.size() >= w.s.cfg.rollSize {
		delete(w.open, partition)
		return w.roll(ctx, p)
	}
	return nil
}

// openPart starts the next part object of partition; its upload starts with the first part.
func (w *writer[T]) openPart(partition string) (*partObject, error) {
	key := w.s.loc.prefix
	if partition != "" {
		key += partition + "/"
	}
	key += w.base + strconv.Itoa(w.next) + w.s.suffix
	w.next++
	p := &partObject{key: key, opened: w.s.cfg.clock.Now()}
	if w.s.cfg.gzip {
		p.gz, _ = gzip.NewWriterLevel(&p.buf, w.s.cfg.gzipLevel) // level validated by NewSink
	}
	if w.s.bulk != nil {
		bw, err := w.s.bulk(&p.buf)
		if err != nil {
			return nil, fmt.Errorf("s3: sink subtask %d: %s: %w", w.sc.Subtask, key, err)
		}
		p.bulk = bw
	}
	return p, nil
}

// uploadPart uploads p's buffer as its next part, creating the multipart upload first if
// needed.
func (w *writer[T]) uploadPart(ctx context.Context, p *partObject) error {
	cl, bucket := w.s.cl, w.s.loc.bucket
	if p.uploadID == "" {
		out, err := cl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
			Bucket:            aws.String(bucket),
			Key:               aws.String(p.key),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		})
		if err != nil {
			return fmt.Errorf("s3: sink subtask %d: starting the multipart upload of %s: %w",
				w.sc.Subtask, cl.where(bucket, p.key), err)
		}
		p.uploadID = aws.ToString(out.UploadId)
	}
	num := int32(len(p.parts) + 1)
	n := int64(p.buf.Len())
	out, err := cl.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:            aws.String(bucket),
		Key:               aws.String(p.key),
		UploadId:          aws.String(p.uploadID),
		PartNumber:        aws.Int32(num),
		Body:              bytes.NewReader(p.buf.Bytes()),
		ContentLength:     aws.Int64(n),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	})
	if err != nil {
		return fmt.Errorf("s3: sink subtask %d: uploading part %d of %s: %w",
			w.sc.Subtask, num, cl.where(bucket, p.key), err)
	}
	p.parts = append(p.parts, completedPart{Number: num, ETag: aws.ToString(out.ETag),
		CRC32: aws.ToString(out.ChecksumCRC32), Size: n})
	p.uploaded += n
	p.buf.Reset()
	return nil
}

// roll finishes p: it ends the gzip stream, uploads the last part and queues the upload for
// the next PreCommit. On error it aborts the upload: the task fails and replays from the last
// checkpoint.
func (w *writer[T]) roll(ctx context.Context, p *partObject) error {
	if p.gz != nil {
		_ = p.gz.Close() // writes to a bytes.Buffer: never fails
	}
	if p.bulk != nil { // the Parquet footer, the Avro last block
		if err := p.bulk.(bulkWriter[T]).Close(); err != nil {
			w.abort(p.key, p.uploadID)
			return fmt.Errorf("s3: sink subtask %d: finishing %s: %w", w.sc.Subtask, p.key, err)
		}
	}
	if p.buf.Len() > 0 || len(p.parts) == 0 {
		if err := w.uploadPart(ctx, p); err != nil {
			w.abort(p.key, p.uploadID)
			return err
		}
	}
	w.rolled = append(w.rolled, record{Bucket: w.s.loc.bucket, Key: p.key, UploadID: p.uploadID,
		Parts: p.parts, Size: p.uploaded})
	return nil
}

// PreCommit rolls every open part object and returns one committable per finished upload made
// since the previous PreCommit; nil if nothing was written. The objects stay invisible until a
// Committer completes their uploads.
func (w *writer[T]) PreCommit(ctx context.Context, checkpointID int64) ([]connector.Committable, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3: sink subtask %d: pre-commit of checkpoint %d: %w", w.sc.Subtask, checkpointID, err)
	}
	var errs []error
	for _, b := range slices.Sorted(maps.Keys(w.open)) {
		p := w.open[b]
		delete(w.open, b)
		if err := w.roll(ctx, p); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("s3: pre-commit of checkpoint %d: %w", checkpointID, err)
	}
	if len(w.rolled) == 0 {
		return nil, nil
	}
	cs := make([]connector.Committable, 0, len(w.rolled))
	for _, r := range w.rolled {
		cs = append(cs, r.marshal())
	}
	w.rolled = w.rolled[:0]
	return cs, nil
}

// Close aborts the uploads of the open part objects and of those no PreCommit handed out.
// Aborting is best effort: a failure is logged, and the bucket's lifecycle rule cleans up.
func (w *writer[T]) Close() error {
	for b, p := range w.open {
		w.abort(p.key, p.uploadID)
		delete(w.open, b)
	}
	for _, r := range w.rolled {
		w.abort(r.Key, r.UploadID)
	}
	w.rolled = nil
	return nil
}

// abort aborts an upload (if started), for at most a minute.
func (w *writer[T]) abort(key, uploadID string) {
	if uploadID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := abortUpload(ctx, w.s.cl, w.s.loc.bucket, key, uploadID); err != nil {
		w.log.Warn("s3 sink: aborting an abandoned multipart upload failed; a lifecycle rule must remove it",
			"subtask", w.sc.Subtask, "key", key, "error", err)
	}
}
