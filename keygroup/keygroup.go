// Package keygroup maps keys to key groups and key groups to parallel subtasks.
//
// A key's key group is hash(key) mod maxParallelism. Subtask i of an operator with parallelism p
// owns the contiguous range of key groups [i*max/p ... (i+1)*max/p), the same assignment Flink
// makes, so keyed state stored per key group can be redistributed when parallelism changes.
// Hashes are stable across processes and versions: they never depend on a random seed.
package keygroup

import (
	"fmt"
	"math"
	"math/bits"
	"reflect"
	"unsafe"
)

// DefaultMaxParallelism is the number of key groups when a job does not set one.
const DefaultMaxParallelism = 128

// Of returns the key group of a key hash.
func Of(hash uint64, maxParallelism int) int {
	return int(mix(hash) % uint64(maxParallelism))
}

// Subtask returns the subtask that owns key group kg.
func Subtask(kg, maxParallelism, parallelism int) int {
	return kg * parallelism / maxParallelism
}

// Range is a contiguous range of key groups [Start, End).
type Range struct{ Start, End int }

// Len returns the number of key groups in r.
func (r Range) Len() int { return r.End - r.Start }

// Contains reports whether key group kg is in r.
func (r Range) Contains(kg int) bool { return kg >= r.Start && kg < r.End }

// String renders r as "[start,end)".
func (r Range) String() string { return fmt.Sprintf("[%d,%d)", r.Start, r.End) }

// RangeOf returns the key groups owned by subtask i of p, the inverse of Subtask.
func RangeOf(i, maxParallelism, parallelism int) Range {
	start := (i*maxParallelism + parallelism - 1) / parallelism
	end := ((i+1)*maxParallelism-1)/parallelism + 1
	return Range{Start: start, End: end}
}

// Hasher hashes keys of one type; it is made once per keyed stream by HasherFor.
type Hasher[K comparable] func(k K) uint64

// HasherFor returns a stable hasher for K. Strings, integers, floats, booleans and arrays and
// structs made of them hash their contents; a type with a KeyHash() uint64 method uses it.
// It panics for key types it cannot hash stably (pointers, channels, interfaces, ...), which is
// a programming error caught when the job is built.
func HasherFor[K comparable]() Hasher[K] {
	var zero K
	if _, ok := any(zero).(interface{ KeyHash() uint64 }); ok {
		return func(k K) uint64 { return any(k).(interface{ KeyHash() uint64 }).KeyHash() }
	}
	t := reflect.TypeFor[K]()
	switch t.Kind() {
	case reflect.String:
		return func(k K) uint64 { return String(*(*string)(unsafe.Pointer(&k))) }
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return func(k K) uint64 { return *(*uint64)(unsafe.Pointer(&k)) }
	case reflect.Int32, reflect.Uint32:
		return func(k K) uint64 { return uint64(*(*uint32)(unsafe.Pointer(&k))) }
	case reflect.Int16, reflect.Uint16:
		return func(k K) uint64 { return uint64(*(*uint16)(unsafe.Pointer(&k))) }
	case reflect.Int8, reflect.Uint8, reflect.Bool:
		return func(k K) uint64 { return uint64(*(*uint8)(unsafe.Pointer(&k))) }
	case reflect.Float32:
		return func(k K) uint64 { return uint64(math.Float32bits(*(*float32)(unsafe.Pointer(&k)))) }
	case reflect.Float64:
		return func(k K) uint64 { return math.Float64bits(*(*float64)(unsafe.Pointer(&k))) }
	}
	if err := checkHashable(t); err != nil {
		panic(fmt.Sprintf("keygroup: key type %v cannot be hashed stably: %v (give it a KeyHash() uint64 method)", t, err))
	}
	return func(k K) uint64 { return hashValue(reflect.ValueOf(k), 0) }
}

// String hashes a string (FNV-1a over 8-byte words, then mixed); stable across processes.
func String(s string) uint64 {
	h := uint64(14695981039346656037)
	for len(s) >= 8 {
		h ^= uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		h *= 1099511628211
		h = bits.RotateLeft64(h, 29)
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mix is the finaliser of splitmix64; it spreads nearby integers over all key groups.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func checkHashable(t reflect.Type) error {
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return nil
	case reflect.Array:
		return checkHashable(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if err := checkHashable(t.Field(i).Type); err != nil {
				return fmt.Errorf("field %s: %w", t.Field(i).Name, err)
			}
		}
		return nil
	}
	return fmt.Errorf("kind %v", t.Kind())
}

func hashValue(v reflect.Value, h uint64) uint64 {
	switch v.Kind() {
	case reflect.String:
		return combine(h, String(v.String()))
	case reflect.Bool:
		if v.Bool() {
			return combine(h, 1)
		}
		return combine(h, 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return combine(h, uint64(v.Int()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return combine(h, v.Uint())
	case reflect.Float32, reflect.Float64:
		return combine(h, math.Float64bits(v.Float()))
	case reflect.Array:
		for i := range v.Len() {
			h = hashValue(v.Index(i), h)
		}
		return h
	case reflect.Struct:
		for i := range v.NumField() {
			h = hashValue(v.Field(i), h)
		}
		return h
	}
	panic("keygroup: unhashable kind " + v.Kind().String())
}

func combine(h, x uint64) uint64 { return mix(h^0x9e3779b97f4a7c15) ^ x }
