package runtime

import (
	"fmt"
	"sync"
)

// acrossRuns is what outlives one run of a job within Run: what operator subtasks hand over to
// their instance in the next run (a restart), and which snapshots completed. It is safe for
// concurrent use.
type acrossRuns struct {
	mu        sync.Mutex
	handover  map[string]any // by operator UID and subtask
	completed map[int64]bool // IDs of the snapshots (checkpoints and savepoints) that completed
}

func newAcrossRuns() *acrossRuns {
	return &acrossRuns{handover: map[string]any{}, completed: map[int64]bool{}}
}

func handoverKey(uid string, subtask int) string { return fmt.Sprintf("%s/%d", uid, subtask) }

// HandOver keeps v for this operator subtask's instance in the job's next run, if the job
// restarts: a sink hands over what it pre-committed at snapshots that may never complete, so
// that the next instance can abort it. A later call replaces v.
func (c *Context) HandOver(v any) {
	a := c.t.j.across
	a.mu.Lock()
	defer a.mu.Unlock()
	a.handover[handoverKey(c.uid, c.Subtask)] = v
}

// TakeOver returns what this operator subtask's instance in the previous run of the job
// handed over (nil if none, and on the first run), once.
func (c *Context) TakeOver() any {
	a := c.t.j.across
	a.mu.Lock()
	defer a.mu.Unlock()
	k := handoverKey(c.uid, c.Subtask)
	v := a.handover[k]
	delete(a.handover, k)
	return v
}

// SnapshotCompleted reports whether snapshot id, a checkpoint or a savepoint, completed since
// the job started (in any of its runs).
func (c *Context) SnapshotCompleted(id int64) bool {
	a := c.t.j.across
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.completed[id]
}

func (a *acrossRuns) complete(id int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.completed[id] = true
}
