package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/internal/snapshot"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/restart"
	"github.com/runnel-io/runnel/stream"
)

// The SIGKILL harness shared by the exactly-once tests. A job runs in a child process: this
// test binary, re-executed with childEnv naming the job and childConfigEnv holding its
// childConfig as JSON, which TestMain hands to runChild instead of running the tests. The
// servers (kfake, kinesalite, versitygw) live in the parent or in processes of their own, so
// they outlive the child. The parent kills the child with SIGKILL at a random moment after it
// has completed a checkpoint (seen in the checkpoint directory), several times, and starts it
// again each time; each start restores the newest complete checkpoint, as
// `runnel run --restore latest` does.
//
// The child reports on stderr, one line each: "restored <id>" when it starts from a
// checkpoint, and "checkpoint <id>" when a checkpoint newer than that completed. The parent
// takes a checkpoint line only as a cue to look at the checkpoint directory.

const (
	childEnv       = "RUNNEL_E2E_CHILD"
	childConfigEnv = "RUNNEL_E2E_CHILD_CONFIG"
	// seedsEnv sets how many seeds each crash test runs (default 2), for longer runs.
	seedsEnv = "RUNNEL_CRASH_SEEDS"
)

// childConfig is everything a child job needs to find its servers and its checkpoints.
type childConfig struct {
	Checkpoints string // checkpoint storage: a directory
	Interval    time.Duration
	Parallelism int
	// PaceEvery makes the map sleep a millisecond every PaceEvery records it sees, so that the
	// job runs long enough to be killed several times; 0: no pacing.
	PaceEvery int64

	S3 s3Target

	KafkaBrokers []string `json:",omitempty"`
	KafkaTopic   string   `json:",omitempty"`

	KinesisEndpoint string `json:",omitempty"`
	KinesisStream   string `json:",omitempty"`
}

// s3Target is where a child's S3 sink writes: s3://Bucket/Prefix on the server at Endpoint.
type s3Target struct {
	Endpoint, Region, AccessKey, SecretKey string
	Bucket, Prefix                         string
}

// childJobs builds the jobs a child can run, by name. build adds the job's sources,
// operators and sinks to env.
var childJobs = map[string]func(env *stream.Env, c childConfig) error{
	"kafka-s3":   buildKafkaToS3,
	"kinesis-s3": buildKinesisToS3,
}

func TestMain(m *testing.M) {
	if job := os.Getenv(childEnv); job != "" {
		if err := runChild(job, os.Getenv(childConfigEnv)); err != nil {
			fmt.Fprintf(os.Stderr, "child %s: %v\n", job, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runChild runs job from the newest complete checkpoint, reporting restores and completed
// checkpoints on stderr.
func runChild(job, rawConfig string) error {
	build := childJobs[job]
	if build == nil {
		return fmt.Errorf("unknown job %q", job)
	}
	var c childConfig
	if err := json.Unmarshal([]byte(rawConfig), &c); err != nil {
		return fmt.Errorf("reading %s: %w", childConfigEnv, err)
	}
	ctx := context.Background()
	st, err := checkpoint.NewLocal(c.Checkpoints)
	if err != nil {
		return err
	}
	var reported atomic.Int64
	cfg := stream.Config{
		Parallelism:     c.Parallelism,
		MetricsInterval: time.Millisecond,
		Metrics: metrics.ListenerFunc(func(s metrics.Snapshot) {
			if ck := s.Checkpoints; ck != nil && ck.LastID > reported.Load() {
				reported.Store(ck.LastID)
				fmt.Fprintf(os.Stderr, "checkpoint %d\n", ck.LastID)
			}
		}),
		Checkpoints: stream.Checkpoints{
			Storage:  st,
			Interval: c.Interval, TolerableFailures: 1000,
			Restart:       restart.FixedDelay(1000, 0),
			RestoreLatest: true,
			OnStart: func(r *stream.Snapshot) {
				if r != nil {
					fmt.Fprintf(os.Stderr, "restored %d\n", r.ID)
				}
			},
		},
	}
	env := stream.New(job, cfg)
	if err := build(env, c); err != nil {
		return err
	}
	return env.Execute(ctx)
}

// pace returns a function for a map to call per record: it sleeps a millisecond every
// `every` calls (over all subtasks), or never when every is 0.
func pace(every int64) func() {
	var seen atomic.Int64
	return func() {
		if every > 0 && seen.Add(1)%every == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

// crashSeeds returns the seeds a crash test runs: 0 and 1, or as many as seedsEnv says.
func crashSeeds(t *testing.T) []uint64 {
	n := 2
	if s := os.Getenv(seedsEnv); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("%s=%q: want a positive number", seedsEnv, s)
		}
		n = v
	}
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = uint64(i)
	}
	return seeds
}

// crashRun describes one crash test run: a child job killed kills times.
type crashRun struct {
	job  string
	cfg  childConfig
	rng  *rand.Rand
	kill struct {
		times int
		// within bounds the random delay between the first checkpoint of a run after which
		// more records are committed than at the previous kill, and the SIGKILL.
		within time.Duration
	}
	// records is how many records the job must write; committed returns how many distinct
	// ones the committed output holds.
	records   int
	committed func() int
	// unbounded says the job's source never ends: the last run goes on until the output holds
	// every record, then the harness lets two more checkpoints complete (the moments a
	// duplicate would be committed) and kills the child. Otherwise the last run must end by
	// itself, successfully.
	unbounded bool
	// runTimeout bounds each run. Default 60s.
	runTimeout time.Duration
}

// crashStats is what a crash run did.
type crashStats struct {
	runs, kills, restores int
	// midway counts the kills that came when part of the output, not all, was committed.
	midway int
}

// run runs the child until it ends (or, if unbounded, until its output is complete), killing
// it as configured. It fails the test if a child fails other than by the harness's SIGKILL, if
// a run takes too long, or if the run tested too little: fewer kills than asked, no restore, or
// no kill at a moment when part of the output, but not all, was committed.
func (c *crashRun) run(t *testing.T) crashStats {
	t.Helper()
	ctx := t.Context()
	st, err := checkpoint.NewLocal(c.cfg.Checkpoints)
	if err != nil {
		t.Fatal(err)
	}
	latest := func() int64 {
		id, _, err := snapshot.Latest(ctx, st)
		if errors.Is(err, snapshot.ErrNoCheckpoint) {
			return 0
		}
		if err != nil {
			t.Fatalf("reading the checkpoint directory: %v", err)
		}
		return id
	}
	timeout := c.runTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	var stats crashStats
	// progress is how many records were committed at the last kill: the next kill is armed
	// only once more are, so that every kill interrupts a job that is writing (a slow start,
	// under the race detector, would otherwise see every kill land before the first commit).
	progress := 0
	for {
		if stats.runs > c.kill.times+3 {
			t.Fatalf("the job did not finish in %d runs", stats.runs)
		}
		stats.runs++
		before := latest()
		ch := startChild(t, c.job, c.cfg)
		killing := stats.kills < c.kill.times
		var killAt <-chan time.Time
		var doneAt int64 // if unbounded: the checkpoint after which the output was complete
		deadline := time.NewTimer(timeout)
		var err error
	wait:
		for {
			select {
			case <-ch.exited:
				err = ch.err
				break wait
			case <-ch.checkpointed:
				id := latest()
				if id <= before {
					continue // reported before it is visible in the directory: wait for the next
				}
				switch {
				case killing && killAt == nil:
					if c.committed() <= progress {
						continue // nothing new committed yet
					}
					killAt = time.After(time.Duration(c.rng.Int64N(int64(c.kill.within) + 1)))
				case !killing && c.unbounded && doneAt == 0 && c.committed() >= c.records:
					doneAt = id
				case doneAt > 0 && id >= doneAt+2:
					ch.kill()
					if <-ch.exited; !ch.sigkilled() {
						t.Fatalf("run %d: child failed: %v\n%s", stats.runs, ch.err, ch.out.String())
					}
					deadline.Stop()
					t.Logf("run %d: output complete at checkpoint %d, stopped at %d", stats.runs, doneAt, id)
					stats.restores += ch.restores()
					return c.check(t, stats)
				}
			case <-killAt:
				ch.kill()
				<-ch.exited
				if err = ch.err; !ch.sigkilled() {
					break wait // it ended by itself first
				}
				stats.kills++
				n := c.committed()
				progress = n
				t.Logf("kill %d, after checkpoint %d: %d of %d records committed", stats.kills, latest(), n, c.records)
				if n > 0 && n < c.records {
					stats.midway++
				}
				break wait
			case <-deadline.C:
				ch.kill()
				<-ch.exited
				t.Fatalf("run %d took longer than %v\n%s", stats.runs, timeout, ch.out.String())
			}
		}
		deadline.Stop()
		stats.restores += ch.restores()
		if err == nil {
			if c.unbounded {
				t.Fatalf("run %d: the job of an unbounded source ended\n%s", stats.runs, ch.out.String())
			}
			return c.check(t, stats)
		}
		if !ch.sigkilled() {
			t.Fatalf("run %d: child failed: %v\n%s", stats.runs, err, ch.out.String())
		}
	}
}

func (c *crashRun) check(t *testing.T, s crashStats) crashStats {
	t.Helper()
	t.Logf("%d runs, %d kills (%d with part of the output committed), %d restores from a checkpoint", s.runs, s.kills, s.midway, s.restores)
	if s.kills < c.kill.times || s.restores == 0 || s.midway == 0 {
		t.Fatalf("%d kills (want %d), %d of them midway, and %d restores: the harness tested too little",
			s.kills, c.kill.times, s.midway, s.restores)
	}
	return s
}

// child is a running child process.
type child struct {
	cmd *exec.Cmd
	out lockedBuffer // its stdout and stderr
	// checkpointed receives (without blocking the reader: capacity 1) when the child reports
	// a completed checkpoint.
	checkpointed chan struct{}
	// exited is closed when the child has exited and its output is read to its end; err is
	// then cmd.Wait's result.
	exited chan struct{}
	err    error
	// restored counts "restored" lines.
	restored atomic.Int64
}

// startChild starts job in a child process. If the test ends with the child still running,
// t.Cleanup kills it and waits for it.
func startChild(t *testing.T, job string, cfg childConfig) *child {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ch := &child{checkpointed: make(chan struct{}, 1), exited: make(chan struct{})}
	ch.cmd = exec.Command(os.Args[0], "-test.run=^$")
	ch.cmd.Env = append(childEnviron(), childEnv+"="+job, childConfigEnv+"="+string(raw))
	ch.cmd.Stdout = &ch.out
	pipe, err := ch.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			ch.out.Write([]byte(line + "\n"))
			switch {
			case strings.HasPrefix(line, "checkpoint "):
				select {
				case ch.checkpointed <- struct{}{}:
				default:
				}
			case strings.HasPrefix(line, "restored "):
				ch.restored.Add(1)
			}
		}
		ch.err = ch.cmd.Wait()
		close(ch.exited)
	}()
	t.Cleanup(func() {
		ch.kill()
		<-ch.exited
	})
	return ch
}

func (ch *child) kill()         { _ = ch.cmd.Process.Signal(syscall.SIGKILL) }
func (ch *child) restores() int { return int(ch.restored.Load()) }

// sigkilled reports whether the child, which has exited, ended by SIGKILL.
func (ch *child) sigkilled() bool {
	ws, ok := ch.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// childEnviron is the environment without the AWS configuration of the developer's machine:
// children get their endpoints and credentials from childConfig only.
func childEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") || k == childEnv || k == childConfigEnv {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull)
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
