package runtime

import (
	"sync"
	"testing"

	"github.com/runnel-io/runnel/connector/datagen"
	"github.com/runnel-io/runnel/eventtime"
	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: Run promises that every
// goroutine it started has ended when it returns.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The helpers below build job graphs directly, the way the stream package does, with
// operators made of plain functions.

// addSource adds a datagen source of n ints (0..n-1) with timestamp = value.
func addSource(g *Graph, name string, p int, n int64) *Node {
	src, err := datagen.New(func(i int64) int { return int(i) }, datagen.Config{Count: n})
	if err != nil {
		panic(err)
	}
	strategy := eventtime.Monotonous(func(v int) int64 { return int64(v) })
	return g.Add(&Node{Name: name, Parallelism: p, Out: TypeOf[int](), Source: NewSource[int](src, strategy)})
}

// fnOp is a one-input operator calling f for every record.
type fnOp[T, U any] struct {
	c     *Context
	out   Output[U]
	f     func(c *Context, v T, ts int64, out Output[U])
	open  func(c *Context) error
	close func(c *Context) error
}

func (o *fnOp[T, U]) Collect(v T, ts int64) { o.f(o.c, v, ts, o.out) }
func (o *fnOp[T, U]) Watermark(wm int64)    { o.out.Watermark(wm) }
func (o *fnOp[T, U]) Idle(idle bool)        { o.out.Idle(idle) }
func (o *fnOp[T, U]) Finish()               { o.out.Finish() }

func (o *fnOp[T, U]) Open() error {
	if o.open != nil {
		return o.open(o.c)
	}
	return nil
}

func (o *fnOp[T, U]) Close() error {
	if o.close != nil {
		return o.close(o.c)
	}
	return nil
}

// addOp adds an operator node calling f for every record.
func addOp[T, U any](g *Graph, name string, p int, f func(c *Context, v T, ts int64, out Output[U])) *Node {
	return g.Add(&Node{Name: name, Parallelism: p, In: []Type{TypeOf[T]()}, Out: TypeOf[U](),
		Operator: func(c *Context, out any) (Instance, error) {
			o := &fnOp[T, U]{c: c, f: f, out: Discard[U]{}}
			if out != nil {
				o.out = out.(Output[U])
			}
			return o, nil
		}})
}

// mapOp returns an operator function applying f.
func mapOp[T, U any](f func(T) U) func(*Context, T, int64, Output[U]) {
	return func(_ *Context, v T, ts int64, out Output[U]) { out.Collect(f(v), ts) }
}

// results collects what sink nodes receive, by subtask. It is safe for concurrent use.
type results[T any] struct {
	mu  sync.Mutex
	got map[int][]T
	wms map[int][]int64
}

func (r *results[T]) bySubtask() map[int][]T {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[int][]T{}
	for i, vs := range r.got {
		out[i] = append([]T(nil), vs...)
	}
	return out
}

// addSink adds a sink node recording its records and watermarks into r.
func addSink[T any](g *Graph, name string, p int, r *results[T]) *Node {
	return g.Add(&Node{Name: name, Parallelism: p, In: []Type{TypeOf[T]()}, Sink: true,
		Operator: func(c *Context, _ any) (Instance, error) {
			return &sinkOp[T]{c: c, r: r}, nil
		}})
}

type sinkOp[T any] struct {
	c *Context
	r *results[T]
}

func (s *sinkOp[T]) Collect(v T, _ int64) {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	if s.r.got == nil {
		s.r.got = map[int][]T{}
	}
	s.r.got[s.c.Subtask] = append(s.r.got[s.c.Subtask], v)
}

func (s *sinkOp[T]) Watermark(wm int64) {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	if s.r.wms == nil {
		s.r.wms = map[int][]int64{}
	}
	s.r.wms[s.c.Subtask] = append(s.r.wms[s.c.Subtask], wm)
	s.c.SetWatermarks(wm, wm)
}

func (s *sinkOp[T]) Idle(bool)    {}
func (s *sinkOp[T]) Finish()      {}
func (s *sinkOp[T]) Open() error  { return nil }
func (s *sinkOp[T]) Close() error { return nil }

// connect joins from's main output to input 0 of to.
func connect(g *Graph, from, to *Node, part Partitioning) *Edge {
	e := &Edge{From: from, To: to, Part: part}
	g.Connect(e)
	return e
}
