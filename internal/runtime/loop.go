package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/internal/snapshot"
	"github.com/runnel-io/runnel/metrics"
)

// This file is the checkpoint loop: one goroutine per job run that owns the checkpoint
// Coordinator, executes its actions (triggering sources, writing metadata, notifying sinks,
// retention) and hears from tasks (acks, declines, end of input, commits).

// Handle lets the caller of Run act on the running job: take savepoints.
type Handle struct {
	reqs chan savepointReq
}

// NewHandle returns a Handle; pass it in Checkpoints.Handle.
func NewHandle() *Handle { return &Handle{reqs: make(chan savepointReq)} }

type savepointReq struct {
	dir   string
	stop  bool
	reply chan savepointResult
}

type savepointResult struct {
	path string
	err  error
}

// Savepoint takes a savepoint of the running job into location dir (a path or storage URL) and
// returns the savepoint's directory. With stop the job stops once the savepoint is complete
// (and its sinks committed). It waits until the job takes the request or ctx ends.
//
// Before the job triggers it, the job checks dir with Checkpoints.Schemes' CheckLocation.
// The errors of a request the caller should not repeat as it is wrap a sentinel:
// checkpoint.ErrUnsupportedScheme or checkpoint.ErrUnusableLocation when dir cannot hold a
// savepoint, snapshot.ErrStopInProgress when stop is set and another stop-with-savepoint is
// queued or in flight, and snapshot.ErrStopped when the job is stopping. Other errors say
// that ctx ended, that the job ended, or that the savepoint was tried and failed.
func (h *Handle) Savepoint(ctx context.Context, dir string, stop bool) (string, error) {
	req := savepointReq{dir: dir, stop: stop, reply: make(chan savepointResult, 1)}
	select {
	case h.reqs <- req:
	case <-ctx.Done():
		return "", fmt.Errorf("runtime: savepoint: the job did not take the request: %w", context.Cause(ctx))
	}
	select {
	case r := <-req.reply:
		return r.path, r.err
	case <-ctx.Done():
		return "", fmt.Errorf("runtime: savepoint: %w", context.Cause(ctx))
	}
}

type evKind uint8

const (
	evAck       evKind = iota // a task wrote its part of snapshot id
	evDecline                 // a task could not
	evFinished                // a task's input ended
	evCommitted               // a task passed on the completion of the final checkpoint
)

// ckEvent is what tasks tell the checkpoint loop.
type ckEvent struct {
	kind   evKind
	id     int64
	task   snapshot.TaskID
	handle *taskSnapshot
	err    error
}

// event sends e to the checkpoint loop.
func (j *job) event(e ckEvent) {
	select {
	case j.events <- e:
	case <-j.ctx.Done():
	}
}

// trigger returns the snapshot id in flight, nil if it ended.
func (j *job) trigger(id int64) *trigger {
	j.trigMu.Lock()
	defer j.trigMu.Unlock()
	return j.triggers[id]
}

// errJobDone cancels a job run whose work is complete.
var errJobDone = errors.New("runtime: job done")

// ckLoop is the checkpoint loop of one job run.
type ckLoop struct {
	j       *job
	cfg     Checkpoints
	loc     *location // the checkpoint location; nil without checkpoint storage
	coord   *snapshot.Coordinator
	handle  *Handle
	fail    func(error)
	done    func() // ends the run successfully
	stats   *atomic.Pointer[metrics.Checkpoints]
	figures metrics.Checkpoints

	tasks      []*task
	globals    map[int64]map[string][][]byte // per snapshot: sources' unassigned splits by UID
	savepoints map[int64]savepointReq
	finished   map[snapshot.TaskID]bool
	committed  map[snapshot.TaskID]bool
	finalFrom  int64 // the first checkpoint triggered after every task finished; 0 if none yet
	final      int64 // the final checkpoint whose commits the loop waits for

	// latest is the newest completed checkpoint of this run, for a restart.
	latestID int64
	latest   *snapshot.Metadata
	nextID   int64
}

func (l *ckLoop) now() time.Time { return l.j.cfg.Clock.Now() }

func (l *ckLoop) run() {
	j := l.j
	iv := l.cfg.Coordinator.Interval / 10
	iv = min(max(iv, 5*time.Millisecond), 100*time.Millisecond)
	tick := j.cfg.Clock.NewTicker(iv)
	defer tick.Stop()
	var reqs chan savepointReq
	if l.handle != nil {
		reqs = l.handle.reqs
	}
	defer func() {
		for _, req := range l.savepoints {
			req.reply <- savepointResult{err: fmt.Errorf("runtime: savepoint: the job stopped: %w", context.Cause(j.ctx))}
		}
	}()
	l.exec(l.coord.Tick(l.now()))
	for {
		select {
		case <-tick.Chan():
			l.exec(l.coord.Tick(l.now()))
		case e := <-j.events:
			l.event(e)
		case req := <-reqs:
			l.savepoint(req)
		case <-j.ctx.Done():
			return
		}
		l.nextID = l.coord.NextID()
	}
}

func (l *ckLoop) savepoint(req savepointReq) {
	var (
		id   int64
		acts []snapshot.Action
		err  error
	)
	if err := l.cfg.Schemes.CheckLocation(l.j.ctx, req.dir); err != nil {
		req.reply <- savepointResult{err: fmt.Errorf("runtime: savepoint: %w", err)}
		return
	}
	if req.stop {
		id, acts, err = l.coord.StopWithSavepoint(l.now(), req.dir)
	} else {
		id, acts, err = l.coord.TriggerSavepoint(l.now(), req.dir)
	}
	if err != nil {
		req.reply <- savepointResult{err: err}
		return
	}
	l.savepoints[id] = req
	l.exec(acts)
}

func (l *ckLoop) event(e ckEvent) {
	switch e.kind {
	case evAck:
		l.exec(l.coord.Ack(e.id, e.task, e.handle))
	case evDecline:
		l.j.cfg.Logger.Warn("task declined checkpoint", "checkpoint", e.id, "task", e.task.String(), "err", e.err)
		l.exec(l.coord.Decline(e.id, e.task, e.err))
	case evFinished:
		l.finished[e.task] = true
		if len(l.finished) < len(l.tasks) {
			return
		}
		if !l.cfg.enabled() {
			l.done() // no checkpoints: sinks committed at the end of their input
			return
		}
		// Every input ended: one more checkpoint commits the output written since the last.
		l.finalFrom = l.coord.NextID()
		l.exec(l.coord.CheckpointNow(l.now()))
	case evCommitted:
		if e.id != l.final {
			return
		}
		l.committed[e.task] = true
		if len(l.committed) == len(l.tasks) {
			l.done()
		}
	}
}

// exec carries out the coordinator's actions, in order.
func (l *ckLoop) exec(acts []snapshot.Action) {
	for len(acts) > 0 {
		a := acts[0]
		acts = acts[1:]
		l.j.cfg.Logger.Debug("checkpoint", "action", a.String())
		switch a := a.(type) {
		case snapshot.Trigger:
			acts = append(acts, l.trigger(a)...)
		case snapshot.Finalize:
			acts = append(acts, l.finalize(a)...)
		case snapshot.NotifyComplete:
			l.notify(a)
		case snapshot.Abort:
			l.abort(a)
		case snapshot.FailJob:
			l.fail(fmt.Errorf("runtime: %w", a.Reason))
		}
	}
}

// trigger starts snapshot a.ID: it snapshots the enumerators and queues the trigger to every
// task while no enumerator can assign splits, so that a split is either in an enumerator's
// snapshot or assigned before the barrier (and in its reader's snapshot), never both or
// neither.
func (l *ckLoop) trigger(a snapshot.Trigger) []snapshot.Action {
	j := l.j
	st, dir := l.cfg.Storage, snapshot.CheckpointDir(a.ID)
	if a.Savepoint {
		var err error
		if st, err = l.cfg.Schemes.Open(j.ctx, a.Dir); err != nil {
			return l.coord.Decline(a.ID, l.tasks[0].id, fmt.Errorf("opening savepoint location: %w", err))
		}
		dir = snapshot.NewSavepointDir(a.ID)
	}
	globals := map[string][][]byte{}
	for _, e := range j.enums {
		e.mu.Lock()
		defer e.mu.Unlock()
		splits, err := e.enum.Snapshot()
		if err == nil {
			globals[e.node.uid()], err = encodeSplits(e.node.Source.codec(), splits)
		}
		if err != nil {
			return l.coord.Decline(a.ID, l.tasks[0].id, fmt.Errorf("source %s: enumerator snapshot: %w", e.node, err))
		}
	}
	l.globals[a.ID] = globals
	j.trigMu.Lock()
	j.triggers[a.ID] = &trigger{id: a.ID, savepoint: a.Savepoint, storage: st, dir: dir}
	j.trigMu.Unlock()
	for _, t := range l.tasks {
		t.ctrl.add(ctrlMsg{kind: ctrlTrigger, id: a.ID})
	}
	return nil
}

func (l *ckLoop) endTrigger(id int64) *trigger {
	j := l.j
	j.trigMu.Lock()
	defer j.trigMu.Unlock()
	trig := j.triggers[id]
	delete(j.triggers, id)
	delete(l.globals, id)
	return trig
}

// finalize writes the metadata of snapshot a.ID, which every task acknowledged.
func (l *ckLoop) finalize(a snapshot.Finalize) []snapshot.Action {
	j := l.j
	trig := j.trigger(a.ID)
	md := &snapshot.Metadata{Job: j.g.Name, ID: a.ID, Timestamp: a.Timestamp, Savepoint: a.Savepoint,
		Operators: map[string]*snapshot.OperatorState{}}
	op := func(n *Node) *snapshot.OperatorState {
		uid := n.uid()
		if o := md.Operators[uid]; o != nil {
			return o
		}
		o := &snapshot.OperatorState{Parallelism: n.Parallelism, MaxParallelism: j.cfg.MaxParallelism,
			Subtasks: make([]snapshot.SubtaskState, n.Parallelism)}
		md.Operators[uid] = o
		return o
	}
	var align, pause time.Duration
	for _, t := range l.tasks {
		h, _ := a.Acks[t.id].(*taskSnapshot)
		if h == nil {
			continue
		}
		align = max(align, h.alignment)
		pause = max(pause, h.pause)
		for _, n := range t.nodes {
			if st := h.ops[n.uid()]; st != nil {
				op(n).Subtasks[t.subtask] = *st
			}
		}
	}
	for _, e := range j.enums {
		if g := l.globals[a.ID][e.node.uid()]; g != nil || md.Operators[e.node.uid()] != nil {
			op(e.node).Global = g
		}
	}
	err := snapshot.WriteMetadata(j.ctx, trig.storage, trig.dir, md)
	if err != nil {
		return l.coord.FinalizeFailed(a.ID, err)
	}
	if l.loc != nil {
		// The lineage names the snapshot before any sink commits what it recorded; a snapshot
		// the lineage could not record must not exist.
		ref := &snapshot.SnapshotRef{ID: a.ID, Savepoint: a.Savepoint, Location: trig.dir, Timestamp: a.Timestamp}
		if a.Savepoint {
			ref.Location = checkpoint.Location(trig.storage, trig.dir)
		}
		if err := l.loc.completed(j.ctx, ref, !a.Savepoint || a.Terminate, l.now()); err != nil {
			if derr := snapshot.DeleteSnapshot(j.ctx, trig.storage, trig.dir); derr != nil {
				j.cfg.Logger.Warn("deleting a snapshot the lineage does not record", "dir", trig.dir, "err", derr)
			}
			return l.coord.FinalizeFailed(a.ID, err)
		}
	}
	var size int64
	for _, h := range a.Acks {
		if s, ok := h.(*taskSnapshot); ok {
			size += s.size
		}
	}
	l.figures.Completed++
	l.figures.LastID = a.ID
	l.figures.LastDuration = l.now().Sub(a.Timestamp)
	l.figures.LastSize = size
	l.figures.LastAlignment = align
	l.figures.LastPause = pause
	l.publish()
	j.cfg.Logger.Info("snapshot complete", "id", a.ID, "savepoint", a.Savepoint, "duration", l.figures.LastDuration, "bytes", size)
	if req, ok := l.savepoints[a.ID]; ok {
		delete(l.savepoints, a.ID)
		req.reply <- savepointResult{path: strings.TrimSuffix(a.Dir, "/") + "/" + trig.dir}
	}
	if !a.Savepoint {
		l.latestID, l.latest = a.ID, md
	}
	j.across.complete(a.ID)
	l.endTrigger(a.ID)
	return l.coord.Finalized(a.ID)
}

// notify passes the completion of a checkpoint on to every task, and retains checkpoints.
func (l *ckLoop) notify(a snapshot.NotifyComplete) {
	final := a.Savepoint || (l.finalFrom != 0 && a.ID >= l.finalFrom)
	if final {
		l.final = a.ID
	}
	for _, t := range l.tasks {
		t.ctrl.add(ctrlMsg{kind: ctrlComplete, id: a.ID, final: final})
	}
	if a.Savepoint {
		return
	}
	if _, err := snapshot.Retain(l.j.ctx, l.cfg.Storage, snapshot.RetainOptions{Keep: l.cfg.Retain}); err != nil {
		l.j.cfg.Logger.Warn("deleting old checkpoints", "err", err)
	}
}

func (l *ckLoop) abort(a snapshot.Abort) {
	j := l.j
	l.figures.Failed++
	l.publish()
	if a.Triggered {
		for _, t := range l.tasks {
			t.ctrl.add(ctrlMsg{kind: ctrlAbort, id: a.ID})
		}
	}
	if !errors.Is(a.Reason, snapshot.ErrSubsumed) {
		j.cfg.Logger.Warn("snapshot aborted", "id", a.ID, "savepoint", a.Savepoint, "reason", a.Reason)
		l.figures.LastFailure = fmt.Sprintf("snapshot %d: %v", a.ID, a.Reason)
		l.publish()
	}
	if req, ok := l.savepoints[a.ID]; ok {
		delete(l.savepoints, a.ID)
		req.reply <- savepointResult{err: fmt.Errorf("runtime: savepoint %d failed: %w", a.ID, a.Reason)}
	}
	if trig := l.endTrigger(a.ID); trig != nil && j.ctx.Err() == nil {
		// Snapshot writes of the aborted snapshot may still be running; they finish into a
		// directory without metadata, which Retain deletes later.
		if !a.Savepoint {
			return
		}
		if err := snapshot.DeleteSnapshot(j.ctx, trig.storage, trig.dir); err != nil {
			j.cfg.Logger.Warn("deleting aborted savepoint", "dir", trig.dir, "err", err)
		}
	}
}

func (l *ckLoop) publish() {
	f := l.figures
	l.stats.Store(&f)
}
