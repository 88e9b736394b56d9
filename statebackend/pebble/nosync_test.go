package pebble

import (
	"fmt"
	"io"
	"path/filepath"
	"sync/atomic"
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

// TestNoSyncFSUnderPebble checks that a database on noSyncFS never syncs a file of the file
// system below, through whichever method Pebble opens it, while it writes, flushes, takes a
// checkpoint and closes; and, so that the test can fail, that the same work without noSyncFS
// does sync.
func TestNoSyncFSUnderPebble(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fs     func(vfs.FS) vfs.FS
		syncs0 bool // whether no sync may reach the file system below
	}{
		{"noSyncFS", func(fs vfs.FS) vfs.FS { return noSyncFS{fs} }, true},
		{"without", func(fs vfs.FS) vfs.FS { return fs }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			below := &countingFS{FS: vfs.Default}
			cache := pebble.NewCache(1 << 20)
			defer cache.Unref()
			po := pebbleOptions(Options{MemTableSize: 1 << 20}.withDefaults(), cache, false)
			po.FS = tc.fs(below)
			dir := t.TempDir()
			db, err := pebble.Open(filepath.Join(dir, "db"), po)
			if err != nil {
				t.Fatal(err)
			}
			v := make([]byte, 1024)
			for i := range 4096 { // 4 MiB: memtables fill and flush in the background too
				if err := db.Set(fmt.Appendf(nil, "k%06d", i), v, pebble.NoSync); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := db.Checkpoint(filepath.Join(dir, "chk")); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if n := below.syncs.Load(); (n == 0) != tc.syncs0 {
				t.Errorf("%d syncs reached the file system below", n)
			}
		})
	}
}

// countingFS counts the syncs of the files it opens, by any method.
type countingFS struct {
	vfs.FS
	syncs atomic.Int64
}

func (fs *countingFS) count(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return countingFile{File: f, syncs: &fs.syncs}, nil
}

func (fs *countingFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return fs.count(fs.FS.Create(name, c))
}

func (fs *countingFS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	return fs.count(fs.FS.Open(name, opts...))
}

func (fs *countingFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	return fs.count(fs.FS.OpenReadWrite(name, c, opts...))
}

func (fs *countingFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return fs.count(fs.FS.ReuseForWrite(oldname, newname, c))
}

func (fs *countingFS) OpenDir(name string) (vfs.File, error) { return fs.count(fs.FS.OpenDir(name)) }

// countingFile is a file whose syncs countingFS counts.
type countingFile struct {
	vfs.File
	syncs *atomic.Int64
}

func (f countingFile) Sync() error {
	f.syncs.Add(1)
	return f.File.Sync()
}

func (f countingFile) SyncData() error {
	f.syncs.Add(1)
	return f.File.SyncData()
}

func (f countingFile) SyncTo(length int64) (bool, error) {
	f.syncs.Add(1)
	return f.File.SyncTo(length)
}
