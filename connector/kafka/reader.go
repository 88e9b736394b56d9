package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/metrics"
)

// NewReader implements connector.Source. The reader has its own client, which consumes the
// assigned partitions directly (it joins no group); a fetch goroutine owned by the reader polls
// the client and hands batches to Read, so Read never blocks on the network.
func (s *Source[T]) NewReader(rc connector.ReaderContext) (connector.Reader[T], error) {
	log := rc.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := append(s.cfg.opts(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(500*time.Millisecond),
		// Transaction markers take offsets: seeing them lets a bounded split reach its end
		// offset when the partition ends in one.
		kgo.KeepControlRecords(),
	)
	if s.cfg.ReadCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: source: subtask %d: %w", rc.Subtask, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &reader[T]{
		src:     s,
		log:     log,
		cl:      cl,
		splits:  map[string]*Split{},
		outs:    map[string]connector.SplitOutput[T]{},
		batches: make(chan []*kgo.Record, 1),
		ready:   make(chan struct{}, 1),
		cancel:  cancel,
		offsets: map[int64]kadm.Offsets{},
		commits: make(chan kadm.Offsets, 1),
		stop:    make(chan struct{}),
		lag:     rc.Gauge(metrics.RecordsLagMax),
		lags:    map[splitKey]int64{},
	}
	r.wg.Add(2)
	go r.fetch(ctx)
	go r.commitLoop(r.stop)
	return r, nil
}

// reader is the Source's connector.Reader. Its fields belong to the subtask's goroutine,
// except those the fetch and commit goroutines use, as marked.
type reader[T any] struct {
	src *Source[T]
	log *slog.Logger
	cl  *kgo.Client // safe for concurrent use

	splits  map[string]*Split // by ID: the reader's copies, advanced as records are emitted
	outs    map[string]connector.SplitOutput[T]
	noMore  bool
	pending []*kgo.Record // taken from batches, not all emitted yet
	release []string      // splits added finished, to release at the next Read

	// batches carries polled records from the fetch goroutine; ready is signalled after each
	// send, for Available.
	batches chan []*kgo.Record
	ready   chan struct{}
	errMu   sync.Mutex
	err     error // guarded by errMu: a fatal fetch error, returned by the next Read

	// offsets holds, per snapshot not yet known complete, the positions to commit to the
	// group; commits hands the newest complete ones to the commit goroutine.
	offsets map[int64]kadm.Offsets
	commits chan kadm.Offsets

	// lag is the records_lag_max gauge: the largest of lags, which the fetch goroutine keeps
	// per partition from each fetch that returns records of it.
	lag  *atomic.Int64
	lags map[splitKey]int64

	cancel context.CancelFunc // stops the fetch goroutine
	stop   chan struct{}      // closed to stop the commit goroutine
	wg     sync.WaitGroup     // the fetch and commit goroutines
}

var (
	_ connector.Reader[Record]     = (*reader[Record])(nil)
	_ connector.Availability       = (*reader[Record])(nil)
	_ connector.CheckpointListener = (*reader[Record])(nil)
)

// splitKey names a partition.
type splitKey struct {
	topic     string
	partition int32
}

// updateLag records, for each partition the fetch returned records of, its lag: the records
// between the last one fetched and the end a consumer can read to, the high watermark or, for
// read_committed, the last stable offset (as Kafka's Java consumer counts it: records of open
// transactions are not lag). It sets the records_lag_max gauge.
// It runs on the fetch goroutine.
func (r *reader[T]) updateLag(fs kgo.Fetches) {
	changed := false
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		n := len(fp.Records)
		if n == 0 {
			return
		}
		end := fp.HighWatermark
		if r.src.cfg.ReadCommitted {
			end = fp.LastStableOffset
		}
		lag := max(end-fp.Records[n-1].Offset-1, 0)
		r.lags[splitKey{fp.Topic, fp.Partition}] = lag
		changed = true
	})
	if changed {
		var m int64
		for _, l := range r.lags {
			m = max(m, l)
		}
		r.lag.Store(m)
	}
}

// fetch polls until ctx is cancelled, handing each batch over and waiting for Read to take it
// (so at most two batches are buffered beyond the client's own buffers).
func (r *reader[T]) fetch(ctx context.Context) {
	defer r.wg.Done()
	for {
		fs := r.cl.PollRecords(ctx, r.src.cfg.MaxPollRecords)
		if ctx.Err() != nil {
			return
		}
		if fs.IsClientClosed() {
			return
		}
		var fatal error
		fs.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed) {
				return
			}
			var loss *kgo.ErrDataLoss
			if errors.As(err, &loss) { // the client reset to a valid offset; records were lost to retention
				r.log.Warn("kafka source: data loss", "split", splitID(t, p), "err", err)
				return
			}
			// The client retries what is retriable; what it hands over is not.
			fatal = errors.Join(fatal, fmt.Errorf("kafka: source: fetching %s: %w", splitID(t, p), err))
		})
		if fatal != nil {
			r.errMu.Lock()
			r.err = errors.Join(r.err, fatal)
			r.errMu.Unlock()
		}
		r.updateLag(fs)
		recs := fs.Records()
		if len(recs) == 0 && fatal == nil {
			continue
		}
		select {
		case r.batches <- recs:
		case <-ctx.Done():
			return
		}
		select {
		case r.ready <- struct{}{}:
		default:
		}
	}
}

// AddSplits starts consuming splits at their positions. Splits a bounded source finished
// end at once.
func (r *reader[T]) AddSplits(splits []connector.Split) {
	add := map[string]map[int32]kgo.Offset{}
	for _, s := range splits {
		sp, ok := s.(*Split)
		if !ok {
			continue
		}
		c := *sp
		r.splits[c.SplitID()] = &c
		if c.done() { // an empty partition of a bounded source
			r.release = append(r.release, c.SplitID())
			continue
		}
		if add[c.Topic] == nil {
			add[c.Topic] = map[int32]kgo.Offset{}
		}
		add[c.Topic][c.Partition] = kgo.NewOffset().At(c.Next)
	}
	if len(add) > 0 {
		r.cl.AddConsumePartitions(add)
	}
}

// NoMoreSplits implements connector.Reader.
func (r *reader[T]) NoMoreSplits() { r.noMore = true }

// Read emits up to MaxPollRecords records that the fetch goroutine polled. A record the
// decoder rejects is handled by the source's Policy; under Fail, Read returns the
// *format.RecordError (topic/partition, offset, reason).
func (r *reader[T]) Read(_ context.Context, out connector.ReaderOutput[T]) (connector.ReadStatus, error) {
	r.errMu.Lock()
	err := r.err
	r.errMu.Unlock()
	if err != nil {
		return 0, err
	}
	for _, id := range r.release {
		out.ReleaseSplit(id)
	}
	r.release = nil
	if len(r.pending) == 0 {
		select {
		case r.pending = <-r.batches:
		default:
		}
	}
	n := 0
	for ; len(r.pending) > 0 && n < r.src.cfg.MaxPollRecords; n++ {
		kr := r.pending[0]
		r.pending[0] = nil
		r.pending = r.pending[1:]
		id := splitID(kr.Topic, kr.Partition)
		sp := r.splits[id]
		if sp == nil || kr.Offset < sp.Next || (sp.End >= 0 && kr.Offset >= sp.End) {
			continue // not ours, already emitted, or past a bounded split's end
		}
		if kr.Attrs.IsControl() {
			sp.Next = kr.Offset + 1
			if sp.done() {
				r.finish(sp, out)
			}
			continue
		}
		rec := fromKgo(kr)
		v, err := r.src.decode(&rec)
		sp.Next = kr.Offset + 1
		if err != nil {
			if herr := r.src.cfg.Policy.Handle(recordError(&rec, err), r.src.cfg.DeadLetter); herr != nil {
				sp.Next = kr.Offset // not handled: a restore retries it
				return 0, herr
			}
		} else {
			o := r.outs[id]
			if o == nil {
				o = out.Split(id)
				r.outs[id] = o
			}
			o.Collect(v, rec.Timestamp.UnixMilli())
		}
		if sp.done() {
			r.finish(sp, out)
		}
	}
	if r.noMore && r.allDone() {
		return connector.EndOfInput, nil
	}
	if len(r.pending) > 0 || len(r.batches) > 0 {
		return connector.MoreAvailable, nil
	}
	return connector.NothingAvailable, nil
}

func (r *reader[T]) finish(sp *Split, out connector.ReaderOutput[T]) {
	r.cl.RemoveConsumePartitions(map[string][]int32{sp.Topic: {sp.Partition}})
	out.ReleaseSplit(sp.SplitID())
}

func (r *reader[T]) allDone() bool {
	for _, sp := range r.splits {
		if !sp.done() {
			return false
		}
	}
	return true
}

// Available implements connector.Availability. Without splits it returns nil: the runtime
// then waits for an assignment.
func (r *reader[T]) Available() <-chan struct{} {
	if len(r.splits) == 0 {
		return nil
	}
	if len(r.batches) > 0 || len(r.pending) > 0 {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	return r.ready
}

// Snapshot returns copies of the splits at their positions (finished bounded splits are left
// out) and remembers the positions to commit to the group when the checkpoint completes.
func (r *reader[T]) Snapshot(id int64) ([]connector.Split, error) {
	out := make([]connector.Split, 0, len(r.splits))
	offs := kadm.Offsets{}
	for _, sp := range r.splits {
		offs.Add(kadm.Offset{Topic: sp.Topic, Partition: sp.Partition, At: sp.Next, LeaderEpoch: -1})
		if sp.done() {
			continue
		}
		c := *sp
		out = append(out, &c)
	}
	if r.src.cfg.Group != "" {
		r.offsets[id] = offs
	}
	return out, nil
}

// NotifyCheckpointComplete implements connector.CheckpointListener: it hands the positions of
// checkpoint id to the commit goroutine, which commits them to the group. Committing is best
// effort, for monitoring: failures are logged, never returned.
func (r *reader[T]) NotifyCheckpointComplete(_ context.Context, id int64) error {
	offs, ok := r.offsets[id]
	for k := range r.offsets {
		if k <= id {
			delete(r.offsets, k)
		}
	}
	if !ok || len(offs) == 0 {
		return nil
	}
	select { // replace an older batch not committed yet
	case <-r.commits:
	default:
	}
	r.commits <- offs
	return nil
}

// commitLoop commits the offsets handed over until stop is closed, and then those still
// waiting (the final checkpoint's), each within the connect timeout.
func (r *reader[T]) commitLoop(stop <-chan struct{}) {
	defer r.wg.Done()
	adm := kadm.NewClient(r.cl)
	commit := func(offs kadm.Offsets) {
		ctx, cancel := context.WithTimeout(context.Background(), r.src.cfg.connectTimeout())
		defer cancel()
		resp, err := adm.CommitOffsets(ctx, r.src.cfg.Group, offs)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			r.log.Warn("kafka source: committing offsets to the group failed", "group", r.src.cfg.Group, "err", err)
		}
	}
	for {
		select {
		case <-stop:
			select {
			case offs := <-r.commits:
				commit(offs)
			default:
			}
			return
		case offs := <-r.commits:
			commit(offs)
		}
	}
}

// Close stops the goroutines, after committing offsets still waiting, and closes the client.
func (r *reader[T]) Close() error {
	r.cancel()
	close(r.stop)
	r.wg.Wait()
	r.cl.Close()
	return nil
}
