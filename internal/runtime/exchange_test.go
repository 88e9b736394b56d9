package runtime

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/jonboulle/clockwork"
)

// recLink records what a writer sends on one link: "c1 [3 4]" for a batch to consumer 1,
// "c0 wm 7" for a watermark, "c0 end" for the end marker.
type recLink struct {
	consumer int
	log      *[]string
}

func (l recLink) send(_ *task, e envelope) {
	switch e.kind {
	case kindRecords:
		b := e.batch.(*batch[int])
		*l.log = append(*l.log, fmt.Sprintf("c%d %v", l.consumer, b.vals))
		b.release()
	case kindWatermark:
		*l.log = append(*l.log, fmt.Sprintf("c%d wm %d", l.consumer, e.wm))
	case kindIdle:
		*l.log = append(*l.log, fmt.Sprintf("c%d idle", l.consumer))
	case kindActive:
		*l.log = append(*l.log, fmt.Sprintf("c%d active", l.consumer))
	case kindEnd:
		*l.log = append(*l.log, fmt.Sprintf("c%d end", l.consumer))
	}
}

func newTestWriter(consumers int, route func(int) int, broadcast bool, size int) (*writer[int], *task, *[]string) {
	log := &[]string{}
	links := make([]link, consumers)
	for i := range links {
		links[i] = recLink{consumer: i, log: log}
	}
	t := &task{}
	return newWriter[int](t, links, route, broadcast, size), t, log
}

// TestWriterBatches checks when a writer sends: a batch as soon as it is full, partial batches
// on flush and before every marker (so markers never overtake records), markers to every
// consumer.
func TestWriterBatches(t *testing.T) {
	w, tk, log := newTestWriter(2, func(v int) int { return v % 2 }, false, 3)
	for v := range 8 {
		w.Collect(v, int64(v))
	}
	want := []string{"c0 [0 2 4]", "c1 [1 3 5]"}
	if !slices.Equal(*log, want) {
		t.Fatalf("full batches: got %v, want %v", *log, want)
	}
	w.Watermark(7)
	want = append(want, "c0 [6]", "c1 [7]", "c0 wm 7", "c1 wm 7")
	if !slices.Equal(*log, want) {
		t.Fatalf("after a watermark: got %v, want %v", *log, want)
	}
	w.Collect(8, 8)
	tk.flushAll() // the task flushes every writer it owns
	w.flush()     // nothing pending: sends nothing
	w.Idle(true)
	w.Idle(false)
	w.Finish()
	want = append(want, "c0 [8]", "c0 idle", "c1 idle", "c0 active", "c1 active", "c0 end", "c1 end")
	if !slices.Equal(*log, want) {
		t.Fatalf("got  %v\nwant %v", *log, want)
	}
	if tk.sent != 9 {
		t.Fatalf("task counted %d records sent, want 9", tk.sent)
	}
}

func TestWriterRoundRobin(t *testing.T) {
	w, _, log := newTestWriter(3, nil, false, 2)
	w.roundRobin(1) // producer subtask 1 starts at consumer 1
	for v := range 6 {
		w.Collect(v, 0)
	}
	want := []string{"c1 [0 3]", "c2 [1 4]", "c0 [2 5]"}
	if !slices.Equal(*log, want) {
		t.Fatalf("got %v, want %v", *log, want)
	}
}

func TestWriterBroadcast(t *testing.T) {
	w, tk, log := newTestWriter(3, nil, true, 2)
	w.Collect(1, 0)
	w.Collect(2, 0)
	want := []string{"c0 [1 2]", "c1 [1 2]", "c2 [1 2]"}
	if !slices.Equal(*log, want) {
		t.Fatalf("got %v, want %v", *log, want)
	}
	if tk.sent != 6 {
		t.Fatalf("task counted %d records sent, want 6", tk.sent)
	}
}

// TestBatchReleaseClearsRecords checks that a pooled batch drops its records, so that a batch
// waiting in the pool keeps nothing alive.
func TestBatchReleaseClearsRecords(t *testing.T) {
	b := newBatchPool[*int](4).Get().(*batch[*int])
	x := 1
	b.vals = append(b.vals, &x)
	b.ts = append(b.ts, 1)
	vals := b.vals[:1]
	b.release()
	if len(b.vals) != 0 || len(b.ts) != 0 {
		t.Fatalf("released batch holds %d records", len(b.vals))
	}
	if vals[0] != nil {
		t.Fatal("released batch still references its record")
	}
}

// TestInboxLinkCancelled checks that a send blocked on a full inbox gives up when the job is
// cancelled, unwinding the task with the context's error.
func TestInboxLinkCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	tk := &task{ctx: ctx, clock: clockwork.NewFakeClock()}
	l := inboxLink{inbox: make(chan envelope, 1), channel: 3}
	l.send(tk, envelope{kind: kindWatermark, wm: 1})
	if e := <-l.inbox; e.channel != 3 {
		t.Fatalf("envelope on channel %d, want 3", e.channel)
	}
	l.send(tk, envelope{kind: kindWatermark, wm: 2}) // fills the inbox
	cancel()
	defer func() {
		a, ok := recover().(*taskAbort)
		if !ok || a.err != context.Canceled {
			t.Fatalf("send on a full inbox after cancel: recovered %v, want a task abort with context.Canceled", a)
		}
	}()
	l.send(tk, envelope{kind: kindWatermark, wm: 3})
	t.Fatal("send on a full inbox returned after cancel")
}

// TestWriterFlushesSiblings checks that when one input of a consumer fills a batch, the task's
// other writers into that consumer send their partial batches for the same subtask first, so a
// sparse input does not lag a dense one by whole batches.
func TestWriterFlushesSiblings(t *testing.T) {
	log := &[]string{}
	tk := &task{}
	dense := newWriter[int](tk, []link{recLink{0, log}, recLink{1, log}}, func(v int) int { return v % 2 }, false, 2)
	sparse := newWriter[int](tk, []link{recLink{0, log}, recLink{1, log}}, func(v int) int { return v % 2 }, false, 2)
	other := newWriter[int](tk, []link{recLink{0, log}}, nil, false, 2) // feeds another node
	dense.consumer, dense.targets = 7, []int{0, 1}
	sparse.consumer, sparse.targets = 7, []int{0, 1}
	other.consumer, other.targets = 8, []int{0}
	linkSiblings(tk.flushers)

	sparse.Collect(100, 0) // partial, for subtask 0
	sparse.Collect(101, 0) // partial, for subtask 1
	other.Collect(5, 0)    // partial, other consumer: must stay
	dense.Collect(0, 0)
	dense.Collect(2, 0) // fills subtask 0's batch
	want := []string{"c0 [100]", "c0 [0 2]"}
	if !slices.Equal(*log, want) {
		t.Fatalf("got %v, want %v", *log, want)
	}
	if sparse.bufs[1] == nil || other.bufs[0] == nil {
		t.Fatal("a partial batch for another subtask or another consumer was sent")
	}
}
