package connectortest

import (
	"fmt"
	"log/slog"
	"math"
	"slices"
	"testing"

	"github.com/runnel-io/runnel/connector"
)

// SinkHarness tells the suite how to make a connector's sink and read back what it made
// visible. Setup, Record and Key are required.
type SinkHarness[T any] struct {
	// Setup makes a fresh place of the external system to write to (a topic, a stream, a
	// prefix, a directory). Each check calls it once.
	Setup func(t *testing.T) SinkFixture[T]
	// Record returns the i-th record to write; records with different i must have different
	// keys.
	Record func(i int) T
	// Key returns the identity of a record, as Visible reports it.
	Key func(v T) string
	// ExactlyOnce says the sink is a TwoPhaseCommitter whose output becomes visible only when
	// committed; false means an at-least-once sink, whose output is visible once PreCommit
	// returns.
	ExactlyOnce bool
	// Parallelism is the number of writers; default 2.
	Parallelism int
}

// SinkFixture is one place of the external system written to.
type SinkFixture[T any] struct {
	// New returns a sink writing there. The suite calls it once per simulated process.
	New func() connector.Sink[T]
	// Visible returns the key of every record a reader of the external system sees now (for
	// exactly-once sinks: a reader of committed output only), one entry per record.
	Visible func(t *testing.T) []string
}

// Sink runs the sink conformance checks against h, each as a subtest. For exactly-once sinks:
//
//   - CommitMakesVisible: nothing written is visible before it is committed, pre-committed or
//     not; committing a checkpoint's committables makes exactly its records visible, also while
//     the writers go on with the next checkpoint; the end of input pre-commits and commits the
//     rest; Close keeps what was committed.
//   - CommitIdempotent: committing the same committables again, with the same committer and
//     with one of a new process (after its writer of the next attempt was made, as the runtime
//     does), changes nothing.
//   - RecommitAfterCrash: committables pre-committed before a crash and committed only by the
//     restored process become visible once.
//   - RecommitRescaled: the same, restored at another parallelism, where the runtime deals the
//     committables of all old subtasks round robin over the new ones.
//   - UncommittedNeverVisible: what was pre-committed for a checkpoint that never completed,
//     and what was written and never pre-committed, stays invisible after the restored
//     process commits its own output.
//   - Abort: aborted committables never become visible.
//
// For at-least-once sinks:
//
//   - PreCommitFlushes: everything written before PreCommit is visible when it returns, once;
//     PreCommit returns no committables unless the sink is a TwoPhaseCommitter; a writer of the
//     next attempt after a crash writes on.
func Sink[T any](t *testing.T, h SinkHarness[T]) {
	t.Helper()
	if h.Setup == nil || h.Record == nil || h.Key == nil {
		t.Fatal("connectortest: SinkHarness needs Setup, Record and Key")
	}
	if h.Parallelism <= 0 {
		h.Parallelism = 2
	}
	if !h.ExactlyOnce {
		t.Run("PreCommitFlushes", func(t *testing.T) { checkFlushes(t, &h) })
		return
	}
	t.Run("CommitMakesVisible", func(t *testing.T) { checkCommitMakesVisible(t, &h) })
	t.Run("CommitIdempotent", func(t *testing.T) { checkCommitIdempotent(t, &h) })
	t.Run("RecommitAfterCrash", func(t *testing.T) { checkRecommit(t, &h) })
	t.Run("RecommitRescaled", func(t *testing.T) { checkRecommitRescaled(t, &h) })
	t.Run("UncommittedNeverVisible", func(t *testing.T) { checkUncommitted(t, &h) })
	t.Run("Abort", func(t *testing.T) { checkAbort(t, &h) })
}

// subtasks is one incarnation of a sink: a writer and a committer per subtask.
type subtasks[T any] struct {
	t          *testing.T
	h          *SinkHarness[T]
	sink       connector.Sink[T]
	writers    []connector.Writer[T]
	committers []connector.Committer // nil entries when the sink is no TwoPhaseCommitter
	closed     bool
}

// open makes the writers (of attempt) and committers of a new incarnation of sink.
func open[T any](t *testing.T, h *SinkHarness[T], sink connector.Sink[T], attempt int) *subtasks[T] {
	return openP(t, h, sink, attempt, h.Parallelism)
}

// openP is open at parallelism p.
func openP[T any](t *testing.T, h *SinkHarness[T], sink connector.Sink[T], attempt, p int) *subtasks[T] {
	t.Helper()
	ctx := t.Context()
	s := &subtasks[T]{t: t, h: h, sink: sink}
	t.Cleanup(func() { s.close() })
	tp, _ := sink.(connector.TwoPhaseCommitter)
	if h.ExactlyOnce && tp == nil {
		t.Fatal("contract: an exactly-once sink must implement connector.TwoPhaseCommitter")
	}
	for i := range p {
		w, err := sink.NewWriter(ctx, connector.SinkContext{Subtask: i, Parallelism: p, Attempt: attempt,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("NewWriter(subtask %d, attempt %d): %v", i, attempt, err)
		}
		s.writers = append(s.writers, w)
		var c connector.Committer
		if tp != nil {
			if c, err = tp.NewCommitter(ctx); err != nil {
				t.Fatalf("NewCommitter: %v", err)
			}
		}
		s.committers = append(s.committers, c)
	}
	return s
}

// write writes records from..to-1, record i by subtask i mod parallelism, and returns their keys.
func (s *subtasks[T]) write(from, to int) []string {
	s.t.Helper()
	var keys []string
	for i := from; i < to; i++ {
		v := s.h.Record(i)
		if err := s.writers[i%len(s.writers)].Write(s.t.Context(), v, int64(1_700_000_000_000+i)); err != nil {
			s.t.Fatalf("subtask %d: Write(record %d): %v", i%len(s.writers), i, err)
		}
		keys = append(keys, s.h.Key(v))
	}
	return keys
}

// preCommit pre-commits checkpoint id on every writer; it returns the committables by subtask.
func (s *subtasks[T]) preCommit(id int64) [][]connector.Committable {
	s.t.Helper()
	out := make([][]connector.Committable, len(s.writers))
	for i, w := range s.writers {
		cs, err := w.PreCommit(s.t.Context(), id)
		if err != nil {
			s.t.Fatalf("subtask %d: PreCommit(%d): %v", i, id, err)
		}
		if len(cs) > 0 && s.committers[i] == nil {
			s.t.Errorf("contract: subtask %d: PreCommit returned %d committables, but the sink is no TwoPhaseCommitter (the runtime fails the job)", i, len(cs))
		}
		out[i] = copyCommittables(cs)
	}
	return out
}

// copyCommittables copies cs, as storing them in a checkpoint does: a committable must not
// depend on memory the writer keeps.
func copyCommittables(cs []connector.Committable) []connector.Committable {
	out := make([]connector.Committable, len(cs))
	for i, c := range cs {
		out[i] = slices.Clone(c)
	}
	return out
}

// commit commits each subtask's committables with its own committer.
func (s *subtasks[T]) commit(cs [][]connector.Committable) {
	s.t.Helper()
	for i, c := range cs {
		if len(c) == 0 {
			continue
		}
		if err := s.committers[i].Commit(s.t.Context(), copyCommittables(c)); err != nil {
			s.t.Fatalf("subtask %d: Commit: %v", i, err)
		}
	}
}

// close closes writers and committers as the runtime does when a task ends or fails.
func (s *subtasks[T]) close() {
	if s.closed {
		return
	}
	s.closed = true
	for i, w := range s.writers {
		if err := w.Close(); err != nil {
			s.t.Errorf("subtask %d: Writer.Close: %v", i, err)
		}
		if c := s.committers[i]; c != nil {
			if err := c.Close(); err != nil {
				s.t.Errorf("subtask %d: Committer.Close: %v", i, err)
			}
		}
	}
}

func expectVisible[T any](t *testing.T, fx SinkFixture[T], when string, want []string) {
	t.Helper()
	if d := diff(fx.Visible(t), want); d != "" {
		t.Errorf("visible %s: %s", when, d)
	}
}

func checkCommitMakesVisible[T any](t *testing.T, h *SinkHarness[T]) {
	fx := h.Setup(t)
	s := open(t, h, fx.New(), 0)
	a := s.write(0, 100)
	expectVisible(t, fx, "after Write, before PreCommit", nil)
	cs1 := s.preCommit(1)
	expectVisible(t, fx, "after PreCommit, before Commit", nil)
	b := s.write(100, 130) // records after the barrier, before the checkpoint completes
	s.commit(cs1)
	expectVisible(t, fx, "after Commit of checkpoint 1", a)
	b = append(b, s.write(130, 150)...)
	cs2 := s.preCommit(2)
	expectVisible(t, fx, "after PreCommit of checkpoint 2, before its Commit", a)
	cs3 := s.preCommit(3) // nothing written in between
	s.commit(cs2)
	s.commit(cs3)
	expectVisible(t, fx, "after Commit of checkpoints 2 and 3", append(slices.Clone(a), b...))
	c := s.write(150, 200)
	end := s.preCommit(math.MaxInt64) // end of input, as stream's sink does it
	s.commit(end)
	all := append(append(slices.Clone(a), b...), c...)
	expectVisible(t, fx, "after the end of input's PreCommit and Commit", all)
	s.close()
	expectVisible(t, fx, "after Close", all)
}

func checkCommitIdempotent[T any](t *testing.T, h *SinkHarness[T]) {
	fx := h.Setup(t)
	s := open(t, h, fx.New(), 0)
	a := s.write(0, 100)
	cs := s.preCommit(1)
	s.commit(cs)
	s.commit(cs)
	expectVisible(t, fx, "after committing checkpoint 1 twice", a)
	s.close()
	expectVisible(t, fx, "after Close", a)
	// A new process restores checkpoint 1 and commits its committables again.
	s2 := open(t, h, fx.New(), 1)
	s2.commit(cs)
	expectVisible(t, fx, "after a new process committed checkpoint 1 again", a)
	b := s2.write(100, 150)
	s2.commit(s2.preCommit(2))
	expectVisible(t, fx, "after the new process committed checkpoint 2", append(slices.Clone(a), b...))
}

func checkRecommit[T any](t *testing.T, h *SinkHarness[T]) {
	fx := h.Setup(t)
	s := open(t, h, fx.New(), 0)
	a := s.write(0, 100)
	cs := s.preCommit(1)
	// The checkpoint completes, but the process dies before committing.
	s.close()
	expectVisible(t, fx, "after a crash between PreCommit and Commit", nil)
	s2 := open(t, h, fx.New(), 1)
	s2.commit(cs)
	expectVisible(t, fx, "after the restored process committed checkpoint 1", a)
	b := s2.write(100, 150)
	s2.commit(s2.preCommit(2))
	expectVisible(t, fx, "after the restored process committed checkpoint 2", append(slices.Clone(a), b...))
}

func checkRecommitRescaled[T any](t *testing.T, h *SinkHarness[T]) {
	fx := h.Setup(t)
	s := open(t, h, fx.New(), 0)
	a := s.write(0, 100)
	cs := s.preCommit(1)
	s.close()
	q := h.Parallelism + 1
	if h.Parallelism > 1 {
		q = 1
	}
	s2 := openP(t, h, fx.New(), 1, q)
	dealt := make([][]connector.Committable, q)
	k := 0
	for _, c := range cs {
		for _, b := range c {
			dealt[k%q] = append(dealt[k%q], b)
			k++
		}
	}
	s2.commit(dealt)
	expectVisible(t, fx, fmt.Sprintf("after a restored process at parallelism %d committed checkpoint 1 of parallelism %d", q, h.Parallelism), a)
	b := s2.write(100, 150)
	s2.commit(s2.preCommit(2))
	expectVisible(t, fx, "after the rescaled process committed checkpoint 2", append(slices.Clone(a), b...))
}

func checkUncommitted[T any](t *testing.T, h *SinkHarness[T]) {
	fx := h.Setup(t)
	s := open(t, h, fx.New(), 0)
	a := s.write(0, 100)
	cs1 := s.preCommit(1)
	s.commit(cs1)
	s.write(100, 150)
	_ = s.preCommit(2) // checkpoint 2 never completes
	s.write(150, 180)  // never pre-committed
	s.close()
	expectVisible(t, fx, "after a crash with checkpoint 2 pending", a)
	// Restore checkpoint 1: its committables are committed again, checkpoint 2's are lost.
	s2 := open(t, h, fx.New(), 1)
	s2.commit(cs1)
	b := s2.write(180, 230)
	s2.commit(s2.preCommit(2))
	want := append(slices.Clone(a), b...)
	expectVisible(t, fx, "after the restored process committed its checkpoint 2", want)
	s2.close()
	expectVisible(t, fx, "after Close", want)
}

func checkAbort[T any](t *testing.T, h *SinkHarness[T]) {
	fx := h.Setup(t)
	s := open(t, h, fx.New(), 0)
	a := s.write(0, 100)
	s.commit(s.preCommit(1))
	s.write(100, 150)
	cs := s.preCommit(2)
	for i, c := range cs {
		if len(c) == 0 {
			continue
		}
		if err := s.committers[i].Abort(t.Context(), copyCommittables(c)); err != nil {
			t.Fatalf("subtask %d: Abort: %v", i, err)
		}
	}
	expectVisible(t, fx, "after Abort of checkpoint 2", a)
	b := s.write(150, 200)
	s.commit(s.preCommit(3))
	expectVisible(t, fx, "after Commit of checkpoint 3", append(slices.Clone(a), b...))
}

func checkFlushes[T any](t *testing.T, h *SinkHarness[T]) {
	fx := h.Setup(t)
	s := open(t, h, fx.New(), 0)
	a := s.write(0, 150)
	s.commit(s.preCommit(1)) // a Kafka sink is a TwoPhaseCommitter also when at-least-once
	expectVisible(t, fx, "after PreCommit", a)
	b := s.write(150, 200)
	s.preCommit(math.MaxInt64)
	s.close()
	all := append(slices.Clone(a), b...)
	expectVisible(t, fx, "after the end of input's PreCommit and Close", all)
	// A restarted process writes on.
	s2 := open(t, h, fx.New(), 1)
	c := s2.write(200, 250)
	s2.preCommit(2)
	expectVisible(t, fx, "after a writer of the next attempt pre-committed", append(all, c...))
}
