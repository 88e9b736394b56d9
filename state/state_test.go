package state_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/runnel-io/runnel/state"
)

// keysAt returns the key context of a subtask owning key groups [first, first+count), with
// processing time read from *now.
func keysAt(first, count int, now *int64) *state.Keys[string] {
	return &state.Keys[string]{First: first, Count: count, Now: func() int64 { return *now }}
}

// on makes key k of key group g current.
func on(keys *state.Keys[string], k string, g int) {
	keys.Key, keys.Group = k, g
}

func TestValuePerKeyAndGroup(t *testing.T) {
	var now int64
	b := state.NewMemory()
	keys := keysAt(8, 4, &now) // owns key groups 8..11
	v := state.NewValue[string, int](b, keys, state.Descriptor{Name: "v"})

	on(keys, "a", 8)
	if got, ok := v.Value(); ok || got != 0 {
		t.Fatalf("empty value: got %d, %v; want 0, false", got, ok)
	}
	v.Update(1)
	on(keys, "b", 8)
	v.Update(2)
	// The same key in another key group is another entry: state is stored per key group.
	on(keys, "a", 11)
	if _, ok := v.Value(); ok {
		t.Fatal(`key "a" of group 11 sees the value of key "a" of group 8`)
	}
	v.Update(3)

	for _, c := range []struct {
		key   string
		group int
		want  int
	}{{"a", 8, 1}, {"b", 8, 2}, {"a", 11, 3}} {
		on(keys, c.key, c.group)
		if got, ok := v.Value(); !ok || got != c.want {
			t.Errorf("%s@%d: got %d, %v; want %d, true", c.key, c.group, got, ok, c.want)
		}
	}
	if got := b.Size()["v"]; got != 3 {
		t.Errorf("Size: %d entries, want 3", got)
	}

	on(keys, "a", 8)
	v.Clear()
	if _, ok := v.Value(); ok {
		t.Error("value still there after Clear")
	}
	on(keys, "a", 11)
	if got, _ := v.Value(); got != 3 {
		t.Errorf("Clear of a@8 changed a@11: got %d", got)
	}
	if got := b.Size()["v"]; got != 2 {
		t.Errorf("Size after Clear: %d entries, want 2", got)
	}
}

func TestStatesWithDifferentNamesAreSeparate(t *testing.T) {
	var now int64
	b := state.NewMemory()
	keys := keysAt(0, 1, &now)
	on(keys, "k", 0)
	x := state.NewValue[string, int](b, keys, state.Descriptor{Name: "x"})
	y := state.NewValue[string, int](b, keys, state.Descriptor{Name: "y"})
	x.Update(1)
	if _, ok := y.Value(); ok {
		t.Fatal("state y sees state x")
	}
	// Two handles on the same name share storage.
	x2 := state.NewValue[string, int](b, keys, state.Descriptor{Name: "x"})
	if got, ok := x2.Value(); !ok || got != 1 {
		t.Fatalf("second handle on x: got %d, %v; want 1, true", got, ok)
	}
}

func TestSameNameDifferentTypePanics(t *testing.T) {
	var now int64
	b := state.NewMemory()
	keys := keysAt(0, 1, &now)
	state.NewValue[string, int](b, keys, state.Descriptor{Name: "s"})
	defer func() {
		if recover() == nil {
			t.Fatal("registering state s with another type did not panic")
		}
	}()
	state.NewValue[string, string](b, keys, state.Descriptor{Name: "s"})
}

func TestTTLWithoutClockPanics(t *testing.T) {
	keys := &state.Keys[string]{Count: 1}
	defer func() {
		if recover() == nil {
			t.Fatal("a TTL state without Keys.Now did not panic")
		}
	}()
	state.NewValue[string, int](state.NewMemory(), keys, state.Descriptor{Name: "s", TTL: state.TTL{Duration: 1}})
}

func TestList(t *testing.T) {
	var now int64
	b := state.NewMemory()
	keys := keysAt(0, 2, &now)
	l := state.NewList[string, string](b, keys, state.Descriptor{Name: "l"})

	on(keys, "a", 0)
	if got := l.Get(); len(got) != 0 {
		t.Fatalf("empty list: got %v", got)
	}
	l.Add("x")
	l.Add("y")
	on(keys, "b", 1)
	l.Add("z")

	on(keys, "a", 0)
	got := l.Get()
	if want := []string{"x", "y"}; !slices.Equal(got, want) {
		t.Fatalf("a: got %v, want %v", got, want)
	}
	// The returned slice is the caller's: changing it changes nothing stored.
	got[0] = "changed"
	if got := l.Get(); got[0] != "x" {
		t.Fatalf("Get returned storage: after changing the result, Get = %v", got)
	}
	l.Update([]string{"p", "q", "r"})
	if got, want := l.Get(), []string{"p", "q", "r"}; !slices.Equal(got, want) {
		t.Fatalf("after Update: got %v, want %v", got, want)
	}
	l.Update(nil)
	if got := l.Get(); len(got) != 0 {
		t.Fatalf("after Update(nil): got %v", got)
	}
	on(keys, "b", 1)
	if got, want := l.Get(), []string{"z"}; !slices.Equal(got, want) {
		t.Fatalf("b: got %v, want %v", got, want)
	}
	l.Clear()
	if got := l.Get(); len(got) != 0 {
		t.Fatalf("after Clear: got %v", got)
	}
	if got := b.Size()["l"]; got != 0 {
		t.Fatalf("Size after clearing every key: %d", got)
	}
}

func TestMap(t *testing.T) {
	var now int64
	b := state.NewMemory()
	keys := keysAt(0, 2, &now)
	m := state.NewMap[string, string, int](b, keys, state.Descriptor{Name: "m"})

	on(keys, "a", 0)
	if m.Len() != 0 || m.Contains("x") {
		t.Fatal("empty map is not empty")
	}
	m.Put("x", 1)
	m.Put("y", 2)
	m.Put("x", 3)
	on(keys, "b", 1)
	m.Put("x", 100)

	on(keys, "a", 0)
	if got, ok := m.Get("x"); !ok || got != 3 {
		t.Fatalf("a.x: got %d, %v; want 3, true", got, ok)
	}
	if got := maps.Collect(m.All()); !maps.Equal(got, map[string]int{"x": 3, "y": 2}) {
		t.Fatalf("a: All = %v", got)
	}
	if m.Len() != 2 || !m.Contains("y") || m.Contains("z") {
		t.Fatalf("a: Len = %d, Contains(y) = %v, Contains(z) = %v", m.Len(), m.Contains("y"), m.Contains("z"))
	}
	// Stopping an iteration early is allowed.
	n := 0
	for range m.All() {
		n++
		break
	}
	if n != 1 {
		t.Fatalf("break after the first entry: iterated %d", n)
	}
	m.Remove("x")
	m.Remove("nothing")
	if got := maps.Collect(m.All()); !maps.Equal(got, map[string]int{"y": 2}) {
		t.Fatalf("a after Remove: All = %v", got)
	}
	m.Remove("y")
	if got := b.Size()["m"]; got != 1 {
		t.Fatalf("removing the last entry of a should drop the key: Size = %d, want 1", got)
	}

	on(keys, "b", 1)
	if got, _ := m.Get("x"); got != 100 {
		t.Fatalf("b.x: got %d, want 100", got)
	}
	m.Clear()
	if m.Len() != 0 {
		t.Fatal("b not empty after Clear")
	}
}

func TestReducing(t *testing.T) {
	var now int64
	b := state.NewMemory()
	keys := keysAt(0, 1, &now)
	r := state.NewReducing[string, int](b, keys, state.Descriptor{Name: "r"}, func(acc, v int) int { return acc + v })
	on(keys, "a", 0)
	if _, ok := r.Get(); ok {
		t.Fatal("empty Reducing has a value")
	}
	for _, v := range []int{1, 2, 3} {
		r.Add(v)
	}
	on(keys, "b", 0)
	r.Add(10)
	on(keys, "a", 0)
	if got, ok := r.Get(); !ok || got != 6 {
		t.Fatalf("a: got %d, %v; want 6, true", got, ok)
	}
	r.Clear()
	if _, ok := r.Get(); ok {
		t.Fatal("a has a value after Clear")
	}
	on(keys, "b", 0)
	if got, _ := r.Get(); got != 10 {
		t.Fatalf("b: got %d, want 10", got)
	}
}

// avg is an AggregateFunction computing a mean through a (sum, count) accumulator.
var avg = state.AggregateFunction[int, [2]int, float64]{
	Create: func() [2]int { return [2]int{} },
	Add:    func(acc [2]int, v int) [2]int { return [2]int{acc[0] + v, acc[1] + 1} },
	Result: func(acc [2]int) float64 { return float64(acc[0]) / float64(acc[1]) },
}

func TestAggregating(t *testing.T) {
	var now int64
	b := state.NewMemory()
	keys := keysAt(0, 1, &now)
	a := state.NewAggregating[string, int, [2]int, float64](b, keys, state.Descriptor{Name: "avg"}, avg)
	on(keys, "a", 0)
	if _, ok := a.Get(); ok {
		t.Fatal("empty Aggregating has a result")
	}
	a.Add(1)
	a.Add(2)
	on(keys, "b", 0)
	a.Add(7)
	on(keys, "a", 0)
	if got, ok := a.Get(); !ok || got != 1.5 {
		t.Fatalf("a: got %v, %v; want 1.5, true", got, ok)
	}
	a.Clear()
	if _, ok := a.Get(); ok {
		t.Fatal("a has a result after Clear")
	}
	a.Add(4) // a fresh accumulator after Clear
	if got, _ := a.Get(); got != 4 {
		t.Fatalf("a after Clear and Add(4): got %v, want 4", got)
	}
	on(keys, "b", 0)
	if got, _ := a.Get(); got != 7 {
		t.Fatalf("b: got %v, want 7", got)
	}
}

func TestMemoryClose(t *testing.T) {
	b := state.NewMemory()
	if b.Name() != "memory" {
		t.Fatalf("Name = %q", b.Name())
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got := b.Size(); len(got) != 0 {
		t.Fatalf("Size after Close = %v", got)
	}
}
