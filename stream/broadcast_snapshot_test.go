package stream

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/runnel-io/runnel/eventtime"
	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/operator"
)

// These tests check that the broadcast operators' state survives a snapshot: SnapshotState and
// restore, in jobs of different parallelisms. The store's format is tested in package operator.

var bsRules = BroadcastStateDescriptor[string, int]{Name: "rules"}

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
}

// bsStoreOf returns the broadcast state of a broadcast operator instance.
func bsStoreOf(inst rt.Instance) *operator.BroadcastStore {
	switch o := inst.(type) {
	case *operator.Broadcast[string, string, string]:
		return &o.Store
	case *operator.KeyedBroadcast[string, string, string, string]:
		return &o.Store
	}
	panic(fmt.Sprintf("%T is no broadcast operator", inst))
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
			if err := bsStoreOf(inst).Restore(blobs); err != nil {
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
