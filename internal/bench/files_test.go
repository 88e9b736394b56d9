package main

import (
	"strings"
	"testing"
)

// TestBenchFiles runs the files benchmark on a tiny input: both sides must write the same lines
// (the benchmark fails otherwise) and the table must have a row per parallelism.
func TestBenchFiles(t *testing.T) {
	code, stdout, stderr := runCmd(t, "bench", "files", "--events", "3000", "--parallelism", "1,2", "--rounds", "1", "--dir", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"job/loop", "\n1 ", "\n2 "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output does not contain %q:\n%s", want, stdout)
		}
	}
	for _, args := range [][]string{
		{"bench", "files", "--events", "0"},
		{"bench", "files", "--parallelism", "0"},
		{"bench", "files", "--rounds", "0"},
	} {
		if code, _, _ := runCmd(t, args...); code != 2 {
			t.Errorf("runnel %s: exit %d, want 2", strings.Join(args, " "), code)
		}
	}
}
