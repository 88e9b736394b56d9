package snapshot

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Coordinator decides when snapshots (checkpoints and savepoints) start, complete and fail.
// It is a pure state machine in the manner of etcd-io/raft's RawNode: it starts no goroutines,
// reads no clock and does no I/O. Its caller (the runtime's checkpoint loop) feeds it time
// through Tick and what happened through the event methods, and executes the Actions each call
// returns, in order. See the package documentation for the loop and docs/CHECKPOINTS.md for the
// protocol.
//
// Time: the coordinator's notion of now is the latest time passed to Tick, TriggerSavepoint or
// StopWithSavepoint; it never goes back (an earlier time is ignored). Events that take no time
// (Ack, Finalized, ...) happen at that now, so durations are as precise as the caller's ticks;
// a caller that wants exact durations ticks just before delivering an event.
//
// IDs: snapshots are numbered from 1 (or from SetNextID) in trigger order, checkpoints and
// savepoints alike, and IDs only grow, across TaskFailed too.
//
// A Coordinator is not safe for concurrent use: one goroutine owns it.
type Coordinator struct {
	cfg   Config
	tasks map[TaskID]struct{}

	state   coordState
	started bool
	now     time.Time
	nextID  int64
	// nextDue is when the next periodic checkpoint may trigger; lastEnd is when the last
	// snapshot ended (zero: none yet), for MinPause.
	nextDue, lastEnd time.Time
	// pending holds the snapshots in flight in increasing ID order.
	pending []*pending
	// queue holds requested savepoints not yet triggered, in increasing ID order.
	queue []*pending
	// terminating is the ID of the stop-with-savepoint queued or in flight, 0 if none.
	terminating int64
	consecutive int
	failReason  error
	stats       Stats

	out []Action
}

type coordState uint8

const (
	running coordState = iota
	failing            // FailJob was emitted; waiting for TaskFailed
	stopped
)

// phase is where a pending snapshot is.
type phase uint8

const (
	collecting phase = iota // waiting for acks
	acked                   // every task acked; waiting for older snapshots to end first
	finalizing              // Finalize was emitted; waiting for Finalized or FinalizeFailed
)

type pending struct {
	id        int64
	savepoint bool
	terminate bool
	dir       string
	triggered time.Time
	acks      map[TaskID]any
	phase     phase
	size      int64 // the sum of the Sizer handles, known from Finalize on
}

// Stats are the coordinator's figures for metrics. Durations and sizes are those of the last
// completed snapshot.
type Stats struct {
	// Completed and Failed count snapshots (checkpoints and savepoints) that completed, and
	// that ended without completing for any reason, including queued savepoints aborted
	// before their trigger.
	Completed, Failed int64
	// InFlight counts triggered snapshots not yet ended; Queued the savepoints waiting for a
	// slot.
	InFlight, Queued int
	// ConsecutiveFailures is the current count compared with Config.TolerableFailures.
	ConsecutiveFailures int
	// LastCompletedID is the ID of the last completed snapshot, 0 if none.
	LastCompletedID int64
	// LastDuration is the time from its trigger to its Finalized.
	LastDuration time.Duration
	// LastSize is the sum of the sizes reported by those of its handles that implement Sizer.
	LastSize int64
}

// NewCoordinator returns a coordinator for a job whose snapshots are acknowledged by tasks
// (every task, each exactly once). It returns an error if cfg is invalid, tasks is empty or
// holds duplicates. tasks is copied. The first snapshot will have ID 1 unless SetNextID says
// otherwise; the first periodic checkpoint triggers Interval after the first Tick.
func NewCoordinator(cfg Config, tasks []TaskID) (*Coordinator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(tasks) == 0 {
		return nil, errors.New("checkpoint: a coordinator needs at least one task")
	}
	set := make(map[TaskID]struct{}, len(tasks))
	for _, t := range tasks {
		if _, dup := set[t]; dup {
			return nil, fmt.Errorf("checkpoint: task %s listed twice", t)
		}
		set[t] = struct{}{}
	}
	return &Coordinator{cfg: cfg.withDefaults(), tasks: set, nextID: 1}, nil
}

// SetNextID makes next the lowest ID the coordinator may give the next snapshot. Call it after
// restoring from snapshot n with n+1, so IDs keep growing across job runs. IDs never go back: a
// next at or below an ID already given changes nothing.
func (c *Coordinator) SetNextID(next int64) {
	if next > c.nextID {
		c.nextID = next
	}
}

// NextID returns the ID the next snapshot will get.
func (c *Coordinator) NextID() int64 { return c.nextID }

// Stats returns the current figures.
func (c *Coordinator) Stats() Stats {
	s := c.stats
	s.InFlight, s.Queued, s.ConsecutiveFailures = len(c.pending), len(c.queue), c.consecutive
	return s
}

// Tick tells the coordinator the time is now. It aborts snapshots that have timed out (which
// may fail the job), triggers queued savepoints when a slot is free, and triggers a periodic
// checkpoint when one is due. After Stop, or while the job is failing, it does nothing.
func (c *Coordinator) Tick(now time.Time) []Action {
	c.advance(now)
	if c.state != running {
		return nil
	}
	c.expire()
	if c.state == running { // expiry may have failed the job
		c.triggerQueued()
		c.triggerPeriodic()
	}
	return c.flush()
}

// TriggerSavepoint requests a savepoint into dir (a storage URL or path; the coordinator does
// not interpret it) and returns its ID. The savepoint triggers at once if fewer than
// MaxConcurrent snapshots are in flight, else it waits in a queue, ahead of periodic
// checkpoints, and triggers from the call that frees a slot; the Trigger or the Abort carrying
// the ID tells what became of it, and a Finalize followed by the caller's own Finalized means
// it is written. Savepoints ignore Interval and MinPause. It fails after Stop (wrapping
// ErrStopped), while the job is failing, and for an empty dir.
func (c *Coordinator) TriggerSavepoint(now time.Time, dir string) (int64, []Action, error) {
	return c.requestSavepoint(now, dir, false)
}

// CheckpointNow makes the next periodic checkpoint due at now, so that it triggers as soon as
// MaxConcurrent and MinPause allow: the runtime asks for it when every task's input ended, so
// that the final output is committed without waiting an interval. It does nothing when
// periodic checkpoints are disabled.
func (c *Coordinator) CheckpointNow(now time.Time) []Action {
	c.advance(now)
	if c.state != running || c.cfg.Interval == 0 {
		return nil
	}
	c.nextDue = c.now
	c.triggerPeriodic()
	return c.flush()
}

// StopWithSavepoint requests a savepoint like TriggerSavepoint, after which the job stops: no
// periodic checkpoint triggers once it is requested, and when it completes the coordinator
// emits NotifyComplete for it (sinks commit) and stops, aborting whatever else is in flight.
// If it is aborted, periodic checkpoints resume. It fails like TriggerSavepoint, and with an
// error wrapping ErrStopInProgress while another stop-with-savepoint is queued or in flight.
func (c *Coordinator) StopWithSavepoint(now time.Time, dir string) (int64, []Action, error) {
	return c.requestSavepoint(now, dir, true)
}

func (c *Coordinator) requestSavepoint(now time.Time, dir string, terminate bool) (int64, []Action, error) {
	c.advance(now)
	switch {
	case c.state == stopped:
		return 0, nil, fmt.Errorf("checkpoint: cannot take a savepoint: %w", ErrStopped)
	case c.state == failing:
		return 0, nil, fmt.Errorf("checkpoint: cannot take a savepoint while the job is failing: %w", c.failReason)
	case dir == "":
		return 0, nil, errors.New("checkpoint: savepoint needs a target directory")
	case terminate && c.terminating != 0:
		return 0, nil, fmt.Errorf("%w (savepoint %d)", ErrStopInProgress, c.terminating)
	}
	p := &pending{id: c.nextID, savepoint: true, terminate: terminate, dir: dir}
	c.nextID++
	if terminate {
		c.terminating = p.id
	}
	c.queue = append(c.queue, p)
	c.triggerQueued()
	return p.id, c.flush(), nil
}

// Ack records that task wrote its part of snapshot id and describes it with handle (opaque to
// the coordinator; if it implements Sizer, its size counts in Stats.LastSize). The last ack
// makes the snapshot fully acknowledged: if it is a periodic checkpoint or a
// stop-with-savepoint, it subsumes the older periodic checkpoints still collecting acks (they
// are aborted with ErrSubsumed); it is finalized as soon as no older one is in flight. Acks for
// unknown, ended or aborted snapshots (late acks), from tasks outside the job, and repeated
// acks are ignored.
func (c *Coordinator) Ack(id int64, task TaskID, handle any) []Action {
	p := c.find(id)
	if c.state != running || p == nil || p.phase != collecting {
		return nil
	}
	if _, ok := c.tasks[task]; !ok {
		return nil
	}
	if _, dup := p.acks[task]; dup {
		return nil
	}
	p.acks[task] = handle
	if len(p.acks) < len(c.tasks) {
		return nil
	}
	p.phase = acked
	if !p.savepoint || p.terminate {
		for _, old := range slices.Clone(c.pending) {
			if old.id < p.id && !old.savepoint && old.phase == collecting {
				c.abort(old, fmt.Errorf("%w %d", ErrSubsumed, p.id), false)
			}
		}
	}
	c.settle()
	return c.flush()
}

// Decline records that task could not snapshot id, because of err. The snapshot is aborted
// with a reason wrapping ErrDeclined and err; that counts as a failure unless err wraps
// ErrTaskNotReady or the snapshot is a savepoint. Declines for snapshots that are unknown,
// ended, or already fully acknowledged, from tasks outside the job, and from a task that
// already acked the snapshot, are ignored.
func (c *Coordinator) Decline(id int64, task TaskID, err error) []Action {
	p := c.find(id)
	if c.state != running || p == nil || p.phase != collecting {
		return nil
	}
	if _, ok := c.tasks[task]; !ok {
		return nil
	}
	if _, ok := p.acks[task]; ok {
		return nil // its part is written; a decline now changes nothing about it
	}
	if err == nil {
		err = errors.New("no reason given")
	}
	counted := !p.savepoint && !errors.Is(err, ErrTaskNotReady)
	c.abort(p, fmt.Errorf("%w by task %s: %w", ErrDeclined, task, err), counted)
	return c.flush()
}

// Finalized records that the caller wrote the metadata of snapshot id, as a Finalize asked:
// the snapshot is complete. A checkpoint resets the consecutive failure count and is followed
// by NotifyComplete; so is a stop-with-savepoint, after which the coordinator stops. Finalized
// for a snapshot that is not being finalized is ignored.
func (c *Coordinator) Finalized(id int64) []Action {
	p := c.find(id)
	if c.state != running || p == nil || p.phase != finalizing {
		return nil
	}
	c.remove(p)
	c.lastEnd = c.now
	c.stats.Completed++
	c.stats.LastCompletedID = p.id
	c.stats.LastDuration = c.now.Sub(p.triggered)
	c.stats.LastSize = p.size
	if !p.savepoint {
		c.consecutive = 0
	}
	if p.savepoint && !p.terminate {
		c.settle()
		return c.flush()
	}
	c.emit(NotifyComplete{ID: p.id, Savepoint: p.savepoint})
	if p.terminate {
		c.abortAll(fmt.Errorf("%w by stop-with-savepoint %d", ErrStopped, p.id))
		c.state = stopped
	} else {
		c.settle()
	}
	return c.flush()
}

// FinalizeFailed records that writing the metadata of snapshot id failed with err. The
// snapshot is aborted with a reason wrapping ErrFinalizeFailed and err, which counts as a
// failure for a checkpoint. The caller makes sure the metadata did not become visible (with an
// atomic Storage it cannot have). Ignored for a snapshot that is not being finalized.
func (c *Coordinator) FinalizeFailed(id int64, err error) []Action {
	p := c.find(id)
	if c.state != running || p == nil || p.phase != finalizing {
		return nil
	}
	if err == nil {
		err = errors.New("no reason given")
	}
	c.abort(p, fmt.Errorf("%w: %w", ErrFinalizeFailed, err), !p.savepoint)
	return c.flush()
}

// TaskFailed tells the coordinator that a task failed and the job restarts (or is restarted
// after FailJob): every snapshot in flight or queued is aborted with a reason wrapping
// ErrTaskFailed and cause, without counting as a failure, and the next periodic checkpoint is
// due Interval after now. IDs keep growing. Acks and declines that arrive later for the aborted
// snapshots are ignored. After Stop it does nothing.
func (c *Coordinator) TaskFailed(cause error) []Action {
	if c.state == stopped {
		return nil
	}
	reason := ErrTaskFailed
	if cause != nil {
		reason = fmt.Errorf("%w: %w", ErrTaskFailed, cause)
	}
	c.abortAll(reason)
	c.state, c.failReason = running, nil
	c.nextDue = c.now.Add(c.cfg.Interval)
	return c.flush()
}

// Stop aborts every snapshot in flight or queued with ErrStopped, and makes the coordinator
// ignore everything after: it is for the end of the job.
func (c *Coordinator) Stop() []Action {
	if c.state == stopped {
		return nil
	}
	c.abortAll(ErrStopped)
	c.state = stopped
	return c.flush()
}

func (c *Coordinator) advance(now time.Time) {
	if !c.started {
		c.started = true
		c.now = now
		c.nextDue = now.Add(c.cfg.Interval)
		return
	}
	if now.After(c.now) {
		c.now = now
	}
}

// flush triggers queued savepoints for the slots the call freed, and returns the call's
// actions.
func (c *Coordinator) flush() []Action {
	if c.state == running {
		c.triggerQueued()
	}
	out := c.out
	c.out = nil
	return out
}

func (c *Coordinator) emit(a Action) { c.out = append(c.out, a) }

func (c *Coordinator) find(id int64) *pending {
	for _, p := range c.pending {
		if p.id == id {
			return p
		}
	}
	return nil
}

func (c *Coordinator) remove(p *pending) {
	c.pending = slices.DeleteFunc(c.pending, func(q *pending) bool { return q == p })
}

func (c *Coordinator) start(p *pending) {
	p.triggered = c.now
	p.acks = make(map[TaskID]any, len(c.tasks))
	c.pending = append(c.pending, p)
	c.emit(Trigger{ID: p.id, Timestamp: p.triggered, Savepoint: p.savepoint, Dir: p.dir, Terminate: p.terminate})
}

func (c *Coordinator) triggerQueued() {
	for len(c.queue) > 0 && len(c.pending) < c.cfg.MaxConcurrent {
		p := c.queue[0]
		c.queue = c.queue[1:]
		c.start(p)
	}
}

func (c *Coordinator) triggerPeriodic() {
	cfg := c.cfg
	if cfg.Interval == 0 || c.terminating != 0 || len(c.queue) > 0 || len(c.pending) >= cfg.MaxConcurrent {
		return
	}
	if c.now.Before(c.nextDue) {
		return
	}
	if cfg.MinPause > 0 && (len(c.pending) > 0 || (!c.lastEnd.IsZero() && c.now.Before(c.lastEnd.Add(cfg.MinPause)))) {
		return
	}
	p := &pending{id: c.nextID}
	c.nextID++
	c.nextDue = c.now.Add(cfg.Interval)
	c.start(p)
}

// expire aborts the snapshots that have waited for acks longer than the timeout.
func (c *Coordinator) expire() {
	for _, p := range slices.Clone(c.pending) {
		if c.state != running {
			return
		}
		if p.phase != finalizing && !c.now.Before(p.triggered.Add(c.cfg.Timeout)) && c.find(p.id) != nil {
			c.abort(p, fmt.Errorf("%w within %v", ErrTimeout, c.cfg.Timeout), !p.savepoint)
		}
	}
}

// settle emits Finalize for the oldest snapshot in flight if it is fully acknowledged:
// snapshots are finalized in ID order, one at a time.
func (c *Coordinator) settle() {
	if c.state != running || len(c.pending) == 0 {
		return
	}
	p := c.pending[0]
	if p.phase != acked {
		return
	}
	p.phase = finalizing
	for _, h := range p.acks {
		if sz, ok := h.(Sizer); ok {
			p.size += sz.Size()
		}
	}
	c.emit(Finalize{ID: p.id, Timestamp: p.triggered, Savepoint: p.savepoint, Dir: p.dir, Terminate: p.terminate, Acks: p.acks})
	p.acks = nil // the caller's now
}

// abort ends p without completing it. A counted failure may fail the job.
func (c *Coordinator) abort(p *pending, reason error, counted bool) {
	c.remove(p)
	if p.id == c.terminating {
		c.terminating = 0
	}
	c.lastEnd = c.now
	c.stats.Failed++
	c.emit(Abort{ID: p.id, Savepoint: p.savepoint, Triggered: true, Reason: reason})
	if counted {
		c.consecutive++
		if c.consecutive > c.cfg.TolerableFailures {
			c.failJob(reason)
			return
		}
	}
	c.settle()
}

func (c *Coordinator) failJob(last error) {
	reason := fmt.Errorf("%w (%d, tolerable %d); last: %w", ErrTooManyFailures, c.consecutive, c.cfg.TolerableFailures, last)
	c.consecutive = 0
	c.abortAll(reason)
	c.state, c.failReason = failing, reason
	c.emit(FailJob{Reason: reason})
}

// abortAll aborts everything in flight and queued with reason, counting nothing.
func (c *Coordinator) abortAll(reason error) {
	for _, p := range c.pending {
		c.stats.Failed++
		c.emit(Abort{ID: p.id, Savepoint: p.savepoint, Triggered: true, Reason: reason})
	}
	for _, p := range c.queue {
		c.stats.Failed++
		c.emit(Abort{ID: p.id, Savepoint: p.savepoint, Triggered: false, Reason: reason})
	}
	if len(c.pending) > 0 {
		c.lastEnd = c.now
	}
	c.pending, c.queue, c.terminating = nil, nil, 0
}
