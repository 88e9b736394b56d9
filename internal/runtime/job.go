package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/internal/snapshot"
	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/restart"
	"github.com/runnel-io/runnel/state"
)

// Config configures how a job runs. The zero Config is valid: every field has a default.
type Config struct {
	// Parallelism is the default parallelism of nodes that set none; default GOMAXPROCS.
	Parallelism int
	// MaxParallelism is the number of key groups; default 128.
	MaxParallelism int
	// BatchSize is the number of records per exchange batch; default 256.
	BatchSize int
	// BufferBatches is the number of batches an input channel buffers before the sender
	// blocks (backpressure); default 4.
	BufferBatches int
	// AlignmentBufferBatches bounds the batches a task holds back while it aligns checkpoint
	// barriers; past it the task declines the checkpoint. Default 4096.
	AlignmentBufferBatches int
	// FlushInterval bounds how long a partial batch waits while its task stays busy; default 10ms.
	FlushInterval time.Duration
	// WatermarkInterval is how often sources emit watermarks; default 200ms. Negative means
	// after every read (deterministic watermarks, for tests).
	WatermarkInterval time.Duration
	// MetricsInterval is how often Metrics is called; default 1s.
	MetricsInterval time.Duration
	// Clock tells processing time; default the wall clock.
	Clock clockwork.Clock
	// Logger receives the runtime's logs; nil discards them.
	Logger *slog.Logger
	// Metrics receives metric snapshots; nil disables them.
	Metrics metrics.Listener
	// StateBackend makes the keyed-state backend of one operator subtask; nil means the
	// in-memory backend. The task closes what it made when it ends.
	StateBackend state.BackendFactory
	// Checkpoints configures checkpoints, restores and restarts; the zero value takes none.
	Checkpoints Checkpoints
}

func (c Config) withDefaults() Config {
	if c.Parallelism <= 0 {
		c.Parallelism = runtime.GOMAXPROCS(0)
	}
	if c.MaxParallelism <= 0 {
		c.MaxParallelism = keygroup.DefaultMaxParallelism
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 256
	}
	if c.BufferBatches <= 0 {
		c.BufferBatches = 4
	}
	if c.AlignmentBufferBatches <= 0 {
		c.AlignmentBufferBatches = 4096
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = 10 * time.Millisecond
	}
	if c.WatermarkInterval == 0 {
		c.WatermarkInterval = 200 * time.Millisecond
	} else if c.WatermarkInterval < 0 {
		c.WatermarkInterval = 0
	}
	if c.MetricsInterval <= 0 {
		c.MetricsInterval = time.Second
	}
	if c.Clock == nil {
		c.Clock = clockwork.NewRealClock()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}

// Validate reports a Config that cannot work.
func (c Config) Validate() error {
	if c.MaxParallelism < 0 || c.MaxParallelism > 1<<15 {
		return fmt.Errorf("runtime: max parallelism %d out of range [1, 32768]", c.MaxParallelism)
	}
	if c.Parallelism > 0 && c.MaxParallelism > 0 && c.Parallelism > c.MaxParallelism {
		return fmt.Errorf("runtime: parallelism %d exceeds max parallelism %d", c.Parallelism, c.MaxParallelism)
	}
	if err := c.Checkpoints.Coordinator.Validate(); err != nil {
		return fmt.Errorf("runtime: checkpoints: %w", err)
	}
	return nil
}

// Run executes the graph until every source has ended and every task has drained, or until
// ctx is cancelled (Run then returns context.Cause(ctx): ctx's error or the cause it was
// cancelled with), or until a task fails (Run returns the failure, an *OperatorError for user
// code) and the restart strategy gives up. All goroutines Run started have ended when it
// returns.
//
// With checkpoints (Config.Checkpoints) a failed run restarts from the newest completed
// checkpoint, or from the snapshot the job started from if none completed yet.
func Run(ctx context.Context, g *Graph, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	g.Resolve(cfg.Parallelism)
	if err := g.Validate(cfg.MaxParallelism); err != nil {
		return err
	}
	ck := cfg.Checkpoints
	restore := ck.Restore
	if restore != nil && restore.Metadata == nil {
		return errors.New("runtime: restore without metadata")
	}
	if restore == nil && ck.RestoreFrom != "" {
		var err error
		if restore, err = RestoreFrom(ctx, ck.RestoreFrom, ck.Schemes); err != nil {
			return err
		}
	}
	nextID := int64(1)
	if restore != nil {
		nextID = restore.Metadata.ID + 1
	}
	var loc *location
	if ck.Storage != nil {
		// The location is the job's alone from here: its lease keeps other jobs off, and
		// its lineage says where the job starts and which IDs its snapshots take.
		var err error
		if loc, err = takeLocation(ctx, &cfg, g.Name, checkpoint.NewRunID()); err != nil {
			return err
		}
		defer loc.release()
		if restore, nextID, err = loc.start(ctx, restore, ck.RestoreLatest, ck.Schemes, cfg.Clock.Now()); err != nil {
			return err
		}
		// No checkpoint of this job is in progress after its last run, so that may delete
		// what checkpoints that never completed uploaded (in this process or in one that
		// crashed), which retention after each checkpoint must leave alone. Not before the
		// first run: the checkpoint being restored may be one retention would delete. Not
		// after losing the lease either: another job's checkpoint may be in progress then.
		defer func() {
			if loc.held() {
				deleteUnreferenced(ctx, &cfg)
			}
		}()
		if loc.lease != nil {
			// A lost lease ends the job for good: another job may run on the location now.
			var watch sync.WaitGroup
			defer watch.Wait()
			var cancel context.CancelCauseFunc
			ctx, cancel = context.WithCancelCause(ctx)
			defer cancel(nil)
			watch.Go(func() {
				select {
				case <-loc.lease.Done():
					if err := loc.lease.Err(); err != nil {
						cancel(fmt.Errorf("runtime: the job stops: %w", err))
					}
				case <-ctx.Done():
				}
			})
		}
	} else if ck.RestoreLatest && restore == nil {
		return errors.New("runtime: restoring the latest snapshot needs checkpoint storage")
	}
	if restore != nil && ck.AllowNonRestoredState {
		restore.AllowNonRestoredState = true
	}
	stats := &atomic.Pointer[metrics.Checkpoints]{}
	across := newAcrossRuns()
	restarts := 0
	for attempt := 0; ; attempt++ {
		r := runOnce(ctx, g, &cfg, attempt, restore, nextID, restarts, stats, loc, across)
		err := r.err
		if err == nil || ctx.Err() != nil || ck.Restart == nil || errors.Is(err, restart.ErrUnrecoverable) || r.setup {
			return err
		}
		ok, delay := ck.Restart.Next(cfg.Clock.Now(), err)
		if !ok {
			return fmt.Errorf("runtime: job failed and the restart strategy (%v) gives up: %w", ck.Restart, err)
		}
		restarts++
		if r.latest != nil {
			restore = &Restore{Storage: ck.Storage, Dir: snapshot.CheckpointDir(r.latest.ID), Metadata: r.latest}
		}
		nextID = max(nextID, r.nextID)
		from := "the beginning"
		if restore != nil {
			from = restore.Dir
		}
		cfg.Logger.Warn("job failed; restarting", "attempt", attempt+1, "delay", delay, "from", from, "err", err)
		if delay > 0 {
			tm := cfg.Clock.NewTimer(delay)
			select {
			case <-tm.Chan():
			case <-ctx.Done():
				tm.Stop()
				return context.Cause(ctx)
			}
		}
	}
}

// deleteUnreferenced applies retention to the checkpoint storage of cfg and deletes the shared
// files no retained checkpoint references. It must run only while no checkpoint of the job is
// in progress. It works on after ctx is cancelled (a stopped job cleans up too), for at most
// a minute, and only logs failures: the files are then deleted by a later run.
func deleteUnreferenced(ctx context.Context, cfg *Config) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	ck := cfg.Checkpoints
	r, err := snapshot.Retain(ctx, ck.Storage, snapshot.RetainOptions{Keep: ck.Retain, DeleteUnreferenced: true})
	if err != nil {
		cfg.Logger.Warn("deleting files of unfinished checkpoints", "err", err)
		return
	}
	if n := len(r.DeletedShared); n > 0 {
		cfg.Logger.Info("deleted files of unfinished checkpoints", "files", n)
	}
}

// result is how one run of a job ended.
type result struct {
	err    error
	setup  bool               // the run failed before it started: restarting will not help
	latest *snapshot.Metadata // the newest checkpoint it completed, nil if none
	nextID int64
}

// runOnce runs the job once, from restore if set.
func runOnce(parent context.Context, g *Graph, cfg *Config, attempt int, restore *Restore, nextID int64, restarts int, stats *atomic.Pointer[metrics.Checkpoints], loc *location, across *acrossRuns) result {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)

	ck := cfg.Checkpoints
	j := &job{g: g, cfg: cfg, ctx: ctx, attempt: attempt, restore: restore, across: across,
		loopRuns: ck.Storage != nil || ck.Handle != nil, events: make(chan ckEvent, 1024),
		triggers: map[int64]*trigger{}}
	if err := j.checkRestore(); err != nil {
		return result{err: err, setup: true}
	}
	if err := j.build(); err != nil {
		for _, t := range j.tasks {
			t.closeBackends()
		}
		return result{err: err, setup: true}
	}
	defer j.closeEnumerators()
	if err := j.startEnumerators(ctx); err != nil {
		return result{err: err}
	}

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		// The first real failure wins over the cancellations it causes in other tasks.
		if firstErr == nil || (isCancel(firstErr) && !isCancel(err)) {
			firstErr = err
		}
		cancel(err)
	}
	var loop *ckLoop
	if j.loopRuns {
		coord, err := snapshot.NewCoordinator(ck.Coordinator, taskIDs(j.tasks))
		if err != nil {
			return result{err: err, setup: true}
		}
		coord.SetNextID(nextID)
		figures := metrics.Checkpoints{Restarts: restarts}
		if prev := stats.Load(); prev != nil {
			figures = *prev
			figures.Restarts = restarts
		}
		if restore != nil {
			figures.Restored = restore.Metadata.ID
		}
		loop = &ckLoop{j: j, cfg: ck, loc: loc, coord: coord, handle: ck.Handle, fail: fail, stats: stats, figures: figures,
			tasks: j.tasks, globals: map[int64]map[string][][]byte{}, savepoints: map[int64]savepointReq{},
			finished: map[snapshot.TaskID]bool{}, committed: map[snapshot.TaskID]bool{}, nextID: nextID,
			done: func() { cancel(errJobDone) }}
		loop.publish()
		j.stats = stats
		wg.Go(loop.run)
	}
	j.warnDerivedUIDs()
	if ck.OnStart != nil {
		ck.OnStart(restore)
	}
	for _, t := range j.tasks {
		wg.Go(func() {
			if err := t.run(); err != nil {
				fail(err)
			}
		})
	}
	reportDone := make(chan struct{})
	var reporter sync.WaitGroup
	if cfg.Metrics != nil {
		reporter.Go(func() { j.report(reportDone) })
	}
	discoverCtx, stopDiscovery := context.WithCancel(ctx)
	for _, e := range j.enums {
		if d, ok := e.enum.(connector.Discoverer); ok {
			reporter.Go(func() { j.discover(discoverCtx, e, d) })
		}
	}
	wg.Wait()
	stopDiscovery()
	j.async.Wait()
	close(reportDone)
	reporter.Wait()
	r := result{err: firstErr}
	if loop != nil {
		r.latest, r.nextID = loop.latest, loop.nextID
	}
	if errors.Is(context.Cause(ctx), errJobDone) && (firstErr == nil || isCancel(firstErr)) {
		r.err = nil
	} else if firstErr != nil && parent.Err() != nil && isCancel(firstErr) {
		// Stopped from outside: say so, even if a task saw the cancellation as the failure of
		// a call that it made (a sink returning ctx.Err()).
		r.err = context.Cause(parent)
	}
	return r
}

func taskIDs(ts []*task) []snapshot.TaskID {
	ids := make([]snapshot.TaskID, len(ts))
	for i, t := range ts {
		ids[i] = t.id
	}
	return ids
}

// warnDerivedUIDs warns about stateful operators whose state is matched by a derived UID.
func (j *job) warnDerivedUIDs() {
	if !j.loopRuns {
		return
	}
	seen := map[int]bool{}
	for _, t := range j.tasks {
		for i, inst := range t.insts {
			n := t.nodes[i]
			if _, ok := inst.(Snapshotter); !ok || n.UID != "" || seen[n.ID] {
				continue
			}
			seen[n.ID] = true
			j.cfg.Logger.Warn("operator has no UID: its state is matched by a derived ID that changes when the job graph does; set one with Uid(...)",
				"operator", n.Name, "derived", n.uid())
		}
	}
}

// job is one execution of a graph.
type job struct {
	g     *Graph
	cfg   *Config
	ctx   context.Context
	tasks []*task
	enums []*enumerator
	// inboxes[node ID][subtask] for nodes that head a task fed by exchanges.
	inboxes map[int][]chan envelope
	// channel offset of each input edge at its consumer.
	offsets map[*Edge]int

	attempt  int
	restore  *Restore    // the snapshot the job starts from; nil for a fresh start
	across   *acrossRuns // what outlives one run: hand-overs between attempts, completed snapshots
	loopRuns bool        // a checkpoint loop runs: tasks stay after their input ended
	events   chan ckEvent
	async    sync.WaitGroup // background snapshot writes
	trigMu   sync.Mutex
	triggers map[int64]*trigger // snapshots in flight
	stats    *atomic.Pointer[metrics.Checkpoints]
}

type enumerator struct {
	node *Node
	mu   sync.Mutex // held while the enumerator assigns splits or is snapshotted
	enum connector.Enumerator
	ctx  *enumContext
}

// build creates the tasks: one per subtask of every node that heads a chain.
func (j *job) build() error {
	j.inboxes = map[int][]chan envelope{}
	j.offsets = map[*Edge]int{}
	for _, n := range j.g.Nodes {
		if n.Source != nil || isChainedInto(n) {
			continue
		}
		channels := 0
		for _, e := range n.Inputs {
			j.offsets[e] = channels
			channels += producersPerConsumer(e)
		}
		inboxes := make([]chan envelope, n.Parallelism)
		for i := range inboxes {
			inboxes[i] = make(chan envelope, channels*j.cfg.BufferBatches)
		}
		j.inboxes[n.ID] = inboxes
	}
	for _, n := range j.g.Nodes {
		if isChainedInto(n) {
			continue
		}
		queues := make([]*ctrlQueue, n.Parallelism)
		for i := range queues {
			queues[i] = newCtrlQueue()
		}
		if n.Source != nil {
			ectx := &enumContext{queues: queues, logger: j.cfg.Logger.With("source", n.Name)}
			restored, err := j.restoredSplits(n)
			if err != nil {
				return err
			}
			e, err := n.Source.newEnumerator(ectx, restored)
			if err != nil {
				return fmt.Errorf("runtime: source %s: creating enumerator: %w", n, err)
			}
			j.enums = append(j.enums, &enumerator{node: n, enum: e, ctx: ectx})
		}
		for i := range n.Parallelism {
			t, err := j.newTask(n, i, queues[i])
			if err != nil {
				return err
			}
			j.tasks = append(j.tasks, t)
		}
	}
	return nil
}

// isChainedInto reports whether n runs in its producer's task.
func isChainedInto(n *Node) bool { return len(n.Inputs) == 1 && chained(n.Inputs[0]) }

func producersPerConsumer(e *Edge) int {
	if e.Part == Forward {
		return 1
	}
	return e.From.Parallelism
}

func (j *job) newTask(head *Node, subtask int, ctrl *ctrlQueue) (*task, error) {
	t := &task{name: head.Name, subtask: subtask, ctx: j.ctx, clock: j.cfg.Clock, cfg: j.cfg,
		j: j, ctrl: ctrl, id: snapshot.TaskID{Node: head.ID, Subtask: subtask}}
	t.uploads.token = randomToken()
	t.timers.clock = j.cfg.Clock
	if head.Source == nil {
		t.inbox = j.inboxes[head.ID][subtask]
	}
	inst, err := j.instantiate(t, head, subtask, &t.received)
	if err != nil {
		t.closeBackends()
		return nil, err
	}
	linkSiblings(t.flushers)
	if head.Source != nil {
		rc := connector.ReaderContext{Subtask: subtask, Parallelism: head.Parallelism, Logger: j.cfg.Logger.With("source", head.Name, "subtask", subtask),
			Clock: j.cfg.Clock, Gauges: t.ctxs[0].Gauge}
		// instantiate made the chain below the source; the reader heads it.
		var splits [][]byte
		if r := t.ctxs[0].restored; r != nil {
			splits = r.Operator
		}
		r, err := head.Source.newRunner(t, inst.(*sourceHead).out, rc, splits)
		if err != nil {
			return nil, fmt.Errorf("runtime: source %s subtask %d: creating reader: %w", head, subtask, err)
		}
		t.source = r
		t.insts[0] = r
		return t, nil
	}
	var inputs []int
	for _, e := range head.Inputs {
		for range producersPerConsumer(e) {
			inputs = append(inputs, e.Input)
		}
	}
	t.gate = newGate(inputs)
	t.gate.control = inst
	t.gate.maxHeld = j.cfg.AlignmentBufferBatches
	t.gate.now = t.clock.Now
	t.gate.onAligned = func(id int64) {
		t.alignment = t.gate.took
		t.checkpoint(id, true)
	}
	t.gate.onDecline = func(id int64, err error) {
		t.j.event(ckEvent{kind: evDecline, id: id, task: t.id, err: fmt.Errorf("%s (subtask %d): %w", t.name, t.subtask, err)})
	}
	t.gate.deliver = make([]func(any) int, len(head.In))
	for i, typ := range head.In {
		var in any = inst
		if multi, ok := inst.(Inputs); ok {
			in = multi.Input(i)
		}
		t.gate.deliver[i] = typ.deliverer(in)
	}
	return t, nil
}

// sourceHead stands in for the reader while the chain below a source is built.
type sourceHead struct {
	Discard[struct{}]
	out any
}

func (sourceHead) Open() error  { return nil }
func (sourceHead) Close() error { return nil }

// instantiate builds node n of subtask and, recursively, every node chained after it, and
// returns n's instance. in counts the records n receives.
func (j *job) instantiate(t *task, n *Node, subtask int, in *int64) (Instance, error) {
	stats := &opStats{name: n.Name, id: n.ID, subtask: subtask, in: in, inWM: eventtime.MinTime, outWM: eventtime.MinTime}
	idx := len(t.insts)
	t.insts = append(t.insts, nil)
	t.ops = append(t.ops, stats)
	t.nodes = append(t.nodes, n)
	c := &Context{Name: n.Name, NodeID: n.ID, Subtask: subtask, Parallelism: n.Parallelism,
		MaxParallelism: j.cfg.MaxParallelism, KeyGroups: keygroup.RangeOf(subtask, j.cfg.MaxParallelism, n.Parallelism),
		Attempt: j.attempt, Clock: j.cfg.Clock, Logger: j.cfg.Logger.With("operator", n.Name, "subtask", subtask),
		t: t, op: stats, uid: n.uid()}
	t.ctxs = append(t.ctxs, c)
	var err error
	if c.restored, err = j.restoredFor(n, subtask); err != nil {
		return nil, err
	}
	for name, sh := range c.restored.seedFiles() {
		t.uploads.put(n.uid(), name, sh)
	}
	outs := map[string][]any{}
	// Records into each side output: RecordsIn of the operators chained to it.
	sideCount := map[string]*int64{}
	for tag := range n.Side {
		sideCount[tag] = new(int64)
		stats.side = append(stats.side, sideCount[tag])
	}
	for _, e := range n.Outputs {
		typ := e.Type()
		if chained(e) {
			cnt := &stats.out
			if e.Tag != "" {
				cnt = sideCount[e.Tag]
			}
			next, err := j.instantiate(t, e.To, subtask, cnt)
			if err != nil {
				return nil, err
			}
			outs[e.Tag] = append(outs[e.Tag], next)
			continue
		}
		outs[e.Tag] = append(outs[e.Tag], j.newWriter(t, e, subtask, typ))
	}
	side := make(map[string]any, len(n.Side))
	var sideControls []Control // side outputs someone reads: they get watermarks and the end too
	for tag, typ := range n.Side {
		side[tag] = typ.count(typ.fanOut(outs[tag]), sideCount[tag])
		if len(outs[tag]) > 0 {
			sideControls = append(sideControls, side[tag].(Control))
		}
	}
	var out any
	if n.Out != nil {
		out = n.Out.count(n.Out.fanOut(outs[""]), &stats.out)
		if len(sideControls) > 0 {
			out = n.Out.withSides(out, sideControls)
		}
	}
	if n.Source != nil {
		h := &sourceHead{out: out}
		t.insts[idx] = h
		return h, nil
	}
	c.side = side
	inst, err := n.Operator(c, out)
	if err != nil {
		return nil, fmt.Errorf("runtime: creating %s subtask %d: %w", n, subtask, err)
	}
	t.insts[idx] = inst
	return inst, nil
}

// newWriter makes the writer of edge e for producer subtask.
func (j *job) newWriter(t *task, e *Edge, subtask int, typ Type) any {
	inboxes := j.inboxes[e.To.ID]
	off := j.offsets[e]
	var links []link
	var targets []int
	if e.Part == Forward {
		links = []link{inboxLink{inbox: inboxes[subtask], channel: int32(off)}}
		targets = []int{subtask}
	} else {
		for i, ib := range inboxes {
			links = append(links, inboxLink{inbox: ib, channel: int32(off + subtask)})
			targets = append(targets, i)
		}
	}
	var route any
	switch e.Part {
	case Hash, Custom:
		route = callRoute(e.Route, len(links))
	case Rebalance:
		route = nil
	}
	w := typ.newWriter(t, links, route, e.Part == Broadcast, j.cfg.BatchSize, e.To.ID, targets)
	if e.Part == Rebalance {
		w.(interface{ roundRobin(start int) }).roundRobin(subtask)
	}
	return w
}

// callRoute instantiates an edge's Router for the consumer's parallelism.
func callRoute(route any, parallelism int) any {
	r, ok := route.(interface{ forParallelism(p int) any })
	if !ok {
		panic(fmt.Sprintf("runtime: edge route %T is not a Router", route))
	}
	return r.forParallelism(parallelism)
}

func (j *job) startEnumerators(ctx context.Context) error {
	for _, e := range j.enums {
		e.mu.Lock()
		defer e.mu.Unlock()
		if err := e.enum.Start(ctx); err != nil {
			return fmt.Errorf("runtime: source %s: starting enumerator: %w", e.node, err)
		}
		for i := range e.node.Parallelism {
			if err := e.enum.AddReader(ctx, i); err != nil {
				return fmt.Errorf("runtime: source %s: adding reader %d: %w", e.node, i, err)
			}
		}
	}
	return nil
}

// discover calls the enumerator's Discover every DiscoveryInterval until ctx ends. A failed
// discovery is logged and tried again at the next interval: the splits already assigned go on
// being read.
func (j *job) discover(ctx context.Context, e *enumerator, d connector.Discoverer) {
	iv := d.DiscoveryInterval()
	if iv <= 0 {
		return
	}
	tick := j.cfg.Clock.NewTicker(iv)
	defer tick.Stop()
	for {
		select {
		case <-tick.Chan():
			e.mu.Lock()
			err := d.Discover(ctx)
			e.mu.Unlock()
			if err != nil && ctx.Err() == nil {
				j.cfg.Logger.Warn("discovering splits", "source", e.node.Name, "err", err)
			}
		case <-ctx.Done():
			return
		}
	}
}

func (j *job) closeEnumerators() {
	for _, e := range j.enums {
		if err := e.enum.Close(); err != nil {
			j.cfg.Logger.Warn("closing enumerator", "source", e.node.Name, "err", err)
		}
	}
}

// report sends metric snapshots until done is closed, then one last one.
func (j *job) report(done <-chan struct{}) {
	tick := j.cfg.Clock.NewTicker(j.cfg.MetricsInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.Chan():
			j.cfg.Metrics.Report(j.snapshot())
		case <-done:
			j.cfg.Metrics.Report(j.snapshot())
			return
		}
	}
}

func (j *job) snapshot() metrics.Snapshot {
	s := metrics.Snapshot{Time: j.cfg.Clock.Now()}
	if j.stats != nil {
		s.Checkpoints = j.stats.Load()
	}
	for _, t := range j.tasks {
		if ts := t.stats.Load(); ts != nil {
			s.Tasks = append(s.Tasks, *ts)
		}
		for _, o := range t.ops {
			if om := o.published.Load(); om != nil {
				m := *om
				m.Gauges = o.gaugeValues()
				s.Operators = append(s.Operators, m)
			}
		}
	}
	return s
}
