package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/internal/testing/kinesistest"
	"github.com/runnel-io/runnel/internal/testing/s3test"
)

func TestBenchKinesisUsage(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		output string // expected in stdout+stderr
	}{
		{[]string{"bench", "--help"}, 0, "kinesis"},
		{[]string{"bench", "kinesis", "--help"}, 0, "-kinesis-endpoint"},
		{[]string{"bench", "kinesis", "--records", "0"}, 2, "--records 0: must be positive"},
		{[]string{"bench", "kinesis", "--shards", "101"}, 2, "want 1 to 100"},
		{[]string{"bench", "kinesis", "--parallelism", "0"}, 2, "must be positive"},
		{[]string{"bench", "kinesis", "--checkpoint-interval", "0s"}, 2, "must be positive"},
		{[]string{"bench", "kinesis", "extra"}, 2, "unexpected arguments"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCmd(t, tt.args...)
		if code != tt.code || !strings.Contains(stdout+stderr, tt.output) {
			t.Errorf("runnel %s: exit %d, want %d; output:\n%s%s\nwant it to contain %q", strings.Join(tt.args, " "), code, tt.code, stdout, stderr, tt.output)
		}
	}
}

// TestBenchKinesisRun runs the benchmark on a few thousand events, with kinesalite and
// versitygw started by the verb itself from .cache (installed there first by the test helpers
// if missing): every event must reach the bucket once, and every rate must be measured.
func TestBenchKinesisRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kinesalite and versitygw")
	}
	kinesistest.Install(t)
	s3test.Binary(t)
	s3test.Isolate(t) // the verb's servers and credentials only
	code, stdout, stderr := runCmd(t, "bench", "kinesis", "--records", "3000", "--shards", "2",
		"--checkpoint-interval", "100ms", "--json", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	var r kinesisResult
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("%v in %q", err, stdout)
	}
	t.Logf("%+v", r)
	if r.Records != 3000 || r.Lines != 3000 || r.Objects == 0 || r.Checkpoints < 2 {
		t.Errorf("records %d, lines %d in %d objects after %d checkpoints; want 3000 lines", r.Records, r.Lines, r.Objects, r.Checkpoints)
	}
	if r.PutPerSec <= 0 || r.RawReadPerSec <= 0 || r.JobPerSec <= 0 || r.CommittedPerSec <= 0 || r.CommittedPerSec > r.JobPerSec {
		t.Errorf("rates: put %.0f, raw read %.0f, job %.0f, committed %.0f events/s", r.PutPerSec, r.RawReadPerSec, r.JobPerSec, r.CommittedPerSec)
	}
}
