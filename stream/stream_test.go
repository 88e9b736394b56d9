package stream_test

import (
	"context"
	"slices"
	"testing"

	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/stream"
)

func TestMapFilterKeyByReduce(t *testing.T) {
	for _, p := range []int{1, 2, 4} {
		env := stream.New("wordcount", stream.Config{Parallelism: p})
		words := []string{"a", "b", "a", "c", "b", "a"}
		src := stream.FromSlice(env, words, eventtime.Strategy[string]{})
		type wc struct {
			W string
			N int
		}
		counts := stream.Reduce(stream.KeyBy(stream.Map(src, func(w string) wc { return wc{w, 1} }), func(x wc) string { return x.W }),
			func(a, b wc) wc { return wc{a.W, a.N + b.N} })
		out := stream.Collect(counts.Filter(func(x wc) bool { return x.N >= 2 }))
		if err := env.Execute(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := out.Values()
		slices.SortFunc(got, func(a, b wc) int {
			if a.W != b.W {
				if a.W < b.W {
					return -1
				}
				return 1
			}
			return a.N - b.N
		})
		want := []wc{{"a", 2}, {"a", 3}, {"b", 2}}
		if !slices.Equal(got, want) {
			t.Fatalf("p=%d: got %v, want %v", p, got, want)
		}
	}
}
