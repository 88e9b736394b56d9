// Package filesystemtest is the conformance suite of the filesystem.FS contract. Every
// implementation's tests run it: filesystem.Local's, and connector/s3's FS against a real
// S3-compatible server.
package filesystemtest

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/filesystem"
)

// Harness says how to make the FS under test.
type Harness struct {
	// New returns the FS and the name of an empty directory in it, fresh for the subtest.
	New func(t *testing.T) (fsys filesystem.FS, dir string)
	// Large is the size of the file that must take several pieces to write (an S3 FS's part
	// size plus a bit). Default 1 MiB.
	Large int
}

// Run runs the suite; each subtest gets a fresh directory from h.New.
func Run(t *testing.T, h Harness) {
	if h.Large == 0 {
		h.Large = 1 << 20
	}
	t.Run("WriteCommitRead", func(t *testing.T) { testWriteCommitRead(t, h) })
	t.Run("Large", func(t *testing.T) { testLarge(t, h) })
	t.Run("AbortAndMissing", func(t *testing.T) { testAbort(t, h) })
	t.Run("ListPending", func(t *testing.T) { testListPending(t, h) })
	t.Run("List", func(t *testing.T) { testList(t, h) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, h) })
}

// Write creates name in fsys, writes data and finishes it, failing the test on error.
func Write(t testing.TB, fsys filesystem.FS, name string, data []byte) filesystem.Pending {
	t.Helper()
	w, err := fsys.Create(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if w.Size() != int64(len(data)) {
		t.Fatalf("Size after writing %d bytes = %d", len(data), w.Size())
	}
	p, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Put writes data under name and commits it, failing the test on error.
func Put(t testing.TB, fsys filesystem.FS, name string, data []byte) {
	t.Helper()
	if err := fsys.Commit(t.Context(), Write(t, fsys, name, data)); err != nil {
		t.Fatal(err)
	}
}

// Read returns the content of the visible file name, failing the test on error.
func Read(t testing.TB, fsys filesystem.FS, name string) []byte {
	t.Helper()
	r, err := fsys.Open(t.Context(), filesystem.FileInfo{Name: name, Size: -1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func names(files []filesystem.FileInfo) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.Name)
	}
	return out
}

func list(t *testing.T, fsys filesystem.FS, dir string, recursive bool) []filesystem.FileInfo {
	t.Helper()
	files, err := fsys.List(t.Context(), dir, recursive)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func testWriteCommitRead(t *testing.T, h Harness) {
	ctx := t.Context()
	fsys, dir := h.New(t)
	if _, err := fsys.Resolve(""); err == nil {
		t.Error("Resolve(\"\") succeeded")
	}
	if got, err := fsys.Resolve(dir); err != nil || got != dir {
		t.Errorf("Resolve(%q) = %q, %v; want it unchanged", dir, got, err)
	}
	name := filesystem.Join(dir, "a/b/part-0.txt")
	data := []byte("hello, world\nsecond line\n")
	w, err := fsys.Create(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data[:5]); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data[5:]); err != nil {
		t.Fatal(err)
	}
	p, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != name || p.Size != int64(len(data)) || p.ID == "" || len(p.Data) == 0 {
		t.Fatalf("Finish = %+v, want name %s, size %d, an ID and data", p, name, len(data))
	}
	if _, err := w.Finish(); err == nil {
		t.Error("a second Finish succeeded")
	}
	if files := list(t, fsys, dir, true); len(files) != 0 {
		t.Fatalf("before Commit: listed %v, want nothing visible", names(files))
	}
	if _, err := fsys.Open(ctx, filesystem.FileInfo{Name: name, Size: -1}, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open before Commit: %v, want fs.ErrNotExist", err)
	}
	decoded, err := fsys.DecodePending(p.Data)
	if err != nil {
		t.Fatal(err)
	}
	if decoded.Name != p.Name || decoded.Size != p.Size || decoded.ID != p.ID || !bytes.Equal(decoded.Data, p.Data) {
		t.Fatalf("DecodePending = %+v, want %+v", decoded, p)
	}
	if _, err := fsys.DecodePending([]byte("not this FS's")); err == nil {
		t.Error("DecodePending of garbage succeeded")
	}
	for range 2 { // idempotent
		if err := fsys.Commit(ctx, decoded); err != nil {
			t.Fatal(err)
		}
	}
	files := list(t, fsys, dir, true)
	if len(files) != 1 || files[0].Name != name || files[0].Size != int64(len(data)) {
		t.Fatalf("after Commit: listed %+v, want %s of %d bytes", files, name, len(data))
	}
	if got := Read(t, fsys, name); !bytes.Equal(got, data) {
		t.Fatalf("read %q, want %q", got, data)
	}
	for _, off := range []int64{0, 7, int64(len(data)) - 1, int64(len(data)), int64(len(data)) + 10} {
		r, err := fsys.Open(ctx, files[0], off)
		if err != nil {
			t.Fatalf("Open at %d: %v", off, err)
		}
		got, err := io.ReadAll(r)
		_ = r.Close()
		want := data[min(off, int64(len(data))):]
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Open at %d read %q, %v; want %q", off, got, err, want)
		}
	}
	ra, err := fsys.OpenReaderAt(ctx, files[0])
	if err != nil {
		t.Fatal(err)
	}
	if ra.Size() != int64(len(data)) {
		t.Errorf("ReaderAt size %d, want %d", ra.Size(), len(data))
	}
	buf := make([]byte, 6)
	if n, err := ra.ReadAt(buf, 7); n != 6 || err != nil || string(buf) != string(data[7:13]) {
		t.Errorf("ReadAt(6 bytes at 7) = %d, %v, %q", n, err, buf)
	}
	if err := ra.Close(); err != nil {
		t.Error(err)
	}
	// A committed file survives an Abort of its pending file.
	if err := fsys.Abort(ctx, decoded); err != nil {
		t.Fatal(err)
	}
	if got := Read(t, fsys, name); !bytes.Equal(got, data) {
		t.Fatalf("after Abort of the committed file: read %q", got)
	}
	if pend, err := fsys.ListPending(ctx, dir); err != nil || len(pend) != 0 {
		t.Fatalf("ListPending after Commit = %+v, %v; want none", pend, err)
	}
	// An empty file.
	empty := filesystem.Join(dir, "empty")
	Put(t, fsys, empty, nil)
	if got := Read(t, fsys, empty); len(got) != 0 {
		t.Fatalf("empty file reads %q", got)
	}
}

func testLarge(t *testing.T, h Harness) {
	fsys, dir := h.New(t)
	data := make([]byte, h.Large+1000)
	for i := range data {
		data[i] = byte(i * 7 / 3)
	}
	name := filesystem.Join(dir, "large.bin")
	w, err := fsys.Create(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	for rest := data; len(rest) > 0; { // uneven writes across the piece boundaries
		n := min(len(rest), 100_003)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	p, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if err := fsys.Commit(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if got := Read(t, fsys, name); !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes back, want the %d written", len(got), len(data))
	}
	files := list(t, fsys, dir, false)
	ra, err := fsys.OpenReaderAt(t.Context(), filesystem.FileInfo{Name: name, Size: -1, Version: files[0].Version})
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	buf := make([]byte, 20)
	off := int64(h.Large - 10)
	if n, err := ra.ReadAt(buf, off); n != 20 || err != nil || !bytes.Equal(buf, data[off:off+20]) {
		t.Fatalf("ReadAt across a piece boundary: %d, %v", n, err)
	}
	if ra.Size() != int64(len(data)) {
		t.Fatalf("ReaderAt of unknown size: Size %d, want %d", ra.Size(), len(data))
	}
}

func testAbort(t *testing.T, h Harness) {
	ctx := t.Context()
	fsys, dir := h.New(t)
	// A Writer aborted before it finished leaves nothing.
	w, err := fsys.Create(ctx, filesystem.Join(dir, "aborted"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	// A finished file aborted cannot be committed.
	p := Write(t, fsys, filesystem.Join(dir, "finished"), []byte("lost"))
	for range 2 {
		if err := fsys.Abort(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := fsys.Commit(ctx, p); !errors.Is(err, filesystem.ErrMissing) || !strings.Contains(err.Error(), "finished") {
		t.Fatalf("Commit after Abort: %v, want ErrMissing naming the file", err)
	}
	if files := list(t, fsys, dir, true); len(files) != 0 {
		t.Fatalf("listed %v after aborts, want nothing", names(files))
	}
	if pend, err := fsys.ListPending(ctx, dir); err != nil || len(pend) != 0 {
		t.Fatalf("ListPending after aborts = %+v, %v; want none", pend, err)
	}
}

func testListPending(t *testing.T, h Harness) {
	ctx := t.Context()
	fsys, dir := h.New(t)
	if pend, err := fsys.ListPending(ctx, filesystem.Join(dir, "nothing-here")); err != nil || len(pend) != 0 {
		t.Fatalf("ListPending of an empty directory = %+v, %v", pend, err)
	}
	open, err := fsys.Create(ctx, filesystem.Join(dir, "x/open"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := open.Write([]byte("in progress")); err != nil {
		t.Fatal(err)
	}
	finished := Write(t, fsys, filesystem.Join(dir, "x/y/finished"), []byte("pending"))
	Put(t, fsys, filesystem.Join(dir, "visible"), []byte("committed"))
	pend, err := fsys.ListPending(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(pend, func(a, b filesystem.Pending) int { return strings.Compare(a.Name, b.Name) })
	if len(pend) != 2 || pend[0].Name != filesystem.Join(dir, "x/open") || pend[1].Name != finished.Name ||
		pend[1].ID != finished.ID || pend[1].InProgress {
		t.Fatalf("ListPending = %+v, want x/open and %+v", pend, finished)
	}
	// A crashed writer's files are cleaned up by aborting what ListPending found.
	for _, p := range pend {
		if err := fsys.Abort(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if pend, err := fsys.ListPending(ctx, dir); err != nil || len(pend) != 0 {
		t.Fatalf("ListPending after aborting them = %+v, %v", pend, err)
	}
	if err := fsys.Commit(ctx, finished); !errors.Is(err, filesystem.ErrMissing) {
		t.Fatalf("Commit of an aborted listed file: %v, want ErrMissing", err)
	}
	_ = open.Abort()
	if files := list(t, fsys, dir, true); len(files) != 1 {
		t.Fatalf("listed %v, want only the visible file", names(files))
	}
}

func testList(t *testing.T, h Harness) {
	fsys, dir := h.New(t)
	for _, rel := range []string{"b.txt", "a/x.txt", "a.txt", "a/y/z.txt", ".hidden", "_SUCCESS", "c/.d/e"} {
		Put(t, fsys, filesystem.Join(dir, rel), []byte(rel))
	}
	all := names(list(t, fsys, dir, true))
	want := []string{".hidden", "_SUCCESS", "a.txt", "a/x.txt", "a/y/z.txt", "b.txt", "c/.d/e"}
	for i := range want {
		want[i] = filesystem.Join(dir, want[i])
	}
	if !slices.Equal(all, want) {
		t.Fatalf("recursive List = %v, want %v", all, want)
	}
	top := names(list(t, fsys, dir, false))
	want = []string{filesystem.Join(dir, ".hidden"), filesystem.Join(dir, "_SUCCESS"), filesystem.Join(dir, "a.txt"), filesystem.Join(dir, "b.txt")}
	if !slices.Equal(top, want) {
		t.Fatalf("List = %v, want %v", top, want)
	}
	sub := names(list(t, fsys, filesystem.Join(dir, "a"), true))
	if !slices.Equal(sub, []string{filesystem.Join(dir, "a/x.txt"), filesystem.Join(dir, "a/y/z.txt")}) {
		t.Fatalf("List of a/ = %v: a.txt is beside a, not below it", sub)
	}
	one := list(t, fsys, filesystem.Join(dir, "b.txt"), true)
	if len(one) != 1 || one[0].Name != filesystem.Join(dir, "b.txt") || one[0].Size != 5 {
		t.Fatalf("List of a file = %+v, want that file of 5 bytes", one)
	}
}

func testDelete(t *testing.T, h Harness) {
	fsys, dir := h.New(t)
	name := filesystem.Join(dir, "d/f")
	Put(t, fsys, name, []byte("x"))
	for range 2 {
		if err := fsys.Delete(t.Context(), name); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := fsys.Open(t.Context(), filesystem.FileInfo{Name: name, Size: -1}, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open after Delete: %v, want fs.ErrNotExist", err)
	}
}
