package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/internal/snapshot"
	"github.com/runnel-io/runnel/state"
)

// This file is a task's part in checkpoints: snapshotting its chain at a barrier, writing the
// snapshot in the background, passing completions on to sinks, and serving checkpoints after
// its input ended until the job ends.

// taskSnapshot is the handle a task acks a snapshot with: what each of its operators wrote.
type taskSnapshot struct {
	ops       map[string]*snapshot.SubtaskState // by operator UID
	size      int64
	alignment time.Duration
	pause     time.Duration // the synchronous part: how long the task stopped processing
}

// Size implements snapshot.Sizer.
func (s *taskSnapshot) Size() int64 { return s.size }

// keyedWrite is one operator's keyed snapshot, waiting to be written.
type keyedWrite struct {
	uid   string
	node  int
	file  string
	snap  *state.Snapshot     // nil if only files
	files *state.FileSnapshot // nil if not incremental
	c     *Context
}

// uploads remembers, per operator UID, the immutable files of incremental snapshots already in
// the shared directory: local name -> shared name.
type uploads struct {
	mu    sync.Mutex
	token string // tells this task's uploads apart from other incarnations'
	names map[string]map[string]string
}

func (u *uploads) get(uid, name string) (string, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	sh, ok := u.names[uid][name]
	return sh, ok
}

func (u *uploads) put(uid, name, shared string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.names == nil {
		u.names = map[string]map[string]string{}
	}
	if u.names[uid] == nil {
		u.names[uid] = map[string]string{}
	}
	u.names[uid][name] = shared
}

// control handles a control message that is not a split assignment.
func (t *task) control(m ctrlMsg) {
	switch m.kind {
	case ctrlTrigger:
		if t.source != nil {
			t.checkpoint(m.id, true)
		} else if m.id > t.lastSnapshot {
			// The barrier comes with the records; if the input ends first, finished takes
			// the snapshot. Forget the triggers whose barrier came.
			t.triggered = slices.DeleteFunc(t.triggered, func(id int64) bool { return id <= t.lastSnapshot })
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
	start := t.clock.Now()
	snap := &taskSnapshot{ops: map[string]*snapshot.SubtaskState{}, alignment: t.alignment}
	var keyed []keyedWrite
	fail := func(err error) {
		for _, k := range keyed {
			k.release()
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
		st := &snapshot.SubtaskState{Operator: os.Operator, Committables: os.Committables}
		snap.ops[uid] = st
		for _, b := range os.Operator {
			snap.size += int64(len(b))
		}
		if os.Files != nil && trig.savepoint {
			keyedWrite{snap: os.Keyed, files: os.Files}.release()
			fail(fmt.Errorf("%s (subtask %d): an incremental snapshot for a savepoint", t.ops[i].name, t.subtask))
			return
		}
		if os.Keyed != nil || os.Files != nil {
			keyed = append(keyed, keyedWrite{uid: uid, node: t.nodes[i].ID, snap: os.Keyed, files: os.Files, c: t.ctxs[i],
				file: fmt.Sprintf("op%d-%d.kg", t.nodes[i].ID, t.subtask)})
		}
	}
	snap.pause = t.clock.Since(start)
	if barriers {
		t.forwardBarrier(id)
	}
	t.j.async.Go(func() {
		for _, k := range keyed {
			ks, err := t.writeKeyed(trig, k)
			if err != nil {
				for _, k := range keyed {
					k.release()
				}
				t.j.event(ckEvent{kind: evDecline, id: id, task: t.id, err: fmt.Errorf("%s (subtask %d): writing keyed state: %w", k.c.Name, t.subtask, err)})
				return
			}
			snap.ops[k.uid].Keyed = ks.state
			snap.size += ks.size
		}
		t.j.event(ckEvent{kind: evAck, id: id, task: t.id, handle: snap})
	})
}

func (t *task) forwardBarrier(id int64) {
	for _, f := range t.flushers {
		f.barrier(id)
	}
}

func (k keyedWrite) release() {
	if k.snap != nil {
		k.snap.Release()
	}
	if k.files != nil {
		_ = removeAll(k.files.Dir)
	}
}

var removeAll = os.RemoveAll

type written struct {
	state *snapshot.KeyedState
	size  int64 // bytes written for this snapshot (files uploaded before not counted)
}

// writeKeyed writes one operator's keyed snapshot: the key-group file of its full part, and
// the files of its incremental part that the shared directory does not have yet.
func (t *task) writeKeyed(trig *trigger, k keyedWrite) (written, error) {
	ctx := t.j.ctx
	rng := k.c.KeyGroups
	out := written{state: &snapshot.KeyedState{Start: rng.Start, End: rng.End}}
	if k.snap != nil {
		ks, err := writeGroups(ctx, trig, k)
		if err != nil {
			if k.files != nil {
				_ = removeAll(k.files.Dir)
			}
			return out, err
		}
		out.state = ks
		if n := len(ks.Groups); n > 0 {
			out.size = ks.Groups[n-1].Offset + ks.Groups[n-1].Length
		}
	}
	if k.files == nil {
		return out, nil
	}
	defer removeAll(k.files.Dir)
	for _, f := range k.files.Files {
		if f.Immutable {
			if sh, ok := t.uploads.get(k.uid, f.Name); ok {
				out.state.Shared = append(out.state.Shared, sh)
				continue
			}
		}
		sh := fmt.Sprintf("op%d-%d-%s/%s", k.node, t.subtask, t.uploads.token, f.Name)
		if !f.Immutable {
			sh = fmt.Sprintf("op%d-%d-%s/chk-%d/%s", k.node, t.subtask, t.uploads.token, trig.id, f.Name)
		}
		if err := upload(ctx, trig.storage, filepath.Join(k.files.Dir, f.Name), snapshot.SharedFile(sh)); err != nil {
			return out, err
		}
		if f.Immutable {
			t.uploads.put(k.uid, f.Name, sh)
		}
		out.state.Shared = append(out.state.Shared, sh)
		out.size += f.Size
	}
	return out, nil
}

// upload copies the local file src to name in st.
func upload(ctx context.Context, st checkpoint.Storage, src, name string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := st.Create(ctx, name)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, f); err != nil {
		return errors.Join(err, w.Abort())
	}
	return w.Close()
}

// writeGroups writes a keyed snapshot as a key-group file of the snapshot.
func writeGroups(ctx context.Context, trig *trigger, k keyedWrite) (*snapshot.KeyedState, error) {
	w, err := trig.storage.Create(ctx, trig.dir+"/"+k.file)
	if err != nil {
		k.snap.Release()
		return nil, err
	}
	kw := snapshot.NewKeyGroupWriter(w, k.file, k.c.KeyGroups)
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
