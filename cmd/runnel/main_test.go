package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestDemoCountsEveryClickOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"demo", "--events", "200000", "--parallelism", "2", "--plain"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	// Every click lands in exactly one tumbling window, so the windows' totals add up to the input.
	m := regexp.MustCompile(`done: ([\d,]+) clicks .* windows closed counting ([\d,]+) views`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no summary line in:\n%s", out.String())
	}
	if m[1] != "200,000" || m[2] != "200,000" {
		t.Fatalf("clicks %s, views counted %s; want 200,000 each\n%s", m[1], m[2], out.String())
	}
}

func TestDemoStopsAtDuration(t *testing.T) {
	var out, errb bytes.Buffer
	start := time.Now()
	code := run(context.Background(), []string{"demo", "--duration", "1500ms", "--rate", "50000", "--plain"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("demo with --duration 1.5s ran %v", d)
	}
	if !strings.Contains(out.String(), "throughput") || !strings.Contains(out.String(), "done:") {
		t.Fatalf("no progress or summary:\n%s", out.String())
	}
}

func TestHelpForEveryVerb(t *testing.T) {
	for _, v := range verbs() {
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{v.name, "--help"}, &out, &errb); code != 0 {
			t.Errorf("%s --help: exit %d", v.name, code)
		}
		if !strings.Contains(errb.String()+out.String(), "Usage: runnel "+v.name) {
			t.Errorf("%s --help printed no usage:\n%s%s", v.name, out.String(), errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "demo") {
		t.Errorf("runnel --help: exit %d, %s", code, out.String())
	}
	if code := run(context.Background(), []string{"nope"}, &out, &errb); code != 2 {
		t.Errorf("unknown verb: exit %d, want 2", code)
	}
	if code := run(context.Background(), []string{"demo", "--bogus"}, &out, &errb); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
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
