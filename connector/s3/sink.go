package s3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"

	"github.com/runnel-io/runnel/connector"
)

// Sink writes records of type T as rows of part objects below an S3 prefix, exactly once when
// its committables are committed by checkpoints (see the package documentation). A Sink is
// immutable and safe for concurrent use; each subtask gets its own Writer.
type Sink[T any] struct {
	loc       location
	encode    func(dst []byte, v T) []byte
	partition func(T, int64) string // nil: directly below the prefix
	cfg       sinkConfig
	suffix    string // with ".gz" when compressed
	cl        *client
	// bulk makes the writer of a Parquet or Avro object (NewParquetSink, NewAvroSink), which
	// frames and compresses its records itself; nil for line objects, whose rows encode makes.
	bulk func(io.Writer) (bulkWriter[T], error)
}

// bulkWriter writes one Parquet or Avro part object into its buffer.
type bulkWriter[T any] interface {
	WriteOne(T) error
	Close() error // writes what ends the object: a Parquet footer, an Avro last block
}

var (
	_ connector.Sink[int]         = (*Sink[int])(nil)
	_ connector.TwoPhaseCommitter = (*Sink[int])(nil)
	_ connector.Writer[int]       = (*writer[int])(nil)
	_ connector.Committer         = (*committer)(nil)
)

// NewSink returns a sink writing below url, "s3://bucket/prefix". encode appends one encoded
// record to dst and returns the extended slice; the sink owns dst and reuses it, so encode
// must not keep it. The sink appends the delimiter ("\n" by default) after each row.
//
// NewSink reads the AWS configuration (environment, shared files) but does not contact S3;
// NewWriter does. It returns an error if url or an option is invalid.
func NewSink[T any](url string, encode func(dst []byte, v T) []byte, opts ...SinkOption) (*Sink[T], error) {
	loc, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	if encode == nil {
		return nil, fmt.Errorf("s3: sink %s: nil encode function", loc)
	}
	cfg := defaultSinkConfig()
	for _, o := range opts {
		o(&cfg)
	}
	partition, err := validateSink[T](&cfg)
	if err != nil {
		return nil, fmt.Errorf("s3: sink %s: %w", loc, err)
	}
	cl, err := newClient(context.Background(), cfg.conn)
	if err != nil {
		return nil, fmt.Errorf("s3: sink %s: %w", loc, err)
	}
	suffix := cfg.suffix
	if cfg.gzip {
		suffix += ".gz"
	}
	return &Sink[T]{loc: loc, encode: encode, partition: partition, cfg: cfg, suffix: suffix, cl: cl}, nil
}

// URL returns the sink's location, "s3://bucket/prefix/".
func (s *Sink[T]) URL() string { return s.loc.String() }

// NewWriter returns the writer of subtask sc.Subtask. It checks that the bucket can be listed
// below the prefix, so an unreachable endpoint, a missing bucket or missing permissions fail
// here (after the Connection's MaxAttempts) rather than at the first part upload.
func (s *Sink[T]) NewWriter(ctx context.Context, sc connector.SinkContext) (connector.Writer[T], error) {
	if err := s.probe(ctx); err != nil {
		return nil, fmt.Errorf("s3: sink subtask %d: %w", sc.Subtask, err)
	}
	log := sc.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var token [4]byte
	_, _ = rand.Read(token[:]) // never fails (crypto/rand crashes the program instead)
	return &writer[T]{
		s:    s,
		sc:   sc,
		log:  log,
		base: fmt.Sprintf("part-%d-%d-%s-", sc.Subtask, sc.Attempt, hex.EncodeToString(token[:])),
		open: map[string]*partObject{},
	}, nil
}

// NewCommitter returns a Committer for the committables of this sink's writers. It never
// fails.
func (s *Sink[T]) NewCommitter(context.Context) (connector.Committer, error) {
	return &committer{cl: s.cl, loc: s.loc}, nil
}

// probe lists at most one key below the prefix.
func (s *Sink[T]) probe(ctx context.Context) error {
	return probe(ctx, s.cl, s.loc)
}
