package lifecycle

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// step is one request or event and what it must lead to.
type step struct {
	do      string // start, stop, force, update, rollback, scale, delete; or an event: started, startfailed, stopped, stoppednosnap, crashed
	status  Status
	actions string // the actions, formatted
	ops     string // operations that ended: "Kind:STATUS", comma separated
	err     string // a refusal's exception type
}

func run(t *testing.T, a *App, steps []step) {
	t.Helper()
	now := time.Unix(1_700_000_000, 0)
	version := a.Version
	for i, s := range steps {
		now = now.Add(time.Second)
		var (
			acts []Action
			ops  []*Operation
			err  error
			op   *Operation
		)
		switch s.do {
		case "start":
			op, acts, err = a.Start(now, Restore{})
		case "stop":
			op, acts, err = a.Stop(now, false)
		case "force":
			op, acts, err = a.Stop(now, true)
		case "update":
			version++
			op, acts, err = a.Update(now, "UpdateApplication", version, a.Parallelism+1)
		case "rollback":
			op, acts, err = a.Update(now, "RollbackApplication", a.Version-1, a.Parallelism)
		case "scale":
			op, acts, err = a.Scale(now, a.Parallelism*2, "backpressured for 5 minutes")
		case "delete":
			acts, err = a.Delete(now)
		case "started":
			acts, ops = a.Handle(now, Started{})
		case "startfailed":
			acts, ops = a.Handle(now, StartFailed{Err: "exit 1"})
		case "stopped":
			acts, ops = a.Handle(now, Stopped{Snapshot: "/snap/1"})
		case "stoppednosnap":
			acts, ops = a.Handle(now, Stopped{Err: "savepoint failed"})
		case "crashed":
			acts, ops = a.Handle(now, Crashed{Err: "exit 2"})
		default:
			t.Fatalf("step %d: unknown %q", i, s.do)
		}
		if op != nil && op.Status != InProgress {
			ops = append(ops, op)
		}
		where := fmt.Sprintf("step %d (%s)", i, s.do)
		if s.err != "" {
			e, ok := err.(*Error)
			if !ok || e.Type != s.err {
				t.Fatalf("%s: error %v, want %s", where, err, s.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		if a.Status != s.status {
			t.Fatalf("%s: status %s, want %s", where, a.Status, s.status)
		}
		if got := fmtActions(acts); got != s.actions {
			t.Fatalf("%s: actions %s, want %s", where, got, s.actions)
		}
		if got := fmtOps(ops); got != s.ops {
			t.Fatalf("%s: ended operations %s, want %s", where, got, s.ops)
		}
	}
}

func fmtActions(acts []Action) string {
	var out []string
	for _, a := range acts {
		switch a := a.(type) {
		case StartProcess:
			out = append(out, fmt.Sprintf("start(v%d,p%d,%s%s)", a.Version, a.Parallelism, a.Restore.Mode, a.Restore.Location))
		case StopProcess:
			out = append(out, fmt.Sprintf("stop(snapshot=%t,force=%t)", a.Snapshot, a.Force))
		case Forget:
			out = append(out, "forget")
		}
	}
	return strings.Join(out, " ")
}

func fmtOps(ops []*Operation) string {
	var out []string
	for _, o := range ops {
		s := o.Kind + ":" + string(o.Status)
		if o.RollbackOperationID != "" {
			s += "+rollback"
		}
		out = append(out, s)
	}
	return strings.Join(out, ",")
}

func newApp() *App {
	return &App{Name: "clicks", Status: Ready, Version: 1, Parallelism: 2, SnapshotsEnabled: true, RollbackEnabled: true}
}

func TestLifecycle(t *testing.T) {
	for _, tc := range []struct {
		name  string
		app   func() *App
		steps []step
	}{
		{"start and stop with a snapshot", newApp, []step{
			{do: "start", status: Starting, actions: "start(v1,p2,RESTORE_FROM_LATEST_SNAPSHOT)"},
			{do: "start", err: "ResourceInUseException"},
			{do: "started", status: Running, ops: "StartApplication:SUCCESSFUL"},
			{do: "stop", status: Stopping, actions: "stop(snapshot=true,force=false)"},
			{do: "stop", err: "ResourceInUseException"},
			{do: "stopped", status: Ready, ops: "StopApplication:SUCCESSFUL"},
			{do: "stop", err: "ResourceInUseException"},
		}},
		{"stop without snapshots", func() *App { a := newApp(); a.SnapshotsEnabled = false; return a }, []step{
			{do: "start", status: Starting, actions: "start(v1,p2,RESTORE_FROM_LATEST_SNAPSHOT)"},
			{do: "started", status: Running, ops: "StartApplication:SUCCESSFUL"},
			{do: "stop", status: Stopping, actions: "stop(snapshot=false,force=false)"},
			{do: "stopped", status: Ready, ops: "StopApplication:SUCCESSFUL"},
		}},
		{"a start that fails", newApp, []step{
			{do: "start", status: Starting, actions: "start(v1,p2,RESTORE_FROM_LATEST_SNAPSHOT)"},
			{do: "startfailed", status: Ready, ops: "StartApplication:FAILED"},
		}},
		{"force stop while starting cancels the start", newApp, []step{
			{do: "start", status: Starting, actions: "start(v1,p2,RESTORE_FROM_LATEST_SNAPSHOT)"},
			{do: "stop", err: "ResourceInUseException"},
			{do: "force", status: ForceStopping, actions: "stop(snapshot=false,force=true)"},
			{do: "stopped", status: Ready, ops: "StopApplication:SUCCESSFUL"},
		}},
		{"update while running", newApp, []step{
			{do: "start", status: Starting, actions: "start(v1,p2,RESTORE_FROM_LATEST_SNAPSHOT)"},
			{do: "started", status: Running, ops: "StartApplication:SUCCESSFUL"},
			{do: "update", status: Updating, actions: "stop(snapshot=true,force=false)"},
			{do: "update", err: "ResourceInUseException"},
			{do: "stopped", status: Updating, actions: "start(v2,p3,RESTORE_FROM_CUSTOM_SNAPSHOT/snap/1)"},
			{do: "started", status: Running, ops: "UpdateApplication:SUCCESSFUL"},
		}},
		{"update while ready", newApp, []step{
			{do: "update", status: Ready, ops: "UpdateApplication:SUCCESSFUL"},
		}},
		{"an update that fails to start rolls back", newApp, []step{
			{do: "start", status: Starting, actions: "start(v1,p2,RESTORE_FROM_LATEST_SNAPSHOT)"},
			{do: "started", status: Running, ops: "StartApplication:SUCCESSFUL"},
			{do: "update", status: Updating, actions: "stop(snapshot=true,force=false)"},
			{do: "stopped", status: Updating, actions: "start(v2,p3,RESTORE_FROM_CUSTOM_SNAPSHOT/snap/1)"},
			{do: "startfailed", status: RollingBack, actions: "start(v1,p2,RESTORE_FROM_CUSTOM_SNAPSHOT/snap/1)", ops: "UpdateApplication:FAILED+rollback"},
			{do: "started", status: Running, ops: "RollbackApplication:SUCCESSFUL"},
		}},
		{"an update that fails without the system rollback", func() *App { a := newApp(); a.RollbackEnabled = false; return a }, []step{
			{do: "start", status: Starting, actions: "start(v1,p2,RESTORE_FROM_LATEST_SNAPSHOT)"},
			{do: "started", status: Running, ops: "StartApplication:SUCCESSFUL"},
			{do: "update", status: Updating, actions: "stop(snapshot=true,force=false)"},
			{do: "stopped", status: Updating, actions: "start(v2,p3,RESTORE_FROM_CUSTOM_SNAPSHOT/snap/1)"},
			{do: "startfailed", status: Ready, ops: "UpdateApplication:FAILED"},
		}},
		{"an update whose snapshot fails restarts the old version", newApp, []step{
			{do: "start", status: Starting, actions: "start(v1,p2,RESTORE_FROM_LATEST_SNAPSHOT)"},
			{do: "started", status: Running, ops: "StartApplication:SUCCESSFUL"},
			{do: "update", status: Updating, actions: "stop(snapshot=true,force=false)"},
			{do: "stoppednosnap", status: RollingBack, actions: "start(v1,p2,RESTORE_FROM_LATEST_SNAPSHOT)", ops: "UpdateApplication:FAILED+rollback"},
			{do: "started", status: Running, ops: "RollbackApplication:SUCCESSFUL"},
		}},
		{"rollback while running", func() *App { a := newApp(); a.Version = 3; return a }, []step{
			{do: "start", status: Starting, actions: "start(v3,p2,RESTORE_FROM_LATEST_SNAPSHOT)"},
			{do: "started", status: Running, ops: "StartApplication:SUCCESSFUL"},
			{do: "rollback", status: RollingBack, actions: "stop(snapshot=true,force=false)"},
			{do: "stopped", status: RollingBack, actions: "start(v2,p2,RESTORE_FROM_CUSTOM_SNAPSHOT/snap/1)"},
			{do: "started", status: Running, ops: "RollbackApplication:SUCCESSFUL"},
		}},
		{"autoscaling", newApp, []step{
			{do: "scale", err: "ResourceInUseException"},
			{do: "start", status: Starting, actions: "start(v1,p2,RESTORE_FROM_LATEST_SNAPSHOT)"},
			{do: "started", status: Running, ops: "StartApplication:SUCCESSFUL"},
			{do: "scale", status: Autoscaling, actions: "stop(snapshot=true,force=false)"},
			{do: "stopped", status: Autoscaling, actions: "start(v1,p4,RESTORE_FROM_CUSTOM_SNAPSHOT/snap/1)"},
			{do: "started", status: Running, ops: "Autoscaling:SUCCESSFUL"},
		}},
		{"a crash restarts from the latest checkpoint", newApp, []step{
			{do: "start", status: Starting, actions: "start(v1,p2,RESTORE_FROM_LATEST_SNAPSHOT)"},
			{do: "started", status: Running, ops: "StartApplication:SUCCESSFUL"},
			{do: "crashed", status: Running, actions: "start(v1,p2,RESTORE_FROM_LATEST_SNAPSHOT)"},
			{do: "crashed", status: Running, actions: "start(v1,p2,RESTORE_FROM_LATEST_SNAPSHOT)"},
		}},
		{"a crash while stopping ends the stop", newApp, []step{
			{do: "start", status: Starting, actions: "start(v1,p2,RESTORE_FROM_LATEST_SNAPSHOT)"},
			{do: "started", status: Running, ops: "StartApplication:SUCCESSFUL"},
			{do: "stop", status: Stopping, actions: "stop(snapshot=true,force=false)"},
			{do: "crashed", status: Ready, ops: "StopApplication:FAILED"},
		}},
		{"delete", newApp, []step{
			{do: "start", status: Starting, actions: "start(v1,p2,RESTORE_FROM_LATEST_SNAPSHOT)"},
			{do: "started", status: Running, ops: "StartApplication:SUCCESSFUL"},
			{do: "delete", status: Deleting, actions: "stop(snapshot=false,force=true)"},
			{do: "delete", err: "ResourceInUseException"},
			{do: "stopped", status: Deleting, actions: "forget"},
		}},
		{"delete while ready", newApp, []step{
			{do: "delete", status: Ready, actions: "forget"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.app()
			run(t, a, tc.steps)
			if tc.name == "a crash restarts from the latest checkpoint" && a.Restarts != 2 {
				t.Errorf("restarts %d, want 2", a.Restarts)
			}
		})
	}
}

func TestFinished(t *testing.T) {
	a := newApp()
	run(t, a, []step{
		{do: "start", status: Starting, actions: "start(v1,p2,RESTORE_FROM_LATEST_SNAPSHOT)"},
		{do: "started", status: Running, ops: "StartApplication:SUCCESSFUL"},
	})
	acts, ops := a.Handle(time.Now(), Finished{})
	if a.Status != Ready || len(acts) != 0 || len(ops) != 0 {
		t.Fatalf("after Finished: %s, %v, %v", a.Status, acts, ops)
	}
}
