package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/connector"
)

// Guarantee is a sink's delivery guarantee.
type Guarantee uint8

const (
	// AtLeastOnce flushes at every checkpoint: after a failure, records written since the
	// restored checkpoint are written again (the default).
	AtLeastOnce Guarantee = iota
	// ExactlyOnce writes each checkpoint's records in a Kafka transaction that is committed
	// when the checkpoint completes. Consumers must read with isolation level read_committed.
	ExactlyOnce
)

// DefaultTransactionTimeout is the transaction timeout of exactly-once sinks. It must be at
// least the time between two checkpoints plus the time to complete one, and at most the
// brokers' transaction.max.timeout.ms (15 minutes by default).
const DefaultTransactionTimeout = 10 * time.Minute

// SinkConfig configures a Sink. Zero fields take the defaults their comments state.
type SinkConfig struct {
	Cluster
	// Topic is where records go whose Topic is empty.
	Topic string
	// Guarantee is AtLeastOnce (the default) or ExactlyOnce.
	Guarantee Guarantee
	// TransactionalIDPrefix names the transactions of an ExactlyOnce sink; required for it.
	// It must be unique to the job and stay the same across restarts of the job: on
	// recovery, a writer aborts the transactions its predecessor left open under the prefix.
	TransactionalIDPrefix string
	// TransactionTimeout is the ExactlyOnce transaction timeout; default
	// DefaultTransactionTimeout.
	TransactionTimeout time.Duration
	// Partitioner, if not nil, picks the partition of r among n partitions of its topic (it
	// must return 0 <= p < n). Nil partitions by key like Kafka's Java client (murmur2), and
	// spreads records without a key in sticky batches. It is called from the client's
	// goroutines and must be safe for concurrent use.
	Partitioner func(r *Record, n int) int
}

// Validate reports whether c is usable.
func (c *SinkConfig) Validate() error {
	if err := c.Cluster.validate("sink"); err != nil {
		return err
	}
	switch {
	case c.Guarantee > ExactlyOnce:
		return fmt.Errorf("kafka: sink: unknown guarantee %d", c.Guarantee)
	case c.Guarantee == ExactlyOnce && c.TransactionalIDPrefix == "":
		return errors.New("kafka: sink: exactly-once without a transactional ID prefix")
	case c.TransactionTimeout < 0:
		return fmt.Errorf("kafka: sink: negative transaction timeout %v", c.TransactionTimeout)
	}
	return nil
}

// Sink writes records of type T to Kafka. Make one with NewSink or NewEncodedSink. A Sink is
// immutable and safe for concurrent use; each subtask gets its own Writer.
type Sink[T any] struct {
	cfg    SinkConfig
	encode func(v T) (Record, error)
}

var (
	_ connector.Sink[Record]      = (*Sink[Record])(nil)
	_ connector.TwoPhaseCommitter = (*Sink[Record])(nil)
)

// NewSink returns a sink of Records. It returns an error if cfg is invalid.
func NewSink(cfg SinkConfig) (*Sink[Record], error) {
	return NewEncodedSink(cfg, func(r Record) (Record, error) { return r, nil })
}

// NewEncodedSink returns a sink writing encode(v) for each record v. encode is called from the
// writers' goroutines concurrently; an error it returns fails the job. A record whose Topic is
// empty goes to cfg.Topic, and a zero Timestamp is replaced by the stream timestamp.
func NewEncodedSink[T any](cfg SinkConfig, encode func(v T) (Record, error)) (*Sink[T], error) {
	if encode == nil {
		return nil, errors.New("kafka: sink: nil encode function")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.TransactionTimeout == 0 {
		cfg.TransactionTimeout = DefaultTransactionTimeout
	}
	return &Sink[T]{cfg: cfg, encode: encode}, nil
}

// producerOpts are the options of every producing client of the sink.
func (s *Sink[T]) producerOpts() []kgo.Opt {
	opts := append(s.cfg.opts(), kgo.DefaultProduceTopic(s.cfg.Topic), kgo.ProducerLinger(5*time.Millisecond))
	if f := s.cfg.Partitioner; f != nil {
		opts = append(opts, kgo.RecordPartitioner(kgo.BasicConsistentPartitioner(func(string) func(*kgo.Record, int) int {
			return func(kr *kgo.Record, n int) int {
				r := fromKgo(kr)
				return f(&r, n)
			}
		})))
	} else {
		opts = append(opts, kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	}
	return opts
}

// NewWriter returns the writer of subtask sc.Subtask. It checks that the cluster answers within
// the connect timeout and returns an error naming the brokers if not. An exactly-once writer
// talks to the transaction coordinator only at its first record or pre-commit: by then the
// runtime has committed the restored checkpoint's transactions, which the writer's clean-up of
// its predecessor's transactions must not abort.
func (s *Sink[T]) NewWriter(ctx context.Context, sc connector.SinkContext) (connector.Writer[T], error) {
	log := sc.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.Guarantee == ExactlyOnce {
		w := &txnWriter[T]{s: s, sc: sc, log: log}
		if err := w.ping(ctx); err != nil {
			return nil, err
		}
		return w, nil
	}
	cl, err := kgo.NewClient(s.producerOpts()...)
	if err != nil {
		return nil, fmt.Errorf("kafka: sink: subtask %d: %w", sc.Subtask, err)
	}
	if err := ping(ctx, cl, &s.cfg.Cluster); err != nil {
		cl.Close()
		return nil, err
	}
	return &writer[T]{s: s, cl: cl}, nil
}

// ping checks that cl reaches the cluster within the connect timeout.
func ping(ctx context.Context, cl *kgo.Client, c *Cluster) error {
	ctx, cancel := context.WithTimeout(ctx, c.connectTimeout())
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		return fmt.Errorf("kafka: cannot reach brokers %v within %v: %w%s", c.Brokers, c.connectTimeout(), err, c.closedHint(err))
	}
	return nil
}

// closedHint explains an error that is only the brokers closing the connection, as brokers
// do when they refuse a client's authentication without saying why, or get plaintext on a
// TLS listener; otherwise it returns "".
func (c *Cluster) closedHint(err error) string {
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		return ""
	}
	switch {
	case c.SASL.Mechanism == AWSMSKIAM:
		return " (the brokers closed the connection: check that the IAM credentials may connect to the cluster, and that the listener is MSK's IAM one)"
	case c.SASL.Mechanism != NoSASL:
		return fmt.Sprintf(" (the brokers closed the connection: check the SASL %s credentials of user %q, and the mechanism the listener expects)",
			c.SASL.Mechanism, c.SASL.User)
	case c.TLS == nil && strings.Contains(err.Error(), "TLS"):
		return "" // franz-go already asks whether TLS is missing
	case c.TLS == nil:
		return " (the brokers closed the connection: does the listener need TLS or SASL?)"
	}
	return " (the brokers closed the connection: does the listener need SASL?)"
}

// errs keeps the first error of asynchronous produce callbacks.
type errs struct {
	mu  sync.Mutex
	err error
}

func (e *errs) set(err error) {
	e.mu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.mu.Unlock()
}

func (e *errs) get() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// writer is the at-least-once writer: it produces asynchronously and flushes at PreCommit.
type writer[T any] struct {
	s    *Sink[T]
	cl   *kgo.Client
	errs errs
}

func (w *writer[T]) Write(ctx context.Context, v T, ts int64) error {
	if err := w.errs.get(); err != nil {
		return err
	}
	r, err := w.s.encode(v)
	if err != nil {
		return fmt.Errorf("kafka: sink: encoding: %w", err)
	}
	kr := r.toKgo(w.s.cfg.Topic, ts)
	w.cl.Produce(ctx, kr, func(kr *kgo.Record, err error) {
		if err != nil {
			w.errs.set(fmt.Errorf("kafka: sink: producing to %s: %w", kr.Topic, err))
		}
	})
	return nil
}

// PreCommit waits until every record written is acknowledged; it returns the first produce
// error. It returns no committables.
func (w *writer[T]) PreCommit(ctx context.Context, _ int64) ([]connector.Committable, error) {
	if err := w.cl.Flush(ctx); err != nil {
		return nil, fmt.Errorf("kafka: sink: flushing: %w", err)
	}
	return nil, w.errs.get()
}

func (w *writer[T]) Close() error {
	w.cl.Close()
	return nil
}

// NewCommitter implements connector.TwoPhaseCommitter. The committer commits exactly-once
// transactions by their producer ID and epoch, so it works in any process (see the package
// documentation). It never fails; it connects at its first commit.
func (s *Sink[T]) NewCommitter(context.Context) (connector.Committer, error) {
	return &committer{cluster: &s.cfg.Cluster, timeout: s.cfg.TransactionTimeout}, nil
}
