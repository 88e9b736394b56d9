package stream

import (
	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/datagen"
	"github.com/runnel-io/runnel/eventtime"
	rt "github.com/runnel-io/runnel/internal/runtime"
)

// FromSource adds a source to the job. The strategy gives records their event time and the
// source its watermarks, per split; the zero Strategy means processing time only.
func FromSource[T any](env *Env, src connector.Source[T], strategy eventtime.Strategy[T]) Stream[T] {
	if err := strategy.Validate(); err != nil {
		panic("stream: " + err.Error())
	}
	n := env.g.Add(&rt.Node{Name: "Source", Out: rt.TypeOf[T](), Source: rt.NewSource(src, strategy)})
	return single[T](env, n)
}

// FromSlice adds a bounded source of the given records. Each parallel reader reads a
// contiguous part of the slice in order. The source can be checkpointed (it is a
// datagen.Slice, which implements connector.SplitCodec): a split's position is an index into
// vals, so a job restored from a checkpoint must be given the same records.
func FromSlice[T any](env *Env, vals []T, strategy eventtime.Strategy[T]) Stream[T] {
	return FromSource(env, datagen.Slice(vals), strategy).Name("FromSlice")
}
