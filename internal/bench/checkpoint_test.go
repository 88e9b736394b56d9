package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestBenchCheckpointUsage(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		output string // expected in stdout+stderr
	}{
		{[]string{"bench", "--help"}, 0, "checkpoint"},
		{[]string{"bench", "checkpoint", "--help"}, 0, "-state-size"},
		{[]string{"bench", "checkpoint", "--state-size", "lots"}, 2, `bad size "lots"`},
		{[]string{"bench", "checkpoint", "--state-size", "100"}, 2, "less than one value"},
		{[]string{"bench", "checkpoint", "--state-backend", "rocksdb"}, 2, "want memory or pebble"},
		{[]string{"bench", "checkpoint", "--checkpoint-interval", "0s"}, 2, "must be positive"},
		{[]string{"bench", "checkpoint", "--checkpoints", "0"}, 2, "must be positive"},
		{[]string{"bench", "checkpoint", "extra"}, 2, "unexpected arguments"},
		{[]string{"bench", "nexmark", "--query", "q1", "--checkpoint-interval", "-1s"}, 2, "must not be negative"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCmd(t, tt.args...)
		if code != tt.code || !strings.Contains(stdout+stderr, tt.output) {
			t.Errorf("runnel %s: exit %d, want %d; output:\n%s%s\nwant it to contain %q", strings.Join(tt.args, " "), code, tt.code, stdout, stderr, tt.output)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"100MB", 100 << 20}, {"1GB", 1 << 30}, {"1gib", 1 << 30}, {"512", 512}, {"4 KB", 4 << 10}, {"1.5MB", 3 << 19},
	}
	for _, tt := range tests {
		if got, err := parseSize(tt.in); err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "MB", "-1MB", "0", "1XB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) succeeded", in)
		}
	}
}

// TestBenchCheckpointRun runs the whole benchmark on a little state, on both backends: the
// build, checkpoints after it, the injected failure and the restore.
func TestBenchCheckpointRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobs for a few seconds")
	}
	for _, backend := range []string{"memory", "pebble"} {
		t.Run(backend, func(t *testing.T) {
			ckDir := t.TempDir()
			code, stdout, stderr := runCmd(t, "bench", "checkpoint", "--state-size", "256KB", "--value-size", "256",
				"--state-backend", backend, "--state-dir", t.TempDir(), "--checkpoint-dir", ckDir,
				"--checkpoint-interval", "100ms", "--update-rate", "2000", "--checkpoints", "2", "--json", "--quiet")
			if code != 0 {
				t.Fatalf("exit %d: %s%s", code, stdout, stderr)
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
			if entries, err := os.ReadDir(ckDir); err != nil || len(entries) == 0 {
				t.Errorf("checkpoint directory %s: %d entries, %v", ckDir, len(entries), err)
			}
		})
	}
}

func TestBenchNexmarkCheckpoints(t *testing.T) {
	code, stdout, stderr := runCmd(t, "bench", "nexmark", "--query", "q5", "--events", "300000", "--parallelism", "2",
		"--checkpoint-interval", "50ms", "--json", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	var r struct {
		Events      int64             `json:"events"`
		Checkpoints *checkpointResult `json:"checkpoints"`
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
	}
	if r.Events != 300000 || r.Checkpoints == nil || r.Checkpoints.Completed == 0 || r.Checkpoints.MaxSize <= 0 {
		t.Errorf("result %s", stdout)
	}
	// Without the flag, no checkpoint figures.
	_, stdout, _ = runCmd(t, "bench", "nexmark", "--query", "q0", "--events", "1000", "--json", "--quiet")
	if strings.Contains(stdout, "checkpoints") {
		t.Errorf("checkpoint figures without --checkpoint-interval: %s", stdout)
	}
}
