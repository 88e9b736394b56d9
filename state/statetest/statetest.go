// Package statetest is the conformance suite every keyed-state backend passes: Run checks the
// handles of package state (Value, List, Map, Reducing, Aggregating, TTL) over a backend, and,
// when it implements state.Snapshotter, snapshots and restores: into a fresh backend, before
// and after the operator made its handles, at another parallelism (two subtasks merged into
// one, one split in two), with timers, and while the state changes under a snapshot being
// serialised.
package statetest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/state/blob"
)

// NewBackend returns an empty backend for a subtask owning the key groups r. The suite closes
// it; the function cleans up anything else (t.TempDir does).
type NewBackend func(t *testing.T, r keygroup.Range) state.Backend

// MaxParallelism is the number of key groups the suite's subtasks divide.
const MaxParallelism = 16

// all is the range of a subtask owning every key group.
var all = keygroup.Range{Start: 0, End: MaxParallelism}

// Run runs the suite against the backends newBackend makes.
func Run(t *testing.T, newBackend NewBackend) {
	t.Run("Value", func(t *testing.T) { testValue(t, newBackend) })
	t.Run("SeparateNames", func(t *testing.T) { testNames(t, newBackend) })
	t.Run("KindMismatchPanics", func(t *testing.T) { testKindMismatch(t, newBackend) })
	t.Run("List", func(t *testing.T) { testList(t, newBackend) })
	t.Run("Map", func(t *testing.T) { testMap(t, newBackend) })
	t.Run("MapKeysArePrefixFree", func(t *testing.T) { testMapPrefixKeys(t, newBackend) })
	t.Run("Reducing", func(t *testing.T) { testReducing(t, newBackend) })
	t.Run("Aggregating", func(t *testing.T) { testAggregating(t, newBackend) })
	t.Run("StructKeysAndValues", func(t *testing.T) { testStructs(t, newBackend) })
	t.Run("DescriptorCodec", func(t *testing.T) { testDescriptorCodec(t, newBackend) })
	t.Run("TTL/Value", func(t *testing.T) { testValueTTL(t, newBackend) })
	t.Run("TTL/List", func(t *testing.T) { testListTTL(t, newBackend) })
	t.Run("TTL/Map", func(t *testing.T) { testMapTTL(t, newBackend) })
	t.Run("TTL/ReducingAggregating", func(t *testing.T) { testFoldTTL(t, newBackend) })
	if _, ok := newEnv(t, newBackend, all).b.(state.Snapshotter); !ok {
		t.Log("backend does not implement state.Snapshotter: snapshot tests skipped")
		return
	}
	t.Run("Snapshot/RestoreAfterHandles", func(t *testing.T) { testRoundTrip(t, newBackend, false) })
	t.Run("Snapshot/RestoreBeforeHandles", func(t *testing.T) { testRoundTrip(t, newBackend, true) })
	t.Run("Snapshot/Empty", func(t *testing.T) { testEmptySnapshot(t, newBackend) })
	t.Run("Snapshot/DropsExpired", func(t *testing.T) { testSnapshotTTL(t, newBackend) })
	t.Run("Snapshot/Isolation", func(t *testing.T) { testIsolation(t, newBackend) })
	t.Run("Snapshot/Concurrent", func(t *testing.T) { testConcurrent(t, newBackend) })
	t.Run("Snapshot/Merge", func(t *testing.T) { testMerge(t, newBackend) })
	t.Run("Snapshot/Split", func(t *testing.T) { testSplit(t, newBackend) })
	t.Run("Snapshot/Timers", func(t *testing.T) { testTimers(t, newBackend) })
	t.Run("Snapshot/RestoreErrors", func(t *testing.T) { testRestoreErrors(t, newBackend) })
	t.Run("Snapshot/Unused", func(t *testing.T) { testUnusedState(t, newBackend) })
}

// env is a backend with the key context of a subtask and a fake processing-time clock.
type env struct {
	t    *testing.T
	b    state.Backend
	r    keygroup.Range
	now  int64
	keys *state.Keys[string]
}

func newEnv(t *testing.T, nb NewBackend, r keygroup.Range) *env {
	t.Helper()
	e := &env{t: t, b: nb(t, r), r: r}
	e.keys = &state.Keys[string]{First: r.Start, Count: r.Len(), Now: func() int64 { return e.now }}
	t.Cleanup(func() {
		if err := e.b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// at makes key k of key group g current.
func (e *env) at(k string, g int) { e.keys.Key, e.keys.Group = k, g }

// key returns the i-th test key and its key group: keys are spread over every group.
func key(i int) (string, int) { return fmt.Sprintf("k%d", i), i % MaxParallelism }

func (e *env) snapshotter() state.Snapshotter { return e.b.(state.Snapshotter) }

func catchPanic(f func()) (r any) {
	defer func() { r = recover() }()
	f()
	return nil
}

func testValue(t *testing.T, nb NewBackend) {
	e := newEnv(t, nb, keygroup.Range{Start: 8, End: 12})
	v := state.NewValue[string, int](e.b, e.keys, state.Descriptor{Name: "v"})
	e.at("a", 8)
	if got, ok := v.Value(); ok || got != 0 {
		t.Fatalf("empty value: got %d, %v", got, ok)
	}
	v.Update(1)
	e.at("b", 8)
	v.Update(2)
	e.at("a", 11)
	if _, ok := v.Value(); ok {
		t.Fatal(`key "a" of group 11 sees the value of key "a" of group 8`)
	}
	v.Update(3)
	e.at("", 9) // the empty key is a key
	v.Update(4)
	for _, c := range []struct {
		k    string
		g    int
		want int
	}{{"a", 8, 1}, {"b", 8, 2}, {"a", 11, 3}, {"", 9, 4}} {
		e.at(c.k, c.g)
		if got, ok := v.Value(); !ok || got != c.want {
			t.Errorf("%q@%d: got %d, %v; want %d", c.k, c.g, got, ok, c.want)
		}
	}
	e.at("a", 8)
	v.Update(10) // overwrite
	if got, _ := v.Value(); got != 10 {
		t.Fatalf("after overwrite: %d", got)
	}
	v.Clear()
	v.Clear() // clearing nothing is fine
	if _, ok := v.Value(); ok {
		t.Fatal("value after Clear")
	}
	e.at("a", 11)
	if got, _ := v.Value(); got != 3 {
		t.Fatalf("Clear of a@8 changed a@11: %d", got)
	}
}

func testNames(t *testing.T, nb NewBackend) {
	e := newEnv(t, nb, all)
	e.at("k", 0)
	x := state.NewValue[string, int](e.b, e.keys, state.Descriptor{Name: "x"})
	y := state.NewValue[string, int](e.b, e.keys, state.Descriptor{Name: "y"})
	x.Update(1)
	if _, ok := y.Value(); ok {
		t.Fatal("state y sees state x")
	}
	x2 := state.NewValue[string, int](e.b, e.keys, state.Descriptor{Name: "x"})
	if got, ok := x2.Value(); !ok || got != 1 {
		t.Fatalf("second handle on x: %d, %v", got, ok)
	}
	x2.Update(5)
	if got, _ := x.Value(); got != 5 {
		t.Fatalf("first handle after a write through the second: %d", got)
	}
}

func testKindMismatch(t *testing.T, nb NewBackend) {
	e := newEnv(t, nb, all)
	state.NewValue[string, int](e.b, e.keys, state.Descriptor{Name: "s"})
	if catchPanic(func() { state.NewList[string, int](e.b, e.keys, state.Descriptor{Name: "s"}) }) == nil {
		t.Fatal("a List on the name of a Value did not panic")
	}
	if catchPanic(func() { state.NewMap[string, string, int](e.b, e.keys, state.Descriptor{Name: "s"}) }) == nil {
		t.Fatal("a Map on the name of a Value did not panic")
	}
}

func testList(t *testing.T, nb NewBackend) {
	e := newEnv(t, nb, all)
	l := state.NewList[string, string](e.b, e.keys, state.Descriptor{Name: "l"})
	e.at("a", 0)
	if got := l.Get(); len(got) != 0 {
		t.Fatalf("empty list: %v", got)
	}
	l.Add("x")
	l.Add("")
	l.Add("y")
	e.at("b", 1)
	l.Add("z")
	e.at("a", 0)
	got := l.Get()
	if want := []string{"x", "", "y"}; !slices.Equal(got, want) {
		t.Fatalf("a: %q, want %q", got, want)
	}
	got[0] = "changed"
	if l.Get()[0] != "x" {
		t.Fatal("Get returned storage")
	}
	l.Update([]string{"p", "q"})
	l.Add("r")
	if got, want := l.Get(), []string{"p", "q", "r"}; !slices.Equal(got, want) {
		t.Fatalf("after Update and Add: %q", got)
	}
	l.Update(nil)
	if got := l.Get(); len(got) != 0 {
		t.Fatalf("after Update(nil): %q", got)
	}
	l.Add("after")
	if got := l.Get(); !slices.Equal(got, []string{"after"}) {
		t.Fatalf("Add after Update(nil): %q", got)
	}
	e.at("b", 1)
	if got := l.Get(); !slices.Equal(got, []string{"z"}) {
		t.Fatalf("b: %q", got)
	}
	l.Clear()
	if got := l.Get(); len(got) != 0 {
		t.Fatalf("after Clear: %q", got)
	}
	// Many elements.
	e.at("long", 2)
	var want []int
	li := state.NewList[string, int](e.b, e.keys, state.Descriptor{Name: "li"})
	for i := range 1000 {
		li.Add(i)
		want = append(want, i)
	}
	if got := li.Get(); !slices.Equal(got, want) {
		t.Fatalf("1000 elements: got %d elements", len(got))
	}
}

func testMap(t *testing.T, nb NewBackend) {
	e := newEnv(t, nb, all)
	m := state.NewMap[string, string, int](e.b, e.keys, state.Descriptor{Name: "m"})
	e.at("a", 0)
	if m.Len() != 0 || m.Contains("x") {
		t.Fatal("empty map is not empty")
	}
	m.Put("x", 1)
	m.Put("y", 2)
	m.Put("x", 3)
	m.Put("", 7)
	e.at("b", 1)
	m.Put("x", 100)
	e.at("a", 0)
	if got, ok := m.Get("x"); !ok || got != 3 {
		t.Fatalf("a.x: %d, %v", got, ok)
	}
	if got := maps.Collect(m.All()); !maps.Equal(got, map[string]int{"x": 3, "y": 2, "": 7}) {
		t.Fatalf("a: All = %v", got)
	}
	if m.Len() != 3 || !m.Contains("y") || m.Contains("z") {
		t.Fatalf("a: Len = %d", m.Len())
	}
	n := 0
	for range m.All() {
		n++
		break
	}
	if n != 1 {
		t.Fatalf("break after one entry: %d", n)
	}
	// Reading while iterating is allowed.
	for k, v := range m.All() {
		if got, ok := m.Get(k); !ok || got != v {
			t.Fatalf("Get(%q) during All: %d, %v; want %d", k, got, ok, v)
		}
	}
	m.Remove("x")
	m.Remove("nothing")
	if got := maps.Collect(m.All()); !maps.Equal(got, map[string]int{"y": 2, "": 7}) {
		t.Fatalf("after Remove: %v", got)
	}
	m.Clear()
	if m.Len() != 0 {
		t.Fatal("a not empty after Clear")
	}
	e.at("b", 1)
	if got, _ := m.Get("x"); got != 100 {
		t.Fatalf("b.x = %d", got)
	}
	if m.Len() != 1 {
		t.Fatalf("Clear of a changed b: Len = %d", m.Len())
	}
}

// testMapPrefixKeys checks that the entries of key "a" and of key "ab" (whose encodings are
// prefixes of each other) stay apart, and so do map keys that are prefixes.
func testMapPrefixKeys(t *testing.T, nb NewBackend) {
	e := newEnv(t, nb, all)
	m := state.NewMap[string, string, int](e.b, e.keys, state.Descriptor{Name: "m"})
	e.at("a", 3)
	m.Put("b", 1)
	m.Put("bc", 2)
	e.at("ab", 3)
	m.Put("c", 3)
	e.at("", 3)
	m.Put("ab", 4)
	e.at("a", 3)
	if got := maps.Collect(m.All()); !maps.Equal(got, map[string]int{"b": 1, "bc": 2}) {
		t.Fatalf("a: %v", got)
	}
	m.Clear()
	e.at("ab", 3)
	if got := maps.Collect(m.All()); !maps.Equal(got, map[string]int{"c": 3}) {
		t.Fatalf("ab after clearing a: %v", got)
	}
	e.at("", 3)
	if got := maps.Collect(m.All()); !maps.Equal(got, map[string]int{"ab": 4}) {
		t.Fatalf("empty key: %v", got)
	}
}

func testReducing(t *testing.T, nb NewBackend) {
	e := newEnv(t, nb, all)
	r := state.NewReducing[string, int](e.b, e.keys, state.Descriptor{Name: "r"}, func(a, v int) int { return a + v })
	e.at("a", 0)
	if _, ok := r.Get(); ok {
		t.Fatal("empty Reducing has a value")
	}
	for _, v := range []int{1, 2, 3} {
		r.Add(v)
	}
	e.at("b", 0)
	r.Add(10)
	e.at("a", 0)
	if got, _ := r.Get(); got != 6 {
		t.Fatalf("a = %d", got)
	}
	r.Clear()
	if _, ok := r.Get(); ok {
		t.Fatal("value after Clear")
	}
	e.at("b", 0)
	if got, _ := r.Get(); got != 10 {
		t.Fatalf("b = %d", got)
	}
}

var avg = state.AggregateFunction[int, [2]int, float64]{
	Create: func() [2]int { return [2]int{} },
	Add:    func(acc [2]int, v int) [2]int { return [2]int{acc[0] + v, acc[1] + 1} },
	Result: func(acc [2]int) float64 { return float64(acc[0]) / float64(acc[1]) },
}

func testAggregating(t *testing.T, nb NewBackend) {
	e := newEnv(t, nb, all)
	a := state.NewAggregating[string, int, [2]int, float64](e.b, e.keys, state.Descriptor{Name: "avg"}, avg)
	e.at("a", 0)
	if _, ok := a.Get(); ok {
		t.Fatal("empty Aggregating has a result")
	}
	a.Add(1)
	a.Add(2)
	e.at("b", 0)
	a.Add(7)
	e.at("a", 0)
	if got, _ := a.Get(); got != 1.5 {
		t.Fatalf("a = %v", got)
	}
	a.Clear()
	a.Add(4)
	if got, _ := a.Get(); got != 4 {
		t.Fatalf("a after Clear, Add(4) = %v", got)
	}
	e.at("b", 0)
	if got, _ := a.Get(); got != 7 {
		t.Fatalf("b = %v", got)
	}
}

type structKey struct {
	Region string
	ID     int32
	flag   bool
}

type structValue struct {
	Name   string
	Tags   []string
	Counts map[string]int
	When   time.Time
	Next   *structValue
	raw    [3]byte
}

func testStructs(t *testing.T, nb NewBackend) {
	e := newEnv(t, nb, all)
	keys := &state.Keys[structKey]{First: 0, Count: MaxParallelism, Now: func() int64 { return e.now }}
	v := state.NewValue[structKey, structValue](e.b, keys, state.Descriptor{Name: "sv"})
	m := state.NewMap[structKey, [2]int64, structValue](e.b, keys, state.Descriptor{Name: "sm"})
	when := time.Date(2025, 3, 1, 12, 0, 0, 5, time.UTC)
	want := structValue{Name: "n", Tags: []string{"a", ""}, Counts: map[string]int{"x": 1}, When: when,
		Next: &structValue{Name: "inner", raw: [3]byte{1, 2, 3}}, raw: [3]byte{9, 8, 7}}
	keys.Key, keys.Group = structKey{"eu", 1, true}, 5
	v.Update(want)
	m.Put([2]int64{1, -1}, want)
	keys.Key = structKey{"eu", 1, false} // another key: the unexported field counts
	if _, ok := v.Value(); ok {
		t.Fatal("keys differing in an unexported field share state")
	}
	keys.Key = structKey{"eu", 1, true}
	got, ok := v.Value()
	if !ok || !equalStruct(got, want) {
		t.Fatalf("got %+v, %v; want %+v", got, ok, want)
	}
	got, ok = m.Get([2]int64{1, -1})
	if !ok || !equalStruct(got, want) {
		t.Fatalf("map: got %+v, %v", got, ok)
	}
}

func equalStruct(a, b structValue) bool {
	if a.Name != b.Name || !slices.Equal(a.Tags, b.Tags) || !maps.Equal(a.Counts, b.Counts) ||
		!a.When.Equal(b.When) || a.raw != b.raw || (a.Next == nil) != (b.Next == nil) {
		return false
	}
	return a.Next == nil || equalStruct(*a.Next, *b.Next)
}

// fixedInt is a user codec: 8 bytes big-endian, plus a marker byte to tell it was used.
var fixedInt = state.CodecOf(
	func(dst []byte, v int) []byte {
		return append(dst, 'F', byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	},
	func(b []byte) (int, error) {
		if len(b) != 9 || b[0] != 'F' {
			return 0, errors.New("not a fixedInt")
		}
		v := 0
		for _, c := range b[1:] {
			v = v<<8 | int(c)
		}
		return v, nil
	})

func testDescriptorCodec(t *testing.T, nb NewBackend) {
	e := newEnv(t, nb, all)
	v := state.NewValue[string, int](e.b, e.keys, state.Descriptor{Name: "v", Codec: fixedInt})
	m := state.NewMap[string, int, int](e.b, e.keys, state.Descriptor{Name: "m", Codec: fixedInt, UserKeyCodec: fixedInt})
	e.at("a", 1)
	v.Update(-5)
	m.Put(-1, 1<<40)
	if got, _ := v.Value(); got != -5 {
		t.Fatalf("v = %d", got)
	}
	if got, _ := m.Get(-1); got != 1<<40 {
		t.Fatalf("m[-1] = %d", got)
	}
	if catchPanic(func() {
		state.NewValue[string, string](e.b, e.keys, state.Descriptor{Name: "w", Codec: fixedInt})
	}) == nil {
		t.Fatal("a Codec[int] for string values did not panic")
	}
	if _, ok := e.b.(state.Snapshotter); !ok {
		return
	}
	// The snapshot holds the user codec's bytes.
	blobs := snapshot(t, e.b)
	found := false
	_ = blob.Sections(blobs[1], func(s blob.Section) error {
		if s.Name == "v" {
			return blob.Records(s.Body, func(_, _, p []byte) error {
				_, raw, _ := blob.ParseValue(p)
				found = len(raw) == 9 && raw[0] == 'F'
				return nil
			})
		}
		return nil
	})
	if !found {
		t.Fatal("the snapshot of v does not hold the Descriptor codec's encoding")
	}
}

const ttl10s = 10 * time.Second

func testValueTTL(t *testing.T, nb NewBackend) {
	for _, onRead := range []bool{false, true} {
		t.Run(fmt.Sprintf("UpdateOnRead=%v", onRead), func(t *testing.T) {
			e := newEnv(t, nb, all)
			e.now = 1_000_000
			start := e.now
			v := state.NewValue[string, string](e.b, e.keys, state.Descriptor{Name: "v", TTL: state.TTL{Duration: ttl10s, UpdateOnRead: onRead}})
			e.at("a", 0)
			v.Update("x")
			e.at("b", 0)
			v.Update("y")
			e.now = start + 5000
			e.at("a", 0)
			if got, ok := v.Value(); !ok || got != "x" {
				t.Fatalf("at 5s: %q, %v", got, ok)
			}
			e.at("b", 0)
			e.now = start + 10_000
			if _, ok := v.Value(); ok {
				t.Fatal("b visible at its TTL")
			}
			e.now = start + 12_000
			e.at("a", 0)
			if _, ok := v.Value(); ok != onRead {
				t.Fatalf("a at 12s after a read at 5s: visible = %v", ok)
			}
			e.now = start + 100_000
			v.Update("z")
			e.now += 9999
			if got, ok := v.Value(); !ok || got != "z" {
				t.Fatalf("rewritten: %q, %v", got, ok)
			}
		})
	}
}

func testListTTL(t *testing.T, nb NewBackend) {
	for _, onRead := range []bool{false, true} {
		t.Run(fmt.Sprintf("UpdateOnRead=%v", onRead), func(t *testing.T) {
			e := newEnv(t, nb, all)
			l := state.NewList[string, int](e.b, e.keys, state.Descriptor{Name: "l", TTL: state.TTL{Duration: ttl10s, UpdateOnRead: onRead}})
			e.at("a", 0)
			l.Add(1) // expires at 10s
			e.now = 4000
			l.Add(2) // at 14s
			e.now = 8000
			l.Add(3) // at 18s
			if !onRead {
				for _, c := range []struct {
					at   int64
					want []int
				}{{9999, []int{1, 2, 3}}, {10_000, []int{2, 3}}, {14_000, []int{3}}, {18_000, nil}} {
					e.now = c.at
					if got := l.Get(); !slices.Equal(got, c.want) {
						t.Fatalf("at %d: %v, want %v", c.at, got, c.want)
					}
				}
				l.Add(9) // a list whose elements all expired starts again
				if got := l.Get(); !slices.Equal(got, []int{9}) {
					t.Fatalf("Add after expiry: %v", got)
				}
				return
			}
			e.now = 9000 // restarts all: expire at 19s
			if got := l.Get(); !slices.Equal(got, []int{1, 2, 3}) {
				t.Fatalf("at 9s: %v", got)
			}
			e.now = 18_999
			if got := l.Get(); !slices.Equal(got, []int{1, 2, 3}) {
				t.Fatalf("at 18.999s: %v", got)
			}
			e.now += 10_000
			if got := l.Get(); len(got) != 0 {
				t.Fatalf("10s after the last read: %v", got)
			}
		})
	}
}

func testMapTTL(t *testing.T, nb NewBackend) {
	e := newEnv(t, nb, all)
	m := state.NewMap[string, string, int](e.b, e.keys, state.Descriptor{Name: "m", TTL: state.TTL{Duration: ttl10s}})
	r := state.NewMap[string, string, int](e.b, e.keys, state.Descriptor{Name: "r", TTL: state.TTL{Duration: ttl10s, UpdateOnRead: true}})
	e.at("a", 0)
	m.Put("x", 1) // 10s
	r.Put("x", 1)
	e.now = 5000
	m.Put("y", 2) // 15s
	e.now = 9000
	if _, ok := r.Get("x"); !ok { // restarts: 19s
		t.Fatal("r.x expired early")
	}
	e.now = 10_000
	if _, ok := m.Get("x"); ok {
		t.Fatal("x visible at its TTL")
	}
	if got := maps.Collect(m.All()); !maps.Equal(got, map[string]int{"y": 2}) {
		t.Fatalf("at 10s: %v", got)
	}
	if m.Len() != 1 || m.Contains("x") || !m.Contains("y") {
		t.Fatalf("at 10s: Len = %d", m.Len())
	}
	e.now = 15_000
	if m.Len() != 0 {
		t.Fatalf("at 15s: Len = %d", m.Len())
	}
	e.now = 18_999
	if _, ok := r.Get("x"); !ok {
		t.Fatal("r.x expired although read within its TTL")
	}
	e.now += 10_000
	if r.Contains("x") {
		t.Fatal("r.x visible 10s after its last read")
	}
}

func testFoldTTL(t *testing.T, nb NewBackend) {
	e := newEnv(t, nb, all)
	d := func(name string) state.Descriptor {
		return state.Descriptor{Name: name, TTL: state.TTL{Duration: ttl10s}}
	}
	r := state.NewReducing[string, int](e.b, e.keys, d("r"), func(a, v int) int { return a + v })
	a := state.NewAggregating[string, int, [2]int, float64](e.b, e.keys, d("a"), avg)
	e.at("k", 0)
	r.Add(1)
	a.Add(1)
	e.now = 9000
	r.Add(2)
	a.Add(3)
	e.now = 18_999
	if got, _ := r.Get(); got != 3 {
		t.Fatalf("reducing at 18.999s: %d", got)
	}
	if got, _ := a.Get(); got != 2 {
		t.Fatalf("aggregating at 18.999s: %v", got)
	}
	e.now = 19_000
	if _, ok := r.Get(); ok {
		t.Fatal("reducing visible at its TTL")
	}
	r.Add(5)
	a.Add(5)
	if got, _ := r.Get(); got != 5 {
		t.Fatalf("reducing after expiry: %d", got)
	}
	if got, _ := a.Get(); got != 5 {
		t.Fatalf("aggregating after expiry: %v", got)
	}
}

// collector is a GroupWriter keeping blobs, checking the order of key groups.
type collector struct {
	t     *testing.T
	blobs map[int][]byte
	last  int
}

func (c *collector) WriteGroup(kg int, b []byte) error {
	if len(c.blobs) > 0 && kg <= c.last {
		c.t.Errorf("WriteGroup(%d) after WriteGroup(%d)", kg, c.last)
	}
	if len(b) == 0 {
		c.t.Errorf("WriteGroup(%d) with an empty blob", kg)
	}
	c.last = kg
	c.blobs[kg] = slices.Clone(b)
	return nil
}

// snapshot takes a snapshot of b and serialises it with WriteGroups.
func snapshot(t *testing.T, b state.Backend, extra ...state.SnapshotPart) map[int][]byte {
	t.Helper()
	s, err := b.(state.Snapshotter).Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	for _, p := range extra {
		s.Add(p)
	}
	return write(t, s)
}

func write(t *testing.T, s *state.Snapshot) map[int][]byte {
	t.Helper()
	c := &collector{t: t, blobs: map[int][]byte{}}
	if err := s.WriteGroups(c); err != nil {
		t.Fatalf("WriteGroups: %v", err)
	}
	return c.blobs
}

// restore restores the blobs of the key groups of r into b.
func restore(t *testing.T, b state.Backend, r keygroup.Range, blobs map[int][]byte) {
	t.Helper()
	for kg := r.Start; kg < r.End; kg++ {
		if blob, ok := blobs[kg]; ok {
			if err := b.(state.Snapshotter).Restore(kg, blob); err != nil {
				t.Fatalf("Restore(%d): %v", kg, err)
			}
		}
	}
}

// dataset is state of every kind for n keys, with expected contents derived from the key's
// number.
type dataset struct {
	e   *env
	v   state.Value[int]
	l   state.List[string]
	m   state.Map[string, int]
	r   state.Reducing[int]
	a   state.Aggregating[int, float64]
	s   state.Value[structValue]
	ttl state.Value[int] // TTL 10s
}

func handles(e *env) *dataset {
	return &dataset{
		e: e,
		v: state.NewValue[string, int](e.b, e.keys, state.Descriptor{Name: "v"}),
		l: state.NewList[string, string](e.b, e.keys, state.Descriptor{Name: "l"}),
		m: state.NewMap[string, string, int](e.b, e.keys, state.Descriptor{Name: "m"}),
		r: state.NewReducing[string, int](e.b, e.keys, state.Descriptor{Name: "r"}, func(a, v int) int { return a + v }),
		a: state.NewAggregating[string, int, [2]int, float64](e.b, e.keys, state.Descriptor{Name: "a"}, avg),
		s: state.NewValue[string, structValue](e.b, e.keys, state.Descriptor{Name: "s"}),
		ttl: state.NewValue[string, int](e.b, e.keys, state.Descriptor{Name: "ttl",
			TTL: state.TTL{Duration: ttl10s}}),
	}
}

func structOf(i int) structValue {
	return structValue{Name: fmt.Sprint(i), Tags: []string{"t"}, Counts: map[string]int{"c": i}, raw: [3]byte{byte(i)}}
}

// fill writes the state of key i, for every i < n whose key group is in the env's range.
func (d *dataset) fill(n int) {
	for i := range n {
		k, g := key(i)
		if !d.e.r.Contains(g) {
			continue
		}
		d.e.at(k, g)
		d.v.Update(i)
		d.l.Add(fmt.Sprint(i))
		d.l.Add("x")
		d.m.Put("p", i)
		d.m.Put("q", -i)
		d.r.Add(i)
		d.r.Add(1)
		d.a.Add(i)
		d.a.Add(i + 2)
		d.s.Update(structOf(i))
		d.ttl.Update(i)
	}
}

// check verifies the state of every key i < n in the env's range, and that keys outside it or
// beyond n have none. Checking a value does not change it (no TTL refresh on read).
func (d *dataset) check(t *testing.T, n int) {
	t.Helper()
	for i := range n + 4 {
		k, g := key(i)
		if !d.e.r.Contains(g) {
			continue
		}
		d.e.at(k, g)
		want := i < n
		if got, ok := d.v.Value(); ok != want || ok && got != i {
			t.Fatalf("key %s: v = %d, %v", k, got, ok)
		}
		if got := d.l.Get(); want && !slices.Equal(got, []string{fmt.Sprint(i), "x"}) || !want && len(got) > 0 {
			t.Fatalf("key %s: l = %q", k, got)
		}
		if got := maps.Collect(d.m.All()); want && !maps.Equal(got, map[string]int{"p": i, "q": -i}) || !want && len(got) > 0 {
			t.Fatalf("key %s: m = %v", k, got)
		}
		if got, ok := d.r.Get(); ok != want || ok && got != i+1 {
			t.Fatalf("key %s: r = %d, %v", k, got, ok)
		}
		if got, ok := d.a.Get(); ok != want || ok && got != float64(i+1) {
			t.Fatalf("key %s: a = %v, %v", k, got, ok)
		}
		if got, ok := d.s.Value(); ok != want || ok && !equalStruct(got, structOf(i)) {
			t.Fatalf("key %s: s = %+v, %v", k, got, ok)
		}
	}
}

const nkeys = 200

func testRoundTrip(t *testing.T, nb NewBackend, before bool) {
	src := newEnv(t, nb, all)
	d := handles(src)
	d.fill(nkeys)
	blobs := snapshot(t, src.b)
	if len(blobs) != MaxParallelism {
		t.Fatalf("snapshot has %d key groups, want %d", len(blobs), MaxParallelism)
	}
	dst := newEnv(t, nb, all)
	var dd *dataset
	if before {
		restore(t, dst.b, all, blobs) // the operator makes its handles in Open, after
		dd = handles(dst)
	} else {
		dd = handles(dst)
		restore(t, dst.b, all, blobs)
	}
	dd.check(t, nkeys)
	// The restored state is live state: it changes and snapshots again.
	dst.at("k0", 0)
	dd.l.Add("more")
	if got := dd.l.Get(); !slices.Equal(got, []string{"0", "x", "more"}) {
		t.Fatalf("restored list after Add: %q", got)
	}
	again := snapshot(t, dst.b)
	third := newEnv(t, nb, all)
	restore(t, third.b, all, again)
	td := handles(third)
	third.at("k0", 0)
	if got := td.l.Get(); !slices.Equal(got, []string{"0", "x", "more"}) {
		t.Fatalf("second-generation restore: %q", got)
	}
}

func testEmptySnapshot(t *testing.T, nb NewBackend) {
	e := newEnv(t, nb, all)
	if blobs := snapshot(t, e.b); len(blobs) != 0 {
		t.Fatalf("snapshot of an empty backend: %d key groups", len(blobs))
	}
	v := state.NewValue[string, int](e.b, e.keys, state.Descriptor{Name: "v"})
	e.at("a", 3)
	v.Update(1)
	v.Clear()
	if blobs := snapshot(t, e.b); len(blobs) != 0 {
		t.Fatalf("snapshot of cleared state: %d key groups", len(blobs))
	}
	s, err := e.snapshotter().Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if b, err := s.Encode(3); err != nil || len(b) != 0 {
		t.Fatalf("Encode of an empty key group: %x, %v", b, err)
	}
	s.Release()
	s.Release() // idempotent
}

// records counts the records of state name in blobs.
func records(t *testing.T, blobs map[int][]byte, name string) int {
	t.Helper()
	n := 0
	for kg, b := range blobs {
		err := blob.Sections(b, func(s blob.Section) error {
			if s.Tag == blob.TagState && s.Name == name {
				return blob.Records(s.Body, func(_, _, _ []byte) error { n++; return nil })
			}
			return nil
		})
		if err != nil {
			t.Fatalf("key group %d: %v", kg, err)
		}
	}
	return n
}

func testSnapshotTTL(t *testing.T, nb NewBackend) {
	e := newEnv(t, nb, all)
	v := state.NewValue[string, int](e.b, e.keys, state.Descriptor{Name: "v", TTL: state.TTL{Duration: ttl10s}})
	l := state.NewList[string, int](e.b, e.keys, state.Descriptor{Name: "l", TTL: state.TTL{Duration: ttl10s}})
	m := state.NewMap[string, string, int](e.b, e.keys, state.Descriptor{Name: "m", TTL: state.TTL{Duration: ttl10s}})
	for i := range 20 {
		if i == 10 {
			e.now = 5000
		}
		k, g := key(i)
		e.at(k, g)
		v.Update(i)
		l.Add(i)
		m.Put("x", i)
	}
	e.at("mixed", 1)
	e.now = 0
	l.Add(1)      // expires at 10s
	m.Put("a", 1) // expires at 10s
	e.now = 5000
	l.Add(2) // 15s
	m.Put("b", 2)

	e.now = 10_000 // keys 0..9 and the first elements of "mixed" expired
	blobs := snapshot(t, e.b)
	if got := records(t, blobs, "v"); got != 10 {
		t.Errorf("snapshot holds %d records of v, want the 10 live ones", got)
	}
	if got := records(t, blobs, "l"); got != 11 {
		t.Errorf("snapshot holds %d records of l, want 11", got)
	}
	dst := newEnv(t, nb, all)
	dst.now = 10_000
	restore(t, dst.b, all, blobs)
	dl := state.NewList[string, int](dst.b, dst.keys, state.Descriptor{Name: "l", TTL: state.TTL{Duration: ttl10s}})
	dm := state.NewMap[string, string, int](dst.b, dst.keys, state.Descriptor{Name: "m", TTL: state.TTL{Duration: ttl10s}})
	dv := state.NewValue[string, int](dst.b, dst.keys, state.Descriptor{Name: "v", TTL: state.TTL{Duration: ttl10s}})
	dst.at("mixed", 1)
	if got := dl.Get(); !slices.Equal(got, []int{2}) {
		t.Fatalf("mixed list after restore: %v", got)
	}
	if got := maps.Collect(dm.All()); !maps.Equal(got, map[string]int{"b": 2}) {
		t.Fatalf("mixed map after restore: %v", got)
	}
	// Expiry times survive the restore: live entries expire when they would have.
	k, g := key(15)
	dst.at(k, g)
	dst.now = 14_999
	if got, ok := dv.Value(); !ok || got != 15 {
		t.Fatalf("key 15 at 14.999s: %d, %v", got, ok)
	}
	dst.now = 15_000
	if _, ok := dv.Value(); ok {
		t.Fatal("key 15 visible at its TTL after a restore")
	}
}

// mutate changes every kind of state of the keys i < n in the env's range.
func (d *dataset) mutate(n int) {
	for i := range n {
		k, g := key(i)
		if !d.e.r.Contains(g) {
			continue
		}
		d.e.at(k, g)
		switch i % 3 {
		case 0:
			d.v.Update(-1)
			d.l.Add("new")
			d.m.Put("p", -1)
			d.m.Put("new", 1)
			d.r.Add(100)
			d.a.Add(100)
			d.s.Update(structValue{Name: "new"})
		case 1:
			d.v.Clear()
			d.l.Update([]string{"replaced"})
			d.m.Remove("p")
			d.r.Clear()
			d.a.Clear()
			d.s.Clear()
		default:
			d.l.Clear()
			d.m.Clear()
		}
	}
	d.e.at("brand-new", 0)
	d.v.Update(1)
}

func testIsolation(t *testing.T, nb NewBackend) {
	src := newEnv(t, nb, all)
	d := handles(src)
	d.fill(nkeys)
	s1, err := src.snapshotter().Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	d.mutate(nkeys)
	s2, err := src.snapshotter().Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	d.fill(nkeys) // back to the first contents, with more changes under s2
	d.mutate(nkeys / 2)
	// Serialise in the reverse order of taking.
	blobs2 := write(t, s2)
	blobs1 := write(t, s1)

	dst := newEnv(t, nb, all)
	restore(t, dst.b, all, blobs1)
	handles(dst).check(t, nkeys)

	// s2 saw the mutation: compare with a backend that went through the same steps.
	ref := newEnv(t, nb, all)
	rd := handles(ref)
	rd.fill(nkeys)
	rd.mutate(nkeys)
	want := snapshot(t, ref.b)
	got2 := newEnv(t, nb, all)
	restore(t, got2.b, all, blobs2)
	g2 := handles(got2)
	restoredRef := newEnv(t, nb, all)
	restore(t, restoredRef.b, all, want)
	r2 := handles(restoredRef)
	for i := range nkeys + 1 {
		k, g := key(i)
		if i == nkeys {
			k, g = "brand-new", 0
		}
		got2.at(k, g)
		restoredRef.at(k, g)
		gv, gok := g2.v.Value()
		rv, rok := r2.v.Value()
		if gv != rv || gok != rok || !slices.Equal(g2.l.Get(), r2.l.Get()) ||
			!maps.Equal(maps.Collect(g2.m.All()), maps.Collect(r2.m.All())) {
			t.Fatalf("key %s: the second snapshot differs from the state when it was taken", k)
		}
	}
}

func testConcurrent(t *testing.T, nb NewBackend) {
	src := newEnv(t, nb, all)
	d := handles(src)
	d.fill(nkeys)
	s, err := src.snapshotter().Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var blobs map[int][]byte
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := &collector{t: t, blobs: map[int][]byte{}}
		if err := s.WriteGroups(c); err != nil {
			t.Errorf("WriteGroups: %v", err)
		}
		blobs = c.blobs
	}()
	for range 5 {
		d.mutate(nkeys)
		d.fill(nkeys)
	}
	d.mutate(nkeys)
	wg.Wait()
	dst := newEnv(t, nb, all)
	restore(t, dst.b, all, blobs)
	handles(dst).check(t, nkeys)
}

// rescale snapshots the subtasks (ranges from) filled with the dataset and restores the
// key groups of each range of to into fresh subtasks, then checks them.
func rescale(t *testing.T, nb NewBackend, from, to []keygroup.Range) {
	blobs := map[int][]byte{}
	for _, r := range from {
		e := newEnv(t, nb, r)
		handles(e).fill(nkeys)
		for kg, b := range snapshot(t, e.b) {
			if !r.Contains(kg) {
				t.Fatalf("subtask %v wrote key group %d", r, kg)
			}
			blobs[kg] = b
		}
	}
	for _, r := range to {
		e := newEnv(t, nb, r)
		restore(t, e.b, r, blobs)
		handles(e).check(t, nkeys)
	}
}

func testMerge(t *testing.T, nb NewBackend) {
	rescale(t, nb, []keygroup.Range{keygroup.RangeOf(0, MaxParallelism, 2), keygroup.RangeOf(1, MaxParallelism, 2)}, []keygroup.Range{all})
}

func testSplit(t *testing.T, nb NewBackend) {
	rescale(t, nb, []keygroup.Range{all}, []keygroup.Range{keygroup.RangeOf(0, MaxParallelism, 2), keygroup.RangeOf(1, MaxParallelism, 2)})
	// And an uneven one: 2 subtasks to 3.
	from := []keygroup.Range{keygroup.RangeOf(0, MaxParallelism, 2), keygroup.RangeOf(1, MaxParallelism, 2)}
	var to []keygroup.Range
	for i := range 3 {
		to = append(to, keygroup.RangeOf(i, MaxParallelism, 3))
	}
	rescale(t, nb, from, to)
}

type timer struct {
	key    string
	at     int64
	domain uint8
}

func testTimers(t *testing.T, nb NewBackend) {
	src := newEnv(t, nb, all)
	d := handles(src)
	d.fill(20)
	codec := state.KeyCodecOf(src.keys)
	var ts state.TimerSnapshot
	want := map[int][]timer{}
	for i := range 40 {
		k, g := key(i)
		tm := timer{k, int64(i * 1000), uint8(i % 2)}
		ts.Add(g, codec.Append(nil, k), tm.at, tm.domain)
		want[g] = append(want[g], tm)
	}
	blobs := snapshot(t, src.b, &ts)
	// Restore at another parallelism: each half reads its groups' timers.
	for _, r := range []keygroup.Range{keygroup.RangeOf(0, MaxParallelism, 2), keygroup.RangeOf(1, MaxParallelism, 2)} {
		dst := newEnv(t, nb, r)
		restore(t, dst.b, r, blobs) // state restores skip the timers
		handles(dst).check(t, 20)
		for kg := r.Start; kg < r.End; kg++ {
			var got []timer
			err := state.RestoreTimers(blobs[kg], func(key []byte, at int64, domain uint8) error {
				k, err := codec.Decode(key)
				got = append(got, timer{k, at, domain})
				return err
			})
			if err != nil {
				t.Fatalf("RestoreTimers(%d): %v", kg, err)
			}
			if !slices.Equal(got, want[kg]) {
				t.Fatalf("key group %d: timers %v, want %v", kg, got, want[kg])
			}
		}
	}
}

func testRestoreErrors(t *testing.T, nb NewBackend) {
	r := keygroup.Range{Start: 4, End: 8}
	e := newEnv(t, nb, r)
	handles(e)
	s := e.snapshotter()
	for _, c := range []struct {
		name string
		blob []byte
	}{
		{"unknown tag", []byte{0x7f}},
		{"cut name", []byte{blob.TagState, 5, 'a'}},
		{"cut length", []byte{blob.TagState, 1, 'v', byte(blob.Value), 0, 0}},
		{"length past the end", []byte{blob.TagState, 1, 'v', byte(blob.Value), 0, 0, 0, 9, 1}},
		{"bad kind", []byte{blob.TagState, 1, 'v', 9, 0, 0, 0, 0}},
		{"bad record", []byte{blob.TagState, 1, 'v', byte(blob.Value), 0, 0, 0, 2, 5, 1}},
	} {
		if err := s.Restore(5, c.blob); !errors.Is(err, blob.ErrCorrupt) {
			t.Errorf("%s: Restore = %v, want ErrCorrupt", c.name, err)
		}
	}
	// A key group outside the range.
	other := newEnv(t, nb, all)
	handles(other).fill(20)
	blobs := snapshot(t, other.b)
	if err := s.Restore(0, blobs[0]); err == nil {
		t.Error("restoring key group 0 into a subtask of [4,8) succeeded")
	}
	// A state restored with another kind than its handle's.
	w := blob.Writer{}
	w.BeginState("v", blob.List) // v is a Value state
	w.Record([]byte("k"), blob.AppendItem(nil, 0, []byte{2}))
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	if err := s.Restore(5, w.Buf); err == nil {
		t.Error("restoring list state into a value state succeeded")
	}
}

// testUnusedState checks that restored state of a state the operator no longer makes a handle
// for survives into the next snapshot.
func testUnusedState(t *testing.T, nb NewBackend) {
	src := newEnv(t, nb, all)
	handles(src).fill(20)
	blobs := snapshot(t, src.b)
	mid := newEnv(t, nb, all)
	restore(t, mid.b, all, blobs)
	v := state.NewValue[string, int](mid.b, mid.keys, state.Descriptor{Name: "v"}) // only v
	mid.at("k1", 1)
	v.Update(42)
	again := snapshot(t, mid.b)
	dst := newEnv(t, nb, all)
	restore(t, dst.b, all, again)
	d := handles(dst)
	dst.at("k1", 1)
	if got, _ := d.v.Value(); got != 42 {
		t.Fatalf("v = %d, want 42", got)
	}
	dst.at("k2", 2)
	if got := d.l.Get(); !slices.Equal(got, []string{"2", "x"}) {
		t.Fatalf("state l, unused in between, = %q", got)
	}
}
