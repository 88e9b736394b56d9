package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/internal/snapshot"
)

func TestCheckpointsList(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := checkpoint.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	metadata := func(id int64) *snapshot.Metadata {
		return &snapshot.Metadata{Job: "demo", ID: id, Timestamp: time.Date(2026, 11, 25, 10, 0, int(id), 0, time.UTC), Operators: map[string]*snapshot.OperatorState{}}
	}
	for _, id := range []int64{1, 2} {
		if err := snapshot.WriteMetadata(ctx, st, snapshot.CheckpointDir(id), metadata(id)); err != nil {
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
	// Metadata that fails its checksum, and metadata of another checkpoint: restore refuses both.
	if err := snapshot.WriteMetadata(ctx, st, snapshot.CheckpointDir(4), metadata(4)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "chk-4", snapshot.MetadataFile), []byte("runnel-checkpoint v1 crc32c=00000000\n{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := snapshot.WriteMetadata(ctx, st, snapshot.CheckpointDir(5), metadata(2)); err != nil {
		t.Fatal(err)
	}

	var out, errb bytes.Buffer
	if code := run(ctx, []string{"checkpoints", "list", dir}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	// The table, then a blank line and what --restore latest resumes.
	table, lineage, _ := strings.Cut(out.String(), "\n\n")
	lines := strings.Split(table, "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[0], "ID ") || !strings.HasSuffix(lines[0], " ERROR") {
		t.Fatalf("want a header ending in ERROR and 5 rows, got:\n%s", out.String())
	}
	if !strings.Contains(lineage, "no lineage record") {
		t.Errorf("no word on the lineage below the table:\n%s", out.String())
	}
	for i, want := range []string{"complete", "complete", "incomplete", "corrupt", "corrupt"} {
		fields := strings.Fields(lines[i+1])
		if fields[0] != fmt.Sprint(i+1) || fields[2] != want {
			t.Errorf("row %d = %q, want id %d %s", i, lines[i+1], i+1, want)
		}
		if hasErr := len(fields) > 7; hasErr != (want == "corrupt") {
			t.Errorf("row %d = %q: error shown %t, want %t", i, lines[i+1], hasErr, want == "corrupt")
		}
	}
	if !strings.Contains(lines[1], "2026-11-25T10:00:01Z") {
		t.Errorf("row 1 lacks its timestamp: %q", lines[1])
	}
	if !strings.Contains(lines[4], "checksum mismatch") || !strings.Contains(lines[5], "describes snapshot 2") {
		t.Errorf("rows 4 and 5 do not say what is wrong:\n%s\n%s", lines[4], lines[5])
	}

	out.Reset()
	if code := run(ctx, []string{"checkpoints", "list", dir, "--json"}, &out, &errb); code != 0 {
		t.Fatalf("--json: exit %d: %s", code, errb.String())
	}
	var rows []map[string]any
	dec := json.NewDecoder(&out)
	for dec.More() {
		var row map[string]any
		if err := dec.Decode(&row); err != nil {
			t.Fatalf("--json: %v", err)
		}
		rows = append(rows, row)
	}
	want := []string{
		`{"dir":"chk-1","files":1,"id":1,"kind":"checkpoint","sizeBytes":N,"status":"complete","timestamp":"2026-11-25T10:00:01Z"}`,
		`{"dir":"chk-2","files":1,"id":2,"kind":"checkpoint","sizeBytes":N,"status":"complete","timestamp":"2026-11-25T10:00:02Z"}`,
		`{"dir":"chk-3","files":1,"id":3,"kind":"checkpoint","sizeBytes":N,"status":"incomplete"}`,
		`{"dir":"chk-4","error":"E","files":1,"id":4,"kind":"checkpoint","sizeBytes":N,"status":"corrupt"}`,
		`{"dir":"chk-5","error":"E","files":1,"id":5,"kind":"checkpoint","sizeBytes":N,"status":"corrupt"}`,
	}
	if len(rows) != len(want) {
		t.Fatalf("--json: %d rows, want %d:\n%s", len(rows), len(want), out.String())
	}
	for i, row := range rows {
		if n, ok := row["sizeBytes"].(float64); !ok || n <= 0 {
			t.Errorf("row %d: sizeBytes %v", i, row["sizeBytes"])
		}
		row["sizeBytes"] = "N"
		if e, ok := row["error"].(string); ok && strings.Contains(e, "checkpoint: ") {
			row["error"] = "E"
		}
		b, _ := json.Marshal(row)
		if got := strings.Replace(string(b), `"N"`, "N", 1); got != want[i] {
			t.Errorf("--json row %d:\n got %s\nwant %s", i, got, want[i])
		}
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
	out.Reset()
	if code := run(ctx, []string{"checkpoints"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "list") {
		t.Errorf("no subcommand: exit %d, want 0 and the help listing list:\n%s", code, out.String())
	}
}

// TestCheckpointsListAllComplete checks that a listing without problems has no ERROR column.
func TestCheckpointsListAllComplete(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := checkpoint.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := &snapshot.Metadata{Job: "demo", ID: 1, Operators: map[string]*snapshot.OperatorState{}}
	if err := snapshot.WriteMetadata(ctx, st, snapshot.CheckpointDir(1), m); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"checkpoints", "list", dir}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got := strings.Fields(strings.SplitN(out.String(), "\n", 2)[0]); strings.Join(got, " ") != "ID KIND STATUS TAKEN FILES BYTES DIR" {
		t.Errorf("header %q", got)
	}
}
