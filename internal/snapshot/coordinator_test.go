package snapshot_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/internal/snapshot"
)

func TestConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		cfg     snapshot.Config
		wantErr string
	}{
		{cfg: snapshot.Config{}},
		{cfg: snapshot.Config{Interval: time.Second, MinPause: time.Second, Timeout: time.Minute, TolerableFailures: 3, MaxConcurrent: 2}},
		{snapshot.Config{Interval: -1}, "negative interval"},
		{snapshot.Config{MinPause: -1}, "negative min pause"},
		{snapshot.Config{Timeout: -1}, "negative timeout"},
		{snapshot.Config{TolerableFailures: -1}, "negative tolerable failures"},
		{snapshot.Config{MaxConcurrent: -1}, "negative max concurrent"},
	} {
		err := tt.cfg.Validate()
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%+v.Validate() = %v, want %q", tt.cfg, err, tt.wantErr)
		}
		if _, nerr := snapshot.NewCoordinator(tt.cfg, tasks(1)); (nerr == nil) != (err == nil) {
			t.Errorf("NewCoordinator(%+v) = %v, Validate = %v", tt.cfg, nerr, err)
		}
	}
	if _, err := snapshot.NewCoordinator(snapshot.Config{}, nil); err == nil {
		t.Error("NewCoordinator without tasks succeeded")
	}
}

// TestDefaults checks the documented zero-value defaults: a 10-minute timeout, one snapshot in
// flight, no periodic checkpoints.
func TestDefaults(t *testing.T) {
	c := mustCoordinator(t, snapshot.Config{}, tasks(1))
	t0 := time.Unix(1000, 0)
	if acts := c.Tick(t0.Add(1000 * time.Hour)); len(acts) != 0 {
		t.Fatalf("zero Interval triggered: %v", acts)
	}
	id, acts, err := c.TriggerSavepoint(t0.Add(1000*time.Hour), "/sp")
	if err != nil || len(acts) != 1 {
		t.Fatalf("TriggerSavepoint = %d, %v, %v", id, acts, err)
	}
	if _, acts, _ := c.TriggerSavepoint(t0.Add(1000*time.Hour), "/sp"); len(acts) != 0 {
		t.Fatalf("a second savepoint triggered with MaxConcurrent defaulting to 1: %v", acts)
	}
	start := t0.Add(1000 * time.Hour)
	if acts := c.Tick(start.Add(snapshot.DefaultTimeout - time.Millisecond)); len(acts) != 0 {
		t.Fatalf("aborted before the default timeout: %v", acts)
	}
	acts = c.Tick(start.Add(snapshot.DefaultTimeout))
	if len(acts) < 1 || !isAbort(acts[0], id, snapshot.ErrTimeout) {
		t.Fatalf("at the default timeout: %v, want abort of %d", acts, id)
	}
}

// TestTolerableFailures checks that the job fails at exactly the failure after
// TolerableFailures consecutive ones, for each kind of counted failure, and that a completed
// checkpoint resets the count.
func TestTolerableFailures(t *testing.T) {
	kinds := map[string]func(c *snapshot.Coordinator, id int64, now time.Time) []snapshot.Action{
		"timeout": func(c *snapshot.Coordinator, id int64, now time.Time) []snapshot.Action {
			return c.Tick(now.Add(time.Minute))
		},
		"decline": func(c *snapshot.Coordinator, id int64, now time.Time) []snapshot.Action {
			return c.Decline(id, snapshot.TaskID{Node: 1}, errors.New("boom"))
		},
		"finalize": func(c *snapshot.Coordinator, id int64, now time.Time) []snapshot.Action {
			c.Ack(id, snapshot.TaskID{Node: 1}, nil)
			return c.FinalizeFailed(id, errors.New("disk full"))
		},
	}
	for name, fail := range kinds {
		for tolerable := range 4 {
			t.Run(fmt.Sprintf("%s/%d", name, tolerable), func(t *testing.T) {
				c := mustCoordinator(t, snapshot.Config{Interval: 2 * time.Minute, Timeout: time.Minute, TolerableFailures: tolerable}, tasks(1))
				now := time.Unix(0, 0)
				c.Tick(now)
				// One success in the middle: the count starts again after it.
				for round, failures := range []int{tolerable, tolerable + 1} {
					for i := range failures {
						now = now.Add(2 * time.Minute)
						id := triggered(t, c.Tick(now))
						acts := fail(c, id, now)
						now = now.Add(time.Minute)
						failed := hasFailJob(acts)
						if want := round == 1 && i == tolerable; failed != want {
							t.Fatalf("round %d failure %d (tolerable %d): FailJob %t, want %t: %v", round, i+1, tolerable, failed, want, acts)
						}
					}
					if round == 0 {
						now = now.Add(2 * time.Minute)
						id := triggered(t, c.Tick(now))
						c.Ack(id, snapshot.TaskID{Node: 1}, nil)
						if acts := c.Finalized(id); len(acts) != 1 {
							t.Fatalf("Finalized = %v", acts)
						}
						if got := c.Stats().ConsecutiveFailures; got != 0 {
							t.Fatalf("after a success, ConsecutiveFailures = %d", got)
						}
					}
				}
			})
		}
	}
}

// TestIDsMonotonicAcrossRestarts restarts the coordinator at random points and checks that
// no ID is ever given twice or goes back.
func TestIDsMonotonicAcrossRestarts(t *testing.T) {
	c := mustCoordinator(t, snapshot.Config{Interval: time.Second, MaxConcurrent: 2}, tasks(2))
	c.SetNextID(7)
	now := time.Unix(0, 0)
	var last int64
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		now = now.Add(time.Duration(rng.IntN(1500)) * time.Millisecond)
		var acts []snapshot.Action
		switch rng.IntN(4) {
		case 0:
			acts = c.TaskFailed(errors.New("crash"))
		case 1:
			_, acts, _ = c.TriggerSavepoint(now, "/sp")
		default:
			acts = c.Tick(now)
		}
		for _, a := range acts {
			if tr, ok := a.(snapshot.Trigger); ok {
				if tr.ID <= last || tr.ID < 7 {
					t.Fatalf("trigger %d after %d", tr.ID, last)
				}
				last = tr.ID
			}
		}
	}
	if last == 0 {
		t.Fatal("nothing triggered")
	}
}

// TestSavepointRequestErrors checks the sentinels of refused savepoint requests, which the REST
// API answers with client errors: another stop-with-savepoint in progress, a stopped
// coordinator.
func TestSavepointRequestErrors(t *testing.T) {
	c := mustCoordinator(t, snapshot.Config{}, tasks(1))
	now := time.Unix(0, 0)
	id, _, err := c.StopWithSavepoint(now, "/sp")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.StopWithSavepoint(now, "/sp"); !errors.Is(err, snapshot.ErrStopInProgress) ||
		!strings.Contains(err.Error(), fmt.Sprintf("(savepoint %d)", id)) {
		t.Errorf("second stop-with-savepoint: %v, want ErrStopInProgress naming savepoint %d", err, id)
	}
	if _, _, err := c.TriggerSavepoint(now, "/sp"); err != nil {
		t.Errorf("savepoint during a stop-with-savepoint: %v", err)
	}
	c.Stop()
	if _, _, err := c.StopWithSavepoint(now, "/sp"); !errors.Is(err, snapshot.ErrStopped) || errors.Is(err, snapshot.ErrStopInProgress) {
		t.Errorf("stop-with-savepoint after Stop: %v, want ErrStopped only", err)
	}
}

// TestCoordinatorInvariants drives coordinators with random events from several seeds and
// checks the promises the runtime relies on after every call.
func TestCoordinatorInvariants(t *testing.T) {
	seen := map[string]int{}
	for seed := range uint64(50) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { randomWalk(t, seed, 1000, seen) })
	}
	// The walk must reach the interesting states, or it proves little.
	for _, k := range []string{"notify", "finalize", "fail-job", "subsumed", "timeout", "stop-savepoint", "queued-abort"} {
		if seen[k] == 0 {
			t.Errorf("no seed reached %s: %v", k, seen)
		}
	}
	t.Logf("reached: %v", seen)
}

func randomWalk(t *testing.T, seed uint64, steps int, seen map[string]int) {
	rng := rand.New(rand.NewPCG(seed, 99))
	cfg := snapshot.Config{
		Interval:          time.Duration(rng.IntN(4)) * 500 * time.Millisecond,
		MinPause:          time.Duration(rng.IntN(2)) * 500 * time.Millisecond,
		Timeout:           time.Duration(1+rng.IntN(5)) * time.Second,
		TolerableFailures: rng.IntN(6),
		MaxConcurrent:     1 + rng.IntN(3),
	}
	ts := tasks(1 + rng.IntN(3))
	c := mustCoordinator(t, cfg, ts)
	now := time.Unix(0, 0)

	// The model: what the runtime knows.
	live := map[int64]bool{} // triggered or queued, not ended
	ended := map[int64]bool{}
	var finalizing int64 // the outstanding Finalize, 0 if none
	var lastTrigger, lastFinalize, lastNotify int64
	failing, stopped := false, false
	check := func(what string, acts []snapshot.Action) {
		t.Helper()
		if stopped && len(acts) > 0 {
			t.Fatalf("%s after stop: %v", what, acts)
		}
		for _, a := range acts {
			switch a := a.(type) {
			case snapshot.Trigger:
				if failing {
					t.Fatalf("%s: trigger %d while the job is failing", what, a.ID)
				}
				if a.ID <= lastTrigger || ended[a.ID] {
					t.Fatalf("%s: trigger %d after %d", what, a.ID, lastTrigger)
				}
				lastTrigger = a.ID
				live[a.ID] = true
			case snapshot.Finalize:
				if finalizing != 0 {
					t.Fatalf("%s: finalize %d while %d is being finalized", what, a.ID, finalizing)
				}
				if a.ID <= lastFinalize || !live[a.ID] || len(a.Acks) != len(ts) {
					t.Fatalf("%s: finalize %d (last %d, live %t, %d acks)", what, a.ID, lastFinalize, live[a.ID], len(a.Acks))
				}
				for id := range live {
					if id < a.ID {
						t.Fatalf("%s: finalize %d while older %d is in flight", what, a.ID, id)
					}
				}
				lastFinalize, finalizing = a.ID, a.ID
				seen["finalize"]++
			case snapshot.NotifyComplete:
				if a.ID <= lastNotify || !ended[a.ID] {
					t.Fatalf("%s: notify %d (last %d, ended %t)", what, a.ID, lastNotify, ended[a.ID])
				}
				lastNotify = a.ID
				seen["notify"]++
				if a.Savepoint {
					seen["stop-savepoint"]++
				}
			case snapshot.Abort:
				switch {
				case errors.Is(a.Reason, snapshot.ErrSubsumed):
					seen["subsumed"]++
				case errors.Is(a.Reason, snapshot.ErrTimeout):
					seen["timeout"]++
				}
				if !a.Triggered {
					seen["queued-abort"]++
				}
				if !live[a.ID] {
					t.Fatalf("%s: abort of %d, which is not in flight", what, a.ID)
				}
				delete(live, a.ID)
				ended[a.ID] = true
				if a.ID == finalizing {
					finalizing = 0
				}
			case snapshot.FailJob:
				if len(live) != 0 {
					t.Fatalf("%s: FailJob with %v still in flight", what, live)
				}
				failing = true
				seen["fail-job"]++
			}
		}
		if s := c.Stats(); s.InFlight > cfg.MaxConcurrent || s.InFlight+s.Queued != len(live) {
			t.Fatalf("%s: stats %+v, model has %d live (max concurrent %d)", what, s, len(live), cfg.MaxConcurrent)
		}
	}
	pick := func() int64 { // mostly a live ID, sometimes a stale or unknown one
		if len(live) > 0 && rng.IntN(5) > 0 {
			var ids []int64
			for id := range live {
				ids = append(ids, id)
			}
			return ids[rng.IntN(len(ids))]
		}
		return int64(rng.IntN(int(lastTrigger) + 2))
	}
	for step := range steps {
		var acts []snapshot.Action
		var what string
		switch r := rng.IntN(1000); {
		case r < 250:
			now = now.Add(time.Duration(rng.IntN(700)) * time.Millisecond)
			what, acts = "tick", c.Tick(now)
		case r < 700:
			id := pick()
			what, acts = fmt.Sprintf("ack %d", id), c.Ack(id, ts[rng.IntN(len(ts))], nil)
		case r < 730:
			id := pick()
			err := errors.New("boom")
			if rng.IntN(2) == 0 {
				err = snapshot.ErrTaskNotReady
			}
			what, acts = fmt.Sprintf("decline %d", id), c.Decline(id, ts[rng.IntN(len(ts))], err)
		case r < 880:
			id := finalizing
			if rng.IntN(4) == 0 {
				id = pick()
			}
			what = fmt.Sprintf("finalized %d", id)
			if id == finalizing && id != 0 && !stopped && !failing {
				delete(live, id)
				ended[id] = true
				finalizing = 0
			}
			acts = c.Finalized(id)
		case r < 900:
			id := finalizing
			what, acts = fmt.Sprintf("finalize failed %d", id), c.FinalizeFailed(id, errors.New("io"))
		case r < 960:
			terminate := rng.IntN(5) == 0
			var id int64
			var err error
			if terminate {
				id, acts, err = c.StopWithSavepoint(now, "/sp")
			} else {
				id, acts, err = c.TriggerSavepoint(now, "/sp")
			}
			what = fmt.Sprintf("savepoint %d (stop %t)", id, terminate)
			if err == nil {
				if id <= lastTrigger || live[id] || ended[id] {
					t.Fatalf("%s: reused id", what)
				}
				live[id] = true
			}
		case r < 995 || step < steps/2:
			what, acts = "task failed", c.TaskFailed(errors.New("crash"))
			if !stopped {
				failing = false
			}
		default:
			what, acts = "stop", c.Stop()
		}
		check(fmt.Sprintf("step %d %s", step, what), acts)
		if what == "stop" || (len(acts) > 0 && isStopNotify(acts)) {
			stopped = true
		}
	}
}

func isStopNotify(acts []snapshot.Action) bool {
	for _, a := range acts {
		if n, ok := a.(snapshot.NotifyComplete); ok && n.Savepoint {
			return true
		}
	}
	return false
}

func tasks(n int) []snapshot.TaskID {
	var out []snapshot.TaskID
	for i := range n {
		out = append(out, snapshot.TaskID{Node: 1, Subtask: i})
	}
	return out
}

func mustCoordinator(t *testing.T, cfg snapshot.Config, ts []snapshot.TaskID) *snapshot.Coordinator {
	t.Helper()
	c, err := snapshot.NewCoordinator(cfg, ts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func triggered(t *testing.T, acts []snapshot.Action) int64 {
	t.Helper()
	for _, a := range acts {
		if tr, ok := a.(snapshot.Trigger); ok {
			return tr.ID
		}
	}
	t.Fatalf("no trigger in %v", acts)
	return 0
}

func hasFailJob(acts []snapshot.Action) bool {
	for _, a := range acts {
		if _, ok := a.(snapshot.FailJob); ok {
			return true
		}
	}
	return false
}

func isAbort(a snapshot.Action, id int64, reason error) bool {
	ab, ok := a.(snapshot.Abort)
	return ok && ab.ID == id && errors.Is(ab.Reason, reason)
}
