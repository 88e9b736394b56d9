package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/examples"
	"github.com/runnel-io/runnel/internal/version"
)

// runCmd runs `runnel args...` with a minute's timeout.
func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code = run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestUsageErrors checks what a user sees after a mistake: exit 2, nothing on stdout, and one
// line on stderr naming the command and what is wrong, with the hint last, in parentheses.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string // the line on stderr
	}{
		{[]string{"run", "iot", "--checkpoint-interval", "5"}, `runnel run: --checkpoint-interval 5: missing unit (e.g. 5s)`},
		{[]string{"run", "iot", "--checkpoint-interval=10x"}, `runnel run: --checkpoint-interval 10x: not a duration (e.g. 10s, 500ms or 1m30s)`},
		{[]string{"run", "iot", "--parallelism", "two"}, `runnel run: --parallelism two: not a whole number (e.g. --parallelism 4)`},
		{[]string{"run", "iot", "--checkpoint-intervall", "1s"}, `runnel run: unknown flag --checkpoint-intervall (did you mean --checkpoint-interval?)`},
		{[]string{"run", "iot", "--interval", "1s"}, `runnel run: unknown flag --interval (did you mean --checkpoint-interval or --progress-interval?)`},
		{[]string{"run", "iot", "-checkpoint-dir", "/tmp/x"}, `runnel run: -checkpoint-dir: a long flag takes two dashes (--checkpoint-dir)`},
		{[]string{"run", "iot", "--checkpoint-dir"}, `runnel run: --checkpoint-dir needs a value (e.g. --checkpoint-dir VALUE)`},
		{[]string{"run", "clickstream", "--bogus"}, `runnel run: unknown flag --bogus (see 'runnel run --help')`},
		{[]string{"rnu", "iot"}, `runnel: unknown command "rnu" (did you mean "run"?)`},
		{[]string{"rnu", "iot", "--checkpoint-dir", "/tmp/x"}, `runnel: unknown command "rnu" (did you mean "run"?)`},
		{[]string{"serve"}, `runnel: unknown command "serve" (did you mean "server"?)`},
		{[]string{"frobnicate"}, `runnel: unknown command "frobnicate" (see 'runnel --help' for the commands)`},
		{[]string{"checkpoints", "lst", dir}, `runnel checkpoints: unknown command "lst" (did you mean "list"?)`},
		{[]string{"bench", "nexmrk"}, `runnel bench: unknown command "nexmrk" (did you mean "nexmark"?)`},
		{[]string{"completion", "bsh"}, `runnel completion: unknown command "bsh" (did you mean "bash", "zsh" or "fish"?)`},
		{[]string{"run"}, `runnel run: name the example (one of clickstream, iot, arbitrage, retail, kinesis-clicks, kafka-logs or s3-backfill)`},
		{[]string{"run", "iott"}, `runnel run: unknown example "iott" (did you mean "iot"?)`},
		{[]string{"run", "nope"}, `runnel run: unknown example "nope" (one of clickstream, iot, arbitrage, retail, kinesis-clicks, kafka-logs or s3-backfill)`},
		{[]string{"run", "clickstream", "extra"}, `runnel run: unexpected argument "extra" (see 'runnel run --help')`},
		{[]string{"run", "clickstream", "--restore", "latest"}, `runnel run: --restore latest needs --checkpoint-dir: the checkpoints to restore the newest of (see 'runnel run --help')`},
		{[]string{"run", "clickstream", "--restore", "/a", "--from-savepoint", "/b"}, `runnel run: --from-savepoint and --restore both name a snapshot to start from; give one (see 'runnel run --help')`},
		{[]string{"run", "iot", "--state-backend", "rocksdb"}, `runnel run: --state-backend "rocksdb": want memory or pebble (see 'runnel run --help')`},
		{[]string{"run", "arbitrage", "--parallelism", "8", "--max-parallelism", "4"}, `runnel run: --parallelism 8 exceeds --max-parallelism 4 (see 'runnel run --help')`},
		{[]string{"run", "clickstream", "--events", "-1", "--rate", "-2"}, `runnel run: --events -1 must not be negative; --rate -2 must not be negative (see 'runnel run --help')`},
		{[]string{"run", "clickstream", "--generate", "5"}, `runnel run: --generate is for kafka-logs, kinesis-clicks and s3-backfill, not clickstream: clickstream generates its input (see 'runnel run --help')`},
		{[]string{"run", "iot", "--show"}, `runnel run: --show is for kafka-logs, not iot (see 'runnel run --help')`},
		{[]string{"run", "s3-backfill", "--s3-endpoint", "127.0.0.1:7070"}, `runnel run: --s3-endpoint "127.0.0.1:7070": want an http:// or https:// URL (see 'runnel run --help')`},
		{[]string{"savepoint", "a", "b"}, `runnel savepoint: unexpected argument "b" (see 'runnel savepoint --help')`},
		{[]string{"checkpoints", "list"}, `runnel checkpoints list: missing DIR (see 'runnel checkpoints list --help')`},
		{[]string{"bench", "nexmark"}, `runnel bench nexmark: --query is required: one of q0, q1, q2, q3, q4, q5, q7, q8 (see 'runnel bench nexmark --help')`},
		{[]string{"bench", "nexmark", "--query", "q9"}, `runnel bench nexmark: nexmark: unknown query "q9"`},
		{[]string{"bench", "checkpoint", "--state-size", "lots"}, `runnel bench checkpoint: --state-size lots: bad size "lots": want a positive number with an optional unit, e.g. 100MB or 1GB (see 'runnel bench checkpoint --help')`},
		{[]string{"bench", "files", "--parallelism", "1,x"}, `runnel bench files: --parallelism 1,x: want whole numbers separated by commas (e.g. --parallelism 1,2,4)`},
		{[]string{"demo", "--top", "0"}, `runnel demo: --top, --pages and --window must be positive (see 'runnel demo --help')`},
	} {
		code, stdout, stderr := runCmd(t, tc.args...)
		if code != 2 || stdout != "" || !strings.HasPrefix(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("runnel %s: exit %d\nstdout: %q\nstderr: %q\nwant exit 2, no stdout and the line %q", strings.Join(tc.args, " "), code, stdout, stderr, tc.want)
		}
	}
}

// TestMissingUnitIsOneLine is the newcomer's mistake of issue 11: a duration without its unit
// gets one short line, the hint last, and no usage.
func TestMissingUnitIsOneLine(t *testing.T) {
	code, stdout, stderr := runCmd(t, "run", "iot", "--checkpoint-interval", "5")
	if want := "runnel run: --checkpoint-interval 5: missing unit (e.g. 5s)\n"; code != 2 || stdout != "" || stderr != want {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 2, nothing and %q", code, stdout, stderr, want)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-v"}} {
		code, stdout, stderr := runCmd(t, args...)
		if want := "runnel version " + version.Get().String() + "\n"; code != 0 || stdout != want || stderr != "" {
			t.Errorf("runnel %s: exit %d, stdout %q, stderr %q; want %q", args[0], code, stdout, stderr, want)
		}
	}
}

// TestHelp checks that every command's --help prints its usage to stdout and nothing else.
func TestHelp(t *testing.T) {
	cmds := [][]string{{}, {"run"}, {"demo"}, {"savepoint"}, {"checkpoints"}, {"checkpoints", "list"},
		{"bench"}, {"bench", "nexmark"}, {"bench", "checkpoint"}, {"bench", "files"}, {"completion"}}
	for _, c := range cmds {
		code, stdout, stderr := runCmd(t, append(c, "--help")...)
		if code != 0 || stderr != "" || !strings.Contains(stdout, "Usage:\n  runnel "+strings.Join(c, " ")) {
			t.Errorf("runnel %s --help: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(c, " "), code, stdout, stderr)
		}
	}
	// `runnel` alone and `runnel help run` print help too.
	if code, stdout, _ := runCmd(t); code != 0 || !strings.Contains(stdout, "Available Commands:") {
		t.Errorf("runnel: exit %d\n%s", code, stdout)
	}
	if code, stdout, _ := runCmd(t, "help", "run"); code != 0 || !strings.Contains(stdout, "EXAMPLE is one of:") {
		t.Errorf("runnel help run: exit %d\n%s", code, stdout)
	}
	_, stdout, _ := runCmd(t, "run", "--help")
	for _, e := range examples.Names() {
		if !strings.Contains(stdout, "  "+e+" ") {
			t.Errorf("run --help does not list %s:\n%s", e, stdout)
		}
	}
	for _, f := range []string{"--checkpoint-dir", "--restore", "--from-savepoint", "--rest-address", "--output", "--events", "--generate", "--kafka-brokers", "--kinesis-endpoint", "--s3-endpoint"} {
		if !strings.Contains(stdout, f) {
			t.Errorf("run --help does not list %s", f)
		}
	}
	_, stdout, _ = runCmd(t, "checkpoints", "list", "--help")
	if !strings.Contains(stdout, "incomplete") {
		t.Errorf("checkpoints list --help does not explain the statuses:\n%s", stdout)
	}
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		code, stdout, stderr := runCmd(t, "completion", shell)
		if code != 0 || !strings.Contains(stdout, "runnel") || stderr != "" {
			t.Errorf("completion %s: exit %d, %d bytes, stderr %q", shell, code, len(stdout), stderr)
		}
	}
	// What the shell asks when completing `runnel run <TAB>` and `--state-backend <TAB>`.
	code, stdout, _ := runCmd(t, "__complete", "run", "")
	if code != 0 || !strings.Contains(stdout, "clickstream\n") || !strings.Contains(stdout, "s3-backfill\n") {
		t.Errorf("completing run: exit %d\n%s", code, stdout)
	}
	_, stdout, _ = runCmd(t, "__complete", "run", "iot", "--state-backend", "")
	if !strings.HasPrefix(stdout, "memory\npebble\n") {
		t.Errorf("completing --state-backend:\n%s", stdout)
	}
}

func TestDemoCountsEveryClickOnce(t *testing.T) {
	code, stdout, stderr := runCmd(t, "demo", "--events", "200000", "--parallelism", "2", "--plain")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// Every click lands in exactly one tumbling window, so the windows' totals add up to the input.
	m := regexp.MustCompile(`done: ([\d,]+) clicks .* windows closed counting ([\d,]+) views`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no summary line in:\n%s", stdout)
	}
	if m[1] != "200,000" || m[2] != "200,000" {
		t.Fatalf("clicks %s, views counted %s; want 200,000 each\n%s", m[1], m[2], stdout)
	}
}

func TestDemoStopsAtDuration(t *testing.T) {
	start := time.Now()
	code, stdout, stderr := runCmd(t, "demo", "--duration", "1500ms", "--rate", "50000", "--plain")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("demo with --duration 1.5s ran %v", d)
	}
	if !strings.Contains(stdout, "throughput") || !strings.Contains(stdout, "done:") {
		t.Fatalf("no progress or summary:\n%s", stdout)
	}
}

// TestBenchCommands runs each benchmark once through its flags (the harnesses have their own
// tests in internal/bench).
func TestBenchCommands(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"bench", "nexmark", "--query", "q1", "--events", "2000", "--parallelism", "1", "--json", "--quiet", "--output", filepath.Join(dir, "out.jsonl")},
		{"bench", "files", "--events", "500", "--parallelism", "1,2", "--rounds", "1", "--dir", dir},
	} {
		if code, stdout, stderr := runCmd(t, args...); code != 0 || stdout == "" {
			t.Errorf("runnel %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out.jsonl")); err != nil {
		t.Errorf("--output: %v", err)
	}
}

func TestTotalMemoryReadsProc(t *testing.T) {
	if _, err := os.Stat("/proc/meminfo"); err != nil {
		t.Skip("no /proc/meminfo")
	}
	if got := totalMemory(); got < 64<<20 {
		t.Fatalf("totalMemory() = %d, want the machine's memory", got)
	}
}
