// Package crashtest is the SIGKILL harness of Runnel's exactly-once tests: a job runs in a
// child process (the test binary, re-executed), which the parent kills with SIGKILL at random
// moments after it completed checkpoints and starts again, each start resuming the latest
// snapshot of the checkpoint location (as `runnel run --restore latest` does); the test then
// compares the committed output with what an uninterrupted run writes.
//
// The child tells the parent what it does with lines on stderr, written by a Reporter:
// "crashtest: restored <id>" when a run starts from a snapshot, "crashtest: checkpoint <id>"
// when a checkpoint newer than that completed. The parent takes a checkpoint line only as a
// cue to look at the checkpoint location itself (Run.Latest).
package crashtest

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/runnel-io/runnel/metrics"
)

const (
	checkpointLine = "crashtest: checkpoint "
	restoredLine   = "crashtest: restored "
)

// Reporter writes the child's side of the protocol on stderr. Install Listener as the job's
// metrics listener (with a short Config.MetricsInterval) and call Restored from
// Checkpoints.OnStart. It is safe for concurrent use.
type Reporter struct {
	reported atomic.Int64
}

// Listener returns the metrics listener that reports each checkpoint newer than the last one
// reported (or restored).
func (r *Reporter) Listener() metrics.Listener {
	return metrics.ListenerFunc(func(s metrics.Snapshot) {
		if c := s.Checkpoints; c != nil && c.LastID > r.reported.Load() && c.LastID > c.Restored {
			r.reported.Store(c.LastID)
			fmt.Fprintf(os.Stderr, "%s%d\n", checkpointLine, c.LastID)
		}
	})
}

// Restored reports that a run starts from snapshot id.
func (r *Reporter) Restored(id int64) {
	r.reported.Store(max(r.reported.Load(), id))
	fmt.Fprintf(os.Stderr, "%s%d\n", restoredLine, id)
}

// Command returns the command that runs the test function test (a TestXxx of the calling
// package, which runs the job when env holds its variable) in a child process, with env added
// to this process's environment.
func Command(test string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// Child is a running child process.
type Child struct {
	cmd *exec.Cmd
	out lockedBuffer // its stdout and stderr
	// Checkpointed receives (without blocking the reader: capacity 1) when the child reports
	// a completed checkpoint.
	Checkpointed chan struct{}
	// Exited is closed when the child has exited and its output is read to its end; Err then
	// returns cmd.Wait's result.
	Exited   chan struct{}
	err      error
	restored atomic.Int64
}

// Start starts cmd. onLine, if not nil, sees every line of the child's stderr (from another
// goroutine). If the test ends with the child running, a cleanup kills it and waits for it.
func Start(t testing.TB, cmd *exec.Cmd, onLine func(string)) *Child {
	t.Helper()
	ch := &Child{cmd: cmd, Checkpointed: make(chan struct{}, 1), Exited: make(chan struct{})}
	cmd.Stdout = &ch.out
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			ch.out.Write([]byte(line + "\n"))
			switch {
			case strings.HasPrefix(line, checkpointLine):
				select {
				case ch.Checkpointed <- struct{}{}:
				default:
				}
			case strings.HasPrefix(line, restoredLine):
				ch.restored.Add(1)
			}
			if onLine != nil {
				onLine(line)
			}
		}
		ch.err = cmd.Wait()
		close(ch.Exited)
	}()
	t.Cleanup(func() {
		ch.Kill()
		<-ch.Exited
	})
	return ch
}

// Kill sends SIGKILL (nothing if the child has ended).
func (ch *Child) Kill() { _ = ch.cmd.Process.Signal(syscall.SIGKILL) }

// Err returns how the child ended; call it after Exited is closed.
func (ch *Child) Err() error { return ch.err }

// ExitCode returns the child's exit code (-1 if it was killed); call it after Exited.
func (ch *Child) ExitCode() int { return ch.cmd.ProcessState.ExitCode() }

// Restores counts the child's "restored" lines.
func (ch *Child) Restores() int { return int(ch.restored.Load()) }

// Output returns what the child wrote so far, for failure messages.
func (ch *Child) Output() string { return ch.out.String() }

// SIGKILLed reports whether the child, which has exited, ended by SIGKILL.
func (ch *Child) SIGKILLed() bool {
	ws, ok := ch.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// Run kills one job a number of times and lets it finish.
type Run struct {
	// Command returns the command of each run of the child job; every run resumes the latest
	// snapshot of the same checkpoint location.
	Command func() *exec.Cmd
	// Latest returns the ID of the newest complete checkpoint in the location, 0 if none.
	Latest func() int64
	// Rng draws the moments of the kills.
	Rng *rand.Rand
	// Kills is how many times the child is killed; each kill comes at a random moment within
	// Within after a checkpoint of the run completed (and, with Committed, after more output
	// was committed than at the previous kill).
	Kills  int
	Within time.Duration
	// Records is how many records the job must write; Committed, if not nil, returns how
	// many distinct ones the committed output holds. With it, every kill interrupts a job
	// that is writing, and Run requires one kill with part of the output, not all, committed.
	Records   int
	Committed func() int
	// Unbounded says the job's source never ends: the last run goes on until the output
	// holds every record (Committed is required), then two more checkpoints complete (the
	// moments a duplicate would be committed) and the child is killed. Otherwise the last run
	// must end by itself, successfully.
	Unbounded bool
	// Timeout bounds each run. Default 60 s.
	Timeout time.Duration
}

// Stats is what a Run did.
type Stats struct {
	Runs, Kills, Restores int
	// Midway counts the kills that came when part of the output, not all, was committed.
	Midway int
}

// Do runs the child until it ends (or, if unbounded, until its output is complete), killing
// it as configured. It fails the test if a child fails other than by SIGKILL, if a run takes
// too long, or if the run tested too little: fewer kills than asked, no restore, or (with
// Committed) no kill while part of the output was committed.
func (r *Run) Do(t *testing.T) Stats {
	t.Helper()
	timeout := r.Timeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	var stats Stats
	// progress is how many records were committed at the last kill: the next kill is armed
	// only once more are, so that every kill interrupts a job that is writing (a slow start,
	// under the race detector, would otherwise see every kill land before the first commit).
	progress := 0
	committed := func() int {
		if r.Committed == nil {
			return progress + 1
		}
		return r.Committed()
	}
	for {
		if stats.Runs > r.Kills+3 {
			t.Fatalf("the job did not finish in %d runs", stats.Runs)
		}
		stats.Runs++
		before := r.Latest()
		ch := Start(t, r.Command(), nil)
		killing := stats.Kills < r.Kills
		var killAt <-chan time.Time
		var doneAt int64 // if unbounded: the checkpoint after which the output was complete
		deadline := time.NewTimer(timeout)
		var err error
	wait:
		for {
			select {
			case <-ch.Exited:
				err = ch.err
				break wait
			case <-ch.Checkpointed:
				id := r.Latest()
				if id <= before {
					continue // reported before it is visible in the location: wait for the next
				}
				switch {
				case killing && killAt == nil:
					if committed() <= progress {
						continue // nothing new committed yet
					}
					killAt = time.After(time.Duration(r.Rng.Int64N(int64(r.Within) + 1)))
				case !killing && r.Unbounded && doneAt == 0 && committed() >= r.Records:
					doneAt = id
				case doneAt > 0 && id >= doneAt+2:
					ch.Kill()
					if <-ch.Exited; !ch.SIGKILLed() {
						t.Fatalf("run %d: child failed: %v\n%s", stats.Runs, ch.err, ch.Output())
					}
					deadline.Stop()
					t.Logf("run %d: output complete at checkpoint %d, stopped at %d", stats.Runs, doneAt, id)
					stats.Restores += ch.Restores()
					return r.check(t, stats)
				}
			case <-killAt:
				ch.Kill()
				<-ch.Exited
				if err = ch.err; !ch.SIGKILLed() {
					break wait // it ended by itself first
				}
				stats.Kills++
				if r.Committed != nil {
					n := r.Committed()
					progress = n
					t.Logf("kill %d, after checkpoint %d: %d of %d records committed", stats.Kills, r.Latest(), n, r.Records)
					if n > 0 && n < r.Records {
						stats.Midway++
					}
				} else {
					t.Logf("kill %d, after checkpoint %d", stats.Kills, r.Latest())
				}
				break wait
			case <-deadline.C:
				ch.Kill()
				<-ch.Exited
				t.Fatalf("run %d took longer than %v\n%s", stats.Runs, timeout, ch.Output())
			}
		}
		deadline.Stop()
		stats.Restores += ch.Restores()
		if err == nil {
			if r.Unbounded {
				t.Fatalf("run %d: the job of an unbounded source ended\n%s", stats.Runs, ch.Output())
			}
			return r.check(t, stats)
		}
		if !ch.SIGKILLed() {
			t.Fatalf("run %d: child failed: %v\n%s", stats.Runs, err, ch.Output())
		}
	}
}

func (r *Run) check(t *testing.T, s Stats) Stats {
	t.Helper()
	t.Logf("%d runs, %d kills (%d with part of the output committed), %d restores from a checkpoint", s.Runs, s.Kills, s.Midway, s.Restores)
	if s.Kills < r.Kills || s.Restores == 0 || (r.Committed != nil && s.Midway == 0) {
		t.Fatalf("%d kills (want %d), %d of them midway, and %d restores: the harness tested too little",
			s.Kills, r.Kills, s.Midway, s.Restores)
	}
	return s
}

// lockedBuffer collects a child's output for failure messages.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
