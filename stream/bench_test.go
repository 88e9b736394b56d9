package stream_test

// Benchmarks of the engine's hot paths, whole jobs of b.N records each: exchanges, operator
// chains and keyed state. ns/op and allocs/op are per record; records/s is the job's
// throughput including start-up, which b.N amortises.

import (
	"context"
	"testing"

	"github.com/runnel-io/runnel/connector/datagen"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/stream"
)

// benchJob builds a job over a source of b.N int64s with build and runs it, reporting
// records/s. The source runs at the job's parallelism unless build changes it.
func benchJob(b *testing.B, p int, build func(s stream.Stream[int64])) {
	b.Helper()
	src, err := datagen.New(func(n int64) int64 { return n }, datagen.Config{Count: int64(b.N)})
	if err != nil {
		b.Fatal(err)
	}
	env := stream.New(b.Name(), stream.Config{Parallelism: p})
	build(stream.FromSource(env, src, eventtime.Strategy[int64]{}))
	b.ReportAllocs()
	b.ResetTimer()
	if err := env.Execute(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkExchangeRebalance measures the exchange: source -> rebalance -> discarding sink.
// At parallelism 2 every record crosses between goroutines, batched.
func BenchmarkExchangeRebalance(b *testing.B) {
	for _, p := range []struct {
		name string
		n    int
	}{{"p=1", 1}, {"p=2", 2}} {
		b.Run(p.name, func(b *testing.B) {
			benchJob(b, p.n, func(s stream.Stream[int64]) { s.Rebalance().Discard() })
		})
	}
}

// BenchmarkExchangeHash measures a hash exchange: source -> key by (1,024 keys) -> sink, at
// parallelism 2; the key is hashed and mapped to its key group and subtask per record.
func BenchmarkExchangeHash(b *testing.B) {
	benchJob(b, 2, func(s stream.Stream[int64]) {
		stream.KeyBy(s, func(v int64) int64 { return v % 1024 }).Stream().Discard()
	})
}

// BenchmarkChainedMapFilter measures a chain run by one goroutine with no exchange:
// source -> map -> filter -> map -> sink.
func BenchmarkChainedMapFilter(b *testing.B) {
	benchJob(b, 1, func(s stream.Stream[int64]) {
		doubled := stream.Map(s, func(v int64) int64 { return 2 * v })
		kept := doubled.Filter(func(v int64) bool { return v%3 != 0 })
		stream.Map(kept, func(v int64) int64 { return v + 1 }).Discard()
	})
}

// BenchmarkKeyedReduce measures a keyed running sum end to end at parallelism 2: hash
// exchange, key context, Reducing state read and write, and an output record per input.
func BenchmarkKeyedReduce(b *testing.B) {
	for _, keys := range []struct {
		name string
		n    int64
	}{{"keys=1k", 1024}, {"keys=100k", 100_000}} {
		b.Run(keys.name, func(b *testing.B) {
			benchJob(b, 2, func(s stream.Stream[int64]) {
				k := stream.KeyBy(s, func(v int64) int64 { return v % keys.n })
				stream.Reduce(k, func(a, v int64) int64 { return a + v }).Discard()
			})
		})
	}
}
