package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/runnel-io/runnel/internal/checkpoint"
	"github.com/runnel-io/runnel/state"
)

// This file is a task's part in checkpoints: snapshotting its chain at a barrier, writing the
// snapshot in the background, passing completions on to sinks, and serving checkpoints after
// its input ended until the job ends.

// taskSnapshot is the handle a task acks a snapshot with: what each of its operators wrote.
type taskSnapshot struct {
	ops       map[string]*checkpoint.SubtaskState // by operator UID
	size      int64
	alignment time.Duration
}

// Size implements checkpoint.Sizer.
func (s *taskSnapshot) Size() int64 { return s.size }

// keyedWrite is one operator's keyed snapshot, waiting to be written.
type keyedWrite struct {
	uid  string
	file string
	snap *state.Snapshot
	c    *Context
}

// control handles a control message that is not a split assignment.
func (t *task) control(m ctrlMsg) {
	switch m.kind {
	case ctrlTrigger:
		if t.source != nil {
			t.checkpoint(m.id, true)
		} else if m.id > t.lastSnapshot {
			// The barrier comes with the records; if the input ends first, finished takes
			// the snapshot.
			t.triggered = append(t.triggered, m.id)
		}
	case ctrlComplete:
		for i, inst := range t.insts {
			if l, ok := inst.(CheckpointListener); ok {
				if err := l.CheckpointComplete(m.id); err != nil {
					panic(&taskAbort{err: fmt.Errorf("runtime: %s (subtask %d): committing checkpoint %d: %w", t.ops[i].name, t.subtask, m.id, err)})
				}
			}
		}
		if m.final {
			t.j.event(ckEvent{kind: evCommitted, id: m.id, task: t.id})
		}
	case ctrlAbort:
		if t.gate != nil {
			t.received += int64(t.gate.cancel(m.id))
		}
	}
}

// handleCtrl handles the control messages of a task fed by exchanges.
func (t *task) handleCtrl() {
	for _, m := range t.ctrl.take() {
		t.control(m)
	}
}

// checkpoint snapshots the task's chain for checkpoint id, head first, forwards the barrier
// (unless the task's outputs have ended) and writes the snapshot in the background, which then
// acknowledges it to the checkpoint loop.
func (t *task) checkpoint(id int64, barriers bool) {
	if id <= t.lastSnapshot {
		return
	}
	t.lastSnapshot = id
	trig := t.j.trigger(id)
	if trig == nil {
		// Aborted before its barrier got here: pass the barrier on so that downstream
		// alignment ends, but snapshot nothing.
		if barriers {
			t.forwardBarrier(id)
		}
		return
	}
	snap := &taskSnapshot{ops: map[string]*checkpoint.SubtaskState{}, alignment: t.alignment}
	var keyed []keyedWrite
	fail := func(err error) {
		for _, k := range keyed {
			k.snap.Release()
		}
		t.j.event(ckEvent{kind: evDecline, id: id, task: t.id, err: err})
		if barriers {
			t.forwardBarrier(id)
		}
	}
	for i, inst := range t.insts {
		s, ok := inst.(Snapshotter)
		if !ok {
			continue
		}
		os, err := s.SnapshotState(id)
		if err != nil {
			fail(fmt.Errorf("%s (subtask %d): %w", t.ops[i].name, t.subtask, err))
			return
		}
		uid := t.nodes[i].uid()
		st := &checkpoint.SubtaskState{Operator: os.Operator, Committables: os.Committables}
		snap.ops[uid] = st
		for _, b := range os.Operator {
			snap.size += int64(len(b))
		}
		if os.Keyed != nil {
			keyed = append(keyed, keyedWrite{uid: uid, snap: os.Keyed, c: t.ctxs[i],
				file: fmt.Sprintf("op%d-%d.kg", t.nodes[i].ID, t.subtask)})
		}
	}
	if barriers {
		t.forwardBarrier(id)
	}
	t.j.async.Go(func() {
		for _, k := range keyed {
			ks, err := writeKeyed(t.j.ctx, trig, k)
			if err != nil {
				for _, k := range keyed {
					k.snap.Release()
				}
				t.j.event(ckEvent{kind: evDecline, id: id, task: t.id, err: fmt.Errorf("%s (subtask %d): writing keyed state: %w", k.c.Name, t.subtask, err)})
				return
			}
			snap.ops[k.uid].Keyed = ks
			if n := len(ks.Groups); n > 0 {
				last := ks.Groups[n-1]
				snap.size += last.Offset + last.Length
			}
		}
		t.j.event(ckEvent{kind: evAck, id: id, task: t.id, handle: snap})
	})
}

func (t *task) forwardBarrier(id int64) {
	for _, f := range t.flushers {
		f.barrier(id)
	}
}

// writeKeyed writes one operator's keyed snapshot as a key-group file of the snapshot.
func writeKeyed(ctx context.Context, trig *trigger, k keyedWrite) (*checkpoint.KeyedState, error) {
	w, err := trig.storage.Create(ctx, trig.dir+"/"+k.file)
	if err != nil {
		k.snap.Release()
		return nil, err
	}
	kw := checkpoint.NewKeyGroupWriter(w, k.file, k.c.KeyGroups)
	if err := k.snap.WriteGroups(kw); err != nil {
		return nil, errors.Join(err, w.Abort())
	}
	ks, err := kw.Finish()
	if err != nil {
		return nil, errors.Join(err, w.Abort())
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return ks, nil
}

// finished is called when the task's input ended and its outputs are finished. With a
// checkpoint loop the task stays: it snapshots its final state for the checkpoints still to
// come, and passes completions on to its sinks, until the job ends (Flink's final checkpoint,
// FLIP-147); so output written at the end is committed by a checkpoint too.
func (t *task) finished() {
	if !t.j.loopRuns {
		return
	}
	for _, id := range t.triggered {
		t.checkpoint(id, false)
	}
	t.triggered = nil
	t.j.event(ckEvent{kind: evFinished, task: t.id})
	for {
		select {
		case <-t.ctrl.notify:
			for _, m := range t.ctrl.take() {
				switch m.kind {
				case ctrlTrigger:
					t.checkpoint(m.id, false)
				case ctrlComplete:
					t.control(m)
				}
			}
		case <-t.ctx.Done():
			return
		}
	}
}
