package operator

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// These tests check that broadcast state survives a snapshot: the store's blob format.

type bsValue struct {
	Name  string
	Tags  []string
	Limit float64
	At    time.Time
}

type bsDesc struct{ Name string }

var (
	bsRules  = bsDesc{Name: "rules"}
	bsConfig = bsDesc{Name: "config"}
)

func bsStore(t *testing.T) *BroadcastStore {
	t.Helper()
	s := &BroadcastStore{}
	rules := BroadcastStateOf[string, int](s, bsRules.Name)
	for i := range 50 {
		rules.Put(fmt.Sprintf("r%02d", i), i*i-7)
	}
	cfg := BroadcastStateOf[int64, bsValue](s, bsConfig.Name)
	cfg.Put(-3, bsValue{Name: "neg", Tags: []string{"a", ""}, Limit: 2.5, At: time.Unix(1_700_000_000, 5).UTC()})
	cfg.Put(1<<40, bsValue{Name: "big"})
	BroadcastStateOf[string, string](s, "empty")
	return s
}

func TestBroadcastStoreSnapshotRestore(t *testing.T) {
	orig := bsStore(t)
	blob, err := orig.snapshotBlob()
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := bsStore(t).snapshotBlob(); !bytes.Equal(again, blob) {
		t.Fatal("two snapshots of equal broadcast state differ")
	}

	r := &BroadcastStore{}
	// Several copies: the first one counts.
	if err := r.Restore([][]byte{blob, {0xff}}); err != nil {
		t.Fatal(err)
	}
	// A state not asked for since the restore is written back unchanged.
	if pass, err := r.snapshotBlob(); err != nil || !bytes.Equal(pass, blob) {
		t.Fatalf("snapshot of an unused restored store differs (%v)", err)
	}
	if got, want := maps.Collect(BroadcastStateOf[string, int](r, bsRules.Name).All()), maps.Collect(BroadcastStateOf[string, int](orig, bsRules.Name).All()); !maps.Equal(got, want) {
		t.Fatalf("rules restored as %v, want %v", got, want)
	}
	got := maps.Collect(BroadcastStateOf[int64, bsValue](r, bsConfig.Name).All())
	want := maps.Collect(BroadcastStateOf[int64, bsValue](orig, bsConfig.Name).All())
	if len(got) != len(want) {
		t.Fatalf("config restored as %v, want %v", got, want)
	}
	for k, w := range want {
		g := got[k]
		if g.Name != w.Name || !slices.Equal(g.Tags, w.Tags) || g.Limit != w.Limit || !g.At.Equal(w.At) {
			t.Fatalf("config[%d] restored as %+v, want %+v", k, g, w)
		}
	}
	if n := BroadcastStateOf[string, string](r, "empty").Len(); n != 0 {
		t.Fatalf("empty state restored with %d entries", n)
	}
	if decoded, err := r.snapshotBlob(); err != nil || !bytes.Equal(decoded, blob) {
		t.Fatalf("snapshot of the decoded restored store differs (%v)", err)
	}

	// Without blobs (a subtask added by scaling up) the store stays empty.
	e := &BroadcastStore{}
	if err := e.Restore(nil); err != nil || BroadcastStateOf[string, int](e, bsRules.Name).Len() != 0 {
		t.Fatalf("restoring no blobs: %v", err)
	}
}

func TestBroadcastStoreRejects(t *testing.T) {
	blob, err := bsStore(t).snapshotBlob()
	if err != nil {
		t.Fatal(err)
	}
	dup := []byte{broadcastStateVersion, 2}
	dup = appendBytes(appendBytes(dup, []byte("x")), []byte{0})
	dup = appendBytes(appendBytes(dup, []byte("x")), []byte{0})
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "empty blob"},
		{"version", append([]byte{9}, blob[1:]...), "version 9"},
		{"truncated", blob[:len(blob)-3], "bytes"},
		{"trailing", append(slices.Clone(blob), 1), "after the last state"},
		{"duplicate", dup, "appears twice"},
		{"entries", appendBytes(appendBytes([]byte{broadcastStateVersion, 1}, []byte("x")), []byte{1, 0}), "entry 0"},
	} {
		s := &BroadcastStore{}
		err := s.Restore([][]byte{c.b})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}

	// A value its codec cannot encode is an error, not a panic.
	s := &BroadcastStore{}
	BroadcastStateOf[string, func()](s, "funcs").Put("f", func() {})
	if _, err := s.snapshotBlob(); err == nil || !strings.Contains(err.Error(), `"funcs"`) {
		t.Fatalf("snapshot of a func value: %v", err)
	}
}

// FuzzBroadcastRestore checks that no blob makes restoring panic and that what restores
// snapshots to a blob that restores to the same snapshot.
func FuzzBroadcastRestore(f *testing.F) {
	s := &BroadcastStore{}
	BroadcastStateOf[string, int](s, "rules").Put("a", 1)
	blob, err := s.snapshotBlob()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(blob)
	f.Add([]byte{broadcastStateVersion, 0})
	f.Add([]byte{broadcastStateVersion, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		s := &BroadcastStore{}
		if err := s.Restore([][]byte{b}); err != nil {
			return
		}
		once, err := s.snapshotBlob()
		if err != nil {
			t.Fatal(err)
		}
		r := &BroadcastStore{}
		if err := r.Restore([][]byte{once}); err != nil {
			t.Fatalf("a snapshot does not restore: %v", err)
		}
		if twice, _ := r.snapshotBlob(); !bytes.Equal(once, twice) {
			t.Fatal("restoring a snapshot changed it")
		}
	})
}

// snapshotBlob returns the single blob of the store's snapshot.
func (s *BroadcastStore) snapshotBlob() ([]byte, error) {
	blobs, err := s.Snapshot()
	if err != nil {
		return nil, err
	}
	return blobs[0], nil
}
