package state

import (
	"iter"
	"time"
)

// Value holds one value per key.
type Value[V any] interface {
	// Value returns the current key's value, and false if it has none.
	Value() (V, bool)
	// Update sets the current key's value.
	Update(v V)
	// Clear removes the current key's value.
	Clear()
}

// List holds a list of values per key.
type List[V any] interface {
	// Get returns the current key's values in insertion order. The slice is the caller's.
	Get() []V
	// Add appends a value.
	Add(v V)
	// Update replaces all values.
	Update(vs []V)
	// Clear removes all values.
	Clear()
}

// Map holds a map per key.
type Map[UK comparable, UV any] interface {
	Get(k UK) (UV, bool)
	Put(k UK, v UV)
	Remove(k UK)
	Contains(k UK) bool
	// All iterates over the current key's entries in no particular order. The map must not be
	// changed during the iteration.
	All() iter.Seq2[UK, UV]
	// Len returns the number of entries of the current key.
	Len() int
	Clear()
}

// Reducing holds one value per key that Add folds new values into with a reduce function.
type Reducing[V any] interface {
	Get() (V, bool)
	Add(v V)
	Clear()
}

// Aggregating holds an accumulator per key that Add folds inputs into; Get returns the result.
type Aggregating[IN, OUT any] interface {
	Get() (OUT, bool)
	Add(v IN)
	Clear()
}

// TTL makes state expire a fixed time after it was written (or read, with UpdateOnRead), in
// processing time. Expired values are never returned; they are removed when next touched and
// when a checkpoint is taken. The zero TTL means no expiry.
type TTL struct {
	// Duration after which a value expires; 0 disables TTL.
	Duration time.Duration
	// UpdateOnRead also restarts the time to live when the value is read (Flink's
	// OnReadAndWrite); by default only writes do (OnCreateAndWrite).
	UpdateOnRead bool
}

// Enabled reports whether t expires anything.
func (t TTL) Enabled() bool { return t.Duration > 0 }

// Descriptor names a state and configures it. Names are unique within an operator: two handles
// made from descriptors with the same name share the same storage.
type Descriptor struct {
	Name string
	TTL  TTL
	// Codec, if set, is the Codec of the state's values, overriding CodecFor: a Codec[V] for
	// Value, List and Reducing states, a Codec[UV] for Map states and a Codec[ACC] for
	// Aggregating states. Another type panics when the handle is made.
	Codec any
	// UserKeyCodec, if set, is the Codec[UK] of a Map state's map keys.
	UserKeyCodec any
}
