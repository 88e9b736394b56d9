package pebble

import (
	"io"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestNoSyncFS checks that the databases' file system is noSyncFS, whose files write through
// to the disk but do not sync.
func TestNoSyncFS(t *testing.T) {
	cache := pebble.NewCache(1 << 20)
	defer cache.Unref()
	if _, ok := pebbleOptions(Options{}, cache, false).FS.(noSyncFS); !ok {
		t.Fatalf("the database's file system is %T, not noSyncFS", pebbleOptions(Options{}, cache, false).FS)
	}
	fs := noSyncFS{vfs.Default}
	name := filepath.Join(t.TempDir(), "f")
	f, err := fs.Create(name, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("written")); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.(noSyncFile); !ok {
		t.Fatalf("Create returned a %T, not a noSyncFile", f)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if full, err := f.SyncTo(7); err != nil || !full {
		t.Fatalf("SyncTo = %v, %v", full, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := fs.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil || string(b) != "written" {
		t.Fatalf("read back %q, %v", b, err)
	}
	d, err := fs.OpenDir(filepath.Dir(name))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	d.Close()
}
