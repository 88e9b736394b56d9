package runtime

import (
	"sync"
)

// Partitioning says how an edge spreads records over the consumer's subtasks.
type Partitioning uint8

const (
	// Forward sends subtask i's records to subtask i; both sides have the same parallelism.
	Forward Partitioning = iota
	// Rebalance spreads records round-robin.
	Rebalance
	// Hash routes each record by its key's key group (Edge.Route).
	Hash
	// Broadcast sends every record to every subtask.
	Broadcast
	// Custom routes each record with a user function (Edge.Route).
	Custom
)

func (p Partitioning) String() string {
	return [...]string{"FORWARD", "REBALANCE", "HASH", "BROADCAST", "CUSTOM"}[p]
}

// link is one channel from a producer subtask to a consumer subtask. The in-process link puts
// envelopes on the consumer's inbox; a network link (scale-out) would serialise them instead.
// Operators never see links: only writers and gates do.
type link interface {
	send(t *task, e envelope)
}

// inboxLink is the in-process link.
type inboxLink struct {
	inbox   chan envelope
	channel int32
}

func (l inboxLink) send(t *task, e envelope) {
	e.channel = l.channel
	select {
	case l.inbox <- e:
		return
	default:
	}
	start := t.clock.Now()
	select {
	case l.inbox <- e:
	case <-t.ctx.Done():
		panic(&taskAbort{err: t.ctx.Err()})
	}
	t.backpressured += t.clock.Since(start)
}

// writer is the Output that feeds an exchange: it routes records to per-consumer batches and
// sends a batch when it is full, when the task flushes (its input went idle or the flush
// interval passed), and before any watermark or marker, which must not overtake records.
type writer[T any] struct {
	t         *task
	links     []link
	bufs      []*batch[T]
	route     func(v T) int // consumer index; nil with one consumer or broadcast
	broadcast bool
	pool      *sync.Pool
	size      int
	pending   int // buffers holding records
	// consumer is the node the writer feeds and targets[i] the consumer subtask of links[i].
	consumer int
	targets  []int
	// siblings are the task's other writers into the same consumer node (the other input of a
	// two-input operator, say). When a batch fills, their partial batches for the same subtask
	// go too, so a sparse input does not fall thousands of records behind a dense one.
	siblings []flusher
}

func newWriter[T any](t *task, links []link, route func(T) int, broadcast bool, size int) *writer[T] {
	w := &writer[T]{t: t, links: links, bufs: make([]*batch[T], len(links)), route: route,
		broadcast: broadcast, pool: newBatchPool[T](size), size: size}
	t.flushers = append(t.flushers, w)
	return w
}

func (w *writer[T]) Collect(v T, ts int64) {
	if w.broadcast {
		for i := range w.links {
			w.add(i, v, ts)
		}
		return
	}
	i := 0
	if w.route != nil {
		i = w.route(v)
	}
	w.add(i, v, ts)
}

func (w *writer[T]) add(i int, v T, ts int64) {
	b := w.bufs[i]
	if b == nil {
		b = w.pool.Get().(*batch[T])
		w.bufs[i] = b
		w.pending++
	}
	b.vals = append(b.vals, v)
	b.ts = append(b.ts, ts)
	if len(b.vals) >= w.size {
		for _, s := range w.siblings {
			s.flushTarget(w.targets[i])
		}
		w.sendBatch(i)
	}
}

// flushTarget sends the partial batch for consumer subtask sub, if there is one.
func (w *writer[T]) flushTarget(sub int) {
	for i, t := range w.targets {
		if t == sub && w.bufs[i] != nil {
			w.sendBatch(i)
		}
	}
}

func (w *writer[T]) target() int { return w.consumer }

func (w *writer[T]) addSibling(f flusher) { w.siblings = append(w.siblings, f) }

func (w *writer[T]) sendBatch(i int) {
	b := w.bufs[i]
	w.bufs[i] = nil
	w.pending--
	w.t.sent += int64(len(b.vals))
	w.links[i].send(w.t, envelope{kind: kindRecords, batch: b})
}

// flush sends every partial batch.
func (w *writer[T]) flush() {
	if w.pending == 0 {
		return
	}
	for i, b := range w.bufs {
		if b != nil {
			w.sendBatch(i)
		}
	}
}

func (w *writer[T]) marker(e envelope) {
	w.flush()
	for _, l := range w.links {
		l.send(w.t, e)
	}
}

func (w *writer[T]) Watermark(wm int64) { w.marker(envelope{kind: kindWatermark, wm: wm}) }

func (w *writer[T]) Idle(idle bool) {
	if idle {
		w.marker(envelope{kind: kindIdle})
	} else {
		w.marker(envelope{kind: kindActive})
	}
}

func (w *writer[T]) Finish() { w.marker(envelope{kind: kindEnd}) }

func (w *writer[T]) barrier(id int64) { w.marker(envelope{kind: kindBarrier, wm: id}) }

// roundRobin makes the writer spread records over its consumers in turn, starting at start.
func (w *writer[T]) roundRobin(start int) {
	next, n := start%len(w.links), len(w.links)
	w.route = func(T) int {
		i := next
		if next++; next == n {
			next = 0
		}
		return i
	}
}

// Router routes records of type T on Hash and Custom edges: given the consumer's parallelism it
// returns the function that picks the consumer subtask of a record.
type Router[T any] func(parallelism int) func(v T) int

func (r Router[T]) forParallelism(p int) any { return r(p) }

// flusher is implemented by writers; a task flushes them all when its input goes idle.
type flusher interface {
	flush()
	barrier(id int64)
	flushTarget(subtask int)
	target() int
	addSibling(f flusher)
}

// linkSiblings tells every writer of a task about the task's other writers into the same
// consumer node.
func linkSiblings(ws []flusher) {
	for i, a := range ws {
		for j, b := range ws {
			if i != j && a.target() == b.target() {
				a.addSibling(b)
			}
		}
	}
}
