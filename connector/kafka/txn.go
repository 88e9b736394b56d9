package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel-io/runnel/connector"
)

// ErrTransactionLost is wrapped by the error Committer.Commit returns when the broker no longer
// has a pre-committed transaction to commit: it was aborted (its transaction timeout passed
// before the checkpoint completed and was committed), or its producer was fenced by another
// writer using the same transactional ID prefix. Its records are not visible.
var ErrTransactionLost = errors.New("kafka: transaction lost")

// txnID names the seq-th transaction of subtask at parallelism p: prefix-p-subtask-seq. Each
// transaction gets a new ID (IDs are never reused, so committing one again after a crash can
// only find it committed or still open); the parallelism keeps the IDs of runs at different
// parallelisms apart.
func txnID(prefix string, p, subtask int, seq int64) string {
	return fmt.Sprintf("%s-%d-%d-%d", prefix, p, subtask, seq)
}

// parseTxnID returns the parallelism, subtask and sequence of an ID txnID made with prefix.
func parseTxnID(prefix, id string) (p, subtask int, seq int64, ok bool) {
	rest, found := strings.CutPrefix(id, prefix+"-")
	if !found {
		return 0, 0, 0, false
	}
	parts := strings.Split(rest, "-")
	if len(parts) != 3 {
		return 0, 0, 0, false
	}
	p, err1 := strconv.Atoi(parts[0])
	subtask, err2 := strconv.Atoi(parts[1])
	seq, err3 := strconv.ParseInt(parts[2], 10, 64)
	return p, subtask, seq, err1 == nil && err2 == nil && err3 == nil
}

// pendingTxn is the content of an exactly-once Committable: an open transaction, flushed, that
// EndTxn with its producer ID and epoch commits from any client.
type pendingTxn struct {
	TransactionalID string `json:"txn"`
	ProducerID      int64  `json:"pid"`
	Epoch           int16  `json:"epoch"`
	Checkpoint      int64  `json:"checkpoint"`
}

// txnWriter is the exactly-once writer: a transaction per checkpoint, each with its own client
// and transactional ID. At PreCommit it flushes, records the producer ID and epoch, and closes
// the client without ending the transaction, which the Committer ends when the checkpoint
// completes.
type txnWriter[T any] struct {
	s   *Sink[T]
	sc  connector.SinkContext
	log *slog.Logger

	started bool // the predecessors' transactions are cleaned up and seq is set
	// precommitted holds the IDs of this writer's pre-committed transactions until one is
	// seen committed; swept says subtask 0 cleaned up after other parallelisms (sweep).
	precommitted []string
	swept        bool
	seq          int64 // sequence of the next transaction
	cur          *kgo.Client
	curID        string
	n            int // records in cur
	errs         errs
}

func (w *txnWriter[T]) ping(ctx context.Context) error {
	cl, err := kgo.NewClient(w.s.cfg.opts()...)
	if err != nil {
		return fmt.Errorf("kafka: sink: subtask %d: %w", w.sc.Subtask, err)
	}
	defer cl.Close()
	return ping(ctx, cl, &w.s.cfg.Cluster)
}

// start aborts the transactions this subtask's predecessors at the same parallelism left open
// and picks a sequence after every one of theirs. Transactions of the restored checkpoint were
// committed before (the runtime recommits them when the sink opens), so what is still open was
// never recorded by a completed checkpoint.
func (w *txnWriter[T]) start(ctx context.Context) error {
	cl, err := kgo.NewClient(w.s.cfg.opts()...)
	if err != nil {
		return fmt.Errorf("kafka: sink: subtask %d: %w", w.sc.Subtask, err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, w.s.cfg.connectTimeout())
	defer cancel()
	listed, err := kadm.NewClient(cl).ListTransactions(ctx, nil, nil)
	if err != nil {
		return fmt.Errorf("kafka: sink: subtask %d: listing transactions to clean up after earlier runs: %w", w.sc.Subtask, err)
	}
	prefix := w.s.cfg.TransactionalIDPrefix
	for _, t := range listed.Sorted() {
		w.log.Debug("kafka sink: listed transaction", "txn", t.TxnID, "state", t.State)
		p, subtask, seq, ok := parseTxnID(prefix, t.TxnID)
		if !ok || p != w.sc.Parallelism || subtask != w.sc.Subtask {
			continue
		}
		w.seq = max(w.seq, seq+1)
		if t.State == "Ongoing" || t.State == "PrepareAbort" || t.State == "PrepareEpochFence" {
			if err := fence(ctx, cl, t.TxnID, w.s.cfg.TransactionTimeout); err != nil {
				return fmt.Errorf("kafka: sink: subtask %d: aborting transaction %s of an earlier run: %w", w.sc.Subtask, t.TxnID, err)
			}
			w.log.Info("kafka sink: aborted a transaction an earlier run left open", "txn", t.TxnID, "subtask", w.sc.Subtask)
		}
	}
	w.started = true
	return nil
}

// fence initialises a producer for id, which makes the coordinator abort its open transaction.
func fence(ctx context.Context, cl *kgo.Client, id string, timeout time.Duration) error {
	return retry(ctx, func() (int16, error) {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID = &id
		req.TransactionTimeoutMillis = int32(timeout.Milliseconds())
		req.ProducerID, req.ProducerEpoch = -1, -1
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return 0, err
		}
		return resp.ErrorCode, nil
	})
}

// retry calls do until it returns no error code or one that is not retriable (concurrent
// transactions, a coordinator loading or moving), backing off, until ctx ends.
func retry(ctx context.Context, do func() (int16, error)) error {
	backoff := 10 * time.Millisecond
	for {
		code, err := do()
		if err != nil {
			return err
		}
		kerrv := kerr.ErrorForCode(code)
		if kerrv == nil {
			return nil
		}
		if !errors.Is(kerrv, kerr.ConcurrentTransactions) && !errors.Is(kerrv, kerr.CoordinatorLoadInProgress) &&
			!errors.Is(kerrv, kerr.NotCoordinator) && !errors.Is(kerrv, kerr.CoordinatorNotAvailable) {
			return kerrv
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", ctx.Err(), kerrv)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// begin opens the next transaction.
func (w *txnWriter[T]) begin(ctx context.Context) error {
	if !w.started {
		if err := w.start(ctx); err != nil {
			return err
		}
	}
	id := txnID(w.s.cfg.TransactionalIDPrefix, w.sc.Parallelism, w.sc.Subtask, w.seq)
	w.seq++
	cl, err := kgo.NewClient(append(w.s.producerOpts(),
		kgo.TransactionalID(id), kgo.TransactionTimeout(w.s.cfg.TransactionTimeout))...)
	if err != nil {
		return fmt.Errorf("kafka: sink: subtask %d: %w", w.sc.Subtask, err)
	}
	if err := cl.BeginTransaction(); err != nil {
		cl.Close()
		return fmt.Errorf("kafka: sink: subtask %d: beginning transaction %s: %w", w.sc.Subtask, id, err)
	}
	w.cur, w.curID, w.n = cl, id, 0
	return nil
}

func (w *txnWriter[T]) Write(ctx context.Context, v T, ts int64) error {
	if err := w.errs.get(); err != nil {
		return err
	}
	r, err := w.s.encode(v)
	if err != nil {
		return fmt.Errorf("kafka: sink: encoding: %w", err)
	}
	if w.cur == nil {
		if err := w.begin(ctx); err != nil {
			return err
		}
	}
	w.n++
	id := w.curID
	w.cur.Produce(ctx, r.toKgo(w.s.cfg.Topic, ts), func(kr *kgo.Record, err error) {
		if err != nil {
			w.errs.set(fmt.Errorf("kafka: sink: producing to %s in transaction %s: %w", kr.Topic, id, err))
		}
	})
	return nil
}

// PreCommit flushes the open transaction and returns it as a committable; the next record
// opens another. Without records since the last PreCommit it returns nothing.
func (w *txnWriter[T]) PreCommit(ctx context.Context, checkpointID int64) ([]connector.Committable, error) {
	if !w.started { // clean up early even if this subtask gets no records
		if err := w.start(ctx); err != nil {
			return nil, err
		}
	}
	if w.cur == nil || w.n == 0 {
		return nil, w.errs.get()
	}
	if err := w.cur.Flush(ctx); err != nil {
		return nil, fmt.Errorf("kafka: sink: flushing transaction %s: %w", w.curID, err)
	}
	if err := w.errs.get(); err != nil {
		return nil, err
	}
	pid, epoch, err := w.cur.ProducerID(ctx)
	if err != nil {
		return nil, fmt.Errorf("kafka: sink: producer ID of transaction %s: %w", w.curID, err)
	}
	b, err := json.Marshal(pendingTxn{TransactionalID: w.curID, ProducerID: pid, Epoch: epoch, Checkpoint: checkpointID})
	if err != nil {
		return nil, err
	}
	// Closing the client leaves the transaction open on the broker for the committer.
	w.cur.Close()
	if w.sc.Subtask == 0 && !w.swept {
		w.precommitted = append(w.precommitted, w.curID)
	}
	w.cur, w.curID, w.n = nil, "", 0
	if err := w.sweep(ctx); err != nil {
		w.log.Warn("kafka sink: cleaning up transactions of runs at other parallelisms", "err", err)
	}
	return []connector.Committable{b}, nil
}

// sweep aborts, once per writer of subtask 0, the transactions under the prefix that runs at
// another parallelism left open. It may do so only when every subtask of this run has
// committed what its restored checkpoint recorded (after a rescale, a subtask may hold the
// committables of any old subtask): that is so once a checkpoint of this run completed, which
// sweep learns by seeing one of its own pre-committed transactions committed. Until then
// each call lists the transactions once.
func (w *txnWriter[T]) sweep(ctx context.Context) error {
	if w.sc.Subtask != 0 || w.swept || len(w.precommitted) < 2 {
		return nil // the newest pre-commit cannot be committed yet
	}
	cl, err := kgo.NewClient(w.s.cfg.opts()...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, w.s.cfg.connectTimeout())
	defer cancel()
	listed, err := kadm.NewClient(cl).ListTransactions(ctx, nil, nil)
	if err != nil {
		return err
	}
	committed := false
	for _, id := range w.precommitted[:len(w.precommitted)-1] {
		if t, ok := listed[id]; ok && t.State != "Ongoing" {
			committed = true
		}
	}
	if !committed {
		return nil
	}
	prefix := w.s.cfg.TransactionalIDPrefix
	for _, t := range listed.Sorted() {
		p, _, _, ok := parseTxnID(prefix, t.TxnID)
		if !ok || p == w.sc.Parallelism || t.State != "Ongoing" {
			continue
		}
		if err := fence(ctx, cl, t.TxnID, w.s.cfg.TransactionTimeout); err != nil {
			return fmt.Errorf("aborting transaction %s: %w", t.TxnID, err)
		}
		w.log.Info("kafka sink: aborted a transaction a run at another parallelism left open", "txn", t.TxnID)
	}
	w.swept, w.precommitted = true, nil
	return nil
}

// Close aborts the transaction not pre-committed yet (best effort: a successor's clean-up
// aborts it otherwise). Pre-committed transactions stay open for the committer.
func (w *txnWriter[T]) Close() error {
	if w.cur == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.cur.AbortBufferedRecords(ctx); err == nil {
		if err := w.cur.EndTransaction(ctx, kgo.TryAbort); err != nil {
			w.log.Warn("kafka sink: aborting the open transaction", "txn", w.curID, "err", err)
		}
	}
	w.cur.Close()
	w.cur = nil
	return nil
}

// committer ends pre-committed transactions with EndTxn requests carrying their producer ID
// and epoch. It is used from one goroutine.
type committer struct {
	cluster *Cluster
	timeout time.Duration
	cl      *kgo.Client // made at the first use
}

var _ connector.Committer = (*committer)(nil)

func (c *committer) client() (*kgo.Client, error) {
	if c.cl == nil {
		cl, err := kgo.NewClient(c.cluster.opts()...)
		if err != nil {
			return nil, fmt.Errorf("kafka: committer: %w", err)
		}
		c.cl = cl
	}
	return c.cl, nil
}

// Commit commits each transaction. It is idempotent: committing a committed transaction again
// succeeds (the broker recognises the retry). It returns an error wrapping ErrTransactionLost
// for a transaction the broker aborted or fenced, and other errors (unreachable coordinator)
// for what may succeed when retried.
func (c *committer) Commit(ctx context.Context, cs []connector.Committable) error {
	return c.end(ctx, cs, true)
}

// Abort aborts each transaction; transactions already ended or fenced are skipped.
func (c *committer) Abort(ctx context.Context, cs []connector.Committable) error {
	return c.end(ctx, cs, false)
}

func (c *committer) end(ctx context.Context, cs []connector.Committable, commit bool) error {
	if len(cs) == 0 {
		return nil
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cluster.connectTimeout())
	defer cancel()
	var errs []error
	for _, b := range cs {
		var t pendingTxn
		if err := json.Unmarshal(b, &t); err != nil || t.TransactionalID == "" {
			errs = append(errs, fmt.Errorf("kafka: committer: bad committable %q: %v", b, err))
			continue
		}
		err := retry(ctx, func() (int16, error) {
			req := kmsg.NewPtrEndTxnRequest()
			req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = t.TransactionalID, t.ProducerID, t.Epoch, commit
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				return 0, err
			}
			return resp.ErrorCode, nil
		})
		var ke *kerr.Error
		switch {
		case err == nil:
		case !commit && errors.As(err, &ke):
			// Already ended, fenced or expired: nothing left to abort.
		case errors.As(err, &ke) && (errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
			errors.Is(err, kerr.InvalidProducerIDMapping) || errors.Is(err, kerr.InvalidTxnState) || errors.Is(err, kerr.TransactionalIDNotFound)):
			errs = append(errs, fmt.Errorf("%w: transaction %s of checkpoint %d (producer %d epoch %d): %w",
				ErrTransactionLost, t.TransactionalID, t.Checkpoint, t.ProducerID, t.Epoch, err))
		default:
			what := "committing"
			if !commit {
				what = "aborting"
			}
			errs = append(errs, fmt.Errorf("kafka: committer: %s transaction %s of checkpoint %d: %w", what, t.TransactionalID, t.Checkpoint, err))
		}
	}
	return errors.Join(errs...)
}

// Close closes the committer's client.
func (c *committer) Close() error {
	if c.cl != nil {
		c.cl.Close()
		c.cl = nil
	}
	return nil
}
