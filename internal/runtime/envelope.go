package runtime

import "sync"

// kind says what an envelope carries.
type kind uint8

const (
	kindRecords   kind = iota // a batch of records
	kindWatermark             // wm holds the watermark
	kindIdle                  // the sending channel became idle
	kindActive                // the sending channel became active again
	kindEnd                   // the sending channel has ended
	kindBarrier               // checkpoint barrier; wm holds the checkpoint ID
)

// envelope is what travels between tasks. Records travel in batches; everything else is a
// marker that is ordered with them on the same channel.
type envelope struct {
	kind    kind
	channel int32 // the receiving gate's channel index
	wm      int64
	batch   any // *batch[T] for kindRecords
}

// batch is a run of records of one type with their timestamps. A batch belongs to whoever
// holds it; the receiver puts it back into its pool after use.
type batch[T any] struct {
	vals []T
	ts   []int64
	pool *sync.Pool
}

func newBatchPool[T any](size int) *sync.Pool {
	p := &sync.Pool{}
	p.New = func() any {
		return &batch[T]{vals: make([]T, 0, size), ts: make([]int64, 0, size), pool: p}
	}
	return p
}

func (b *batch[T]) release() {
	clear(b.vals) // drop references so pooled batches do not keep records alive
	b.vals, b.ts = b.vals[:0], b.ts[:0]
	b.pool.Put(b)
}
