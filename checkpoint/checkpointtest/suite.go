package checkpointtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sync"
	"testing"

	"github.com/runnel-io/runnel/checkpoint"
)

// StorageSuite runs the conformance tests of the checkpoint.Storage contract against the
// storages newStorage makes; each subtest gets a fresh, empty one. Every implementation's tests
// call it (Local's, Mem's, and S3's once it exists).
func StorageSuite(t *testing.T, newStorage func(t *testing.T) checkpoint.Storage) {
	ctx := context.Background()
	t.Run("RoundTrip", func(t *testing.T) {
		st := newStorage(t)
		data := bytes.Repeat([]byte("0123456789"), 1000)
		mustWrite(t, st, "chk-1/op-1-0", data)
		if got := mustRead(t, st, "chk-1/op-1-0"); !bytes.Equal(got, data) {
			t.Fatalf("read %d bytes, want the %d written", len(got), len(data))
		}
		info, err := st.Stat(ctx, "chk-1/op-1-0")
		if err != nil {
			t.Fatal(err)
		}
		if info.Name != "chk-1/op-1-0" || info.Size != int64(len(data)) {
			t.Fatalf("Stat = %+v, want name chk-1/op-1-0 size %d", info, len(data))
		}
		mustWrite(t, st, "empty", nil)
		if got := mustRead(t, st, "empty"); len(got) != 0 {
			t.Fatalf("empty file reads %q", got)
		}
	})
	t.Run("InvisibleUntilClose", func(t *testing.T) {
		st := newStorage(t)
		w, err := st.Create(ctx, "chk-1/_metadata")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("half")); err != nil {
			t.Fatal(err)
		}
		assertMissing(t, st, "chk-1/_metadata")
		if names := list(t, st, ""); len(names) != 0 {
			t.Fatalf("List during a write = %q, want nothing", names)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got := mustRead(t, st, "chk-1/_metadata"); string(got) != "half" {
			t.Fatalf("read %q after Close", got)
		}
		if err := w.Close(); err == nil {
			t.Error("a second Close succeeded")
		}
		if err := w.Abort(); err != nil {
			t.Errorf("Abort after Close = %v, want nil", err)
		}
		if got := mustRead(t, st, "chk-1/_metadata"); string(got) != "half" {
			t.Fatalf("Abort after Close changed the file: %q", got)
		}
	})
	t.Run("AbortLeavesNothing", func(t *testing.T) {
		st := newStorage(t)
		w, err := st.Create(ctx, "chk-2/_metadata")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("doomed")); err != nil {
			t.Fatal(err)
		}
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
		assertMissing(t, st, "chk-2/_metadata")
		if names := list(t, st, ""); len(names) != 0 {
			t.Fatalf("List after Abort = %q", names)
		}
		if err := w.Close(); err == nil {
			t.Error("Close after Abort succeeded")
		}
		assertMissing(t, st, "chk-2/_metadata")
	})
	t.Run("CancelledContextLeavesNothing", func(t *testing.T) {
		st := newStorage(t)
		cctx, cancel := context.WithCancel(ctx)
		w, err := st.Create(cctx, "chk-3/_metadata")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte("doomed"))
		cancel()
		if err := w.Close(); err == nil {
			t.Fatal("Close after the context was cancelled succeeded")
		}
		assertMissing(t, st, "chk-3/_metadata")
	})
	t.Run("ReplaceIsAtomic", func(t *testing.T) {
		st := newStorage(t)
		mustWrite(t, st, "f", []byte("old"))
		w, err := st.Create(ctx, "f")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte("new"))
		if got := mustRead(t, st, "f"); string(got) != "old" {
			t.Fatalf("during the rewrite, read %q, want old", got)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got := mustRead(t, st, "f"); string(got) != "new" {
			t.Fatalf("after the rewrite, read %q, want new", got)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		st := newStorage(t)
		assertMissing(t, st, "nothing/here")
		if err := st.Delete(ctx, "nothing/here"); err != nil {
			t.Fatalf("deleting a missing file: %v", err)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		st := newStorage(t)
		mustWrite(t, st, "chk-1/a", []byte("a"))
		mustWrite(t, st, "chk-1/b", []byte("b"))
		if err := st.Delete(ctx, "chk-1/a"); err != nil {
			t.Fatal(err)
		}
		assertMissing(t, st, "chk-1/a")
		if got := list(t, st, ""); !slices.Equal(got, []string{"chk-1/b"}) {
			t.Fatalf("after deleting chk-1/a, List = %q", got)
		}
		if err := st.Delete(ctx, "chk-1/b"); err != nil {
			t.Fatal(err)
		}
		if got := list(t, st, ""); len(got) != 0 {
			t.Fatalf("after deleting everything, List = %q", got)
		}
		mustWrite(t, st, "chk-1/c", []byte("c")) // the emptied directory can be written again
	})
	t.Run("List", func(t *testing.T) {
		st := newStorage(t)
		for _, n := range []string{"chk-12/x", "chk-1/_metadata", "chk-1/op/0", "chk-2/y", "shared/s1", "top"} {
			mustWrite(t, st, n, []byte(n))
		}
		for _, tt := range []struct {
			prefix string
			want   []string
		}{
			{"", []string{"chk-1/_metadata", "chk-1/op/0", "chk-12/x", "chk-2/y", "shared/s1", "top"}},
			{"chk-1", []string{"chk-1/_metadata", "chk-1/op/0", "chk-12/x"}},
			{"chk-1/", []string{"chk-1/_metadata", "chk-1/op/0"}},
			{"chk-1/op/", []string{"chk-1/op/0"}},
			{"chk-1/o", []string{"chk-1/op/0"}},
			{"shared/", []string{"shared/s1"}},
			{"nope/", nil},
			{"to", []string{"top"}},
		} {
			if got := list(t, st, tt.prefix); !slices.Equal(got, tt.want) {
				t.Errorf("List(%q) = %q, want %q", tt.prefix, got, tt.want)
			}
		}
		infos, err := st.List(ctx, "chk-1/op/")
		if err != nil {
			t.Fatal(err)
		}
		if len(infos) != 1 || infos[0].Size != int64(len("chk-1/op/0")) {
			t.Errorf("List(chk-1/op/) = %+v, want one file of size %d", infos, len("chk-1/op/0"))
		}
	})
	t.Run("InvalidNames", func(t *testing.T) {
		st := newStorage(t)
		for _, n := range []string{"", ".", "/abs", "a/../b", "../up", ".hidden", "a/.b", "a//b", "a/"} {
			if _, err := st.Create(ctx, n); !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("Create(%q) = %v, want fs.ErrInvalid", n, err)
			}
			if _, err := st.Open(ctx, n); !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("Open(%q) = %v, want fs.ErrInvalid", n, err)
			}
			if err := st.Delete(ctx, n); !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("Delete(%q) = %v, want fs.ErrInvalid", n, err)
			}
		}
	})
	t.Run("OpenRange", func(t *testing.T) {
		st := newStorage(t)
		data := []byte("0123456789")
		mustWrite(t, st, "f", data)
		for _, tt := range []struct {
			off, n int64
			want   string
		}{
			{0, 10, "0123456789"}, {3, 4, "3456"}, {9, 1, "9"}, {5, 0, ""}, {8, 5, "89"}, {12, 3, ""},
		} {
			rc, err := checkpoint.OpenRange(ctx, st, "f", tt.off, tt.n)
			if err != nil {
				t.Fatalf("OpenRange(%d, %d): %v", tt.off, tt.n, err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || string(got) != tt.want {
				t.Errorf("OpenRange(%d, %d) read %q, %v; want %q", tt.off, tt.n, got, err, tt.want)
			}
		}
		if _, err := checkpoint.OpenRange(ctx, st, "missing", 0, 1); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("OpenRange of a missing file = %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		st := newStorage(t)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				for j := range 10 {
					name := fmt.Sprintf("chk-%d/task-%d", j, i)
					if err := checkpoint.WriteFile(ctx, st, name, []byte(name)); err != nil {
						t.Error(err)
						return
					}
					if j%2 == 0 {
						if err := st.Delete(ctx, name); err != nil {
							t.Error(err)
						}
					}
				}
			})
		}
		wg.Wait()
		if got := list(t, st, ""); len(got) != 8*5 {
			t.Fatalf("%d files after concurrent writes, want 40: %q", len(got), got)
		}
	})
}

func mustWrite(t *testing.T, st checkpoint.Storage, name string, data []byte) {
	t.Helper()
	if err := checkpoint.WriteFile(context.Background(), st, name, data); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, st checkpoint.Storage, name string) []byte {
	t.Helper()
	data, err := checkpoint.ReadFile(context.Background(), st, name, 0)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func list(t *testing.T, st checkpoint.Storage, prefix string) []string {
	t.Helper()
	infos, err := st.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range infos {
		names = append(names, f.Name)
	}
	return names
}

func assertMissing(t *testing.T, st checkpoint.Storage, name string) {
	t.Helper()
	if _, err := st.Open(context.Background(), name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(%q) = %v, want fs.ErrNotExist", name, err)
	}
	if _, err := st.Stat(context.Background(), name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(%q) = %v, want fs.ErrNotExist", name, err)
	}
}
