package connectortest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/eventtime"
)

// SourceHarness tells the suite how to put records into a connector's external system and read
// them back with its source. Setup and Key are required.
type SourceHarness[T any] struct {
	// Setup puts records into a fresh place of the external system (a topic, a stream, a
	// prefix, a directory) and returns how to read them. Each check calls it once.
	Setup func(t *testing.T) SourceFixture[T]
	// Key returns the identity of a record read, the same as the fixture's Want entry for it.
	// It is called from the readers' goroutines concurrently.
	Key func(v T) string
	// Seed seeds the random choices (where snapshots fall, parallelisms after a restore); 0
	// derives one from the clock. The seed is logged, so a failure can be replayed.
	Seed uint64
	// Quiet is how long an unbounded source is read on after every expected record arrived, to
	// catch duplicates; default 500ms.
	Quiet time.Duration
	// Timeout bounds each run of a check; default 30s.
	Timeout time.Duration
}

// SourceFixture is a set of records put into the external system.
type SourceFixture[T any] struct {
	// New returns a source reading the records put. The suite calls it once per simulated
	// process: at a fresh start and at every second restore (the others reuse the previous
	// run's source, as a restart within one process does).
	New func() connector.Source[T]
	// Want holds the key of every record put, one entry per record.
	Want []string
}

// Source runs the source conformance checks against h, each as a subtest:
//
//   - SplitCodec: every split the enumerator assigns or snapshots, and every split a reader
//     snapshots, decodes from its encoding to a split of the same type and ID that encodes to
//     the same bytes; garbage and foreign splits give errors, not panics.
//   - ReadAll/p=N: a fresh run with N readers reads every record exactly once; a bounded
//     source's readers all end, and no reader ends before it was told NoMoreSplits. Readers
//     emit only through outputs of splits they hold and not after releasing them. Closing the
//     readers and the enumerator leaves no goroutine of the connector running.
//   - Restore/*: snapshots at random points (between Reads, as the runtime takes them), then
//     a crash (everything closed, what was read after the snapshot forgotten) and a restore from
//     the snapshot at another parallelism, several times over: every record is read exactly
//     once counting those before the restored snapshot. Also from a snapshot before the first
//     Read and, for bounded sources, after the end.
//   - EnumeratorRestore: an enumerator restored from a snapshot never assigns a split that was
//     assigned before the snapshot.
//   - AddSplitsBack: splits handed back are at once either assigned again or unassigned (in
//     the enumerator's snapshot), and assigned again at the latest when the reader comes back.
func Source[T any](t *testing.T, h SourceHarness[T]) {
	t.Helper()
	if h.Setup == nil || h.Key == nil {
		t.Fatal("connectortest: SourceHarness needs Setup and Key")
	}
	if h.Quiet <= 0 {
		h.Quiet = 500 * time.Millisecond
	}
	if h.Timeout <= 0 {
		h.Timeout = 30 * time.Second
	}
	if h.Seed == 0 {
		h.Seed = uint64(time.Now().UnixNano())
	}
	t.Logf("connectortest: seed %d", h.Seed)
	t.Run("SplitCodec", func(t *testing.T) { checkSplitCodec(t, &h) })
	for _, p := range []int{1, 3} {
		t.Run(fmt.Sprintf("ReadAll/p=%d", p), func(t *testing.T) { checkReadAll(t, &h, p) })
	}
	t.Run("Restore/AtStart", func(t *testing.T) { checkRestore(t, &h, restoreAtStart) })
	t.Run("Restore/Random", func(t *testing.T) { checkRestore(t, &h, restoreRandom) })
	t.Run("Restore/AfterEnd", func(t *testing.T) { checkRestore(t, &h, restoreAfterEnd) })
	t.Run("EnumeratorRestore", func(t *testing.T) { checkEnumeratorRestore(t, &h) })
	t.Run("AddSplitsBack", func(t *testing.T) { checkAddSplitsBack(t, &h) })
}

// enumCtx is the EnumeratorContext of a run: assignments queue per subtask until the suite
// delivers them, as the runtime's control queues do.
type enumCtx struct {
	t  *testing.T
	p  int
	mu struct {
		sync.Mutex
		queued   [][]connector.Split
		noMore   []bool
		assigned map[string]int // split id → subtask, every assignment of the run
	}
}

func newEnumCtx(t *testing.T, p int) *enumCtx {
	c := &enumCtx{t: t, p: p}
	c.mu.queued = make([][]connector.Split, p)
	c.mu.noMore = make([]bool, p)
	c.mu.assigned = map[string]int{}
	return c
}

func (c *enumCtx) Parallelism() int { return c.p }

func (c *enumCtx) Assign(subtask int, splits ...connector.Split) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if subtask < 0 || subtask >= c.p {
		c.t.Errorf("contract: enumerator assigned %d splits to subtask %d of parallelism %d", len(splits), subtask, c.p)
		return
	}
	for _, sp := range splits {
		if prev, ok := c.mu.assigned[sp.SplitID()]; ok {
			c.t.Errorf("contract: enumerator assigned split %q to subtask %d, but it assigned it to subtask %d before (and it was not handed back)", sp.SplitID(), subtask, prev)
		}
		c.mu.assigned[sp.SplitID()] = subtask
	}
	c.mu.queued[subtask] = append(c.mu.queued[subtask], splits...)
}

func (c *enumCtx) NoMoreSplits(subtask int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if subtask < 0 || subtask >= c.p {
		c.t.Errorf("contract: enumerator said NoMoreSplits to subtask %d of parallelism %d", subtask, c.p)
		return
	}
	c.mu.noMore[subtask] = true
}

func (c *enumCtx) Logger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// take returns and forgets what is queued for subtask.
func (c *enumCtx) take(subtask int) ([]connector.Split, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.mu.queued[subtask]
	c.mu.queued[subtask] = nil
	return q, c.mu.noMore[subtask]
}

// forget lets split ids be assigned again (they were handed back).
func (c *enumCtx) forget(ids ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		delete(c.mu.assigned, id)
	}
}

// assignedIDs returns the ids of every split assigned in the run.
func (c *enumCtx) assignedIDs() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.mu.assigned))
	for k, v := range c.mu.assigned {
		out[k] = v
	}
	return out
}

// readerDriver runs one Reader as a source task would, and is its ReaderOutput.
type readerDriver[T any] struct {
	t       *testing.T
	h       *SourceHarness[T]
	subtask int
	r       connector.Reader[T]
	// Touched only by the reader's goroutine while a phase runs, and by the test goroutine
	// between phases.
	held     map[string]bool // assigned, not released
	released map[string]bool
	got      []string
	noMore   bool // NoMoreSplits delivered
	ended    bool
	err      error
}

func (d *readerDriver[T]) Split(id string) connector.SplitOutput[T] {
	if !d.held[id] {
		d.t.Errorf("contract: reader %d asked for the output of split %q, which it does not hold (held: %v)", d.subtask, id, slices.Sorted(mapKeys(d.held)))
	}
	return &splitOutput[T]{d: d, id: id}
}

func (d *readerDriver[T]) ReleaseSplit(id string) {
	if !d.held[id] {
		d.t.Errorf("contract: reader %d released split %q, which it does not hold", d.subtask, id)
	}
	delete(d.held, id)
	d.released[id] = true
}

type splitOutput[T any] struct {
	d  *readerDriver[T]
	id string
}

func (o *splitOutput[T]) Collect(v T, _ int64) {
	d := o.d
	if d.released[o.id] && !d.held[o.id] {
		d.t.Errorf("contract: reader %d emitted a record through split %q after releasing it", d.subtask, o.id)
	}
	d.got = append(d.got, d.h.Key(v))
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// add hands splits to the reader.
func (d *readerDriver[T]) add(splits []connector.Split) {
	if len(splits) == 0 {
		return
	}
	for _, sp := range splits {
		d.held[sp.SplitID()] = true
		delete(d.released, sp.SplitID())
	}
	d.r.AddSplits(splits)
}

// step calls Read up to calls times, waiting as the runtime does when nothing is available.
func (d *readerDriver[T]) step(ctx context.Context, calls int) {
	backoff := time.Millisecond
	for range calls {
		if d.ended || d.err != nil || ctx.Err() != nil {
			return
		}
		st, err := d.r.Read(ctx, d)
		if err != nil {
			d.err = fmt.Errorf("reader %d: Read: %w", d.subtask, err)
			return
		}
		switch st {
		case connector.MoreAvailable:
			backoff = time.Millisecond
		case connector.NothingAvailable:
			var avail <-chan struct{}
			if a, ok := d.r.(connector.Availability); ok {
				avail = a.Available()
			}
			tm := time.NewTimer(backoff)
			select {
			case <-avail:
			case <-tm.C:
			case <-ctx.Done():
			}
			tm.Stop()
			backoff = min(2*backoff, 20*time.Millisecond)
		case connector.EndOfInput:
			if !d.noMore {
				d.t.Errorf("contract: reader %d returned EndOfInput before it was told NoMoreSplits", d.subtask)
			}
			d.ended = true
		default:
			d.err = fmt.Errorf("reader %d: Read returned unknown status %d", d.subtask, st)
		}
	}
}

// checkpoint is what a snapshot recorded.
type checkpoint struct {
	id      int64
	enum    [][]byte
	readers [][][]byte // per subtask
	emitted []string   // the records emitted before it, restored runs' included
}

// run is one incarnation of the source: an enumerator and its readers.
type run[T any] struct {
	t       *testing.T
	h       *SourceHarness[T]
	src     connector.Source[T]
	codec   connector.SplitCodec
	ectx    *enumCtx
	enum    connector.Enumerator
	readers []*readerDriver[T]
	base    []string // emitted before the checkpoint this run restored
	// completed holds the checkpoints snapshotted and not yet notified to the readers.
	completed []int64
	closed    bool
}

// start makes a run of src with p readers: fresh when from is nil, else restored from it.
func start[T any](ctx context.Context, t *testing.T, h *SourceHarness[T], src connector.Source[T], p int, from *checkpoint) *run[T] {
	t.Helper()
	r := &run[T]{t: t, h: h, src: src, ectx: newEnumCtx(t, p)}
	r.codec, _ = src.(connector.SplitCodec)
	var restored []connector.Split
	perReader := make([][]connector.Split, p)
	if from != nil {
		if r.codec == nil {
			t.Fatal("contract: the source implements no connector.SplitCodec, so it cannot be checkpointed")
		}
		restored = r.decodeAll(from.enum)
		if restored == nil {
			restored = []connector.Split{}
		}
		// The runtime deals the blobs of all old subtasks round robin over the new readers.
		k := 0
		for _, blobs := range from.readers {
			for _, sp := range r.decodeAll(blobs) {
				perReader[k%p] = append(perReader[k%p], sp)
				k++
			}
		}
		r.base = slices.Clone(from.emitted)
	}
	e, err := src.NewEnumerator(r.ectx, restored)
	if err != nil {
		t.Fatalf("NewEnumerator: %v", err)
	}
	r.enum = e
	t.Cleanup(func() { r.close() })
	for i := range p {
		rd, err := src.NewReader(connector.ReaderContext{Subtask: i, Parallelism: p,
			Logger: slog.New(slog.DiscardHandler), Clock: eventtime.RealClock()})
		if err != nil {
			t.Fatalf("NewReader %d: %v", i, err)
		}
		d := &readerDriver[T]{t: t, h: h, subtask: i, r: rd, held: map[string]bool{}, released: map[string]bool{}}
		d.add(perReader[i])
		r.readers = append(r.readers, d)
	}
	if err := e.Start(ctx); err != nil {
		t.Fatalf("Enumerator.Start: %v", err)
	}
	for i := range p {
		if err := e.AddReader(ctx, i); err != nil {
			t.Fatalf("Enumerator.AddReader(%d): %v", i, err)
		}
	}
	return r
}

// deliver hands every reader what the enumerator assigned it since the last delivery.
func (r *run[T]) deliver() {
	for i, d := range r.readers {
		splits, noMore := r.ectx.take(i)
		d.add(splits)
		if noMore && !d.noMore {
			d.noMore = true
			d.r.NoMoreSplits()
		}
	}
}

// phase delivers assignments and lets every reader make up to calls Reads, concurrently, while
// the enumerator discovers (if it is a Discoverer with a positive interval: the runtime calls
// Discover on a timer, the suite once per phase).
func (r *run[T]) phase(ctx context.Context, calls func() int) {
	r.notify(ctx)
	r.deliver()
	var wg sync.WaitGroup
	for _, d := range r.readers {
		n := calls()
		wg.Go(func() { d.step(ctx, n) })
	}
	if disc, ok := r.enum.(connector.Discoverer); ok && disc.DiscoveryInterval() > 0 {
		if err := disc.Discover(ctx); err != nil && ctx.Err() == nil {
			r.t.Logf("Discover: %v (the runtime logs it and tries again)", err)
		}
	}
	wg.Wait()
	for _, d := range r.readers {
		if d.err != nil {
			r.t.Fatal(d.err)
		}
	}
}

// emitted returns every record emitted so far, those before the restored checkpoint included.
func (r *run[T]) emitted() []string {
	out := slices.Clone(r.base)
	for _, d := range r.readers {
		out = append(out, d.got...)
	}
	return out
}

func (r *run[T]) count() int {
	n := len(r.base)
	for _, d := range r.readers {
		n += len(d.got)
	}
	return n
}

func (r *run[T]) allEnded() bool {
	for _, d := range r.readers {
		if !d.ended {
			return false
		}
	}
	return true
}

// drain reads until every record of want is emitted: to the end for a bounded source, and for
// an unbounded one on for Quiet after the count is reached.
func (r *run[T]) drain(ctx context.Context, want int, calls func() int) {
	ctx, cancel := context.WithTimeout(ctx, r.h.Timeout)
	defer cancel()
	bounded := r.src.Boundedness() == connector.Bounded
	var quietUntil time.Time
	for {
		r.phase(ctx, calls)
		if ctx.Err() != nil {
			r.t.Fatalf("reading did not finish within %v: %s", r.h.Timeout, diffOrCount(r.emitted(), want))
		}
		if bounded {
			if r.allEnded() {
				return
			}
			continue
		}
		if r.count() >= want {
			if quietUntil.IsZero() {
				quietUntil = time.Now().Add(r.h.Quiet)
			} else if time.Now().After(quietUntil) {
				return
			}
		}
	}
}

func diffOrCount(got []string, want int) string {
	return fmt.Sprintf("%d of %d records emitted", len(got), want)
}

// snapshot takes checkpoint id as the runtime does and notifies the readers it completed.
func (r *run[T]) snapshot(ctx context.Context, id int64) *checkpoint {
	r.t.Helper()
	if r.codec == nil {
		r.t.Fatal("contract: the source implements no connector.SplitCodec, so it cannot be checkpointed")
	}
	c := &checkpoint{id: id}
	splits, err := r.enum.Snapshot()
	if err != nil {
		r.t.Fatalf("Enumerator.Snapshot: %v", err)
	}
	c.enum = r.encodeAll("enumerator snapshot", splits)
	r.deliver() // a barrier follows the assignments made before it
	for _, d := range r.readers {
		splits, err := d.r.Snapshot(id)
		if err != nil {
			r.t.Fatalf("reader %d: Snapshot(%d): %v", d.subtask, id, err)
		}
		c.readers = append(c.readers, r.encodeAll(fmt.Sprintf("reader %d snapshot", d.subtask), splits))
	}
	c.emitted = r.emitted()
	r.completed = append(r.completed, id)
	return c
}

// notify tells the readers that are CheckpointListeners of the checkpoints completed since the
// last phase. The runtime learns of a completion after the snapshot, while readers read on, so
// the suite notifies at the start of the next phase; a run that crashes first never notifies.
func (r *run[T]) notify(ctx context.Context) {
	for _, id := range r.completed {
		for _, d := range r.readers {
			if l, ok := d.r.(connector.CheckpointListener); ok {
				if err := l.NotifyCheckpointComplete(ctx, id); err != nil {
					r.t.Fatalf("reader %d: NotifyCheckpointComplete(%d): %v", d.subtask, id, err)
				}
			}
		}
	}
	r.completed = nil
}

// encodeAll encodes splits, checking that each round-trips.
func (r *run[T]) encodeAll(what string, splits []connector.Split) [][]byte {
	r.t.Helper()
	out := make([][]byte, 0, len(splits))
	for _, sp := range splits {
		out = append(out, roundTrip(r.t, r.codec, what, sp))
	}
	return out
}

func (r *run[T]) decodeAll(blobs [][]byte) []connector.Split {
	r.t.Helper()
	var out []connector.Split
	for i, b := range blobs {
		sp, err := r.codec.DecodeSplit(b)
		if err != nil {
			r.t.Fatalf("DecodeSplit of split %d of a snapshot: %v", i, err)
		}
		out = append(out, sp)
	}
	return out
}

// roundTrip encodes sp, checks that the encoding decodes to a split of the same type and id
// that encodes to the same bytes, and returns the encoding.
func roundTrip(t *testing.T, codec connector.SplitCodec, what string, sp connector.Split) []byte {
	t.Helper()
	b, err := codec.EncodeSplit(sp)
	if err != nil {
		t.Fatalf("%s: EncodeSplit(%q): %v", what, sp.SplitID(), err)
	}
	back, err := codec.DecodeSplit(b)
	if err != nil {
		t.Fatalf("%s: DecodeSplit of split %q's encoding: %v", what, sp.SplitID(), err)
	}
	if reflect.TypeOf(back) != reflect.TypeOf(sp) {
		t.Errorf("contract: %s: split %q encoded as a %T decodes as a %T", what, sp.SplitID(), sp, back)
	}
	if back.SplitID() != sp.SplitID() {
		t.Errorf("contract: %s: split %q decodes with id %q", what, sp.SplitID(), back.SplitID())
	}
	again, err := codec.EncodeSplit(back)
	if err != nil {
		t.Fatalf("%s: EncodeSplit of decoded split %q: %v", what, sp.SplitID(), err)
	}
	if !bytes.Equal(again, b) {
		t.Errorf("contract: %s: split %q does not round-trip: encoded %x, decoded and encoded again %x", what, sp.SplitID(), b, again)
	}
	return b
}

// close closes the readers and the enumerator, once, checking their errors.
func (r *run[T]) close() {
	if r.closed {
		return
	}
	r.closed = true
	for _, d := range r.readers {
		if err := d.r.Close(); err != nil {
			r.t.Errorf("reader %d: Close: %v", d.subtask, err)
		}
	}
	if err := r.enum.Close(); err != nil {
		r.t.Errorf("Enumerator.Close: %v", err)
	}
}

func (r *run[T]) check(want []string) {
	r.t.Helper()
	if d := diff(r.emitted(), want); d != "" {
		r.t.Errorf("records read: %s", d)
	}
}

func checkSplitCodec[T any](t *testing.T, h *SourceHarness[T]) {
	fx := h.Setup(t)
	src := fx.New()
	codec, ok := src.(connector.SplitCodec)
	if !ok {
		t.Fatal("contract: the source implements no connector.SplitCodec, so it cannot be checkpointed")
	}
	ctx := t.Context()
	r := start(ctx, t, h, src, 3, nil)
	r.snapshot(ctx, 1) // round-trips the enumerator's and readers' splits before any Read
	ids := r.ectx.assignedIDs()
	if len(ids) == 0 && r.src.Boundedness() == connector.Bounded && len(fx.Want) > 0 {
		t.Errorf("contract: a bounded source with %d records assigned no split to any of 3 readers after Start and AddReader", len(fx.Want))
	}
	rng := rand.New(rand.NewPCG(h.Seed, 1))
	r.phase(ctx, func() int { return 1 + rng.IntN(2) })
	r.snapshot(ctx, 2) // and mid-read
	for i, b := range [][]byte{nil, {}, {0xff}, {0, 0, 0, 0}, bytes.Repeat([]byte{0xff}, 40)} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("contract: DecodeSplit of garbage %d (%x) panicked: %v", i, b, p)
				}
			}()
			if sp, err := codec.DecodeSplit(b); err == nil {
				t.Logf("DecodeSplit of garbage %x gave split %q without an error", b, sp.SplitID())
			}
		}()
	}
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Errorf("contract: EncodeSplit of another source's split panicked: %v", p)
			}
		}()
		if _, err := codec.EncodeSplit(foreignSplit{}); err == nil {
			t.Errorf("contract: EncodeSplit of another source's split (%T) returned no error", foreignSplit{})
		}
	}()
}

type foreignSplit struct{}

func (foreignSplit) SplitID() string { return "connectortest-foreign" }

func checkReadAll[T any](t *testing.T, h *SourceHarness[T], p int) {
	fx := h.Setup(t)
	before := goroutines()
	ctx := t.Context()
	r := start(ctx, t, h, fx.New(), p, nil)
	r.drain(ctx, len(fx.Want), func() int { return 4 })
	r.check(fx.Want)
	r.close()
	checkNoLeaks(t, "readers and enumerator", before)
}

type restoreMode uint8

const (
	restoreAtStart restoreMode = iota
	restoreRandom
	restoreAfterEnd
)

func checkRestore[T any](t *testing.T, h *SourceHarness[T], mode restoreMode) {
	fx := h.Setup(t)
	ctx := t.Context()
	seed := h.Seed + uint64(mode)
	rng := rand.New(rand.NewPCG(seed, 2))
	calls := func() int { return 1 + rng.IntN(3) }
	src := fx.New()
	p := 2
	r := start(ctx, t, h, src, p, nil)
	var id int64
	next := func() int64 { id++; return id }
	switch mode {
	case restoreAtStart:
		c := r.snapshot(ctx, next())
		r.phase(ctx, calls) // read a little, then crash: it is forgotten
		r.close()
		r = start(ctx, t, h, fx.New(), 3, c)
	case restoreAfterEnd:
		r.drain(ctx, len(fx.Want), calls)
		r.check(fx.Want)
		c := r.snapshot(ctx, next())
		r.close()
		r = start(ctx, t, h, fx.New(), 3, c)
	case restoreRandom:
		for crash := range 3 {
			// A few checkpoints at random points, then read on a little and crash; restore
			// from the latest checkpoint, at another parallelism.
			var last *checkpoint
			for range 1 + rng.IntN(3) {
				for range rng.IntN(3) {
					r.phase(ctx, calls)
				}
				last = r.snapshot(ctx, next())
			}
			r.phase(ctx, calls)
			r.close()
			q := 1 + rng.IntN(4)
			t.Logf("crash %d after checkpoint %d with %d records emitted before it; restoring %d readers from %d", crash, last.id, len(last.emitted), q, p)
			if crash%2 == 0 {
				src = fx.New() // a new process
			}
			p = q
			r = start(ctx, t, h, src, p, last)
		}
	}
	r.drain(ctx, len(fx.Want), calls)
	r.check(fx.Want)
}

func checkEnumeratorRestore[T any](t *testing.T, h *SourceHarness[T]) {
	fx := h.Setup(t)
	ctx := t.Context()
	r := start(ctx, t, h, fx.New(), 2, nil)
	before := r.ectx.assignedIDs()
	c := r.snapshot(ctx, 1)
	r.close()
	// The readers' splits of c are handed back by the runtime, not by the enumerator: restore
	// the enumerator alone (readers without splits) and see what it assigns.
	c.readers = nil
	r2 := start(ctx, t, h, fx.New(), 2, c)
	if disc, ok := r2.enum.(connector.Discoverer); ok && disc.DiscoveryInterval() > 0 {
		if err := disc.Discover(ctx); err != nil {
			t.Logf("Discover: %v", err)
		}
	}
	for id, sub := range r2.ectx.assignedIDs() {
		if prev, ok := before[id]; ok {
			t.Errorf("contract: the restored enumerator assigned split %q to subtask %d, but it was assigned to subtask %d before the snapshot: its reader's snapshot holds it", id, sub, prev)
		}
	}
}

func checkAddSplitsBack[T any](t *testing.T, h *SourceHarness[T]) {
	fx := h.Setup(t)
	ctx := t.Context()
	r := start(ctx, t, h, fx.New(), 2, nil)
	sub := -1
	var back []connector.Split
	for i := range 2 {
		splits, _ := r.ectx.take(i)
		if len(splits) > 0 && sub < 0 {
			sub, back = i, splits
		}
	}
	if sub < 0 {
		t.Skip("the enumerator assigned no split after Start and AddReader; nothing to hand back")
	}
	ids := make([]string, len(back))
	for i, sp := range back {
		ids[i] = sp.SplitID()
	}
	r.ectx.forget(ids...)
	r.enum.AddSplitsBack(back, sub)
	snap, err := r.enum.Snapshot()
	if err != nil {
		t.Fatalf("Enumerator.Snapshot: %v", err)
	}
	unassigned := map[string]bool{}
	for _, sp := range snap {
		unassigned[sp.SplitID()] = true
	}
	reassigned := r.ectx.assignedIDs()
	for _, id := range ids {
		if _, ok := reassigned[id]; !ok && !unassigned[id] {
			t.Errorf("contract: split %q handed back by subtask %d is neither assigned again nor among the enumerator's unassigned splits (its Snapshot), so a checkpoint now would lose it", id, sub)
		}
	}
	if err := r.enum.AddReader(ctx, sub); err != nil {
		t.Fatalf("AddReader(%d): %v", sub, err)
	}
	again := r.ectx.assignedIDs()
	for _, id := range ids {
		if _, ok := again[id]; !ok {
			t.Errorf("contract: split %q handed back by subtask %d was not assigned again when its reader was added again", id, sub)
		}
	}
}
