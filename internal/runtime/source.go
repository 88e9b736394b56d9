package runtime

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/eventtime"
)

// SourceSpec is the typed source of a source node; make one with NewSource.
type SourceSpec interface {
	boundedness() connector.Boundedness
	newEnumerator(ctx connector.EnumeratorContext, restored []connector.Split) (connector.Enumerator, error)
	newRunner(t *task, out any, rc connector.ReaderContext, restored [][]byte) (sourceRunner, error)
	// codec returns the source's SplitCodec, nil if its splits cannot be checkpointed.
	codec() connector.SplitCodec
}

// NewSource returns the SourceSpec of a source node reading src with the given watermark
// strategy.
func NewSource[T any](src connector.Source[T], strategy eventtime.Strategy[T]) SourceSpec {
	return sourceSpec[T]{src: src, strategy: strategy}
}

type sourceSpec[T any] struct {
	src      connector.Source[T]
	strategy eventtime.Strategy[T]
}

func (s sourceSpec[T]) boundedness() connector.Boundedness { return s.src.Boundedness() }

func (s sourceSpec[T]) codec() connector.SplitCodec {
	c, _ := s.src.(connector.SplitCodec)
	return c
}

func (s sourceSpec[T]) newEnumerator(ctx connector.EnumeratorContext, restored []connector.Split) (connector.Enumerator, error) {
	return s.src.NewEnumerator(ctx, restored)
}

func (s sourceSpec[T]) newRunner(t *task, out any, rc connector.ReaderContext, restored [][]byte) (sourceRunner, error) {
	splits, err := decodeSplits(s.codec(), restored)
	if err != nil {
		return nil, err
	}
	r, err := s.src.NewReader(rc)
	if err != nil {
		return nil, err
	}
	rd := &reader[T]{t: t, reader: r, out: out.(Output[T]), queue: t.ctrl, codec: s.codec(),
		strategy: s.strategy, splits: map[string]*splitOut[T]{}, wm: eventtime.MinTime,
		reached: eventtime.MinTime}
	if len(splits) > 0 {
		rd.addSplits(splits)
	}
	return rd, nil
}

// decodeSplits decodes the splits of a snapshot.
func decodeSplits(codec connector.SplitCodec, blobs [][]byte) ([]connector.Split, error) {
	if len(blobs) == 0 {
		return nil, nil
	}
	if codec == nil {
		return nil, fmt.Errorf("the snapshot has splits, but the source cannot decode them (it implements no connector.SplitCodec)")
	}
	out := make([]connector.Split, 0, len(blobs))
	for i, b := range blobs {
		sp, err := codec.DecodeSplit(b)
		if err != nil {
			return nil, fmt.Errorf("decoding split %d of the snapshot: %w", i, err)
		}
		out = append(out, sp)
	}
	return out, nil
}

// encodeSplits encodes splits for a snapshot.
func encodeSplits(codec connector.SplitCodec, splits []connector.Split) ([][]byte, error) {
	if len(splits) == 0 {
		return nil, nil
	}
	if codec == nil {
		return nil, fmt.Errorf("the source cannot be checkpointed: it implements no connector.SplitCodec")
	}
	out := make([][]byte, 0, len(splits))
	for _, sp := range splits {
		b, err := codec.EncodeSplit(sp)
		if err != nil {
			return nil, fmt.Errorf("encoding split %s: %w", sp.SplitID(), err)
		}
		out = append(out, b)
	}
	return out, nil
}

// sourceRunner is the head of a source task: it runs the reader loop instead of a gate.
type sourceRunner interface {
	Instance
	run(t *task)
}

// reader runs a connector.Reader in a source task: it stamps records with event time, keeps a
// watermark generator per split and emits the reader's watermark (the minimum over its active
// splits) at most every Config.WatermarkInterval. At end of input it emits the watermark its
// data reached, then MaxTime (see end).
type reader[T any] struct {
	t        *task
	reader   connector.Reader[T]
	out      Output[T]
	queue    *ctrlQueue
	codec    connector.SplitCodec
	strategy eventtime.Strategy[T]
	splits   map[string]*splitOut[T]
	noMore   bool
	wm       int64
	idle     bool
	lastWM   time.Time
	// reached is the highest watermark the generators of released splits gave at their
	// release: how far in event time the finished splits' data went.
	reached int64
}

type splitOut[T any] struct {
	r          *reader[T]
	gen        eventtime.Generator[T]
	fresh      bool // saw records since the last idleness check
	lastActive time.Time
	idle       bool
}

func (s *splitOut[T]) Collect(v T, ts int64) {
	r := s.r
	if r.strategy.Timestamp != nil {
		ts = r.strategy.Timestamp(v)
	}
	if s.gen != nil {
		s.gen.OnEvent(v, ts)
	}
	s.fresh = true
	r.out.Collect(v, ts)
}

// Split implements connector.ReaderOutput.
func (r *reader[T]) Split(id string) connector.SplitOutput[T] {
	s, ok := r.splits[id]
	if !ok {
		s = &splitOut[T]{r: r, lastActive: r.t.clock.Now()}
		if r.strategy.NewGenerator != nil {
			s.gen = r.strategy.NewGenerator()
		}
		r.splits[id] = s
	}
	return s
}

// ReleaseSplit implements connector.ReaderOutput: the split stops holding the reader's
// watermark back, and the watermark its data reached counts for the end of input.
func (r *reader[T]) ReleaseSplit(id string) {
	if s, ok := r.splits[id]; ok && s.gen != nil {
		r.reached = max(r.reached, s.gen.Watermark())
	}
	delete(r.splits, id)
}

func (r *reader[T]) Open() error     { return nil }
func (r *reader[T]) Close() error    { return r.reader.Close() }
func (r *reader[T]) Watermark(int64) {}
func (r *reader[T]) Idle(bool)       {}
func (r *reader[T]) Finish()         {}

// SnapshotState implements Snapshotter: the reader's unfinished splits with their positions.
func (r *reader[T]) SnapshotState(id int64) (OperatorSnapshot, error) {
	splits, err := r.reader.Snapshot(id)
	if err != nil {
		return OperatorSnapshot{}, fmt.Errorf("source reader snapshot: %w", err)
	}
	blobs, err := encodeSplits(r.codec, splits)
	return OperatorSnapshot{Operator: blobs}, err
}

// CheckpointComplete implements CheckpointListener for readers that want to know.
func (r *reader[T]) CheckpointComplete(id int64) error {
	if l, ok := r.reader.(connector.CheckpointListener); ok {
		return l.NotifyCheckpointComplete(r.t.ctx, id)
	}
	return nil
}

func (r *reader[T]) addSplits(splits []connector.Split) {
	for _, s := range splits {
		r.Split(s.SplitID()) // track it from now on, so it counts for the watermark
	}
	r.reader.AddSplits(splits)
}

// takeSplits handles the control messages that arrived, in order: split assignments, and the
// triggers between them (a barrier goes out with exactly the splits assigned before it).
func (r *reader[T]) takeSplits() {
	for _, m := range r.queue.take() {
		switch m.kind {
		case ctrlSplits:
			r.addSplits(m.splits)
		case ctrlNoMore:
			if !r.noMore {
				r.noMore = true
				r.reader.NoMoreSplits()
			}
		default:
			r.t.control(m)
		}
	}
}

func (r *reader[T]) fail(err error) {
	panic(&taskAbort{err: fmt.Errorf("runtime: source %s (subtask %d): %w", r.t.name, r.t.subtask, err)})
}

func (r *reader[T]) run(t *task) {
	tick := t.clock.NewTicker(t.cfg.FlushInterval)
	defer tick.Stop()
	backoff := time.Millisecond
	r.lastWM = t.clock.Now()
	for {
		r.takeSplits()
		st, err := r.reader.Read(t.ctx, r)
		if err != nil {
			r.fail(err)
		}
		switch st {
		case connector.MoreAvailable:
			backoff = time.Millisecond
			r.maybeWatermark(false)
			select {
			case <-tick.Chan():
				t.flushAll()
				t.publish()
			case <-t.timers.C():
				t.timers.fire() // processing-time timers of operators chained to the source
			case <-t.ctx.Done():
				panic(&taskAbort{err: t.ctx.Err()})
			default:
			}
		case connector.NothingAvailable:
			r.maybeWatermark(true)
			t.flushAll()
			r.wait(tick, backoff)
			backoff = min(2*backoff, 100*time.Millisecond)
		case connector.EndOfInput:
			r.end()
			t.flushAll()
			t.finished()
			return
		default:
			r.fail(fmt.Errorf("reader returned unknown status %d", st))
		}
	}
}

// end emits the end of input. First comes the watermark the data read reached, the highest a
// split's generator gave (at the split's release, or now for splits still held), if it is
// above the last one emitted: a periodic emit may not have come since the last records, or at
// all when the input was read within one WatermarkInterval, and event-time timers due within
// the data must fire while the watermark is still a real time, not at MaxTime, whatever the
// pace of reading. The reader counts as active again for it. Then MaxTime, then Finish.
func (r *reader[T]) end() {
	reached := r.reached
	for _, s := range r.splits {
		if s.gen != nil {
			reached = max(reached, s.gen.Watermark())
		}
	}
	if reached > r.wm && reached < eventtime.MaxTime {
		if r.idle {
			r.idle = false
			r.out.Idle(false)
		}
		r.wm = reached
		r.out.Watermark(reached)
	}
	if r.wm != eventtime.MaxTime {
		r.wm = eventtime.MaxTime
		r.out.Watermark(eventtime.MaxTime)
	}
	r.out.Finish()
}

// wait blocks until the reader may have something: its availability signal, new splits, or the
// backoff for readers that cannot signal.
func (r *reader[T]) wait(tick interface{ Chan() <-chan time.Time }, backoff time.Duration) {
	t := r.t
	var avail <-chan struct{}
	var timeout <-chan time.Time
	if a, ok := r.reader.(connector.Availability); ok {
		avail = a.Available()
	} else {
		tm := t.clock.NewTimer(backoff)
		defer tm.Stop()
		timeout = tm.Chan()
	}
	start := t.clock.Now()
	select {
	case <-avail:
	case <-timeout:
	case <-r.queue.notify:
	case <-tick.Chan():
		t.publish()
		r.maybeWatermark(true)
	case <-t.timers.C():
		t.timers.fire()
	case <-t.ctx.Done():
		panic(&taskAbort{err: t.ctx.Err()})
	}
	t.idle += t.clock.Since(start)
}

// maybeWatermark emits the reader's watermark and idleness if the interval has passed (or
// force is set and anything changed).
func (r *reader[T]) maybeWatermark(force bool) {
	iv := r.t.cfg.WatermarkInterval
	now := r.t.clock.Now()
	if !force && iv > 0 && now.Sub(r.lastWM) < iv {
		return
	}
	r.lastWM = now
	timeout := r.strategy.IdleTimeout
	lo, active := eventtime.MaxTime, false
	for _, s := range r.splits {
		if s.fresh {
			s.fresh, s.idle, s.lastActive = false, false, now
		} else if timeout > 0 && now.Sub(s.lastActive) >= timeout {
			s.idle = true
		}
		if s.idle {
			continue
		}
		active = true
		if s.gen != nil {
			lo = min(lo, s.gen.Watermark())
		} else {
			lo = eventtime.MinTime
		}
	}
	// A reader without active splits (all idle, or none assigned to it) must not hold back the
	// watermark downstream.
	idle := !active
	if idle != r.idle {
		r.idle = idle
		r.out.Idle(idle)
	}
	if active && lo > r.wm {
		r.wm = lo
		r.out.Watermark(lo)
	}
}

// enumContext implements connector.EnumeratorContext for one source node.
type enumContext struct {
	queues []*ctrlQueue
	logger *slog.Logger
}

func (c *enumContext) Parallelism() int { return len(c.queues) }
func (c *enumContext) Assign(subtask int, splits ...connector.Split) {
	c.queues[subtask].add(ctrlMsg{kind: ctrlSplits, splits: splits})
}
func (c *enumContext) NoMoreSplits(subtask int) { c.queues[subtask].add(ctrlMsg{kind: ctrlNoMore}) }
func (c *enumContext) Logger() *slog.Logger     { return c.logger }
