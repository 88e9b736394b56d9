package nexmark

import "math/bits"

// golden is splitmix64's increment, 2^64 divided by the golden ratio.
const golden = 0x9e3779b97f4a7c15

// mix64 is splitmix64's finaliser: a bijection on uint64 that scatters nearby inputs.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// rng is a splitmix64 generator. The generator makes a fresh one for every event, seeded from
// (Config.Seed, event number); it is a value, so making one costs nothing.
type rng struct{ state uint64 }

// eventRNG returns the stream of event n under the seed whose key is key. Hashing n before
// mixing in the key keeps the streams of neighbouring events, and of one event under different
// seeds, from overlapping.
func eventRNG(key uint64, n int64) rng {
	return rng{state: mix64(key ^ mix64(uint64(n)))}
}

func (r *rng) next() uint64 {
	r.state += golden
	return mix64(r.state)
}

// intn returns a uniform int in [0, n); n must be positive. It takes the high word of a 64×64-bit
// product, whose bias (below n/2^64) is irrelevant here.
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}

// int63n returns a uniform int64 in [0, n); n must be positive.
func (r *rng) int63n(n int64) int64 {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int64(hi)
}

// float64 returns a uniform float64 in [0, 1).
func (r *rng) float64() float64 {
	return float64(r.next()>>11) * 0x1p-53
}
