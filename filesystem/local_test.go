package filesystem_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/filesystem"
	"github.com/runnel-io/runnel/filesystem/filesystemtest"
)

func TestLocal(t *testing.T) {
	filesystemtest.Run(t, filesystemtest.Harness{
		New: func(t *testing.T) (filesystem.FS, string) { return filesystem.Local{}, t.TempDir() },
	})
}

// TestLocalFiles checks the hidden files a Local write goes through, and the failures only a
// local file system has.
func TestLocalFiles(t *testing.T) {
	ctx := t.Context()
	var l filesystem.Local
	dir := t.TempDir()
	name := filepath.Join(dir, "new", "sub", "f.jsonl")
	w, err := l.Create(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	inProgress := filepath.Join(dir, "new", "sub", ".f.jsonl.inprogress")
	if _, err := os.Stat(inProgress); err != nil {
		t.Fatalf("no in-progress file: %v", err)
	}
	if _, err := l.Create(ctx, name); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("a second Create of %s: %v, want fs.ErrExist", name, err)
	}
	if _, err := w.Write([]byte("12345")); err != nil {
		t.Fatal(err)
	}
	p, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	pending := filepath.Join(dir, "new", "sub", ".f.jsonl.pending")
	if p.ID != pending {
		t.Fatalf("pending ID %s, want %s", p.ID, pending)
	}
	var rec map[string]any
	if err := json.Unmarshal(p.Data, &rec); err != nil || rec["pending"] != pending || rec["final"] != name || rec["size"] != 5.0 {
		t.Fatalf("Data %s, %v: want the committable format {pending, final, size}", p.Data, err)
	}
	if _, err := l.Create(ctx, name); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create beside a pending file: %v, want fs.ErrExist", err)
	}
	// The pending file changed behind the sink's back: the size no longer matches.
	if err := os.WriteFile(pending, []byte("123"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.Commit(ctx, p); err == nil || !strings.Contains(err.Error(), "the checkpoint recorded 5") {
		t.Fatalf("Commit of a changed pending file: %v", err)
	}
	if err := os.WriteFile(pending, []byte("12345"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.Commit(ctx, p); err != nil {
		t.Fatal(err)
	}
	// A committed file that changed is a mismatch, not a success.
	if err := os.WriteFile(name, []byte("1234567"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.Commit(ctx, p); !errors.Is(err, filesystem.ErrMismatch) {
		t.Fatalf("Commit over a changed final file: %v, want ErrMismatch", err)
	}

	// Committables of earlier versions of the file sink name hidden files without the suffix.
	old := []byte(`{"pending":"` + filepath.Join(dir, ".part-0-0-abc-1.pending") + `","final":"` + filepath.Join(dir, "part-0-0-abc-1.jsonl") + `","size":2}`)
	if err := os.WriteFile(filepath.Join(dir, ".part-0-0-abc-1.pending"), []byte("ab"), 0o644); err != nil {
		t.Fatal(err)
	}
	op, err := l.DecodePending(old)
	if err != nil {
		t.Fatal(err)
	}
	pend, err := l.ListPending(ctx, dir)
	if err != nil || len(pend) != 1 || pend[0].Name != filepath.Join(dir, "part-0-0-abc-1") || pend[0].ID != op.ID {
		t.Fatalf("ListPending of an old pending file = %+v, %v", pend, err)
	}
	if err := l.Commit(ctx, op); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "part-0-0-abc-1.jsonl")); err != nil || string(b) != "ab" {
		t.Fatalf("old committable committed %q, %v", b, err)
	}

	for _, bad := range []string{
		`{"pending":"/etc/.x.pending","final":"/tmp/x","size":1}`,
		`{"pending":"/tmp/x.pending","final":"/tmp/x","size":1}`,
		`{"pending":"/tmp/.x.pending","final":"x","size":1}`,
		`{"pending":"/tmp/.x.pending","final":"/tmp/x","size":-1}`,
	} {
		if _, err := l.DecodePending([]byte(bad)); err == nil {
			t.Errorf("DecodePending(%s) succeeded", bad)
		}
	}

	// A regular file where a directory should be.
	blocker := filepath.Join(dir, "blocker")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Create(ctx, filepath.Join(blocker, "b", "f")); err == nil || !strings.Contains(err.Error(), blocker) {
		t.Fatalf("Create below a regular file: %v", err)
	}
	if _, err := l.List(ctx, filepath.Join(dir, "missing"), true); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("List of a missing directory: %v, want fs.ErrNotExist", err)
	}
	if _, err := l.Create(ctx, "relative/f"); err == nil {
		t.Fatal("Create of a relative path succeeded")
	}
}
