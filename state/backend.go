package state

import (
	"fmt"
	"sync/atomic"

	"github.com/runnel-io/runnel/state/blob"
)

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
	// KeyCodec encodes keys for snapshots, timers and bytes backends; nil means CodecFor[K]().
	KeyCodec Codec[K]
}

// local returns the index of the current key group in the subtask's range.
func (k *Keys[K]) local() int { return k.Group - k.First }

// KeyCodecOf returns keys.KeyCodec, or CodecFor[K]() if it is nil: the codec of the keys of
// a subtask's state, which timers stored in the same snapshot should use as well.
func KeyCodecOf[K comparable](keys *Keys[K]) Codec[K] {
	if keys.KeyCodec != nil {
		return keys.KeyCodec
	}
	return CodecFor[K]()
}

// Backend stores the keyed state of one operator subtask. Backends come in two kinds: an object
// backend keeps Go values as they are (the in-memory backend, see NewMemory), a bytes backend
// (BytesBackend) keeps them serialised (the Pebble backend in statebackend/pebble).
// Handles are made with NewValue, NewList, NewMap, NewReducing and NewAggregating, which pick
// the storage the backend offers. Backends that can take snapshots implement Snapshotter.
type Backend interface {
	// Name is the backend's name in configuration ("memory", "pebble").
	Name() string
	// Close releases the backend's resources.
	Close() error
}

// Memory is the in-memory object backend: every state is a map per key group holding Go
// values, so access costs a map look-up and nothing is serialised until a snapshot is taken.
//
// Snapshots (see Snapshot) are copy-on-write: taking one marks every key group's maps shared,
// and the first write to a shared group while a snapshot still reads it copies that group's
// maps (deeply for List and Map states) so the snapshot keeps its view. A Memory, like its
// handles, belongs to one goroutine; only the Snapshots it returns may be used from another.
type Memory struct {
	tables map[string]memTable // state name -> *table[K, V]
	// first and count are the owned key groups, known from the first handle (ranged).
	first, count int
	ranged       bool
	// pins[i] counts the snapshots still reading key group first+i. Written by snapshots on
	// other goroutines, read by the owner before it writes a shared group.
	pins []atomic.Int32
	// now is processing time, from the first Keys with a clock; snapshots drop state expired
	// by then.
	now func() int64
	// pending holds restored state of states no handle was made for yet, by state name.
	pending map[string][]pendingSection
}

// NewMemory returns an empty in-memory backend.
func NewMemory() *Memory { return &Memory{tables: map[string]memTable{}} }

// Name returns "memory".
func (*Memory) Name() string { return "memory" }

// Close drops all state. Snapshots taken before stay readable.
func (m *Memory) Close() error { m.tables, m.pending = nil, nil; return nil }

// memTable is what the backend needs of a table whatever its types.
type memTable interface {
	entries() int
	kind() blob.Kind
	// capture marks the table's groups shared and returns a view of them for a snapshot.
	capture() tableView
	// restore decodes the body of the table's section of key group kg into the table.
	restore(kg int, body []byte, now int64) error
}

// table is one state's storage in the memory backend: a map per owned key group.
type table[K comparable, V any] struct {
	name     string
	groups   []tgroup[K, V]
	first    int
	pins     []atomic.Int32 // the backend's
	keyCodec Codec[K]
	ops      tableOps[V]
}

// tgroup is one key group's map of a table. shared means a snapshot may hold m: before writing,
// the owner checks the group's pin count and copies m if a snapshot still reads it.
type tgroup[K comparable, V any] struct {
	m      map[K]V
	shared bool
}

// read returns the current key group's map for reading; it may be nil.
func (t *table[K, V]) read(keys *Keys[K]) map[K]V { return t.groups[keys.local()].m }

// write returns the current key group's map for writing, creating it, and copying it first if
// a snapshot still reads it.
func (t *table[K, V]) write(keys *Keys[K]) map[K]V { return t.writeAt(keys.local()) }

func (t *table[K, V]) writeAt(i int) map[K]V {
	g := &t.groups[i]
	if g.shared {
		t.unshare(g, i)
	}
	if g.m == nil {
		g.m = make(map[K]V)
	}
	return g.m
}

func (t *table[K, V]) unshare(g *tgroup[K, V], i int) {
	if g.m != nil && t.pins[i].Load() > 0 {
		m := make(map[K]V, len(g.m))
		for k, v := range g.m {
			if t.ops.clone != nil {
				v = t.ops.clone(v)
			}
			m[k] = v
		}
		g.m = m
	}
	g.shared = false
}

// entries returns how many keys hold a value of this state, over all key groups.
func (t *table[K, V]) entries() int {
	n := 0
	for _, g := range t.groups {
		n += len(g.m)
	}
	return n
}

func (t *table[K, V]) kind() blob.Kind { return t.ops.kind }

// tableFor returns the memory table named name, creating it with the operations ops returns
// (called only then) and applying restored state waiting for it. Two states with the same name
// but different types are a programming error, and so are handles whose Keys own different key
// groups.
func tableFor[K comparable, V any](b Backend, keys *Keys[K], name string, ops func() tableOps[V]) *table[K, V] {
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
	if !m.ranged {
		m.first, m.count, m.ranged = keys.First, keys.Count, true
		m.pins = make([]atomic.Int32, keys.Count)
	} else if keys.First != m.first || keys.Count != m.count {
		panic(fmt.Sprintf("state: state %q made for key groups [%d,%d) on a backend of key groups [%d,%d)",
			name, keys.First, keys.First+keys.Count, m.first, m.first+m.count))
	}
	if m.now == nil && keys.Now != nil {
		m.now = keys.Now
	}
	if m.tables == nil {
		panic("state: memory backend used after Close")
	}
	t := &table[K, V]{
		name:     name,
		groups:   make([]tgroup[K, V], keys.Count),
		first:    keys.First,
		pins:     m.pins,
		keyCodec: KeyCodecOf(keys),
		ops:      ops(),
	}
	m.tables[name] = t
	if err := m.applyPending(name, t); err != nil {
		panic(err)
	}
	return t
}

// Size returns the number of keys holding state of each state name, for tests and metrics.
func (m *Memory) Size() map[string]int {
	out := make(map[string]int, len(m.tables))
	for name, t := range m.tables {
		out[name] = t.entries()
	}
	return out
}
