package file

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/runnel-io/runnel/connector"
)

// Sink writes records of type T as rows of part files below a directory, exactly once when
// its committables are committed by checkpoints (see the package documentation). A Sink is
// immutable and safe for concurrent use; each subtask gets its own Writer.
type Sink[T any] struct {
	dir    string
	encode func(dst []byte, v T) []byte
	bucket func(T, int64) string // nil: the root
	cfg    config
	suffix string // with ".gz" when compressed
	run    string // random hex drawn once; starts the token of every part name (see committer)
}

// newRunToken returns runTokenLen random hex characters.
func newRunToken() string {
	var b [runTokenLen / 2]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand crashes the program instead)
	return hex.EncodeToString(b[:])
}

var (
	_ connector.Sink[int]         = (*Sink[int])(nil)
	_ connector.TwoPhaseCommitter = (*Sink[int])(nil)
	_ connector.Writer[int]       = (*writer[int])(nil)
	_ connector.Committer         = (*committer)(nil)
)

// NewSink returns a sink writing below dir, which it creates if missing (made absolute, so
// committables name absolute paths). encode appends one encoded record to dst and returns the
// extended slice; the sink owns dst and reuses it, so encode must not keep it. The sink appends
// the delimiter ("\n" by default) after each row.
//
// NewSink returns an error if an option is invalid (see each option) or dir cannot be created.
func NewSink[T any](dir string, encode func(dst []byte, v T) []byte, opts ...Option) (*Sink[T], error) {
	if encode == nil {
		return nil, fmt.Errorf("file: nil encode function")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	bucket, err := validate[T](&cfg)
	if err != nil {
		return nil, err
	}
	abs, err := makeRoot(dir)
	if err != nil {
		return nil, err
	}
	suffix := cfg.suffix
	if cfg.gzip {
		suffix += ".gz"
	}
	return &Sink[T]{dir: abs, encode: encode, bucket: bucket, cfg: cfg, suffix: suffix, run: newRunToken()}, nil
}

// Dir returns the sink's absolute root directory.
func (s *Sink[T]) Dir() string { return s.dir }

// NewWriter returns the writer of subtask sc.Subtask. It first deletes the in-progress files
// this subtask left in earlier attempts (sc.Attempt lower than now); see the package
// documentation. It returns an error if that clean-up fails.
func (s *Sink[T]) NewWriter(ctx context.Context, sc connector.SinkContext) (connector.Writer[T], error) {
	base, log, err := startWriter(ctx, s.dir, s.run, sc)
	if err != nil {
		return nil, err
	}
	return &writer[T]{s: s, sc: sc, log: log, base: base, open: map[string]*partFile{}}, nil
}

// NewCommitter returns a Committer for the committables of this sink's writers. Besides
// committing, it deletes the pending files that failed attempts of this job run left behind (see
// the package documentation). It never fails.
func (s *Sink[T]) NewCommitter(context.Context) (connector.Committer, error) {
	return &committer{dir: s.dir, run: s.run}, nil
}
