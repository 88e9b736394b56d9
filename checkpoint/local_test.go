package checkpoint_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/checkpoint/checkpointtest"
	"github.com/runnel-io/runnel/internal/snapshot"
)

func TestLocalConformance(t *testing.T) {
	checkpointtest.StorageSuite(t, func(t *testing.T) checkpoint.Storage { return newLocal(t) })
}

func newLocal(t *testing.T) *checkpoint.Local {
	t.Helper()
	l, err := checkpoint.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestLocalAtomicCreate checks the local mechanics behind atomic Create: the data sits in a
// hidden temporary file that List ignores until Close renames it, and a failed or abandoned
// write leaves no file of the target name.
func TestLocalAtomicCreate(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	w, err := l.Create(ctx, "chk-1/_metadata")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(l.Root(), "chk-1"))
	if len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), ".runnel-tmp-") {
		t.Fatalf("during the write chk-1 holds %v, want one temporary file", entries)
	}
	// A crash now leaves the temporary file behind: nothing lists it, Latest ignores it.
	if files, _ := l.List(ctx, ""); len(files) != 0 {
		t.Fatalf("List = %v, want nothing", files)
	}
	if _, _, err := snapshot.Latest(ctx, l); !errors.Is(err, snapshot.ErrNoCheckpoint) {
		t.Fatalf("Latest with a half-written metadata file = %v, want ErrNoCheckpoint", err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Join(l.Root(), "chk-1")); len(entries) != 0 {
		t.Fatalf("after Abort chk-1 holds %v", entries)
	}

	// A write error (here: the file is closed under the writer) makes Close fail and leaves
	// nothing either.
	w, err = l.Create(ctx, "chk-1/state")
	if err != nil {
		t.Fatal(err)
	}
	w.Abort()
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("Write after Abort succeeded")
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after Abort succeeded")
	}
	if _, err := os.Stat(filepath.Join(l.Root(), "chk-1", "state")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the aborted file exists: %v", err)
	}
}

func TestLocalDeleteRemovesEmptyDirs(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	for _, n := range []string{"chk-1/op/0", "chk-1/op/1", "chk-1/_metadata"} {
		if err := checkpoint.WriteFile(ctx, l, n, []byte(n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := snapshot.DeleteSnapshot(ctx, l, "chk-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(l.Root(), "chk-1")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("chk-1 still exists after deleting all its files: %v", err)
	}
	if _, err := os.Stat(l.Root()); err != nil {
		t.Fatalf("the root went too: %v", err)
	}
}

func TestLocalIgnoresLeftoverTempFiles(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	if err := os.MkdirAll(filepath.Join(l.Root(), "chk-4"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(l.Root(), "chk-4", ".runnel-tmp-123"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := l.List(ctx, "")
	if err != nil || len(files) != 0 {
		t.Fatalf("List = %v, %v; want nothing", files, err)
	}
}

func TestOpenURL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, tt := range []struct {
		url     string
		root    string // for local storages
		wantErr string
		is      error
	}{
		{url: dir, root: dir},
		{url: "file://" + dir, root: dir},
		{url: "file://localhost" + dir, root: dir},
		{url: filepath.Join(dir, "new", "sub"), root: filepath.Join(dir, "new", "sub")},
		{url: "s3://bucket/checkpoints", wantErr: `unsupported storage scheme "s3"`, is: checkpoint.ErrUnsupportedScheme}, // no Schemes: local only
		{url: "gs://bucket/x", wantErr: `unsupported storage scheme "gs"`, is: checkpoint.ErrUnsupportedScheme},
		{url: "file://otherhost/x", wantErr: `names host "otherhost"`},
		{url: "", wantErr: "empty storage URL"},
	} {
		st, err := checkpoint.Open(ctx, tt.url)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Errorf("Open(%q) = %v, want an error containing %q", tt.url, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Open(%q): %v", tt.url, err)
			continue
		}
		if l, ok := st.(*checkpoint.Local); !ok || l.Root() != tt.root {
			t.Errorf("Open(%q) = %v, want Local at %s", tt.url, st, tt.root)
		}
	}
}

// TestCheckLocation checks what a savepoint's target is checked for before the job is asked:
// the scheme, the form of a URL by its Scheme's Check (without contacting the store; s3's in
// package checkpoint/s3), and a local directory that can be created and written, leaving
// nothing behind.
func TestCheckLocation(t *testing.T) {
	ctx := context.Background()
	schemes := checkpoint.Schemes{"mem": {
		Open: func(context.Context, string) (checkpoint.Storage, error) {
			return nil, errors.New("not opened in this test")
		},
		Check: func(rawURL string) error {
			if strings.HasPrefix(rawURL, "mem:///") {
				return errors.New("names no bucket")
			}
			return nil
		},
	}}
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		url  string
		is   error // nil: usable
		want string
	}{
		{url: dir},
		{url: "file://" + filepath.Join(dir, "new", "sub")},
		{url: "mem://bucket/jobs/a"}, // the Scheme's Check passes it
		{url: file, is: checkpoint.ErrUnusableLocation, want: "not a directory"},
		{url: filepath.Join(file, "sub"), is: checkpoint.ErrUnusableLocation, want: "not a directory"},
		{url: "gs://bucket/x", is: checkpoint.ErrUnsupportedScheme, want: `unsupported storage scheme "gs"`},
		{url: "file://otherhost/x", is: checkpoint.ErrUnusableLocation, want: `names host "otherhost"`},
		{url: "mem:///x", is: checkpoint.ErrUnusableLocation, want: "names no bucket"},
		{url: "s3://bucket/x", is: checkpoint.ErrUnsupportedScheme, want: "use a local path or a file:// URL, or a URL of mem://"},
		{url: "", is: checkpoint.ErrUnusableLocation, want: "empty storage URL"},
	} {
		err := schemes.CheckLocation(ctx, tt.url)
		switch {
		case tt.is == nil && err != nil:
			t.Errorf("CheckLocation(%q) = %v, want nil", tt.url, err)
		case tt.is != nil && (!errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("CheckLocation(%q) = %v, want an error wrapping %v containing %q", tt.url, err, tt.is, tt.want)
		}
	}
	if ents, err := os.ReadDir(filepath.Join(dir, "new", "sub")); err != nil || len(ents) != 0 {
		t.Errorf("the checked directory holds %v (%v), want it empty", ents, err)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "x" {
		t.Errorf("the file checked as a directory: %q, %v", b, err)
	}

	readOnly := filepath.Join(dir, "read-only")
	if err := os.Mkdir(readOnly, 0o555); err != nil {
		t.Fatal(err)
	}
	if f, err := os.CreateTemp(readOnly, "probe"); err == nil { // root writes anywhere
		f.Close()
		t.Logf("skipping the read-only directory: this process may write in it")
	} else if err := checkpoint.CheckLocation(ctx, readOnly); !errors.Is(err, checkpoint.ErrUnusableLocation) {
		t.Errorf("CheckLocation of a read-only directory = %v, want ErrUnusableLocation", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := checkpoint.CheckLocation(cctx, dir); !errors.Is(err, context.Canceled) {
		t.Errorf("CheckLocation with a cancelled context = %v", err)
	}
}
