package stream

import (
	"fmt"
	"runtime"

	rt "github.com/runnel-io/runnel/internal/runtime"
)

func defaultParallelism() int { return runtime.GOMAXPROCS(0) }

// Stream is a stream of records of type T. Stream values are cheap handles: copying one copies
// the handle, not the records. The zero Stream is not usable.
type Stream[T any] struct {
	env   *Env
	parts []part // the producers; several after Union
	how   rt.Partitioning
	route any // rt.Router[T] for Hash and Custom
	// explicit marks a partitioning the user asked for; default forward edges become rebalancing
	// ones where parallelism changes.
	explicit bool
}

// part is one producer of a stream: a node's main output or one of its side outputs.
type part struct {
	node *rt.Node
	tag  string
}

func single[T any](env *Env, n *rt.Node) Stream[T] {
	return Stream[T]{env: env, parts: []part{{node: n}}}
}

// node returns the node that produces the stream, for setting its attributes; streams made by
// Union have none.
func (s Stream[T]) node() *rt.Node {
	if len(s.parts) != 1 {
		panic("stream: a union of streams has no single operator to configure; configure the inputs or the next operator")
	}
	return s.parts[0].node
}

// Name names the operator that produces s; names show in the plan, metrics and errors.
func (s Stream[T]) Name(name string) Stream[T] { s.node().Name = name; return s }

// Uid sets the stable ID that matches the operator's state across job versions (savepoints).
func (s Stream[T]) Uid(uid string) Stream[T] { s.node().UID = uid; return s }

// Parallelism sets the number of parallel subtasks of the operator that produces s.
func (s Stream[T]) Parallelism(p int) Stream[T] { s.node().Parallelism = p; return s }

// DisableChaining runs the operator that produces s in a task of its own.
func (s Stream[T]) DisableChaining() Stream[T] { s.node().NoChain = true; return s }

// Rebalance spreads s round-robin over the next operator's subtasks.
func (s Stream[T]) Rebalance() Stream[T] {
	s.how, s.route, s.explicit = rt.Rebalance, nil, true
	return s
}

// Forward sends subtask i's records to subtask i of the next operator, which must have the same
// parallelism.
func (s Stream[T]) Forward() Stream[T] {
	s.how, s.route, s.explicit = rt.Forward, nil, true
	return s
}

// Broadcast sends every record to every subtask of the next operator.
func (s Stream[T]) Broadcast() Stream[T] {
	s.how, s.route, s.explicit = rt.Broadcast, nil, true
	return s
}

// PartitionCustom routes each record to subtask partition(v, parallelism) of the next operator;
// the result must be in [0, parallelism).
func (s Stream[T]) PartitionCustom(partition func(v T, parallelism int) int) Stream[T] {
	s.how, s.explicit = rt.Custom, true
	s.route = rt.Router[T](func(p int) func(T) int {
		return func(v T) int {
			i := partition(v, p)
			if i < 0 || i >= p {
				panic(fmt.Sprintf("stream: custom partitioner returned subtask %d for parallelism %d on record %+v", i, p, v))
			}
			return i
		}
	})
	return s
}

// Union merges streams of the same type into one, with no ordering between them.
func (s Stream[T]) Union(others ...Stream[T]) Stream[T] {
	u := Stream[T]{env: s.env, parts: append([]part(nil), s.parts...)}
	for _, o := range others {
		if o.env != s.env {
			panic("stream: Union of streams from different jobs")
		}
		u.parts = append(u.parts, o.parts...)
	}
	return u
}

// connect wires s into input `input` of n.
func (s Stream[T]) connect(n *rt.Node, input int) {
	for _, p := range s.parts {
		s.env.g.Connect(&rt.Edge{From: p.node, Tag: p.tag, To: n, Input: input, Part: s.how, Route: s.route, Explicit: s.explicit})
	}
}

// operatorNode adds a one-input node reading s.
func operatorNode[T, U any](s Stream[T], name string, make func(c *rt.Context, out any) (rt.Instance, error)) *rt.Node {
	n := s.env.g.Add(&rt.Node{Name: name, In: []rt.Type{rt.TypeOf[T]()}, Out: rt.TypeOf[U](), Operator: make})
	s.connect(n, 0)
	return n
}
