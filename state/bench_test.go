package state_test

import (
	"testing"
	"time"

	"github.com/runnel-io/runnel/state"
)

// BenchmarkValue measures one read-modify-write of a Value in the memory backend, the access
// pattern of a keyed counter, over 1,024 int64 keys spread across the key groups of a subtask
// owning all 128 of them. "ttl" adds a TTL (one clock read per access).
func BenchmarkValue(b *testing.B) {
	for _, c := range []struct {
		name string
		ttl  state.TTL
	}{{"plain", state.TTL{}}, {"ttl", state.TTL{Duration: time.Hour}}} {
		b.Run(c.name, func(b *testing.B) {
			now := int64(0)
			keys := &state.Keys[int64]{First: 0, Count: 128, Now: func() int64 { return now }}
			v := state.NewValue[int64, int64](state.NewMemory(), keys, state.Descriptor{Name: "count", TTL: c.ttl})
			const nkeys = 1024
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				k := int64(i % nkeys)
				keys.Key, keys.Group = k, int(k%128)
				n, _ := v.Value()
				v.Update(n + 1)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
		})
	}
}
