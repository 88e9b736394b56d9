package kinesis

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/eventtime"
)

// The limits of PutRecords.
const (
	// MaxBatchRecords is the most records one PutRecords call takes.
	MaxBatchRecords = 500
	// MaxBatchBytes is the most bytes (data and partition keys) one PutRecords call takes.
	MaxBatchBytes = 5 << 20
	// MaxRecordBytes is the most bytes (data and partition key) of one record.
	MaxRecordBytes = 1 << 20
	// maxPartitionKey is the most Unicode characters of a partition key.
	maxPartitionKey = 256
)

// ErrRecordTooLarge is wrapped by the error of Write for a record larger than MaxRecordBytes.
var ErrRecordTooLarge = errors.New("kinesis: record too large")

// PutRecordsAPI is the part of the Kinesis API the sink calls; *kinesis.Client implements it.
type PutRecordsAPI interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

// SinkConfig configures a Sink writing records of type T. Stream, Encode and PartitionKey are
// required; the zero value of every other field means the default it documents.
type SinkConfig[T any] struct {
	// Stream is the name of the stream to write to.
	Stream string
	// Encode turns a record into the data to put. It is called from the writers' goroutines,
	// concurrently; the result is the sink's. An error fails the job.
	Encode func(v T) ([]byte, error)
	// PartitionKey gives a record's partition key (1 to 256 Unicode characters), which picks
	// its shard. It is called like Encode.
	PartitionKey func(v T) string
	// BatchRecords and BatchBytes bound one PutRecords call; a writer sends its buffer when the
	// next record would pass either. Defaults and maxima MaxBatchRecords and MaxBatchBytes.
	BatchRecords, BatchBytes int
	// MaxRetries is how often a writer repeats a PutRecords call for the records that failed
	// (throttled, or an internal failure) or for a throttled call, before it fails the job.
	// Default 10.
	MaxRetries int
	// BaseBackoff and MaxBackoff bound the exponential backoff between retries. Defaults 100ms
	// and 5s.
	BaseBackoff, MaxBackoff time.Duration
	// Clock times the backoff. Default: the wall clock.
	Clock eventtime.Clock
}

// Validate returns an error naming the first field out of range.
func (c SinkConfig[T]) Validate() error {
	switch {
	case c.Stream == "":
		return errors.New("kinesis: SinkConfig.Stream is empty")
	case c.Encode == nil:
		return errors.New("kinesis: SinkConfig.Encode is nil")
	case c.PartitionKey == nil:
		return errors.New("kinesis: SinkConfig.PartitionKey is nil")
	case c.BatchRecords < 0 || c.BatchRecords > MaxBatchRecords:
		return fmt.Errorf("kinesis: BatchRecords %d not in 0..%d", c.BatchRecords, MaxBatchRecords)
	case c.BatchBytes < 0 || c.BatchBytes > MaxBatchBytes:
		return fmt.Errorf("kinesis: BatchBytes %d not in 0..%d", c.BatchBytes, MaxBatchBytes)
	case c.MaxRetries < 0:
		return fmt.Errorf("kinesis: negative MaxRetries %d", c.MaxRetries)
	case c.BaseBackoff < 0 || c.MaxBackoff < 0:
		return errors.New("kinesis: negative backoff in SinkConfig")
	}
	return nil
}

// Sink writes records to a Kinesis data stream with PutRecords, at least once: each writer
// buffers records and sends them in batches within the service's limits, retrying the records
// that failed, and sends everything it holds at every checkpoint (PreCommit), so that a
// completed checkpoint covers every record written before its barrier. A restore from that
// checkpoint writes the records after it again: Kinesis has no transactions, so consumers see
// duplicates after failures. Records of one partition key keep their order within a batch, but
// a retried record comes after the records that succeeded around it. Make one with NewSink.
type Sink[T any] struct {
	api PutRecordsAPI
	cfg SinkConfig[T]
}

var _ connector.Sink[int] = (*Sink[int])(nil)

// NewSink returns a sink writing to cfg.Stream through api (a *kinesis.Client, say). It returns
// an error if cfg is invalid.
func NewSink[T any](api PutRecordsAPI, cfg SinkConfig[T]) (*Sink[T], error) {
	if api == nil {
		return nil, errors.New("kinesis: nil client")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.BatchRecords == 0 {
		cfg.BatchRecords = MaxBatchRecords
	}
	if cfg.BatchBytes == 0 {
		cfg.BatchBytes = MaxBatchBytes
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 10
	}
	if cfg.BaseBackoff == 0 {
		cfg.BaseBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = eventtime.RealClock()
	}
	return &Sink[T]{api: api, cfg: cfg}, nil
}

// NewWriter implements connector.Sink.
func (s *Sink[T]) NewWriter(_ context.Context, _ connector.SinkContext) (connector.Writer[T], error) {
	return &writer[T]{s: s}, nil
}

// writer buffers one subtask's records. It is used from one goroutine.
type writer[T any] struct {
	s     *Sink[T]
	buf   []types.PutRecordsRequestEntry
	bytes int
}

// Write buffers v, sending the buffer first if v would not fit. It returns an error wrapping
// ErrRecordTooLarge for a record over MaxRecordBytes, an error for a bad partition key, and the
// error of a send that failed.
func (w *writer[T]) Write(ctx context.Context, v T, _ int64) error {
	cfg := &w.s.cfg
	data, err := cfg.Encode(v)
	if err != nil {
		return fmt.Errorf("kinesis: encoding a record for stream %s: %w", cfg.Stream, err)
	}
	key := cfg.PartitionKey(v)
	if n := utf8.RuneCountInString(key); n == 0 || n > maxPartitionKey {
		return fmt.Errorf("kinesis: partition key %.40q for stream %s has %d characters, want 1 to %d", key, cfg.Stream, n, maxPartitionKey)
	}
	size := len(data) + len(key)
	if size > MaxRecordBytes {
		return fmt.Errorf("%w: %d bytes of data and partition key %.40q for stream %s, the limit is %d",
			ErrRecordTooLarge, size, key, cfg.Stream, MaxRecordBytes)
	}
	if len(w.buf)+1 > cfg.BatchRecords || w.bytes+size > cfg.BatchBytes {
		if err := w.flush(ctx); err != nil {
			return err
		}
	}
	w.buf = append(w.buf, types.PutRecordsRequestEntry{Data: data, PartitionKey: &key})
	w.bytes += size
	return nil
}

// PreCommit sends every buffered record and returns when all were written: at-least-once, no
// committables.
func (w *writer[T]) PreCommit(ctx context.Context, _ int64) ([]connector.Committable, error) {
	return nil, w.flush(ctx)
}

// Close drops what is buffered: it was not pre-committed.
func (w *writer[T]) Close() error {
	w.buf, w.bytes = nil, 0
	return nil
}

// flush sends the buffer with PutRecords, again and again for the records that failed, backing
// off exponentially, up to MaxRetries times.
func (w *writer[T]) flush(ctx context.Context) error {
	cfg := &w.s.cfg
	entries := w.buf
	for attempt := 0; len(entries) > 0; attempt++ {
		if attempt > 0 {
			t := cfg.Clock.NewTimer(backoff(cfg.BaseBackoff, cfg.MaxBackoff, attempt))
			select {
			case <-t.Chan():
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("kinesis: putting %d records to stream %s: %w", len(entries), cfg.Stream, ctx.Err())
			}
		}
		resp, err := w.s.api.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &cfg.Stream, Records: entries})
		if err != nil {
			if ctx.Err() == nil && isThrottle(err) && attempt < cfg.MaxRetries {
				continue
			}
			return fmt.Errorf("kinesis: putting %d records to stream %s (attempt %d): %w", len(entries), cfg.Stream, attempt+1, err)
		}
		if resp.FailedRecordCount == nil || *resp.FailedRecordCount == 0 {
			break
		}
		if len(resp.Records) != len(entries) {
			return fmt.Errorf("kinesis: putting %d records to stream %s: the response has %d results", len(entries), cfg.Stream, len(resp.Records))
		}
		var failed []types.PutRecordsRequestEntry
		var first types.PutRecordsResultEntry
		for i, r := range resp.Records {
			if r.ErrorCode != nil {
				if failed == nil {
					first = r
				}
				failed = append(failed, entries[i])
			}
		}
		if attempt >= cfg.MaxRetries {
			return fmt.Errorf("kinesis: putting records to stream %s: %d of %d records still failed after %d attempts, the first with %s: %s",
				cfg.Stream, len(failed), len(entries), attempt+1, deref(first.ErrorCode), deref(first.ErrorMessage))
		}
		entries = failed
	}
	clear(w.buf)
	w.buf, w.bytes = w.buf[:0], 0
	return nil
}

// isThrottle reports whether a PutRecords call failed as a whole for throttling, or for a
// failure the service says is its own.
func isThrottle(err error) bool {
	var pt *types.ProvisionedThroughputExceededException
	var kt *types.KMSThrottlingException
	var lim *types.LimitExceededException
	return errors.As(err, &pt) || errors.As(err, &kt) || errors.As(err, &lim)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
