package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/internal/checkpoint"
)

func TestCheckpointsList(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := checkpoint.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{1, 2} {
		m := &checkpoint.Metadata{Job: "demo", ID: id, Timestamp: time.Date(2026, 11, 25, 10, 0, int(id), 0, time.UTC), Operators: map[string]*checkpoint.OperatorState{}}
		if err := checkpoint.WriteMetadata(ctx, st, checkpoint.CheckpointDir(id), m); err != nil {
			t.Fatal(err)
		}
	}
	// A checkpoint that crashed before its metadata was written.
	if err := os.MkdirAll(filepath.Join(dir, "chk-3"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "chk-3", "state-0"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	var out, errb bytes.Buffer
	if code := run(ctx, []string{"checkpoints", "list", dir}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("want a header and 3 rows, got:\n%s", out.String())
	}
	for i, want := range []string{"complete", "complete", "incomplete"} {
		fields := strings.Fields(lines[i+1])
		if fields[0] != []string{"1", "2", "3"}[i] || fields[2] != want {
			t.Errorf("row %d = %q, want id %d %s", i, lines[i+1], i+1, want)
		}
	}
	if !strings.Contains(lines[1], "2026-11-25T10:00:01Z") {
		t.Errorf("row 1 lacks its timestamp: %q", lines[1])
	}

	out.Reset()
	if code := run(ctx, []string{"checkpoints", "list", "--json", dir}, &out, &errb); code != 0 || strings.Count(out.String(), "\n") != 3 {
		t.Fatalf("--json: exit %d, output:\n%s", code, out.String())
	}
	if code := run(ctx, []string{"checkpoints", "list", "s3://bucket/x"}, &out, &errb); code != 1 {
		t.Errorf("s3 URL: exit %d, want 1 with an error", code)
	}
	missing := filepath.Join(dir, "missing")
	if code := run(ctx, []string{"checkpoints", "list", missing}, &out, &errb); code != 1 {
		t.Errorf("missing dir: exit %d, want 1", code)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("listing created %s", missing)
	}
	if code := run(ctx, []string{"checkpoints"}, &out, &errb); code != 2 {
		t.Errorf("no subcommand: exit %d, want 2", code)
	}
}
