package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/internal/snapshot"
	"github.com/runnel-io/runnel/internal/testing/crashtest"
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
// The child reports its restores and checkpoints with a crashtest.Reporter; the harness is
// package crashtest.

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
	var rep crashtest.Reporter
	cfg := stream.Config{
		Parallelism:     c.Parallelism,
		MetricsInterval: time.Millisecond,
		Metrics:         rep.Listener(),
		Checkpoints: stream.Checkpoints{
			Storage:           st,
			Interval:          c.Interval,
			TolerableFailures: 1000,
			Restart:           restart.FixedDelay(1000, 0),
			RestoreLatest:     true,
			OnStart: func(r *stream.Snapshot) {
				if r != nil {
					rep.Restored(r.ID)
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

// crashRun describes one crash test run: a child job killed kill.times times (see
// crashtest.Run for the meaning of the fields).
type crashRun struct {
	job  string
	cfg  childConfig
	rng  *rand.Rand
	kill struct {
		times  int
		within time.Duration
	}
	records    int
	committed  func() int
	unbounded  bool
	runTimeout time.Duration
}

// run runs the child with the crashtest harness.
func (c *crashRun) run(t *testing.T) crashtest.Stats {
	t.Helper()
	raw, err := json.Marshal(c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := checkpoint.NewLocal(c.cfg.Checkpoints)
	if err != nil {
		t.Fatal(err)
	}
	r := &crashtest.Run{
		Command: func() *exec.Cmd {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(childEnviron(), childEnv+"="+c.job, childConfigEnv+"="+string(raw))
			return cmd
		},
		Latest: func() int64 {
			id, _, err := snapshot.Latest(t.Context(), st)
			if errors.Is(err, snapshot.ErrNoCheckpoint) {
				return 0
			}
			if err != nil {
				t.Fatalf("reading the checkpoint directory: %v", err)
			}
			return id
		},
		Rng: c.rng, Kills: c.kill.times, Within: c.kill.within,
		Records: c.records, Committed: c.committed, Unbounded: c.unbounded, Timeout: c.runTimeout,
	}
	return r.Do(t)
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
