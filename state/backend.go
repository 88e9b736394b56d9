package state

import "fmt"

// Keys is the current key of a subtask and the key groups the subtask owns. The runtime sets
// Key and Group before it calls user code for a record or a timer; state handles read them.
type Keys[K comparable] struct {
	// Key is the current key.
	Key K
	// Group is the current key's key group.
	Group int
	// First and Count are the key groups this subtask owns: [First, First+Count).
	First, Count int
	// Now returns processing time in epoch milliseconds, for TTL.
	Now func() int64
}

// local returns the index of the current key group in the subtask's range.
func (k *Keys[K]) local() int { return k.Group - k.First }

// Backend stores the keyed state of one operator subtask. Backends come in two kinds: an object
// backend keeps Go values as they are (the in-memory backend, see NewMemory), a bytes backend
// keeps them serialised (the disk backend). Handles are made with NewValue, NewList, NewMap,
// NewReducing and NewAggregating, which pick the storage the backend offers.
type Backend interface {
	// Name is the backend's name in configuration ("memory", "pebble").
	Name() string
	// Close releases the backend's resources.
	Close() error
}

// Memory is the in-memory object backend: every state is a map per key group holding Go
// values, so access costs a map look-up and nothing is serialised.
type Memory struct {
	tables map[string]any // state name -> *table[K, V]
}

// NewMemory returns an empty in-memory backend.
func NewMemory() *Memory { return &Memory{tables: map[string]any{}} }

// Name returns "memory".
func (*Memory) Name() string { return "memory" }

// Close drops all state.
func (m *Memory) Close() error { m.tables = nil; return nil }

// table is one state's storage in the memory backend: a map per owned key group.
type table[K comparable, V any] struct {
	groups []map[K]V
}

func (t *table[K, V]) of(keys *Keys[K]) map[K]V {
	g := t.groups[keys.local()]
	if g == nil {
		g = make(map[K]V)
		t.groups[keys.local()] = g
	}
	return g
}

// Entries returns how many keys hold a value of this state, over all key groups.
func (t *table[K, V]) entries() int {
	n := 0
	for _, g := range t.groups {
		n += len(g)
	}
	return n
}

// tableFor returns the memory table named name, creating it. Two states with the same name but
// different types are a programming error.
func tableFor[K comparable, V any](b Backend, keys *Keys[K], name string) *table[K, V] {
	m, ok := b.(*Memory)
	if !ok {
		panic(fmt.Sprintf("state: backend %q cannot hold object state", b.Name()))
	}
	if t, ok := m.tables[name]; ok {
		tt, ok := t.(*table[K, V])
		if !ok {
			panic(fmt.Sprintf("state: state %q registered twice with different types", name))
		}
		return tt
	}
	t := &table[K, V]{groups: make([]map[K]V, keys.Count)}
	m.tables[name] = t
	return t
}

// Size returns the number of keys holding state of each state name, for tests and metrics.
func (m *Memory) Size() map[string]int {
	out := make(map[string]int, len(m.tables))
	for name, t := range m.tables {
		if s, ok := t.(interface{ entries() int }); ok {
			out[name] = s.entries()
		}
	}
	return out
}
