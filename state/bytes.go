package state

import (
	"bytes"
	"fmt"
	"iter"

	"github.com/runnel-io/runnel/state/blob"
)

// BytesBackend is implemented by backends that keep state serialised, such as the Pebble
// backend: the handle constructors find it by type assertion and then store every value
// through the state's codecs (see CodecFor and Descriptor.Codec).
type BytesBackend interface {
	Backend
	// Table returns the storage of the state spec describes, creating it. Asking twice for a
	// name returns the same storage; asking for a name with another kind is an error.
	Table(spec TableSpec) (BytesTable, error)
}

// TableSpec describes a state to a BytesBackend.
type TableSpec struct {
	// Name is the state's name (Descriptor.Name).
	Name string
	// Kind is the state's shape, which decides the layout of its stored values.
	Kind blob.Kind
	// Now is the subtask's processing-time clock (Keys.Now), nil if it has none: the backend
	// drops state expired by then from its snapshots.
	Now func() int64
}

// BytesTable is one state's storage in a BytesBackend: a sorted map of byte keys per key group.
// Keys are built by the handles: the framed key encoding (blob.AppendKey), then for Map states
// the map key's encoding. Values are blob payloads: blob.AppendValue for Value states and Map
// entries, concatenated blob.AppendItem elements for List states (so Merge appends an
// element). A BytesTable is used by the goroutine that owns the backend. Errors are I/O errors
// of the store.
type BytesTable interface {
	// Get appends the value of key in key group kg to dst, and reports whether there is one.
	Get(dst []byte, kg int, key []byte) ([]byte, bool, error)
	// Set stores value under key. It does not keep key or value.
	Set(kg int, key, value []byte) error
	// Merge appends value to the value stored under key (or stores it if there is none).
	Merge(kg int, key, value []byte) error
	// Delete removes key.
	Delete(kg int, key []byte) error
	// DeletePrefix removes every key starting with prefix.
	DeletePrefix(kg int, prefix []byte) error
	// Scan calls fn, in key order, for every key starting with prefix, with the rest of the key
	// after prefix and the value, until fn returns false. The slices are valid during the call
	// only. fn may read the table; writes it makes may or may not be seen by the scan.
	Scan(kg int, prefix []byte, fn func(suffix, value []byte) bool) error
}

// backendPanic reports a failure of a bytes backend inside a handle method, which has no error
// result: the operator's recover turns the panic into a task failure.
// readEntry reads the value stored under key k of key group kg, dropping it if its TTL expired
// and restarting its TTL on read if so configured. buf and out are the handle's scratch
// buffers for the read and the rewrite.
func readEntry[V any](t BytesTable, name string, kg int, k []byte, codec Codec[V], ttl ttl, buf, out *[]byte) (V, bool) {
	var zero V
	b, ok, err := t.Get((*buf)[:0], kg, k)
	if err != nil {
		backendPanic(name, "get", err)
	}
	*buf = b
	if !ok {
		return zero, false
	}
	exp, raw, err := blob.ParseValue(b)
	if err != nil {
		backendPanic(name, "get", err)
	}
	if ttl.expired(exp) {
		if err := t.Delete(kg, k); err != nil {
			backendPanic(name, "delete", err)
		}
		return zero, false
	}
	v, err := codec.Decode(raw)
	if err != nil {
		backendPanic(name, "get", err)
	}
	if ttl.cfg.UpdateOnRead {
		*out = blob.AppendValue((*out)[:0], ttl.expiry(), raw)
		if err := t.Set(kg, k, *out); err != nil {
			backendPanic(name, "set", err)
		}
	}
	return v, true
}

func backendPanic(name, op string, err error) {
	panic(fmt.Errorf("state: %s of state %q: %w", op, name, err))
}

func bytesTable(b BytesBackend, d Descriptor, kind blob.Kind, now func() int64) BytesTable {
	t, err := b.Table(TableSpec{Name: d.Name, Kind: kind, Now: now})
	if err != nil {
		panic(fmt.Errorf("state: state %q on backend %s: %w", d.Name, b.Name(), err))
	}
	return t
}

// bytesKey encodes the current key, keeping the last encoding: a read-modify-write of one key
// encodes it once.
type bytesKey[K comparable] struct {
	keys   *Keys[K]
	codec  Codec[K]
	buf    []byte
	framed []byte
	last   K
	valid  bool
}

func (b *bytesKey[K]) current() []byte {
	if b.valid && b.last == b.keys.Key {
		return b.framed
	}
	b.buf = b.codec.Append(b.buf[:0], b.keys.Key)
	b.framed = blob.AppendKey(b.framed[:0], b.buf)
	b.last, b.valid = b.keys.Key, true
	return b.framed
}

// bytesValue is a Value (and the storage of Reducing and Aggregating) on a BytesBackend.
type bytesValue[K comparable, V any] struct {
	t     BytesTable
	name  string
	key   bytesKey[K]
	codec Codec[V]
	ttl   ttl
	buf   []byte
	out   []byte
}

func newBytesValue[K comparable, V any](b BytesBackend, keys *Keys[K], d Descriptor, kind blob.Kind) *bytesValue[K, V] {
	return &bytesValue[K, V]{
		t:     bytesTable(b, d, kind, keys.Now),
		name:  d.Name,
		key:   bytesKey[K]{keys: keys, codec: KeyCodecOf(keys)},
		codec: valueCodec[V](d),
		ttl:   newTTL(d, keys),
	}
}

func (s *bytesValue[K, V]) Value() (V, bool) {
	return readEntry(s.t, s.name, s.key.keys.Group, s.key.current(), s.codec, s.ttl, &s.buf, &s.out)
}

func (s *bytesValue[K, V]) Update(v V) {
	s.out = s.codec.Append(blob.AppendValue(s.out[:0], s.ttl.expiry(), nil), v)
	if err := s.t.Set(s.key.keys.Group, s.key.current(), s.out); err != nil {
		backendPanic(s.name, "set", err)
	}
}

func (s *bytesValue[K, V]) Clear() {
	if err := s.t.Delete(s.key.keys.Group, s.key.current()); err != nil {
		backendPanic(s.name, "delete", err)
	}
}

type bytesReducing[K comparable, V any] struct {
	bytesValue[K, V]
	reduce func(acc, v V) V
}

func (s *bytesReducing[K, V]) Get() (V, bool) { return s.Value() }

func (s *bytesReducing[K, V]) Add(v V) {
	if acc, ok := s.Value(); ok {
		v = s.reduce(acc, v)
	}
	s.Update(v)
}

type bytesAggregating[K comparable, IN, ACC, OUT any] struct {
	bytesValue[K, ACC]
	f AggregateFunction[IN, ACC, OUT]
}

func (s *bytesAggregating[K, IN, ACC, OUT]) Get() (OUT, bool) {
	acc, ok := s.Value()
	if !ok {
		var zero OUT
		return zero, false
	}
	return s.f.Result(acc), true
}

func (s *bytesAggregating[K, IN, ACC, OUT]) Add(v IN) {
	acc, ok := s.Value()
	if !ok {
		acc = s.f.Create()
	}
	s.Update(s.f.Add(acc, v))
}

// bytesList is a List on a BytesBackend: the elements of a key are one stored value, elements
// appended with Merge.
type bytesList[K comparable, V any] struct {
	t     BytesTable
	name  string
	key   bytesKey[K]
	codec Codec[V]
	ttl   ttl
	buf   []byte
	out   []byte
	enc   []byte
}

func newBytesList[K comparable, V any](b BytesBackend, keys *Keys[K], d Descriptor) *bytesList[K, V] {
	return &bytesList[K, V]{
		t:     bytesTable(b, d, blob.List, keys.Now),
		name:  d.Name,
		key:   bytesKey[K]{keys: keys, codec: KeyCodecOf(keys)},
		codec: valueCodec[V](d),
		ttl:   newTTL(d, keys),
	}
}

func (s *bytesList[K, V]) Get() []V {
	k, kg := s.key.current(), s.key.keys.Group
	b, ok, err := s.t.Get(s.buf[:0], kg, k)
	if err != nil {
		backendPanic(s.name, "get", err)
	}
	s.buf = b
	out := []V{}
	if !ok {
		return out
	}
	rewrite := s.ttl.cfg.UpdateOnRead
	var exp int64
	if s.ttl.cfg.Enabled() {
		exp = s.ttl.expiry()
	}
	s.out = s.out[:0]
	err = blob.Items(b, func(e int64, raw []byte) error {
		if s.ttl.expired(e) {
			rewrite = true
			return nil
		}
		v, err := s.codec.Decode(raw)
		if err != nil {
			return err
		}
		out = append(out, v)
		if s.ttl.cfg.UpdateOnRead {
			e = exp
		}
		s.out = blob.AppendItem(s.out, e, raw)
		return nil
	})
	if err != nil {
		backendPanic(s.name, "get", err)
	}
	if rewrite {
		if len(out) == 0 {
			err = s.t.Delete(kg, k)
		} else {
			err = s.t.Set(kg, k, s.out)
		}
		if err != nil {
			backendPanic(s.name, "set", err)
		}
	}
	return out
}

func (s *bytesList[K, V]) Add(v V) {
	s.enc = s.codec.Append(s.enc[:0], v)
	s.out = blob.AppendItem(s.out[:0], s.ttl.expiry(), s.enc)
	if err := s.t.Merge(s.key.keys.Group, s.key.current(), s.out); err != nil {
		backendPanic(s.name, "merge", err)
	}
}

func (s *bytesList[K, V]) Update(vs []V) {
	if len(vs) == 0 {
		s.Clear()
		return
	}
	exp := s.ttl.expiry()
	s.out = s.out[:0]
	for _, v := range vs {
		s.enc = s.codec.Append(s.enc[:0], v)
		s.out = blob.AppendItem(s.out, exp, s.enc)
	}
	if err := s.t.Set(s.key.keys.Group, s.key.current(), s.out); err != nil {
		backendPanic(s.name, "set", err)
	}
}

func (s *bytesList[K, V]) Clear() {
	if err := s.t.Delete(s.key.keys.Group, s.key.current()); err != nil {
		backendPanic(s.name, "delete", err)
	}
}

// bytesMap is a Map on a BytesBackend: one stored value per map entry, under the key's frame
// followed by the map key's encoding, so a key's entries are one prefix.
type bytesMap[K, UK comparable, UV any] struct {
	t      BytesTable
	name   string
	key    bytesKey[K]
	kcodec Codec[UK]
	vcodec Codec[UV]
	ttl    ttl
	ek     []byte
	buf    []byte
	out    []byte
}

func newBytesMap[K, UK comparable, UV any](b BytesBackend, keys *Keys[K], d Descriptor) *bytesMap[K, UK, UV] {
	return &bytesMap[K, UK, UV]{
		t:      bytesTable(b, d, blob.Map, keys.Now),
		name:   d.Name,
		key:    bytesKey[K]{keys: keys, codec: KeyCodecOf(keys)},
		kcodec: userKeyCodec[UK](d),
		vcodec: valueCodec[UV](d),
		ttl:    newTTL(d, keys),
	}
}

// entryKey returns the stored key of map key k of the current key.
func (s *bytesMap[K, UK, UV]) entryKey(k UK) []byte {
	s.ek = s.kcodec.Append(append(s.ek[:0], s.key.current()...), k)
	return s.ek
}

func (s *bytesMap[K, UK, UV]) Get(k UK) (UV, bool) {
	return readEntry(s.t, s.name, s.key.keys.Group, s.entryKey(k), s.vcodec, s.ttl, &s.buf, &s.out)
}

func (s *bytesMap[K, UK, UV]) Put(k UK, v UV) {
	s.out = s.vcodec.Append(blob.AppendValue(s.out[:0], s.ttl.expiry(), nil), v)
	if err := s.t.Set(s.key.keys.Group, s.entryKey(k), s.out); err != nil {
		backendPanic(s.name, "set", err)
	}
}

func (s *bytesMap[K, UK, UV]) Remove(k UK) {
	if err := s.t.Delete(s.key.keys.Group, s.entryKey(k)); err != nil {
		backendPanic(s.name, "delete", err)
	}
}

func (s *bytesMap[K, UK, UV]) Contains(k UK) bool {
	_, ok := s.Get(k)
	return ok
}

// scan calls fn for every live entry of the key framed as prefix in key group kg, deleting
// expired ones afterwards.
func (s *bytesMap[K, UK, UV]) scan(kg int, prefix []byte, fn func(k []byte, raw []byte) bool) {
	var expired [][]byte
	var ferr error
	err := s.t.Scan(kg, prefix, func(suffix, value []byte) bool {
		exp, raw, err := blob.ParseValue(value)
		if err != nil {
			ferr = err
			return false
		}
		if s.ttl.expired(exp) {
			expired = append(expired, append(prefix[:len(prefix):len(prefix)], suffix...))
			return true
		}
		return fn(suffix, raw)
	})
	if err == nil {
		err = ferr
	}
	if err != nil {
		backendPanic(s.name, "scan", err)
	}
	for _, k := range expired {
		if err := s.t.Delete(kg, k); err != nil {
			backendPanic(s.name, "delete", err)
		}
	}
}

func (s *bytesMap[K, UK, UV]) All() iter.Seq2[UK, UV] {
	prefix, kg := bytes.Clone(s.key.current()), s.key.keys.Group
	return func(yield func(UK, UV) bool) {
		s.scan(kg, prefix, func(rk, rv []byte) bool {
			k, err := s.kcodec.Decode(rk)
			if err != nil {
				backendPanic(s.name, "scan", err)
			}
			v, err := s.vcodec.Decode(rv)
			if err != nil {
				backendPanic(s.name, "scan", err)
			}
			return yield(k, v)
		})
	}
}

func (s *bytesMap[K, UK, UV]) Len() int {
	n := 0
	s.scan(s.key.keys.Group, s.key.current(), func([]byte, []byte) bool { n++; return true })
	return n
}

func (s *bytesMap[K, UK, UV]) Clear() {
	if err := s.t.DeletePrefix(s.key.keys.Group, s.key.current()); err != nil {
		backendPanic(s.name, "delete", err)
	}
}
