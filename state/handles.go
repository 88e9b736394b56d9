package state

import (
	"iter"
	"maps"

	"github.com/runnel-io/runnel/state/blob"
)

// entry is a stored value with its expiry time (epoch ms; 0 = never).
type entry[V any] struct {
	v   V
	exp int64
}

// ttl applies a TTL configuration to entries.
type ttl struct {
	cfg TTL
	now func() int64
}

func (t ttl) expiry() int64 {
	if !t.cfg.Enabled() {
		return 0
	}
	return t.now() + t.cfg.Duration.Milliseconds()
}

func (t ttl) expired(exp int64) bool { return exp != 0 && exp <= t.now() }

func newTTL[K comparable](d Descriptor, keys *Keys[K]) ttl {
	if d.TTL.Enabled() && keys.Now == nil {
		panic("state: TTL needs Keys.Now")
	}
	return ttl{cfg: d.TTL, now: keys.Now}
}

// NewValue returns a Value handle on backend b for the key context keys.
func NewValue[K comparable, V any](b Backend, keys *Keys[K], d Descriptor) Value[V] {
	if bb, ok := b.(BytesBackend); ok {
		return newBytesValue[K, V](bb, keys, d, blob.Value)
	}
	v := newValue[K, V](b, keys, d)
	return &v
}

func newValue[K comparable, V any](b Backend, keys *Keys[K], d Descriptor) value[K, V] {
	ops := func() tableOps[entry[V]] { return valueOps(valueCodec[V](d)) }
	return value[K, V]{t: tableFor(b, keys, d.Name, ops), keys: keys, ttl: newTTL(d, keys)}
}

type value[K comparable, V any] struct {
	t    *table[K, entry[V]]
	keys *Keys[K]
	ttl  ttl
}

func (s *value[K, V]) Value() (V, bool) {
	e, ok := s.t.read(s.keys)[s.keys.Key]
	if !ok || s.ttl.expired(e.exp) {
		if ok {
			delete(s.t.write(s.keys), s.keys.Key)
		}
		var zero V
		return zero, false
	}
	if s.ttl.cfg.UpdateOnRead {
		e.exp = s.ttl.expiry()
		s.t.write(s.keys)[s.keys.Key] = e
	}
	return e.v, true
}

func (s *value[K, V]) Update(v V) { s.t.write(s.keys)[s.keys.Key] = entry[V]{v, s.ttl.expiry()} }

func (s *value[K, V]) Clear() {
	if _, ok := s.t.read(s.keys)[s.keys.Key]; ok {
		delete(s.t.write(s.keys), s.keys.Key)
	}
}

// NewList returns a List handle. With a TTL, each element expires on its own.
func NewList[K comparable, V any](b Backend, keys *Keys[K], d Descriptor) List[V] {
	if bb, ok := b.(BytesBackend); ok {
		return newBytesList[K, V](bb, keys, d)
	}
	ops := func() tableOps[[]entry[V]] { return listOps(valueCodec[V](d)) }
	return &list[K, V]{t: tableFor(b, keys, d.Name, ops), keys: keys, ttl: newTTL(d, keys)}
}

type list[K comparable, V any] struct {
	t    *table[K, []entry[V]]
	keys *Keys[K]
	ttl  ttl
}

func (s *list[K, V]) Get() []V {
	if !s.ttl.cfg.Enabled() {
		// Nothing expires and nothing is refreshed: a pure read.
		es := s.t.read(s.keys)[s.keys.Key]
		out := make([]V, len(es))
		for i, e := range es {
			out[i] = e.v
		}
		return out
	}
	if _, ok := s.t.read(s.keys)[s.keys.Key]; !ok {
		return []V{}
	}
	g := s.t.write(s.keys)
	es := g[s.keys.Key]
	out := make([]V, 0, len(es))
	live := es[:0]
	for _, e := range es {
		if s.ttl.expired(e.exp) {
			continue
		}
		if s.ttl.cfg.UpdateOnRead {
			e.exp = s.ttl.expiry()
		}
		live = append(live, e)
		out = append(out, e.v)
	}
	if len(live) == 0 {
		delete(g, s.keys.Key)
	} else if len(live) != len(es) || s.ttl.cfg.UpdateOnRead {
		g[s.keys.Key] = live
	}
	return out
}

func (s *list[K, V]) Add(v V) {
	g := s.t.write(s.keys)
	g[s.keys.Key] = append(g[s.keys.Key], entry[V]{v, s.ttl.expiry()})
}

func (s *list[K, V]) Update(vs []V) {
	if len(vs) == 0 {
		s.Clear()
		return
	}
	es := make([]entry[V], len(vs))
	exp := s.ttl.expiry()
	for i, v := range vs {
		es[i] = entry[V]{v, exp}
	}
	s.t.write(s.keys)[s.keys.Key] = es
}

func (s *list[K, V]) Clear() {
	if _, ok := s.t.read(s.keys)[s.keys.Key]; ok {
		delete(s.t.write(s.keys), s.keys.Key)
	}
}

// NewMap returns a Map handle. With a TTL, each entry expires on its own.
func NewMap[K, UK comparable, UV any](b Backend, keys *Keys[K], d Descriptor) Map[UK, UV] {
	if bb, ok := b.(BytesBackend); ok {
		return newBytesMap[K, UK, UV](bb, keys, d)
	}
	ops := func() tableOps[map[UK]entry[UV]] { return mapOps(userKeyCodec[UK](d), valueCodec[UV](d)) }
	return &mapState[K, UK, UV]{t: tableFor(b, keys, d.Name, ops), keys: keys, ttl: newTTL(d, keys)}
}

type mapState[K, UK comparable, UV any] struct {
	t    *table[K, map[UK]entry[UV]]
	keys *Keys[K]
	ttl  ttl
}

// current returns the current key's map for reading; it may be nil.
func (s *mapState[K, UK, UV]) current() map[UK]entry[UV] { return s.t.read(s.keys)[s.keys.Key] }

// mutable returns the current key's map for writing, creating it.
func (s *mapState[K, UK, UV]) mutable() map[UK]entry[UV] {
	g := s.t.write(s.keys)
	m := g[s.keys.Key]
	if m == nil {
		m = make(map[UK]entry[UV])
		g[s.keys.Key] = m
	}
	return m
}

func (s *mapState[K, UK, UV]) Get(k UK) (UV, bool) {
	e, ok := s.current()[k]
	if !ok || s.ttl.expired(e.exp) {
		if ok {
			s.Remove(k)
		}
		var zero UV
		return zero, false
	}
	if s.ttl.cfg.UpdateOnRead {
		e.exp = s.ttl.expiry()
		s.mutable()[k] = e
	}
	return e.v, true
}

func (s *mapState[K, UK, UV]) Put(k UK, v UV) { s.mutable()[k] = entry[UV]{v, s.ttl.expiry()} }

func (s *mapState[K, UK, UV]) Remove(k UK) {
	if _, ok := s.current()[k]; !ok {
		return
	}
	g := s.t.write(s.keys)
	m := g[s.keys.Key]
	delete(m, k)
	if len(m) == 0 {
		delete(g, s.keys.Key)
	}
}

func (s *mapState[K, UK, UV]) Contains(k UK) bool {
	_, ok := s.Get(k)
	return ok
}

// purge removes the current key's expired entries and returns its map (nil if none is left).
func (s *mapState[K, UK, UV]) purge() map[UK]entry[UV] {
	m := s.current()
	if !s.ttl.cfg.Enabled() || m == nil {
		return m
	}
	expired := false
	for _, e := range m {
		if s.ttl.expired(e.exp) {
			expired = true
			break
		}
	}
	if !expired {
		return m
	}
	g := s.t.write(s.keys)
	m = g[s.keys.Key]
	maps.DeleteFunc(m, func(_ UK, e entry[UV]) bool { return s.ttl.expired(e.exp) })
	if len(m) == 0 {
		delete(g, s.keys.Key)
		return nil
	}
	return m
}

func (s *mapState[K, UK, UV]) All() iter.Seq2[UK, UV] {
	m := s.purge()
	return func(yield func(UK, UV) bool) {
		for k, e := range m {
			if !yield(k, e.v) {
				return
			}
		}
	}
}

func (s *mapState[K, UK, UV]) Len() int { return len(s.purge()) }

func (s *mapState[K, UK, UV]) Clear() {
	if _, ok := s.t.read(s.keys)[s.keys.Key]; ok {
		delete(s.t.write(s.keys), s.keys.Key)
	}
}

// NewReducing returns a Reducing handle that folds values with reduce.
func NewReducing[K comparable, V any](b Backend, keys *Keys[K], d Descriptor, reduce func(acc, v V) V) Reducing[V] {
	if bb, ok := b.(BytesBackend); ok {
		return &bytesReducing[K, V]{bytesValue: *newBytesValue[K, V](bb, keys, d, blob.Value), reduce: reduce}
	}
	return &reducing[K, V]{value: newValue[K, V](b, keys, d), reduce: reduce}
}

type reducing[K comparable, V any] struct {
	value[K, V]
	reduce func(acc, v V) V
}

func (s *reducing[K, V]) Get() (V, bool) { return s.Value() }

func (s *reducing[K, V]) Add(v V) {
	if acc, ok := s.Value(); ok {
		v = s.reduce(acc, v)
	}
	s.Update(v)
}

// AggregateFunction folds inputs into an accumulator and turns it into a result, incrementally
// (Flink's AggregateFunction). Merge combines two accumulators (merging session windows); it
// may be nil when no merging is needed.
type AggregateFunction[IN, ACC, OUT any] struct {
	Create func() ACC
	Add    func(acc ACC, v IN) ACC
	Result func(acc ACC) OUT
	Merge  func(a, b ACC) ACC
}

// NewAggregating returns an Aggregating handle over accumulators of type ACC.
func NewAggregating[K comparable, IN, ACC, OUT any](b Backend, keys *Keys[K], d Descriptor, f AggregateFunction[IN, ACC, OUT]) Aggregating[IN, OUT] {
	if bb, ok := b.(BytesBackend); ok {
		return &bytesAggregating[K, IN, ACC, OUT]{bytesValue: *newBytesValue[K, ACC](bb, keys, d, blob.Value), f: f}
	}
	return &aggregating[K, IN, ACC, OUT]{value: newValue[K, ACC](b, keys, d), f: f}
}

type aggregating[K comparable, IN, ACC, OUT any] struct {
	value[K, ACC]
	f AggregateFunction[IN, ACC, OUT]
}

func (s *aggregating[K, IN, ACC, OUT]) Get() (OUT, bool) {
	acc, ok := s.Value()
	if !ok {
		var zero OUT
		return zero, false
	}
	return s.f.Result(acc), true
}

func (s *aggregating[K, IN, ACC, OUT]) Add(v IN) {
	acc, ok := s.Value()
	if !ok {
		acc = s.f.Create()
	}
	s.Update(s.f.Add(acc, v))
}
