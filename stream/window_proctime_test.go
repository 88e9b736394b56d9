package stream_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/stream"
	"github.com/runnel-io/runnel/window"
)

// pushSource is a source the test feeds batch by batch; closing ch ends it. It has one split,
// read by reader 0.
type pushSource[T any] struct {
	ch    chan []T
	avail chan struct{}
}

func newPushSource[T any]() *pushSource[T] {
	return &pushSource[T]{ch: make(chan []T, 16), avail: make(chan struct{}, 1)}
}

func (s *pushSource[T]) push(vs ...T) {
	s.ch <- vs
	s.wake()
}

func (s *pushSource[T]) close() {
	close(s.ch)
	s.wake()
}

func (s *pushSource[T]) wake() {
	select {
	case s.avail <- struct{}{}:
	default:
	}
}

type pushSplit struct{}

func (pushSplit) SplitID() string { return "push" }

func (s *pushSource[T]) Boundedness() connector.Boundedness { return connector.Bounded }

func (s *pushSource[T]) NewEnumerator(ctx connector.EnumeratorContext, _ []connector.Split) (connector.Enumerator, error) {
	return pushEnumerator{ctx}, nil
}

type pushEnumerator struct{ ctx connector.EnumeratorContext }

func (e pushEnumerator) Start(context.Context) error { return nil }
func (e pushEnumerator) AddReader(_ context.Context, subtask int) error {
	if subtask == 0 {
		e.ctx.Assign(0, pushSplit{})
	}
	e.ctx.NoMoreSplits(subtask)
	return nil
}
func (pushEnumerator) AddSplitsBack([]connector.Split, int) {}
func (pushEnumerator) Snapshot() ([]connector.Split, error) { return nil, nil }
func (pushEnumerator) Close() error                         { return nil }

func (s *pushSource[T]) NewReader(connector.ReaderContext) (connector.Reader[T], error) {
	return &pushReader[T]{s: s}, nil
}

type pushReader[T any] struct {
	s             *pushSource[T]
	split, noMore bool
}

func (r *pushReader[T]) AddSplits([]connector.Split) { r.split = true }
func (r *pushReader[T]) NoMoreSplits()               { r.noMore = true }

func (r *pushReader[T]) Read(_ context.Context, out connector.ReaderOutput[T]) (connector.ReadStatus, error) {
	if !r.split {
		if r.noMore {
			return connector.EndOfInput, nil
		}
		return connector.NothingAvailable, nil
	}
	select {
	case vs, ok := <-r.s.ch:
		if !ok {
			out.ReleaseSplit("push")
			return connector.EndOfInput, nil
		}
		o := out.Split("push")
		for _, v := range vs {
			o.Collect(v, 0)
		}
		return connector.MoreAvailable, nil
	default:
		return connector.NothingAvailable, nil
	}
}

func (r *pushReader[T]) Available() <-chan struct{}                { return r.s.avail }
func (r *pushReader[T]) Snapshot(int64) ([]connector.Split, error) { return nil, nil }
func (r *pushReader[T]) Close() error                              { return nil }

// chanSink sends what it receives, with timestamps, to a channel.
type chanSink[T any] chan res

func (c chanSink[T]) NewWriter(context.Context, connector.SinkContext) (connector.Writer[res], error) {
	return chanWriter(c), nil
}

type chanWriter chan res

func (w chanWriter) Write(_ context.Context, v res, ts int64) error {
	v.TS = ts
	w <- v
	return nil
}
func (chanWriter) PreCommit(context.Context, int64) ([]connector.Committable, error) {
	return nil, nil
}
func (chanWriter) Close() error { return nil }

// signalTrigger wraps a trigger and signals every record it sees, after the wrapped trigger
// ran: the test then knows the operator has assigned the record to its window.
type signalTrigger struct {
	window.Trigger
	seen chan<- struct{}
}

func (s signalTrigger) OnElement(ts int64, w window.Window, ctx window.TriggerContext) window.TriggerResult {
	r := s.Trigger.OnElement(ts, w, ctx)
	s.seen <- struct{}{}
	return r
}

// TestWindowProcessingTime drives tumbling processing-time windows with a fake clock: a
// window fires when the clock passes its end, through the task's timer, and panes the clock
// has not fired by end of input are dropped (and logged).
func TestWindowProcessingTime(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t0 := start.UnixMilli()
	clock := clockwork.NewFakeClockAt(start)
	var logs syncBuffer
	env := stream.New("processing time", stream.Config{Parallelism: 1, Clock: clock,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	src := newPushSource[ev]()
	seen := make(chan struct{}, 64)
	out := make(chan res, 64)
	w := stream.Window(stream.KeyBy(stream.FromSource(env, src, eventtime.Strategy[ev]{}), evKey), window.TumblingProcessingTime(10*time.Second)).
		Trigger(signalTrigger{window.ProcessingTimeTrigger(), seen})
	stream.WindowAggregateProcess(w, sumAgg, describe).SinkTo(chanSink[res](out))
	done := make(chan error, 1)
	go func() { done <- env.Execute(ctx) }()

	push := func(evs ...ev) {
		t.Helper()
		src.push(evs...)
		for range evs {
			select {
			case <-seen:
			case err := <-done:
				t.Fatalf("the job ended early: %v", err)
			case <-ctx.Done():
				t.Fatal("timed out waiting for the window operator to take a record")
			}
		}
	}
	receive := func(n int) []res {
		t.Helper()
		var got []res
		for range n {
			select {
			case r := <-out:
				got = append(got, r)
			case <-ctx.Done():
				t.Fatalf("timed out after %d of %d results: %v", len(got), n, got)
			}
		}
		return sorted(got)
	}
	// The job's clock waiters: the flush tickers of the source task and of the window task,
	// plus the one timer the window task arms for its earliest processing-time timer.
	const tickers = 2
	armed := func() {
		t.Helper()
		if err := clock.BlockUntilContext(ctx, tickers+1); err != nil {
			t.Fatalf("the window operator armed no clock timer: %v", err)
		}
	}

	push(ev{"a", 0, 1}, ev{"b", 0, 2}, ev{"a", 0, 4})
	armed()
	select {
	case r := <-out:
		t.Fatalf("a window fired before the clock reached its end: %v", r)
	default:
	}
	clock.Advance(10*time.Second - time.Millisecond) // to the windows' MaxTimestamp
	want := []res{r("a", t0, t0+10_000, 5), r("b", t0, t0+10_000, 2)}
	if got := receive(2); !slices.Equal(got, want) {
		t.Fatalf("first windows:\n got %v\nwant %v", got, want)
	}

	clock.Advance(time.Millisecond) // now t0+10s: the next window
	push(ev{"b", 0, 8})
	armed()
	clock.Advance(10 * time.Second)
	if got, want := receive(1), []res{r("b", t0+10_000, t0+20_000, 8)}; !slices.Equal(got, want) {
		t.Fatalf("second window:\n got %v\nwant %v", got, want)
	}

	push(ev{"a", 0, 16}) // never fired: input ends first
	src.close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(out) != 0 {
		t.Fatalf("a processing-time window fired at end of input: %v", <-out)
	}
	if l := logs.String(); !strings.Contains(l, "processing-time windows not fired by end of input were dropped") || !strings.Contains(l, "panes=1") {
		t.Errorf("the dropped pane is not logged; logs:\n%s", l)
	}
}
