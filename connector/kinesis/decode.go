package kinesis

import (
	"context"
	"errors"
	"fmt"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/format"
)

// DecodedSource reads a stream like Source and emits each record decoded as a T, say a struct
// decoded from JSON. Make one with NewDecodedSource. It is immutable and, like Source, runs in
// one job at a time.
type DecodedSource[T any] struct {
	src        *Source
	decode     func(*Record) (T, error)
	policy     format.Policy
	deadLetter func(*format.RecordError) error
}

var (
	_ connector.Source[int] = (*DecodedSource[int])(nil)
	_ connector.SplitCodec  = (*DecodedSource[int])(nil)
)

// NewDecodedSource returns a source reading cfg.Stream through api and emitting decode(r) for
// each record r. decode is called from the task's goroutine; it may keep r.Data. When it
// returns an error, policy applies: format.Fail (the zero Policy) fails the job with a
// *format.RecordError naming the stream, shard, sequence number and reason; format.DeadLetter
// hands that error, holding the raw data, to deadLetter and goes on (an error deadLetter returns
// fails the job). decode may return a *format.RecordError itself (a format package's decoder
// does); the source fills in its position. A record is never skipped, even with empty or
// blank data: unlike the line sources of connector/file and connector/s3, this source lets
// format/json's ErrEmpty (format.ErrBlank) go to the policy like any other error.
// NewDecodedSource returns an error if cfg or policy is
// invalid, decode is nil, or policy is DeadLetter without deadLetter (wrapping
// format.ErrNoDeadLetter).
func NewDecodedSource[T any](api SourceAPI, cfg SourceConfig, decode func(r *Record) (T, error),
	policy format.Policy, deadLetter func(*format.RecordError) error) (*DecodedSource[T], error) {
	if decode == nil {
		return nil, errors.New("kinesis: nil decode function")
	}
	if err := policy.Validate(); err != nil {
		return nil, fmt.Errorf("kinesis: %w", err)
	}
	if policy == format.DeadLetter && deadLetter == nil {
		return nil, fmt.Errorf("kinesis: %w", format.ErrNoDeadLetter)
	}
	src, err := NewSource(api, cfg)
	if err != nil {
		return nil, err
	}
	return &DecodedSource[T]{src: src, decode: decode, policy: policy, deadLetter: deadLetter}, nil
}

// Raw returns the Source of raw records beneath, for its Lag.
func (d *DecodedSource[T]) Raw() *Source { return d.src }

// Boundedness implements connector.Source: unbounded.
func (d *DecodedSource[T]) Boundedness() connector.Boundedness { return connector.Unbounded }

// NewEnumerator implements connector.Source as Source.NewEnumerator does.
func (d *DecodedSource[T]) NewEnumerator(ctx connector.EnumeratorContext, restored []connector.Split) (connector.Enumerator, error) {
	return d.src.NewEnumerator(ctx, restored)
}

// EncodeSplit implements connector.SplitCodec as Source.EncodeSplit does.
func (d *DecodedSource[T]) EncodeSplit(sp connector.Split) ([]byte, error) {
	return d.src.EncodeSplit(sp)
}

// DecodeSplit implements connector.SplitCodec as Source.DecodeSplit does.
func (d *DecodedSource[T]) DecodeSplit(b []byte) (connector.Split, error) {
	return d.src.DecodeSplit(b)
}

// NewReader implements connector.Source: a raw reader whose records are decoded on their way
// out.
func (d *DecodedSource[T]) NewReader(rc connector.ReaderContext) (connector.Reader[T], error) {
	raw, err := d.src.NewReader(rc)
	if err != nil {
		return nil, err
	}
	return &decodedReader[T]{src: d, raw: raw.(*reader)}, nil
}

// decodedReader is a reader whose Read decodes what the raw reader emits. Its methods are called
// from the task's goroutine, like the raw reader's.
type decodedReader[T any] struct {
	src *DecodedSource[T]
	raw *reader
	out connector.ReaderOutput[T] // of the current Read
	err error                     // the first record the policy did not let through, in the current Read
}

func (r *decodedReader[T]) AddSplits(splits []connector.Split) { r.raw.AddSplits(splits) }
func (r *decodedReader[T]) NoMoreSplits()                      { r.raw.NoMoreSplits() }
func (r *decodedReader[T]) Available() <-chan struct{}         { return r.raw.Available() }
func (r *decodedReader[T]) Close() error                       { return r.raw.Close() }
func (r *decodedReader[T]) Snapshot(id int64) ([]connector.Split, error) {
	return r.raw.Snapshot(id)
}

// Read reads through the raw reader and returns the error of a record the policy rejected.
// Once one is rejected, the rest of the Read's records are not emitted: the job fails, and a
// restore reads them again from the last checkpoint.
func (r *decodedReader[T]) Read(ctx context.Context, out connector.ReaderOutput[T]) (connector.ReadStatus, error) {
	if r.err != nil {
		return 0, r.err
	}
	r.out = out
	st, err := r.raw.Read(ctx, decodingOutput[T]{r})
	if r.err != nil {
		return 0, r.err
	}
	return st, err
}

// emit decodes rec and collects it on split id, or applies the policy.
func (r *decodedReader[T]) emit(id string, rec Record, ts int64) {
	if r.err != nil {
		return
	}
	v, err := r.src.decode(&rec)
	if err != nil {
		r.err = r.src.policy.Handle(recordError(r.src.src.cfg.Stream, &rec, err), r.src.deadLetter)
		return
	}
	r.out.Split(id).Collect(v, ts)
}

// recordError returns err as a *format.RecordError at rec's stream, shard and sequence number.
func recordError(stream string, rec *Record, err error) *format.RecordError {
	pos := format.Position{Offset: -1, // sequence numbers do not fit an int64: they are in Source
		Source: fmt.Sprintf("kinesis stream %s shard %s sequence number %s", stream, rec.ShardID, rec.SequenceNumber)}
	var rerr *format.RecordError
	if errors.As(err, &rerr) {
		c := *rerr
		c.Position = pos
		if c.Raw == nil {
			c.Raw = rec.Data
		}
		return &c
	}
	return &format.RecordError{Position: pos, Format: "kinesis", Raw: rec.Data, Err: err}
}

// decodingOutput is the raw reader's output: it decodes into the decoded reader's.
type decodingOutput[T any] struct{ r *decodedReader[T] }

func (o decodingOutput[T]) Split(id string) connector.SplitOutput[Record] {
	return decodingSplit[T]{o.r, id}
}
func (o decodingOutput[T]) ReleaseSplit(id string) {
	o.r.out.ReleaseSplit(id)
}

type decodingSplit[T any] struct {
	r  *decodedReader[T]
	id string
}

func (s decodingSplit[T]) Collect(rec Record, ts int64) { s.r.emit(s.id, rec, ts) }
