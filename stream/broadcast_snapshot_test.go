package stream

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/eventtime"
	rt "github.com/runnel-io/runnel/internal/runtime"
)

// These tests check that broadcast state survives a snapshot: the store's blob format, and the
// broadcast operators' SnapshotState and restore, in jobs of different parallelisms.

type bsValue struct {
	Name  string
	Tags  []string
	Limit float64
	At    time.Time
}

var (
	bsRules  = BroadcastStateDescriptor[string, int]{Name: "rules"}
	bsConfig = BroadcastStateDescriptor[int64, bsValue]{Name: "config"}
)

func bsStore(t *testing.T) *broadcastStore {
	t.Helper()
	s := &broadcastStore{}
	rules := broadcastStateFor[string, int](s, bsRules.Name)
	for i := range 50 {
		rules.Put(fmt.Sprintf("r%02d", i), i*i-7)
	}
	cfg := broadcastStateFor[int64, bsValue](s, bsConfig.Name)
	cfg.Put(-3, bsValue{Name: "neg", Tags: []string{"a", ""}, Limit: 2.5, At: time.Unix(1_700_000_000, 5).UTC()})
	cfg.Put(1<<40, bsValue{Name: "big"})
	broadcastStateFor[string, string](s, "empty")
	return s
}

func TestBroadcastStoreSnapshotRestore(t *testing.T) {
	orig := bsStore(t)
	blob, err := orig.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := bsStore(t).snapshot(); !bytes.Equal(again, blob) {
		t.Fatal("two snapshots of equal broadcast state differ")
	}

	r := &broadcastStore{}
	// Several copies: the first one counts.
	if err := r.restoreBroadcast([][]byte{blob, {0xff}}); err != nil {
		t.Fatal(err)
	}
	// A state not asked for since the restore is written back unchanged.
	if pass, err := r.snapshot(); err != nil || !bytes.Equal(pass, blob) {
		t.Fatalf("snapshot of an unused restored store differs (%v)", err)
	}
	if got, want := maps.Collect(broadcastStateFor[string, int](r, bsRules.Name).All()), maps.Collect(broadcastStateFor[string, int](orig, bsRules.Name).All()); !maps.Equal(got, want) {
		t.Fatalf("rules restored as %v, want %v", got, want)
	}
	got := maps.Collect(broadcastStateFor[int64, bsValue](r, bsConfig.Name).All())
	want := maps.Collect(broadcastStateFor[int64, bsValue](orig, bsConfig.Name).All())
	if len(got) != len(want) {
		t.Fatalf("config restored as %v, want %v", got, want)
	}
	for k, w := range want {
		g := got[k]
		if g.Name != w.Name || !slices.Equal(g.Tags, w.Tags) || g.Limit != w.Limit || !g.At.Equal(w.At) {
			t.Fatalf("config[%d] restored as %+v, want %+v", k, g, w)
		}
	}
	if n := broadcastStateFor[string, string](r, "empty").Len(); n != 0 {
		t.Fatalf("empty state restored with %d entries", n)
	}
	if decoded, err := r.snapshot(); err != nil || !bytes.Equal(decoded, blob) {
		t.Fatalf("snapshot of the decoded restored store differs (%v)", err)
	}

	// Without blobs (a subtask added by scaling up) the store stays empty.
	e := &broadcastStore{}
	if err := e.restoreBroadcast(nil); err != nil || broadcastStateFor[string, int](e, bsRules.Name).Len() != 0 {
		t.Fatalf("restoring no blobs: %v", err)
	}
}

func TestBroadcastStoreRejects(t *testing.T) {
	blob, err := bsStore(t).snapshot()
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
		s := &broadcastStore{}
		err := s.restoreBroadcast([][]byte{c.b})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}

	// A value its codec cannot encode is an error, not a panic.
	s := &broadcastStore{}
	broadcastStateFor[string, func()](s, "funcs").Put("f", func() {})
	if _, err := s.snapshot(); err == nil || !strings.Contains(err.Error(), `"funcs"`) {
		t.Fatalf("snapshot of a func value: %v", err)
	}
}

// FuzzBroadcastRestore checks that no blob makes restoring panic and that what restores
// snapshots to a blob that restores to the same snapshot.
func FuzzBroadcastRestore(f *testing.F) {
	s := &broadcastStore{}
	broadcastStateFor[string, int](s, "rules").Put("a", 1)
	blob, err := s.snapshot()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(blob)
	f.Add([]byte{broadcastStateVersion, 0})
	f.Add([]byte{broadcastStateVersion, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		s := &broadcastStore{}
		if err := s.restoreBroadcast([][]byte{b}); err != nil {
			return
		}
		once, err := s.snapshot()
		if err != nil {
			t.Fatal(err)
		}
		r := &broadcastStore{}
		if err := r.restoreBroadcast([][]byte{once}); err != nil {
			t.Fatalf("a snapshot does not restore: %v", err)
		}
		if twice, _ := r.snapshot(); !bytes.Equal(once, twice) {
			t.Fatal("restoring a snapshot changed it")
		}
	})
}

// bsFn keeps rules in broadcast state and tags each main record with its rule's value.
type bsFn struct{}

func (bsFn) ProcessBroadcastElement(ctx *BroadcastContext, r string, _ Collector[string]) error {
	k, v, _ := strings.Cut(r, "=")
	var n int
	if _, err := fmt.Sscan(v, &n); err != nil {
		return err
	}
	BroadcastStateOf(ctx, bsRules).Put(k, n)
	return nil
}

func (bsFn) ProcessElement(ctx *ReadOnlyBroadcastContext, k string, out Collector[string]) error {
	v, ok := ReadOnlyBroadcastStateOf(ctx, bsRules).Get(k)
	out.Collect(fmt.Sprintf("%s:%d:%v", k, v, ok))
	return nil
}

// bsKeyedFn is bsFn for a keyed main stream.
type bsKeyedFn struct{ bsFn }

func (f bsKeyedFn) ProcessElement(ctx *KeyedBroadcastContext[string], k string, out Collector[string]) error {
	v, ok := ReadOnlyBroadcastStateOf(ctx, bsRules).Get(k)
	out.Collect(fmt.Sprintf("%s:%d:%v", k, v, ok))
	return nil
}

type bsSnapshotter interface {
	rt.Snapshotter
	restoreBroadcast(blobs [][]byte) error
}

// bsRun runs a broadcast job of parallelism p over control and main records. Every instance
// of the broadcast operator first restores blobs (if any); after the job, SnapshotState of
// every instance is returned with the job's output, sorted.
func bsRun(t *testing.T, keyedMain bool, p int, control, main []string, blobs [][]byte) ([]rt.OperatorSnapshot, []string) {
	t.Helper()
	env := New("broadcast-snapshot", Config{Parallelism: p})
	// One control subtask: the rules overwrite each other, so their order matters.
	ctl := FromSlice(env, control, eventtime.Strategy[string]{}).Parallelism(1)
	in := FromSlice(env, main, eventtime.Strategy[string]{})
	var out Stream[string]
	prefix := "BroadcastProcess"
	if keyedMain {
		prefix = "KeyedBroadcastProcess"
		out = KeyedBroadcastProcess(ConnectBroadcast(KeyBy(in, func(s string) string { return s }), ctl), KeyedBroadcastProcessFunction[string, string, string, string](bsKeyedFn{}))
	} else {
		out = BroadcastProcess(ConnectBroadcastNonKeyed(in, ctl), BroadcastProcessFunction[string, string, string](bsFn{}))
	}
	got := Collect(out)
	var mu sync.Mutex
	var ops []bsSnapshotter
	found := false
	for _, n := range env.g.Nodes {
		if !strings.HasPrefix(n.Name, prefix) {
			continue
		}
		found = true
		orig := n.Operator
		n.Operator = func(c *rt.Context, out any) (rt.Instance, error) {
			inst, err := orig(c, out)
			if err != nil {
				return nil, err
			}
			op := inst.(bsSnapshotter)
			if err := op.restoreBroadcast(blobs); err != nil {
				return nil, err
			}
			mu.Lock()
			ops = append(ops, op)
			mu.Unlock()
			return inst, nil
		}
	}
	if !found {
		t.Fatalf("no node named %s*", prefix)
	}
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	var snaps []rt.OperatorSnapshot
	for _, op := range ops {
		s, err := op.SnapshotState(1)
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, s)
	}
	vals := got.Values()
	slices.Sort(vals)
	return snaps, vals
}

// TestBroadcastOperatorsSnapshotRestore fills the broadcast state of a job at parallelism 2,
// snapshots every subtask, and restores a job at parallelism 3 from one subtask's blobs: its
// main records must see the rules.
func TestBroadcastOperatorsSnapshotRestore(t *testing.T) {
	for _, keyedMain := range []bool{false, true} {
		t.Run(fmt.Sprintf("keyed=%v", keyedMain), func(t *testing.T) {
			snaps, _ := bsRun(t, keyedMain, 2, []string{"a=1", "b=2", "c=3", "a=4"}, nil, nil)
			if len(snaps) != 2 {
				t.Fatalf("%d subtasks snapshotted, want 2", len(snaps))
			}
			for i, s := range snaps {
				if len(s.Operator) != 1 || !bytes.Equal(s.Operator[0], snaps[0].Operator[0]) {
					t.Fatalf("subtask %d snapshotted %d blobs, or a different copy of the broadcast state", i, len(s.Operator))
				}
			}
			// Every subtask of the new job restores subtask 1's copy.
			main := []string{"a", "b", "c", "d", "a", "c"}
			snaps2, got := bsRun(t, keyedMain, 3, nil, main, snaps[1].Operator)
			want := []string{"a:4:true", "a:4:true", "b:2:true", "c:3:true", "c:3:true", "d:0:false"}
			if !slices.Equal(got, want) {
				t.Fatalf("restored job emitted %v, want %v", got, want)
			}
			if !bytes.Equal(snaps2[0].Operator[0], snaps[0].Operator[0]) {
				t.Fatal("the restored job's snapshot differs from the one it restored")
			}
			_, got = bsRun(t, keyedMain, 1, nil, main, nil)
			if !slices.Equal(got, []string{"a:0:false", "a:0:false", "b:0:false", "c:0:false", "c:0:false", "d:0:false"}) {
				t.Fatalf("a fresh job saw broadcast state: %v", got)
			}
		})
	}
}
