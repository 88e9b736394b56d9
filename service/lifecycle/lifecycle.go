// Package lifecycle decides what happens to a managed application: which requests its status
// allows, which status each request and each event of its process leads to, and what the
// service must do about it. It is a pure state machine (like the checkpoint coordinator):
// Request and Event change an App and return Actions; the caller persists the App and carries
// the actions out (starts and stops processes), then reports what happened as Events. Time is
// given, never read.
//
// Statuses and transitions follow Amazon Managed Service for Apache Flink:
//
//	READY ──Start──► STARTING ──Started──► RUNNING ──Stop──► STOPPING ──Stopped──► READY
//	                    │ StartFailed                │ Update / Rollback / Scale
//	                    ▼                            ▼
//	                  READY              UPDATING / ROLLING_BACK / AUTOSCALING:
//	                                     stop with a snapshot, start the new version (or
//	                                     parallelism) from it; if that fails to reach RUNNING,
//	                                     the system rollback starts the previous version from
//	                                     the same snapshot (ROLLING_BACK) and the operation fails
//
// Force stop (FORCE_STOPPING) ends the process without a snapshot from any status with a
// process. Every change is an Operation with a start and end time and a status.
package lifecycle

import (
	"fmt"
	"time"
)

// Status is an application's status, named as the service names it.
type Status string

// The statuses.
const (
	Ready         Status = "READY"
	Starting      Status = "STARTING"
	Running       Status = "RUNNING"
	Stopping      Status = "STOPPING"
	ForceStopping Status = "FORCE_STOPPING"
	Updating      Status = "UPDATING"
	Autoscaling   Status = "AUTOSCALING"
	RollingBack   Status = "ROLLING_BACK"
	Deleting      Status = "DELETING"
)

// OpStatus is an operation's status.
type OpStatus string

// The operation statuses.
const (
	InProgress OpStatus = "IN_PROGRESS"
	Successful OpStatus = "SUCCESSFUL"
	Failed     OpStatus = "FAILED"
	Cancelled  OpStatus = "CANCELLED"
)

// Restore says where a started process restores from.
type Restore struct {
	// Mode is SKIP_RESTORE_FROM_SNAPSHOT, RESTORE_FROM_LATEST_SNAPSHOT or
	// RESTORE_FROM_CUSTOM_SNAPSHOT (the service's ApplicationRestoreType).
	Mode string
	// Snapshot is the snapshot's name for RESTORE_FROM_CUSTOM_SNAPSHOT, or the location of a
	// snapshot the service took itself (Location) to start an update or a scale from.
	Snapshot string
	Location string
	// AllowNonRestoredState drops state of operators the job no longer has.
	AllowNonRestoredState bool
}

// The restore modes.
const (
	SkipRestore   = "SKIP_RESTORE_FROM_SNAPSHOT"
	RestoreLatest = "RESTORE_FROM_LATEST_SNAPSHOT"
	RestoreCustom = "RESTORE_FROM_CUSTOM_SNAPSHOT"
)

// Operation is one change of an application, as ListApplicationOperations shows it.
type Operation struct {
	ID        string
	Kind      string // StartApplication, StopApplication, UpdateApplication, RollbackApplication, ...
	Status    OpStatus
	Start     time.Time
	End       time.Time // zero while in progress
	VersionID int64     // the version the operation leads to
	FromID    int64     // the version it started from
	// Error says why it failed; RollbackOperationID names the system rollback it caused.
	Error               string
	RollbackOperationID string
	// Reason says why the service itself started it (an autoscaling decision, a restart).
	Reason string
}

// App is what the lifecycle knows of one application.
type App struct {
	Name    string
	Status  Status
	Version int64 // the current version's ID
	// Running is the version whose process runs (or starts); 0 without a process. During an
	// update it is the new version once the old process stopped.
	Running int64
	// Parallelism is the parallelism the process runs (or will run) at.
	Parallelism int
	// SnapshotsEnabled makes Stop take a snapshot first, and updates and scales go through one.
	SnapshotsEnabled bool
	// RollbackEnabled turns on the system rollback of updates that fail to reach RUNNING.
	RollbackEnabled bool
	// Op is the operation in progress, nil if none.
	Op *Operation
	// Flow is what the operation in progress does next.
	Flow Flow
	// Prev is the version (and parallelism) to go back to if the flow's start fails.
	PrevVersion     int64
	PrevParallelism int
	// Snapshot is the location of the snapshot the flow took, to start from.
	Snapshot string
	// Restarts counts the process's restarts after crashes (fullRestarts).
	Restarts int
	// NextOp numbers operations.
	NextOp int
}

// Flow is the multi-step work an operation does.
type Flow string

// The flows.
const (
	FlowNone     Flow = ""
	FlowStart    Flow = "start"    // STARTING: waiting for Started
	FlowStop     Flow = "stop"     // STOPPING / FORCE_STOPPING: waiting for Stopped
	FlowSwap     Flow = "swap"     // UPDATING / AUTOSCALING / ROLLING_BACK: stopping the old process
	FlowSwapRun  Flow = "swap-run" // ... starting the new one
	FlowFallback Flow = "fallback" // the system rollback: starting the previous version
	FlowDelete   Flow = "delete"   // DELETING: stopping the process, then gone
	FlowDeleted  Flow = "deleted"  // the application is gone
)

// Action is something the caller must do: StartProcess, StopProcess, SnapshotProcess, Forget.
type Action interface{ isAction() }

// StartProcess starts the application's process at version Version and Parallelism,
// restoring as Restore says; the caller reports Started or StartFailed.
type StartProcess struct {
	Version     int64
	Parallelism int
	Restore     Restore
}

// StopProcess stops the process; with Snapshot it stops with a savepoint first (and reports
// its location in Stopped); Force ends it at once. The caller reports Stopped.
type StopProcess struct {
	Snapshot bool
	Force    bool
}

// Forget deletes the application and everything it has.
type Forget struct{}

func (StartProcess) isAction() {}
func (StopProcess) isAction()  {}
func (Forget) isAction()       {}

// Error is a refused request: Type is the service's exception name.
type Error struct {
	Type    string
	Message string
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

func inUse(a *App, what string) *Error {
	return &Error{Type: "ResourceInUseException", Message: fmt.Sprintf("application %s is in %s status; %s", a.Name, a.Status, what)}
}

func (a *App) newOp(kind string, now time.Time) *Operation {
	a.NextOp++
	op := &Operation{ID: fmt.Sprintf("%s-%06d", a.Name, a.NextOp), Kind: kind, Status: InProgress, Start: now,
		VersionID: a.Version, FromID: a.Version}
	return op
}

// finish ends the operation in progress with status st (and err's message), and returns it.
func (a *App) finish(st OpStatus, err string, now time.Time) *Operation {
	op := a.Op
	if op == nil {
		return nil
	}
	op.Status, op.End, op.Error = st, now, err
	a.Op = nil
	a.Flow = FlowNone
	a.Snapshot = ""
	return op
}

// Start handles StartApplication: READY → STARTING.
func (a *App) Start(now time.Time, r Restore) (*Operation, []Action, error) {
	if a.Status != Ready {
		return nil, nil, inUse(a, "only a READY application can be started")
	}
	if r.Mode == "" {
		r.Mode = RestoreLatest
	}
	if !a.SnapshotsEnabled && r.Mode == RestoreCustom {
		return nil, nil, &Error{Type: "InvalidArgumentException", Message: "RESTORE_FROM_CUSTOM_SNAPSHOT needs snapshots enabled (ApplicationSnapshotConfiguration)"}
	}
	a.Op = a.newOp("StartApplication", now)
	a.Status, a.Flow, a.Running = Starting, FlowStart, a.Version
	return a.Op, []Action{StartProcess{Version: a.Version, Parallelism: a.Parallelism, Restore: r}}, nil
}

// Stop handles StopApplication: RUNNING → STOPPING (with a snapshot when snapshots are
// enabled), or with force from any status that has a process → FORCE_STOPPING.
func (a *App) Stop(now time.Time, force bool) (*Operation, []Action, error) {
	switch {
	case force && (a.Status == Running || a.Status == Starting || a.Status == Updating || a.Status == Autoscaling ||
		a.Status == RollingBack || a.Status == Stopping):
	case !force && a.Status == Running:
	default:
		what := "only a RUNNING application can be stopped (use Force to stop one that is starting, updating or stopping)"
		if a.Status == Ready {
			what = "it is not running"
		}
		return nil, nil, inUse(a, what)
	}
	if a.Op != nil {
		a.finish(Cancelled, "cancelled by a forced stop", now)
	}
	a.Op = a.newOp("StopApplication", now)
	a.Flow = FlowStop
	if force {
		a.Status = ForceStopping
		return a.Op, []Action{StopProcess{Force: true}}, nil
	}
	a.Status = Stopping
	return a.Op, []Action{StopProcess{Snapshot: a.SnapshotsEnabled}}, nil
}

// Update handles UpdateApplication once the new version (newVersion, at parallelism) is
// stored: a READY application just takes it; a RUNNING one stops with a snapshot and starts
// the new version from it (UPDATING). kind is the operation's name (UpdateApplication, or
// RollbackApplication for a rollback to an older version, which goes through ROLLING_BACK).
func (a *App) Update(now time.Time, kind string, newVersion int64, parallelism int) (*Operation, []Action, error) {
	switch a.Status {
	case Ready:
		op := a.newOp(kind, now)
		op.VersionID = newVersion
		a.Version, a.Parallelism = newVersion, parallelism
		op.Status, op.End = Successful, now
		return op, nil, nil
	case Running:
	default:
		return nil, nil, inUse(a, "only a READY or RUNNING application can be updated")
	}
	a.Op = a.newOp(kind, now)
	a.Op.VersionID = newVersion
	a.PrevVersion, a.PrevParallelism = a.Version, a.Parallelism
	a.Version, a.Parallelism = newVersion, parallelism
	a.Status = Updating
	if kind == "RollbackApplication" {
		a.Status = RollingBack
	}
	a.Flow = FlowSwap
	return a.Op, []Action{StopProcess{Snapshot: true}}, nil
}

// Scale handles an autoscaling decision on a RUNNING application: stop with a snapshot and
// start at parallelism from it (AUTOSCALING). why goes into the operation.
func (a *App) Scale(now time.Time, parallelism int, why string) (*Operation, []Action, error) {
	if a.Status != Running {
		return nil, nil, inUse(a, "only a RUNNING application is scaled")
	}
	if parallelism == a.Parallelism {
		return nil, nil, nil
	}
	a.Op = a.newOp("Autoscaling", now)
	a.Op.Reason = why
	a.PrevVersion, a.PrevParallelism = a.Version, a.Parallelism
	a.Parallelism = parallelism
	a.Status, a.Flow = Autoscaling, FlowSwap
	return a.Op, []Action{StopProcess{Snapshot: true}}, nil
}

// Delete handles DeleteApplication: from READY the application goes at once; with a process
// it is stopped first (DELETING).
func (a *App) Delete(now time.Time) ([]Action, error) {
	switch a.Status {
	case Ready:
		a.Flow = FlowDeleted
		return []Action{Forget{}}, nil
	case Running, Starting, Updating, Autoscaling, RollingBack, Stopping, ForceStopping:
		if a.Op != nil {
			a.finish(Cancelled, "cancelled: the application is being deleted", now)
		}
		a.Status, a.Flow = Deleting, FlowDelete
		return []Action{StopProcess{Force: true}}, nil
	}
	return nil, inUse(a, "it is being deleted already")
}

// Event is what happened to the process: Started, StartFailed, Stopped, Crashed.
type Event interface{ isEvent() }

// Started: the process runs (its job is RUNNING).
type Started struct{}

// StartFailed: the process did not reach RUNNING.
type StartFailed struct{ Err string }

// Stopped: the process ended after StopProcess; Snapshot is the snapshot it stopped with
// ("" without one), Err what went wrong if the stop did not go as asked.
type Stopped struct {
	Snapshot string
	Err      string
}

// Crashed: the process ended on its own while it ran. The caller restarts it (from the latest
// snapshot) unless the lifecycle says otherwise.
type Crashed struct{ Err string }

// Finished: the process ended by itself, successfully: its job's bounded input ended and its
// output is committed. The application is READY again.
type Finished struct{}

func (Started) isEvent()     {}
func (StartFailed) isEvent() {}
func (Stopped) isEvent()     {}
func (Crashed) isEvent()     {}
func (Finished) isEvent()    {}

// Handle applies ev and returns what to do next and the operations that ended.
func (a *App) Handle(now time.Time, ev Event) ([]Action, []*Operation) {
	var done []*Operation
	end := func(st OpStatus, err string) {
		if op := a.finish(st, err, now); op != nil {
			done = append(done, op)
		}
	}
	switch ev := ev.(type) {
	case Started:
		switch a.Flow {
		case FlowStart, FlowSwapRun:
			a.Status = Running
			end(Successful, "")
		case FlowFallback:
			a.Status = Running
			rb := a.finish(Successful, "", now)
			if rb != nil {
				done = append(done, rb)
			}
		}
	case StartFailed:
		switch a.Flow {
		case FlowStart:
			a.Status, a.Running = Ready, 0
			end(Failed, ev.Err)
		case FlowSwapRun:
			if a.RollbackEnabled && a.PrevVersion != 0 {
				// The system rollback: the previous version, from the same snapshot.
				failedCopy := *a.Op
				snap := a.Snapshot
				a.Op = a.newOp("RollbackApplication", now)
				a.Op.VersionID, a.Op.FromID = a.PrevVersion, a.Version
				failedCopy.Status, failedCopy.End, failedCopy.Error = Failed, now, ev.Err
				failedCopy.RollbackOperationID = a.Op.ID
				done = append(done, &failedCopy)
				a.Version, a.Parallelism, a.Running = a.PrevVersion, a.PrevParallelism, a.PrevVersion
				a.Status, a.Flow, a.Snapshot = RollingBack, FlowFallback, snap
				return []Action{StartProcess{Version: a.Version, Parallelism: a.Parallelism,
					Restore: Restore{Mode: RestoreCustom, Location: snap}}}, done
			}
			a.Status, a.Running = Ready, 0
			end(Failed, ev.Err)
		case FlowFallback:
			a.Status, a.Running = Ready, 0
			end(Failed, "the system rollback failed too: "+ev.Err)
		}
	case Stopped:
		switch a.Flow {
		case FlowStop:
			a.Status, a.Running = Ready, 0
			if ev.Err != "" {
				end(Failed, ev.Err)
			} else {
				end(Successful, "")
			}
		case FlowSwap:
			if ev.Err != "" || ev.Snapshot == "" {
				// No snapshot: the update cannot carry the state over. The old process is
				// gone: start the old version again from its latest checkpoint.
				msg := ev.Err
				if msg == "" {
					msg = "the process stopped without a snapshot"
				}
				a.Version, a.Parallelism = a.PrevVersion, a.PrevParallelism
				a.Running = a.Version
				a.Flow = FlowFallback
				a.Op.Error = msg
				failed := *a.Op
				failed.Status, failed.End = Failed, now
				a.Op = a.newOp("RollbackApplication", now)
				failed.RollbackOperationID = a.Op.ID
				done = append(done, &failed)
				a.Status = RollingBack
				return []Action{StartProcess{Version: a.Version, Parallelism: a.Parallelism, Restore: Restore{Mode: RestoreLatest}}}, done
			}
			a.Snapshot, a.Flow, a.Running = ev.Snapshot, FlowSwapRun, a.Version
			return []Action{StartProcess{Version: a.Version, Parallelism: a.Parallelism,
				Restore: Restore{Mode: RestoreCustom, Location: ev.Snapshot}}}, done
		case FlowDelete:
			a.Flow, a.Running = FlowDeleted, 0
			return []Action{Forget{}}, done
		}
	case Finished:
		switch a.Flow {
		case FlowNone:
			if a.Status == Running {
				a.Status, a.Running = Ready, 0
			}
		default:
			return a.Handle(now, Crashed{Err: "the job finished"})
		}
	case Crashed:
		switch a.Flow {
		case FlowNone:
			if a.Status == Running {
				a.Restarts++
				return []Action{StartProcess{Version: a.Version, Parallelism: a.Parallelism, Restore: Restore{Mode: RestoreLatest}}}, done
			}
		case FlowStart, FlowSwapRun, FlowFallback:
			return a.Handle(now, StartFailed(ev))
		case FlowStop, FlowSwap, FlowDelete:
			return a.Handle(now, Stopped{Err: ev.Err})
		}
	}
	return nil, done
}
