package state_test

import (
	"errors"
	"runtime"
	"slices"
	"testing"

	"github.com/runnel-io/runnel/state"
)

type discard struct{ groups []int }

func (d *discard) WriteGroup(kg int, _ []byte) error { d.groups = append(d.groups, kg); return nil }

func TestSnapshotEncodeError(t *testing.T) {
	b := state.NewMemory()
	keys := &state.Keys[string]{First: 0, Count: 4}
	ok := state.NewValue[string, int](b, keys, state.Descriptor{Name: "ok"})
	bad := state.NewValue[string, func()](b, keys, state.Descriptor{Name: "bad"})
	keys.Key, keys.Group = "a", 2
	ok.Update(1)
	bad.Update(func() {}) // the memory backend holds it; a snapshot cannot encode it
	s, err := b.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var d discard
	err = s.WriteGroups(&d)
	var ee *state.EncodeError
	if !errors.As(err, &ee) {
		t.Fatalf("WriteGroups = %v, want an *EncodeError", err)
	}
	bad.Clear()
	if s, err = b.Snapshot(); err != nil {
		t.Fatal(err)
	}
	d = discard{}
	if err := s.WriteGroups(&d); err != nil || !slices.Equal(d.groups, []int{2}) {
		t.Fatalf("after clearing the bad value: groups %v, %v", d.groups, err)
	}
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestCopyOnWriteOnlyWhileHeld checks that a write copies a key group only while a snapshot
// still holds it: WriteGroups releases each group once written.
func TestCopyOnWriteOnlyWhileHeld(t *testing.T) {
	b := state.NewMemory()
	keys := &state.Keys[int]{First: 0, Count: 2}
	v := state.NewValue[int, int](b, keys, state.Descriptor{Name: "v"})
	for g := range 2 {
		keys.Group = g
		for k := range 5000 {
			keys.Key = k
			v.Update(k)
		}
	}
	update := func(g int) func() {
		return func() { keys.Key, keys.Group = 1, g; v.Update(2) }
	}
	s, err := b.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if n := allocated(update(0)); n < 50_000 {
		t.Fatalf("first write to a held group allocated %d bytes: no copy", n)
	}
	if n := allocated(update(0)); n > 1000 {
		t.Fatalf("second write to the same group allocated %d bytes", n)
	}
	if err := s.WriteGroups(&discard{}); err != nil {
		t.Fatal(err)
	}
	if n := allocated(update(1)); n > 1000 {
		t.Fatalf("write to a group after WriteGroups released it allocated %d bytes", n)
	}
	// Release of an unwritten snapshot releases its groups too.
	s, _ = b.Snapshot()
	s.Release()
	if n := allocated(update(1)); n > 1000 {
		t.Fatalf("write after Release allocated %d bytes", n)
	}
}

func TestRestoredStateWithoutHandle(t *testing.T) {
	src := state.NewMemory()
	keys := &state.Keys[string]{First: 0, Count: 1}
	state.NewValue[string, int](src, keys, state.Descriptor{Name: "gone"}).Update(1)
	s, _ := src.Snapshot()
	blob, err := s.Encode(0)
	s.Release()
	if err != nil {
		t.Fatal(err)
	}
	dst := state.NewMemory()
	if err := dst.Restore(0, blob); err != nil {
		t.Fatal(err)
	}
	if got := dst.Restored(); !slices.Equal(got, []string{"gone"}) {
		t.Fatalf("Restored = %v", got)
	}
	// A handle of another type for the restored state fails to decode it: the panic names
	// the state.
	defer func() {
		r := recover()
		err, _ := r.(error)
		if err == nil || !errors.Is(err, state.ErrDecode) {
			t.Fatalf("recovered %v, want an error wrapping ErrDecode", r)
		}
	}()
	state.NewValue[string, bool](dst, keys, state.Descriptor{Name: "gone"})
}
