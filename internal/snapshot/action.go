package snapshot

import (
	"fmt"
	"time"
)

// TaskID identifies one parallel subtask that takes part in snapshots: the ID of a runtime
// node (for a chain of operators, the node the runtime names the task after, such as the
// chain's head) and the subtask index.
type TaskID struct {
	Node    int
	Subtask int
}

// String renders t as "node/subtask", the form the coordinator's golden tests use.
func (t TaskID) String() string { return fmt.Sprintf("%d/%d", t.Node, t.Subtask) }

// Sizer is the optional capability of a snapshot handle (the value a task passes to Ack) that
// knows how many bytes the task wrote for the snapshot. The coordinator sums the sizes of the
// handles that implement it into Stats.LastSize.
type Sizer interface {
	Size() int64
}

// Action is something the Coordinator asks its caller to do. It is one of Trigger, Finalize,
// NotifyComplete, Abort and FailJob; the caller type-switches on it. The caller executes the
// actions of one call in order.
type Action interface {
	fmt.Stringer
	action()
}

// Trigger asks the caller to start snapshot ID: inject a barrier carrying ID into every source
// task. Each task snapshots its state when the barrier has arrived on all its inputs and then
// reports with Ack or Decline. If a source cannot be reached (not running), the caller declines
// on its behalf with an error wrapping ErrTaskNotReady.
type Trigger struct {
	ID int64
	// Timestamp is the time of the trigger; it goes into the metadata.
	Timestamp time.Time
	// Savepoint says the snapshot is a savepoint: tasks write self-contained, full (not
	// incremental) state under a directory in Dir, the location the savepoint was asked for.
	Savepoint bool
	Dir       string
	// Terminate says the savepoint is a stop-with-savepoint: the job stops once it completes.
	Terminate bool
}

// Finalize asks the caller to complete snapshot ID, which every task acknowledged: write its
// metadata file (always the last file of a snapshot; see WriteMetadata) and then call Finalized,
// or FinalizeFailed if writing failed. Finalize actions come in increasing ID order, one at a
// time: the next one comes only after the previous one was Finalized or failed, and when it
// comes no older snapshot is still in flight.
type Finalize struct {
	ID        int64
	Timestamp time.Time // the trigger's
	Savepoint bool
	Dir       string
	Terminate bool
	// Acks holds every task's handle, as passed to Ack. The map belongs to the caller.
	Acks map[TaskID]any
}

// NotifyComplete tells the caller that checkpoint ID is complete (its metadata is written):
// tasks may now make the side effects it recorded visible. Sinks commit every committable
// pending up to and including ID, which also covers those of earlier snapshots that were
// aborted or were savepoints. NotifyComplete IDs strictly increase. Intermediate savepoints are
// not notified (as in Flink since 1.15: recovery never restores from them, so their side effects
// must not be committed); a stop-with-savepoint is.
type NotifyComplete struct {
	ID int64
	// Savepoint says ID is a stop-with-savepoint; the job stops after it.
	Savepoint bool
}

// Abort tells the caller that snapshot ID will not complete: tasks drop whatever they are
// doing for it, and the caller may delete the snapshot's directory. Abort is a hint to tasks,
// not a command to undo: sinks keep the committables they pre-committed for ID, and the next
// completed checkpoint records and commits them.
type Abort struct {
	ID        int64
	Savepoint bool
	// Triggered is false for a savepoint that was still queued: no task ever saw it.
	Triggered bool
	// Reason wraps one of ErrTimeout, ErrDeclined, ErrFinalizeFailed, ErrSubsumed,
	// ErrTaskFailed, ErrStopped or ErrTooManyFailures.
	Reason error
}

// FailJob tells the caller to fail the job: more consecutive checkpoints failed than
// Config.TolerableFailures allows. The coordinator has aborted every snapshot in flight and
// triggers nothing until TaskFailed (the restart) or Stop.
type FailJob struct {
	Reason error // wraps ErrTooManyFailures and the last failure
}

func (Trigger) action()        {}
func (Finalize) action()       {}
func (NotifyComplete) action() {}
func (Abort) action()          {}
func (FailJob) action()        {}

func kind(savepoint, terminate bool) string {
	switch {
	case terminate:
		return "stop-with-savepoint"
	case savepoint:
		return "savepoint"
	}
	return "checkpoint"
}

// String describes a for logs: "trigger checkpoint 7 at <time>".
func (a Trigger) String() string {
	s := fmt.Sprintf("trigger %s %d at %s", kind(a.Savepoint, a.Terminate), a.ID, a.Timestamp.UTC().Format(time.RFC3339Nano))
	if a.Savepoint {
		s += " into " + a.Dir
	}
	return s
}

// String describes a for logs: "finalize checkpoint 7 (4 acks)".
func (a Finalize) String() string {
	return fmt.Sprintf("finalize %s %d (%d acks)", kind(a.Savepoint, a.Terminate), a.ID, len(a.Acks))
}

// String describes a for logs: "notify complete checkpoint 7".
func (a NotifyComplete) String() string {
	return fmt.Sprintf("notify complete %s %d", kind(a.Savepoint, a.Savepoint), a.ID)
}

// String describes a for logs: "abort checkpoint 7: <reason>".
func (a Abort) String() string {
	return fmt.Sprintf("abort %s %d: %v", kind(a.Savepoint, false), a.ID, a.Reason)
}

// String describes a for logs: "fail job: <reason>".
func (a FailJob) String() string { return fmt.Sprintf("fail job: %v", a.Reason) }
