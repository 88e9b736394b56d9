package nexmark

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/eventtime"
)

// resultSink is the state the runner's sink writers share: where results go, how latency is
// measured, and the totals. Writers keep their own counts and merge them when they close.
type resultSink struct {
	out io.Writer // JSON lines; nil discards results

	// Latency is measured when clock is set: a result with timestamp ts is due at wall time
	// start + (ts - base) milliseconds. Results stamped after last, the time of the last event,
	// are not measured: only the end of input, not the stream, made them due.
	clock      eventtime.Clock
	start      time.Time
	base, last int64

	mu      sync.Mutex // guards what follows, and writes to out
	results int64
	latency histogram
}

// flushSize is how much JSON a writer buffers before it writes to the shared output.
const flushSize = 64 << 10

// sinkOf is the connector.Sink of results of type T.
type sinkOf[T any] struct{ s *resultSink }

var _ connector.Sink[Q0Result] = sinkOf[Q0Result]{}

func (k sinkOf[T]) NewWriter(context.Context, connector.SinkContext) (connector.Writer[T], error) {
	w := &resultWriter[T]{s: k.s}
	if k.s.out != nil {
		w.enc = json.NewEncoder(&w.buf)
	}
	return w, nil
}

// resultWriter is one subtask's writer.
type resultWriter[T any] struct {
	s       *resultSink
	buf     bytes.Buffer
	enc     *json.Encoder
	results int64
	latency histogram
}

func (w *resultWriter[T]) Write(_ context.Context, v T, ts int64) error {
	w.results++
	if s := w.s; s.clock != nil && ts <= s.last {
		due := s.start.Add(time.Duration(ts-s.base) * time.Millisecond)
		w.latency.record(s.clock.Since(due))
	}
	if w.enc == nil {
		return nil
	}
	if err := w.enc.Encode(v); err != nil {
		return fmt.Errorf("encoding result: %w", err)
	}
	if w.buf.Len() >= flushSize {
		return w.flush()
	}
	return nil
}

func (w *resultWriter[T]) flush() error {
	if w.buf.Len() == 0 {
		return nil
	}
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	_, err := w.s.out.Write(w.buf.Bytes())
	w.buf.Reset()
	if err != nil {
		return fmt.Errorf("writing results: %w", err)
	}
	return nil
}

// PreCommit writes what is buffered: it runs at end of input.
func (w *resultWriter[T]) PreCommit(context.Context, int64) ([]connector.Committable, error) {
	return nil, w.flush()
}

// Close adds the writer's counts to the totals.
func (w *resultWriter[T]) Close() error {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	w.s.results += w.results
	w.s.latency.merge(&w.latency)
	w.results = 0
	w.latency = histogram{}
	return nil
}
