package pebble_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/statebackend/pebble"
)

const maxP = 16

// subtask is a backend with the handles of a small operator: a counter, a list and a map per
// key. order reverses the order the states are made in, so two databases give them
// different ids.
type subtask struct {
	b    state.Backend
	keys *state.Keys[string]
	v    state.Value[int]
	l    state.List[string]
	m    state.Map[int, string]
}

func newSubtask(b state.Backend, r keygroup.Range, reverse bool) *subtask {
	s := &subtask{b: b, keys: &state.Keys[string]{First: r.Start, Count: r.Len(), Now: func() int64 { return 0 }}}
	mk := []func(){
		func() { s.v = state.NewValue[string, int](b, s.keys, state.Descriptor{Name: "v"}) },
		func() { s.l = state.NewList[string, string](b, s.keys, state.Descriptor{Name: "l"}) },
		func() { s.m = state.NewMap[string, int, string](b, s.keys, state.Descriptor{Name: "m"}) },
	}
	if reverse {
		slices.Reverse(mk)
	}
	for _, f := range mk {
		f()
	}
	return s
}

func keyOf(i int) (string, int) { return fmt.Sprintf("key-%d", i), i % maxP }

// write gives key i (if its group is the subtask's) state derived from i and gen.
func (s *subtask) write(i, gen int) {
	k, g := keyOf(i)
	if g < s.keys.First || g >= s.keys.First+s.keys.Count {
		return
	}
	s.keys.Key, s.keys.Group = k, g
	s.v.Update(i + gen)
	s.l.Add(fmt.Sprint(gen))
	s.m.Put(gen, strings.Repeat("x", i%50))
}

// check verifies the state of keys [0, n) in groups of r after generations [0, gens), and
// that keys of groups outside r have no state.
func (s *subtask) check(t *testing.T, n, gens int, r keygroup.Range) {
	t.Helper()
	for i := range n {
		k, g := keyOf(i)
		s.keys.Key, s.keys.Group = k, g
		v, ok := s.v.Value()
		if !r.Contains(g) {
			if ok || len(s.l.Get()) > 0 || s.m.Len() > 0 {
				t.Fatalf("key %s of group %d outside %v has state", k, g, r)
			}
			continue
		}
		if !ok || v != i+gens-1 {
			t.Fatalf("key %s: v = %d, %v; want %d", k, v, ok, i+gens-1)
		}
		var wantL []string
		wantM := map[int]string{}
		for gen := range gens {
			wantL = append(wantL, fmt.Sprint(gen))
			wantM[gen] = strings.Repeat("x", i%50)
		}
		if got := s.l.Get(); !slices.Equal(got, wantL) {
			t.Fatalf("key %s: l = %v, want %v", k, got, wantL)
		}
		if got := maps.Collect(s.m.All()); !maps.Equal(got, wantM) {
			t.Fatalf("key %s: m has %d entries, want %d", k, len(got), len(wantM))
		}
	}
}

// fromDir opens files of a directory, as a checkpoint storage would.
func fromDir(dir string) func(context.Context, string) (io.ReadCloser, error) {
	return func(_ context.Context, name string) (io.ReadCloser, error) {
		return os.Open(filepath.Join(dir, name))
	}
}

func names(fs []pebble.File) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return out
}

func TestIncrementalCheckpoints(t *testing.T) {
	const n = 20_000
	r := keygroup.Range{Start: 0, End: maxP}
	b := open(t, r)
	defer b.Close()
	s := newSubtask(b, r, false)
	// 1 KiB of incompressible bytes per key, written once: ~20 MiB the later checkpoints
	// should not upload again.
	payload := state.NewValue[string, []byte](b, s.keys, state.Descriptor{Name: "payload"})
	rnd := rand.New(rand.NewPCG(1, 2))
	root := t.TempDir()

	// uploaded plays the runtime: local immutable file name -> size uploaded.
	uploaded := map[string]int64{}
	upload := func(fs []pebble.File) (newBytes, reusedBytes int64) {
		for _, f := range fs {
			if !f.Immutable {
				continue
			}
			if size, ok := uploaded[f.Name]; ok {
				if size != f.Size {
					t.Fatalf("immutable file %s changed size: %d -> %d", f.Name, size, f.Size)
				}
				reusedBytes += f.Size
				continue
			}
			uploaded[f.Name] = f.Size
			newBytes += f.Size
		}
		return
	}

	var dirs []string
	for gen := range 4 {
		for i := range n {
			// Later generations touch the keys of key group 0 only: an LSM rewrites the files
			// holding what changed, and keeps the others.
			if gen == 0 || i%maxP == 0 {
				s.write(i, gen)
			}
			if gen == 0 {
				p := make([]byte, 1024)
				for j := range p {
					p[j] = byte(rnd.Uint32())
				}
				payload.Update(p)
			}
		}
		if gen == 0 {
			// Settle the bulk load, as after a restore; without this, background compactions
			// of the first flushes make one later checkpoint upload most files again.
			if err := b.Compact(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		dir := filepath.Join(root, fmt.Sprintf("chk-%d", gen+1))
		files, err := b.Checkpoint(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(files, func(f pebble.File) bool { return f.Immutable }) {
			t.Fatalf("checkpoint %d has no SST: %v", gen+1, names(files))
		}
		newBytes, reused := upload(files)
		t.Logf("checkpoint %d: %d files; immutable: %d KiB new, %d KiB already uploaded", gen+1, len(files), newBytes>>10, reused>>10)
		if gen > 0 && newBytes > reused/2 {
			t.Errorf("checkpoint %d uploads %d KiB and reuses only %d KiB", gen+1, newBytes>>10, reused>>10)
		}
		dirs = append(dirs, dir)
	}
	if _, err := b.Checkpoint(dirs[0]); err == nil {
		t.Error("a checkpoint into an existing directory succeeded")
	}

	// Restore checkpoint 2 into a fresh working directory: generation 2 is not in it.
	files, err := pebble.Files(dirs[1])
	if err != nil {
		t.Fatal(err)
	}
	rb, err := pebble.RestoreFiles(context.Background(), pebble.Options{Dir: t.TempDir(), Range: r}, names(files), fromDir(dirs[1]))
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Close()
	rs := newSubtask(rb, r, false)
	for i := range n {
		k, g := keyOf(i)
		rs.keys.Key, rs.keys.Group = k, g
		want := []string{"0"}
		if i%maxP == 0 {
			want = []string{"0", "1"}
		}
		if got := rs.l.Get(); !slices.Equal(got, want) {
			t.Fatalf("restored key %s: l = %v, want %v", k, got, want)
		}
	}
	// The restored database goes on: it writes and checkpoints again.
	rs.write(1, 9)
	if _, err := rb.Checkpoint(filepath.Join(root, "after-restore")); err != nil {
		t.Fatal(err)
	}
}

func TestRestoreFilesRefusesNonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := pebble.RestoreFiles(context.Background(), pebble.Options{Dir: dir, Range: keygroup.Range{End: 1}}, nil, fromDir(dir))
	if err == nil {
		t.Fatal("RestoreFiles into a non-empty directory succeeded")
	}
	if _, err := pebble.RestoreFiles(context.Background(), pebble.Options{Dir: t.TempDir(), Range: keygroup.Range{End: 1}}, []string{"../x"}, fromDir(dir)); err == nil {
		t.Fatal("RestoreFiles of a path succeeded")
	}
}

// checkpointOf fills a subtask of range r with n keys, two generations, and checkpoints it.
func checkpointOf(t *testing.T, r keygroup.Range, n int, reverse bool) string {
	t.Helper()
	b := open(t, r)
	defer b.Close()
	s := newSubtask(b, r, reverse)
	for gen := range 2 {
		for i := range n {
			s.write(i, gen)
		}
	}
	dir := filepath.Join(t.TempDir(), "chk")
	if _, err := b.Checkpoint(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRescaleFromCheckpoints(t *testing.T) {
	const n = 500
	half := []keygroup.Range{keygroup.RangeOf(0, maxP, 2), keygroup.RangeOf(1, maxP, 2)}
	all := keygroup.Range{Start: 0, End: maxP}
	ctx := context.Background()

	t.Run("merge", func(t *testing.T) {
		dirs := []string{checkpointOf(t, half[0], n, false), checkpointOf(t, half[1], n, true)}
		b := open(t, all)
		defer b.Close()
		for _, d := range dirs {
			if err := b.RestoreRange(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		newSubtask(b, all, false).check(t, n, 2, all)
	})
	t.Run("split by range", func(t *testing.T) {
		dir := checkpointOf(t, all, n, true)
		for _, r := range half {
			b := open(t, r)
			if err := b.RestoreRange(ctx, dir); err != nil {
				t.Fatal(err)
			}
			newSubtask(b, r, false).check(t, n, 2, r)
			_ = b.Close()
		}
	})
	t.Run("split by files", func(t *testing.T) {
		dir := checkpointOf(t, all, n, true)
		files, err := pebble.Files(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range half {
			b, err := pebble.RestoreFiles(ctx, pebble.Options{Dir: t.TempDir(), Range: r}, names(files), fromDir(dir))
			if err != nil {
				t.Fatal(err)
			}
			newSubtask(b, r, false).check(t, n, 2, r)
			blobs := map[int]bool{}
			s, err := b.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			for kg := range maxP {
				if blob, err := s.Encode(kg); err != nil || (len(blob) > 0) != r.Contains(kg) {
					t.Fatalf("range %v: key group %d: %d bytes, %v", r, kg, len(blob), err)
				}
				blobs[kg] = true
			}
			s.Release()
			_ = b.Close()
		}
	})
	t.Run("merge onto files", func(t *testing.T) {
		dirs := []string{checkpointOf(t, half[0], n, false), checkpointOf(t, half[1], n, true)}
		files, err := pebble.Files(dirs[0])
		if err != nil {
			t.Fatal(err)
		}
		b, err := pebble.RestoreFiles(ctx, pebble.Options{Dir: t.TempDir(), Range: all}, names(files), fromDir(dirs[0]))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if err := b.RestoreRange(ctx, dirs[1]); err != nil {
			t.Fatal(err)
		}
		newSubtask(b, all, false).check(t, n, 2, all)
	})
	t.Run("cancelled", func(t *testing.T) {
		dir := checkpointOf(t, all, n, false)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		files, _ := pebble.Files(dir)
		if _, err := pebble.RestoreFiles(cctx, pebble.Options{Dir: t.TempDir(), Range: all}, names(files), fromDir(dir)); err == nil {
			t.Fatal("RestoreFiles with a cancelled context succeeded")
		}
	})
}

// TestSnapshotsMoveBetweenBackends restores a memory backend's snapshot into Pebble and the
// other way round: both write the same format.
func TestSnapshotsMoveBetweenBackends(t *testing.T) {
	const n = 300
	all := keygroup.Range{Start: 0, End: maxP}
	write := func(b state.Backend) map[int][]byte {
		s := newSubtask(b, all, false)
		for gen := range 3 {
			for i := range n {
				s.write(i, gen)
			}
		}
		snap, err := b.(state.Snapshotter).Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		defer snap.Release()
		out := map[int][]byte{}
		for kg := range maxP {
			if out[kg], err = snap.Encode(kg); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	restore := func(b state.Backend, blobs map[int][]byte) {
		for kg, blob := range blobs {
			if err := b.(state.Snapshotter).Restore(kg, blob); err != nil {
				t.Fatal(err)
			}
		}
		newSubtask(b, all, true).check(t, n, 3, all)
	}
	restore(open(t, all), write(state.NewMemory()))
	restore(state.NewMemory(), write(open(t, all)))
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []pebble.Options{
		{Range: keygroup.Range{End: 1}},
		{Dir: "x"},
		{Dir: "x", Range: keygroup.Range{Start: 0, End: 1 << 16}},
		{Dir: "x", Range: keygroup.Range{End: 1}, CacheSize: -1},
	} {
		if o.Validate() == nil {
			t.Errorf("%+v: Validate = nil", o)
		}
		if _, err := pebble.Open(o); err == nil {
			t.Errorf("%+v: Open succeeded", o)
		}
	}
}

func TestReopenKeepsRegistry(t *testing.T) {
	dir := t.TempDir()
	r := keygroup.Range{Start: 0, End: maxP}
	b, err := pebble.Open(pebble.Options{Dir: dir, Range: r})
	if err != nil {
		t.Fatal(err)
	}
	newSubtask(b, r, false).write(1, 0)
	if _, err := b.Checkpoint(filepath.Join(t.TempDir(), "c")); err != nil { // flushes
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b, err = pebble.Open(pebble.Options{Dir: dir, Range: r})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s := newSubtask(b, r, true) // another order: ids come from the registry
	s.check(t, 2, 1, keygroup.Range{Start: 1, End: 2})
	if _, err := b.Table(state.TableSpec{Name: "v", Kind: 2}); err == nil {
		t.Fatal("a registered value state reopened as a list")
	}
}

// TestRestoreFilesLinks checks that a restore from local files hard-links the immutable ones
// (SSTs) and copies the others, that the restored database does not depend on the checkpoint
// staying (retention deletes it), that a source that is not a local file is copied, and that a
// local file that cannot be linked (here its name is gone once opened; across file systems
// the link fails with EXDEV) is copied from the open file.
func TestRestoreFilesLinks(t *testing.T) {
	const n = 2000
	r := keygroup.Range{Start: 0, End: maxP}
	for _, tc := range []struct {
		name   string
		open   func(dir string) func(context.Context, string) (io.ReadCloser, error)
		linked bool
	}{
		{"local files", fromDir, true},
		{"a stream", func(dir string) func(context.Context, string) (io.ReadCloser, error) {
			return func(ctx context.Context, name string) (io.ReadCloser, error) {
				f, err := fromDir(dir)(ctx, name)
				return struct{ io.ReadCloser }{f}, err // hides the *os.File, as S3 would
			}
		}, false},
		{"local files that cannot be linked", func(dir string) func(context.Context, string) (io.ReadCloser, error) {
			return func(ctx context.Context, name string) (io.ReadCloser, error) {
				f, err := fromDir(dir)(ctx, name)
				if err != nil {
					return nil, err
				}
				return f, os.Remove(filepath.Join(dir, name))
			}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chk := checkpointOf(t, r, n, false)
			files, err := pebble.Files(chk)
			if err != nil {
				t.Fatal(err)
			}
			srcs := map[string]os.FileInfo{}
			for _, f := range files {
				if srcs[f.Name], err = os.Stat(filepath.Join(chk, f.Name)); err != nil {
					t.Fatal(err)
				}
			}
			dir := filepath.Join(t.TempDir(), "db")
			rb, err := pebble.RestoreFiles(context.Background(), pebble.Options{Dir: dir, Range: r}, names(files), tc.open(chk))
			if err != nil {
				t.Fatal(err)
			}
			defer rb.Close()
			ssts := 0
			for _, f := range files {
				src := srcs[f.Name]
				dst, err := os.Stat(filepath.Join(dir, f.Name))
				if errors.Is(err, fs.ErrNotExist) && !f.Immutable {
					continue // a WAL or an old MANIFEST the database dropped when it opened
				}
				if err != nil {
					t.Fatalf("restored %s: %v", f.Name, err)
				}
				if same := os.SameFile(src, dst); same != (tc.linked && f.Immutable) {
					t.Errorf("%s (immutable %v): restored as a link %v, want %v", f.Name, f.Immutable, same, tc.linked && f.Immutable)
				}
				if f.Immutable {
					ssts++
				}
			}
			if ssts == 0 {
				t.Fatalf("the checkpoint has no SST: %v", names(files))
			}
			if err := os.RemoveAll(chk); err != nil {
				t.Fatal(err)
			}
			rs := newSubtask(rb, r, false)
			rs.check(t, n, 2, r)
			for i := range n {
				rs.write(i, 2)
			}
			if err := rb.Compact(context.Background()); err != nil {
				t.Fatal(err)
			}
			rs.check(t, n, 3, r)
		})
	}
}
