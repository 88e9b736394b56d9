package runtime

import (
	"fmt"
	"reflect"
)

// Type is the record type of a stream, erased so that the graph can hold nodes and edges of any
// type while the runtime still builds typed writers, fan-outs and deliveries for them.
type Type interface {
	fmt.Stringer
	newWriter(t *task, links []link, route any, broadcast bool, size int, consumer int, targets []int) any
	fanOut(outs []any) any
	count(out any, n *int64) any
	withSides(out any, sides []Control) any
	discard() any
	deliverer(to any) func(b any) int
	newPool(size int) any
}

// TypeOf returns the Type of records of type T. Types compare equal when their T is the same.
func TypeOf[T any]() Type { return typeOf[T]{} }

type typeOf[T any] struct{}

func (typeOf[T]) String() string { return reflect.TypeFor[T]().String() }

func (typeOf[T]) newWriter(t *task, links []link, route any, broadcast bool, size int, consumer int, targets []int) any {
	var r func(T) int
	if route != nil {
		r = route.(func(T) int)
	}
	w := newWriter[T](t, links, r, broadcast, size)
	w.consumer, w.targets = consumer, targets
	return w
}

func (typeOf[T]) fanOut(outs []any) any {
	switch len(outs) {
	case 0:
		return Discard[T]{}
	case 1:
		return outs[0].(Output[T])
	}
	f := make(fanOut[T], len(outs))
	for i, o := range outs {
		f[i] = o.(Output[T])
	}
	return f
}

func (typeOf[T]) count(out any, n *int64) any { return counted[T]{next: out.(Output[T]), n: n} }

func (typeOf[T]) withSides(out any, sides []Control) any {
	return withSides[T]{Output: out.(Output[T]), sides: sides}
}

func (typeOf[T]) discard() any { return Discard[T]{} }

func (typeOf[T]) newPool(size int) any { return newBatchPool[T](size) }

// deliverer returns the function that hands a received batch to the operator input to, one
// record at a time, and recycles the batch.
func (typeOf[T]) deliverer(to any) func(b any) int {
	in, ok := to.(Output[T])
	if !ok {
		panic(fmt.Sprintf("runtime: operator input %T does not accept %v", to, reflect.TypeFor[T]()))
	}
	return func(b any) int {
		bt := b.(*batch[T])
		for i, v := range bt.vals {
			in.Collect(v, bt.ts[i])
		}
		n := len(bt.vals)
		bt.release()
		return n
	}
}
