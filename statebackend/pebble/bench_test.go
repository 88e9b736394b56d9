package pebble_test

import (
	"fmt"
	"testing"

	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/statebackend/pebble"
)

// backends are the backends the benchmarks compare.
var backends = []struct {
	name string
	open func(b *testing.B, r keygroup.Range) state.Backend
}{
	{"memory", func(*testing.B, keygroup.Range) state.Backend { return state.NewMemory() }},
	{"pebble", func(b *testing.B, r keygroup.Range) state.Backend { return openDefault(b, r) }},
}

// BenchmarkValue measures one read-modify-write of a Value[int64] (a keyed counter) over
// nkeys int64 keys across the 128 key groups of a subtask owning all of them.
func BenchmarkValue(b *testing.B) {
	r := keygroup.Range{Start: 0, End: 128}
	for _, nkeys := range []int{1024, 100_000} {
		for _, be := range backends {
			b.Run(fmt.Sprintf("%s/keys=%d", be.name, nkeys), func(b *testing.B) {
				backend := be.open(b, r)
				defer backend.Close()
				keys := &state.Keys[int64]{First: 0, Count: 128}
				hash := keygroup.HasherFor[int64]()
				groups := make([]int, nkeys)
				for i := range groups {
					groups[i] = keygroup.Of(hash(int64(i)), 128)
				}
				v := state.NewValue[int64, int64](backend, keys, state.Descriptor{Name: "count"})
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					k := i % nkeys
					keys.Key, keys.Group = int64(k), groups[k]
					n, _ := v.Value()
					v.Update(n + 1)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
			})
		}
	}
}

// discard is a GroupWriter counting bytes.
type discard struct{ n int64 }

func (d *discard) WriteGroup(_ int, blob []byte) error { d.n += int64(len(blob)); return nil }

// BenchmarkSnapshot measures taking and serialising a full snapshot of 100,000 keys holding a
// Value[int64], a 4-element List[string] and a 4-entry Map[string, int64] each; MB/s is blob
// bytes written per second. "take" is the synchronous part alone.
func BenchmarkSnapshot(b *testing.B) {
	const nkeys = 100_000
	r := keygroup.Range{Start: 0, End: 128}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			backend := be.open(b, r)
			defer backend.Close()
			keys := &state.Keys[string]{First: 0, Count: 128}
			v := state.NewValue[string, int64](backend, keys, state.Descriptor{Name: "v"})
			l := state.NewList[string, string](backend, keys, state.Descriptor{Name: "l"})
			m := state.NewMap[string, string, int64](backend, keys, state.Descriptor{Name: "m"})
			hash := keygroup.HasherFor[string]()
			for i := range nkeys {
				keys.Key = fmt.Sprintf("user-%d", i)
				keys.Group = keygroup.Of(hash(keys.Key), 128)
				v.Update(int64(i))
				for j := range 4 {
					l.Add(fmt.Sprintf("event-%d-%d", i, j))
					m.Put(fmt.Sprintf("field-%d", j), int64(i*j))
				}
			}
			b.Run("write", func(b *testing.B) {
				var d discard
				for range b.N {
					s, err := backend.(state.Snapshotter).Snapshot()
					if err != nil {
						b.Fatal(err)
					}
					d.n = 0
					if err := s.WriteGroups(&d); err != nil {
						b.Fatal(err)
					}
				}
				b.SetBytes(d.n)
				b.ReportMetric(float64(nkeys)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
			})
			b.Run("take", func(b *testing.B) {
				for range b.N {
					s, err := backend.(state.Snapshotter).Snapshot()
					if err != nil {
						b.Fatal(err)
					}
					s.Release()
				}
			})
		})
	}
}

// openDefault opens a backend with the default options.
func openDefault(b *testing.B, r keygroup.Range) *pebble.Backend {
	pb, err := pebble.Open(pebble.Options{Dir: b.TempDir(), Range: r})
	if err != nil {
		b.Fatal(err)
	}
	return pb
}
