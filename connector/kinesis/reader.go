package kinesis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/metrics"
)

// readBatch is the most records one Read emits.
const readBatch = 1000

// fetchQueue is how many fetched batches a shard's fetcher may hold ahead of Read.
const fetchQueue = 2

// NewReader implements connector.Source. The reader fetches each shard in a goroutine of its
// own and emits from the task's goroutine in Read.
func (s *Source) NewReader(rc connector.ReaderContext) (connector.Reader[Record], error) {
	if rc.Clock == nil {
		rc.Clock = eventtime.RealClock()
	}
	if rc.Logger == nil {
		rc.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &reader{src: s, rc: rc, lin: s.lineage(false), fetchCtx: ctx, stop: cancel,
		shards: map[string]*shardReader{}, avail: make(chan struct{}, 1),
		lag: &readerLag{gauge: rc.Gauge(metrics.MillisBehindLatest), shards: map[string]int64{}}}, nil
}

// reader reads the shards assigned to one subtask. Its methods are called from the subtask's
// goroutine; the fetch goroutines it owns talk to it only through their batch channels and
// avail.
type reader struct {
	src      *Source
	rc       connector.ReaderContext
	lin      *lineage
	fetchCtx context.Context // the fetchers' context, cancelled by Close
	stop     context.CancelFunc
	wg       sync.WaitGroup
	// shards holds the assigned shards, finished markers included; order is their IDs in the
	// order Read visits them.
	shards map[string]*shardReader
	order  []string
	cursor int
	avail  chan struct{} // ready after a fetcher queued a batch
	lag    *readerLag
}

// readerLag is a reader's millisBehindLatest gauge: the largest MillisBehindLatest of the
// shards it reads, which their fetchers report.
type readerLag struct {
	gauge  *atomic.Int64
	mu     sync.Mutex
	shards map[string]int64 // guarded by mu
}

// set records a shard's lag, or drops the shard when done.
func (l *readerLag) set(shard string, ms int64, done bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if done {
		delete(l.shards, shard)
	} else {
		l.shards[shard] = ms
	}
	var m int64
	for _, v := range l.shards {
		m = max(m, v)
	}
	l.gauge.Store(m)
}

// shardReader is the reader's side of one shard: the split (its position advanced as records
// are emitted) and the batch being emitted.
type shardReader struct {
	split   *Split
	out     connector.SplitOutput[Record]
	batches chan fetched // nil for finished markers
	cur     []types.Record
	end     bool // cur is the shard's last batch
}

// fetched is what a fetcher hands to Read: a batch of records, the end of the shard, or the
// error that stopped it.
type fetched struct {
	records []types.Record
	end     bool
	err     error
}

// AddSplits starts reading the shards from their positions; finished markers are kept, not read.
func (r *reader) AddSplits(splits []connector.Split) {
	for _, sp := range splits {
		v := sp.(*Split).clone()
		sr := &shardReader{split: v}
		r.shards[v.ShardID] = sr
		r.order = append(r.order, v.ShardID)
		if v.Finished {
			r.lin.finish(v.ShardID)
			continue
		}
		sr.batches = make(chan fetched, fetchQueue)
		f := &fetcher{src: r.src, lag: r.lag, clock: r.rc.Clock, log: r.rc.Logger, shard: v.ShardID,
			start: v.Start, after: v.SequenceNumber, out: sr.batches, avail: r.avail}
		r.wg.Go(func() { f.run(r.fetchCtx) })
	}
	r.signal()
}

func (r *reader) signal() {
	select {
	case r.avail <- struct{}{}:
	default:
	}
}

// NoMoreSplits does nothing: a stream has no end.
func (r *reader) NoMoreSplits() {}

// Read emits up to readBatch records of the batches the fetchers have ready, visiting the
// shards round-robin. A shard read to its end is released, recorded as finished for the
// enumerator, and kept as a marker. Read returns the error that stopped a fetcher.
func (r *reader) Read(_ context.Context, out connector.ReaderOutput[Record]) (connector.ReadStatus, error) {
	budget := readBatch
	more := false
	for visited := 0; visited < len(r.order) && budget > 0; visited++ {
		if r.cursor >= len(r.order) {
			r.cursor = 0
		}
		sr := r.shards[r.order[r.cursor]]
		r.cursor++
		if sr.batches == nil {
			continue // finished marker
		}
		if len(sr.cur) == 0 && !sr.end {
			select {
			case f := <-sr.batches:
				if f.err != nil {
					return connector.MoreAvailable, f.err
				}
				sr.cur, sr.end = f.records, f.end
			default:
				continue
			}
		}
		if sr.out == nil {
			sr.out = out.Split(sr.split.ShardID)
		}
		n := min(budget, len(sr.cur))
		for _, rec := range sr.cur[:n] {
			v := Record{Data: rec.Data, ShardID: sr.split.ShardID}
			if rec.PartitionKey != nil {
				v.PartitionKey = *rec.PartitionKey
			}
			if rec.SequenceNumber != nil {
				v.SequenceNumber = *rec.SequenceNumber
			}
			var ts int64
			if rec.ApproximateArrivalTimestamp != nil {
				v.ApproximateArrivalTimestamp = *rec.ApproximateArrivalTimestamp
				ts = v.ApproximateArrivalTimestamp.UnixMilli()
			}
			sr.out.Collect(v, ts)
			sr.split.SequenceNumber = v.SequenceNumber
		}
		clear(sr.cur[:n]) // let the data go
		sr.cur = sr.cur[n:]
		budget -= n
		if len(sr.cur) > 0 {
			more = true
			r.cursor-- // go on with this shard next time
			continue
		}
		if sr.end {
			r.finish(sr, out)
		}
		more = true // the channel may hold more
	}
	if more {
		return connector.MoreAvailable, nil
	}
	return connector.NothingAvailable, nil
}

// finish turns sr into a finished marker.
func (r *reader) finish(sr *shardReader, out connector.ReaderOutput[Record]) {
	id := sr.split.ShardID
	sr.split.Finished = true
	sr.batches, sr.out, sr.cur = nil, nil, nil
	out.ReleaseSplit(id)
	r.lin.finish(id)
	r.lag.set(id, 0, true)
	r.rc.Logger.Info("kinesis: shard read to its end", "stream", r.src.cfg.Stream, "shard", id)
}

// Available implements connector.Availability: ready when a fetcher has queued a batch since
// the last Read, or a split was added.
func (r *reader) Available() <-chan struct{} { return r.avail }

// Snapshot returns copies of the assigned shards with the last sequence number emitted, and the
// finished markers of shards the stream still lists.
func (r *reader) Snapshot(int64) ([]connector.Split, error) {
	out := make([]connector.Split, 0, len(r.shards))
	keep := r.order[:0]
	for _, id := range r.order {
		sr := r.shards[id]
		if sr.split.Finished && r.lin.unlisted(id) {
			delete(r.shards, id)
			continue
		}
		keep = append(keep, id)
		out = append(out, sr.split.clone())
	}
	clear(r.order[len(keep):])
	r.order = keep
	if r.cursor > len(r.order) {
		r.cursor = 0
	}
	return out, nil
}

// Close stops the fetchers and waits for them.
func (r *reader) Close() error {
	r.stop()
	r.wg.Wait()
	return nil
}

// fetcher reads one shard, polling GetRecords (poll) or through enhanced fan-out (subscribe,
// fanout.go), and queues what it gets for the reader. It owns its position in the shard; the
// reader owns the split.
type fetcher struct {
	src   *Source
	lag   *readerLag
	clock eventtime.Clock
	log   *slog.Logger
	shard string
	start StartPosition
	after string // the last sequence number fetched; empty: from start
	// latestAt is when a fan-out fetcher starting at LATEST first subscribed (fanout.go).
	latestAt time.Time
	out      chan<- fetched
	avail    chan struct{}
}

func (f *fetcher) run(ctx context.Context) {
	read := f.poll
	if f.src.cfg.FanOut != nil {
		read = f.subscribe
	}
	err := read(ctx)
	if err == nil || ctx.Err() != nil {
		return
	}
	select {
	case f.out <- fetched{err: err}:
		f.signal()
	case <-ctx.Done():
	}
}

func (f *fetcher) signal() {
	select {
	case f.avail <- struct{}{}:
	default:
	}
}

// retrying logs failed call number n of op, about to be retried after a backoff, as a
// warning naming the stream, the shard, the call and the cause.
func (f *fetcher) retrying(op string, n int, err error) {
	err = fmt.Errorf("kinesis: stream %s, shard %s: %s (attempt %d, retrying): %w", f.src.cfg.Stream, f.shard, op, n, err)
	f.log.Warn(retryMessage, "stream", f.src.cfg.Stream, "shard", f.shard, "op", op, "attempt", n, "err", err)
}

// retryMessage is the message of the warning logged for every retried call.
const retryMessage = "kinesis: call failed; backing off"

// poll fetches until the shard ends (nil) or the retries run out (the error).
func (f *fetcher) poll(ctx context.Context) error {
	cfg := &f.src.cfg
	stream := cfg.Stream
	failures := 0
	var iter *string
	for {
		if iter == nil {
			it, err := f.iterator(ctx)
			if err != nil {
				if failures++; failures > cfg.MaxRetries || !retryable(err) {
					return fmt.Errorf("kinesis: stream %s, shard %s: getting a shard iterator (%d attempts): %w", stream, f.shard, failures, err)
				}
				f.retrying("getting a shard iterator", failures, err)
				if !f.sleep(ctx, backoff(cfg.BaseBackoff, cfg.MaxBackoff, failures)) {
					return nil
				}
				continue
			}
			iter = it
		}
		limit := int32(cfg.MaxRecordsPerCall)
		resp, err := f.src.api.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: &limit})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var expired *types.ExpiredIteratorException
			if errors.As(err, &expired) {
				iter = nil // get a new one after the last sequence number fetched
			}
			if failures++; failures > cfg.MaxRetries || !retryable(err) {
				return fmt.Errorf("kinesis: stream %s, shard %s: GetRecords (%d attempts): %w", stream, f.shard, failures, err)
			}
			f.retrying("GetRecords", failures, err)
			if !f.sleep(ctx, backoff(cfg.BaseBackoff, cfg.MaxBackoff, failures)) {
				return nil
			}
			continue
		}
		failures = 0
		var behind int64
		if resp.MillisBehindLatest != nil {
			behind = *resp.MillisBehindLatest
			f.lag.set(f.shard, behind, false)
		}
		end := resp.NextShardIterator == nil
		if len(resp.Records) > 0 || end {
			if n := len(resp.Records); n > 0 && resp.Records[n-1].SequenceNumber != nil {
				f.after = *resp.Records[n-1].SequenceNumber
			}
			select {
			case f.out <- fetched{records: resp.Records, end: end}:
				f.signal()
			case <-ctx.Done():
				return nil
			}
		}
		if end {
			return nil
		}
		iter = resp.NextShardIterator
		if len(resp.Records) == 0 || behind == 0 {
			if !f.sleep(ctx, cfg.PollInterval) {
				return nil
			}
		}
	}
}

// iterator gets an iterator after the last sequence number fetched, or at the start position.
func (f *fetcher) iterator(ctx context.Context) (*string, error) {
	in := &kinesis.GetShardIteratorInput{StreamName: &f.src.cfg.Stream, ShardId: &f.shard}
	switch {
	case f.after != "":
		in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
		in.StartingSequenceNumber = &f.after
	case f.start.Kind == Latest:
		in.ShardIteratorType = types.ShardIteratorTypeLatest
	case f.start.Kind == AtTimestamp:
		in.ShardIteratorType = types.ShardIteratorTypeAtTimestamp
		ts := f.start.Timestamp
		in.Timestamp = &ts
	default:
		in.ShardIteratorType = types.ShardIteratorTypeTrimHorizon
	}
	resp, err := f.src.api.GetShardIterator(ctx, in)
	if err != nil {
		return nil, err
	}
	if resp.ShardIterator == nil {
		return nil, errors.New("no shard iterator in the response")
	}
	return resp.ShardIterator, nil
}

// sleep waits d on the clock; it returns false if ctx ended first.
func (f *fetcher) sleep(ctx context.Context, d time.Duration) bool {
	t := f.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.Chan():
		return true
	case <-ctx.Done():
		return false
	}
}

// backoff returns the wait before retry n (from 1): base doubled n-1 times, at most max, less up
// to half of it at random.
func backoff(base, max time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	return d - time.Duration(rand.Int64N(int64(d)/2+1))
}

// retryable reports whether a failed call is worth repeating: throttling, an expired iterator,
// a failure on the service's side, or one the SDK gave up on (a connection refused, a
// timeout). Errors about the request itself (no such stream, access denied, a bad argument)
// are not.
func retryable(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return true // transport errors: the endpoint may come back
	}
	switch ae.ErrorCode() {
	case "ProvisionedThroughputExceededException", "LimitExceededException", "ExpiredIteratorException",
		"ResourceInUseException", // a subscription to the shard is still open, or the consumer is being made
		"KMSThrottlingException", "InternalFailure", "InternalFailureException", "ServiceUnavailable",
		"ServiceUnavailableException", "ThrottlingException":
		return true
	}
	return ae.ErrorFault() == smithy.FaultServer
}
