package state_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/runnel-io/runnel/state"
)

const ttl10s = 10 * time.Second

func TestTTLEnabled(t *testing.T) {
	if (state.TTL{}).Enabled() {
		t.Error("the zero TTL is enabled")
	}
	if !(state.TTL{Duration: time.Millisecond}).Enabled() {
		t.Error("a 1ms TTL is not enabled")
	}
}

func TestValueTTL(t *testing.T) {
	for _, c := range []struct {
		name         string
		updateOnRead bool
		// reads happen at 5s; visible at 12s depends on whether the read restarted the TTL
		visibleAt12s bool
	}{
		{"on write", false, false},
		{"on read and write", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			now := int64(1_000_000)
			start := now
			b := state.NewMemory()
			keys := keysAt(0, 1, &now)
			v := state.NewValue[string, string](b, keys, state.Descriptor{Name: "v", TTL: state.TTL{Duration: ttl10s, UpdateOnRead: c.updateOnRead}})
			on(keys, "a", 0)
			v.Update("x")
			on(keys, "b", 0)
			v.Update("y")

			now = start + 5000
			on(keys, "a", 0)
			if got, ok := v.Value(); !ok || got != "x" {
				t.Fatalf("at 5s: got %q, %v; want x, true", got, ok)
			}

			// At exactly 10s after the write the value has expired (expiry is inclusive).
			on(keys, "b", 0)
			if !c.updateOnRead { // a read would restart b's TTL
				now = start + 9999
				if _, ok := v.Value(); !ok {
					t.Fatal("b expired before its TTL")
				}
			}
			now = start + 10_000
			if _, ok := v.Value(); ok {
				t.Fatal("b still visible at its TTL")
			}
			if got := b.Size()["v"]; got != 1 {
				t.Fatalf("the expired value was not removed when read: Size = %d, want 1", got)
			}

			now = start + 12_000
			on(keys, "a", 0)
			if _, ok := v.Value(); ok != c.visibleAt12s {
				t.Fatalf("a at 12s after a read at 5s: visible = %v, want %v", ok, c.visibleAt12s)
			}
			if c.updateOnRead {
				now = start + 12_000 + 9999 // read at 12s restarted it again
				if _, ok := v.Value(); !ok {
					t.Fatal("a expired although read within its TTL")
				}
				now += 10_000
				if _, ok := v.Value(); ok {
					t.Fatal("a visible 10s after its last read")
				}
			}

			// A write restarts the TTL.
			now = start + 100_000
			v.Update("z")
			now += 9999
			if got, ok := v.Value(); !ok || got != "z" {
				t.Fatalf("rewritten value: got %q, %v", got, ok)
			}
		})
	}
}

func TestListTTLPerElement(t *testing.T) {
	now := int64(0)
	b := state.NewMemory()
	keys := keysAt(0, 1, &now)
	l := state.NewList[string, int](b, keys, state.Descriptor{Name: "l", TTL: state.TTL{Duration: ttl10s}})
	on(keys, "a", 0)
	l.Add(1) // expires at 10s
	now = 4000
	l.Add(2) // expires at 14s
	now = 8000
	l.Add(3) // expires at 18s

	for _, c := range []struct {
		at   int64
		want []int
	}{
		{9999, []int{1, 2, 3}},
		{10_000, []int{2, 3}},
		{13_999, []int{2, 3}},
		{14_000, []int{3}},
		{18_000, nil},
	} {
		now = c.at
		if got := l.Get(); !slices.Equal(got, c.want) {
			t.Fatalf("at %dms: got %v, want %v", c.at, got, c.want)
		}
	}
	if got := b.Size()["l"]; got != 0 {
		t.Fatalf("a list whose elements all expired still holds the key: Size = %d", got)
	}

	// Update gives every element the same fresh expiry.
	now = 50_000
	l.Update([]int{7, 8})
	now = 59_999
	if got := l.Get(); !slices.Equal(got, []int{7, 8}) {
		t.Fatalf("after Update: got %v", got)
	}
	now = 60_000
	if got := l.Get(); len(got) != 0 {
		t.Fatalf("after Update, at its TTL: got %v", got)
	}
}

func TestListTTLUpdateOnRead(t *testing.T) {
	now := int64(0)
	b := state.NewMemory()
	keys := keysAt(0, 1, &now)
	l := state.NewList[string, int](b, keys, state.Descriptor{Name: "l", TTL: state.TTL{Duration: ttl10s, UpdateOnRead: true}})
	on(keys, "a", 0)
	l.Add(1)
	now = 4000
	l.Add(2)
	now = 9000
	if got := l.Get(); !slices.Equal(got, []int{1, 2}) { // restarts both: expire at 19s
		t.Fatalf("at 9s: got %v", got)
	}
	now = 18_999
	if got := l.Get(); !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("at 18.999s, after a read at 9s: got %v", got)
	}
	now = 18_999 + 10_000
	if got := l.Get(); len(got) != 0 {
		t.Fatalf("10s after the last read: got %v", got)
	}
}

func TestMapTTLPerEntry(t *testing.T) {
	now := int64(0)
	b := state.NewMemory()
	keys := keysAt(0, 1, &now)
	m := state.NewMap[string, string, int](b, keys, state.Descriptor{Name: "m", TTL: state.TTL{Duration: ttl10s}})
	on(keys, "a", 0)
	m.Put("x", 1) // expires at 10s
	now = 5000
	m.Put("y", 2) // expires at 15s

	now = 10_000
	if _, ok := m.Get("x"); ok {
		t.Fatal("x visible at its TTL")
	}
	if got := maps.Collect(m.All()); !maps.Equal(got, map[string]int{"y": 2}) {
		t.Fatalf("at 10s: All = %v", got)
	}
	if m.Len() != 1 || m.Contains("x") || !m.Contains("y") {
		t.Fatalf("at 10s: Len = %d", m.Len())
	}
	now = 15_000
	if m.Len() != 0 {
		t.Fatalf("at 15s: Len = %d, want 0", m.Len())
	}
	if got := b.Size()["m"]; got != 0 {
		t.Fatalf("a map whose entries all expired still holds the key: Size = %d", got)
	}
}

func TestMapTTLUpdateOnRead(t *testing.T) {
	now := int64(0)
	b := state.NewMemory()
	keys := keysAt(0, 1, &now)
	m := state.NewMap[string, string, int](b, keys, state.Descriptor{Name: "m", TTL: state.TTL{Duration: ttl10s, UpdateOnRead: true}})
	on(keys, "a", 0)
	m.Put("x", 1)
	now = 9000
	if _, ok := m.Get("x"); !ok { // restarts x: expires at 19s
		t.Fatal("x expired early")
	}
	now = 18_999
	if _, ok := m.Get("x"); !ok {
		t.Fatal("x expired although read within its TTL")
	}
	now = 18_999 + 10_000
	if _, ok := m.Get("x"); ok {
		t.Fatal("x visible 10s after its last read")
	}
}

func TestReducingAndAggregatingTTL(t *testing.T) {
	now := int64(0)
	b := state.NewMemory()
	keys := keysAt(0, 1, &now)
	d := func(name string) state.Descriptor {
		return state.Descriptor{Name: name, TTL: state.TTL{Duration: ttl10s}}
	}
	r := state.NewReducing[string, int](b, keys, d("r"), func(acc, v int) int { return acc + v })
	a := state.NewAggregating[string, int, [2]int, float64](b, keys, d("a"), avg)
	on(keys, "k", 0)
	r.Add(1)
	a.Add(1)
	now = 9000
	r.Add(2) // a write: restarts the TTL of the whole accumulator
	a.Add(3)
	now = 18_999
	if got, ok := r.Get(); !ok || got != 3 {
		t.Fatalf("reducing at 18.999s: got %d, %v; want 3, true", got, ok)
	}
	if got, ok := a.Get(); !ok || got != 2 {
		t.Fatalf("aggregating at 18.999s: got %v, %v; want 2, true", got, ok)
	}
	now = 19_000
	if _, ok := r.Get(); ok {
		t.Fatal("reducing visible at its TTL")
	}
	if _, ok := a.Get(); ok {
		t.Fatal("aggregating visible at its TTL")
	}
	// After expiry, Add starts from scratch instead of folding into the expired accumulator.
	r.Add(5)
	a.Add(5)
	if got, _ := r.Get(); got != 5 {
		t.Fatalf("reducing after expiry and Add(5): got %d, want 5", got)
	}
	if got, _ := a.Get(); got != 5 {
		t.Fatalf("aggregating after expiry and Add(5): got %v, want 5", got)
	}
}
