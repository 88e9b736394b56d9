package bench

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

func TestCheckpointValidate(t *testing.T) {
	with := func(f func(*Checkpoint)) Checkpoint {
		c := DefaultCheckpoint()
		f(&c)
		return c
	}
	for _, tc := range []struct {
		c    Checkpoint
		want string // "" when valid
	}{
		{DefaultCheckpoint(), ""},
		{with(func(c *Checkpoint) { c.StateSize = 100 }), "--state-size 100B is less than one value"},
		{with(func(c *Checkpoint) { c.ValueSize = 0 }), "--value-size 0: want 1 to"},
		{with(func(c *Checkpoint) { c.StateBackend = "rocksdb" }), "want memory or pebble"},
		{with(func(c *Checkpoint) { c.CheckpointInterval = 0 }), "--checkpoint-interval 0s: must be positive"},
		{with(func(c *Checkpoint) { c.Checkpoints = 0 }), "--checkpoints 0: must be positive"},
		{with(func(c *Checkpoint) { c.Parallelism = 0 }), "--parallelism 0: must be positive"},
		{with(func(c *Checkpoint) { c.UpdateRate = 0 }), "--update-rate 0: must be positive"},
	} {
		err := tc.c.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: Validate() = %v, want %q", tc.c, err, tc.want)
		}
	}
}

func TestBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		str  string
	}{
		{"100MB", 100 << 20, "100MB"}, {"1GB", 1 << 30, "1GB"}, {"1gib", 1 << 30, "1GB"}, {"512", 512, "512B"},
		{"4 KB", 4 << 10, "4KB"}, {"1.5MB", 3 << 19, "1536KB"},
	}
	for _, tt := range tests {
		var b Bytes
		if err := b.Set(tt.in); err != nil || int64(b) != tt.want || b.String() != tt.str {
			t.Errorf("Set(%q): %d %q, %v; want %d %q", tt.in, int64(b), b.String(), err, tt.want, tt.str)
		}
	}
	for _, in := range []string{"", "MB", "-1MB", "0", "1XB", "lots"} {
		var b Bytes
		if err := b.Set(in); err == nil || !strings.Contains(err.Error(), "e.g. 100MB") {
			t.Errorf("Set(%q) = %v, want an error with an example", in, err)
		}
	}
}

// TestCheckpointRun runs the whole benchmark on a little state, on both backends: the build,
// checkpoints after it, the injected failure and the restore.
func TestCheckpointRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobs for a few seconds")
	}
	for _, backend := range []string{"memory", "pebble"} {
		t.Run(backend, func(t *testing.T) {
			c := DefaultCheckpoint()
			c.StateSize, c.ValueSize, c.StateBackend, c.StateDir, c.CheckpointDir = 256<<10, 256, backend, t.TempDir(), t.TempDir()
			c.CheckpointInterval, c.UpdateRate, c.Checkpoints, c.JSON, c.Quiet = 100*time.Millisecond, 2000, 2, true, true
			stdout, stderr, err := run(t, c)
			if err != nil {
				t.Fatalf("%v: %s%s", err, stdout, stderr)
			}
			var r ckResult
			if err := json.Unmarshal([]byte(stdout), &r); err != nil {
				t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
			}
			if r.Keys != 1024 || r.StateBytes != 256<<10 || r.StateBackend != backend || r.Parallelism != 2 {
				t.Errorf("result %s", stdout)
			}
			if r.First == nil || r.Later == nil || r.First.SizeBytes <= 0 || r.First.DurationMs <= 0 {
				t.Errorf("no first and later checkpoint after the build: %s", stdout)
			}
			rc := r.Recovery
			if rc == nil || rc.Restored == 0 || rc.Restored > rc.FailedAfter || rc.AllMs < rc.FirstMs || rc.FirstMs <= 0 {
				t.Errorf("recovery %+v: %s", rc, stdout)
			}
			if entries, err := os.ReadDir(c.CheckpointDir); err != nil || len(entries) == 0 {
				t.Errorf("checkpoint directory %s: %d entries, %v", c.CheckpointDir, len(entries), err)
			}
		})
	}
}
