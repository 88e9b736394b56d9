package stream

import (
	"fmt"

	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/state"
)

// Timer domains as stored in snapshots.
const (
	snapEventTimer uint8 = 0
	snapProcTimer  uint8 = 1
)

// SnapshotState implements runtime.Snapshotter for every operator built on keyed: its keyed
// state and timers.
func (b *keyed[K]) SnapshotState(id int64) (rt.OperatorSnapshot, error) {
	if fb, ok := b.backend.(state.FileCheckpointer); ok && !b.c.IsSavepoint(id) {
		return b.snapshotFiles(fb, id)
	}
	snap, err := b.snapshotKeyed()
	return rt.OperatorSnapshot{Keyed: snap}, err
}

// snapshotFiles takes an incremental snapshot: the backend's files, and the timers in the
// key-group format.
func (b *keyed[K]) snapshotFiles(fb state.FileCheckpointer, id int64) (rt.OperatorSnapshot, error) {
	timers, err := b.snapshotTimers()
	if err != nil {
		return rt.OperatorSnapshot{}, err
	}
	files, err := fb.CheckpointFiles(id)
	if err != nil {
		return rt.OperatorSnapshot{}, err
	}
	snap := rt.OperatorSnapshot{Files: files}
	if timers.Len() > 0 {
		snap.Keyed = state.NewSnapshot(timers)
	}
	return snap, nil
}

// snapshotTimers captures the live timers.
func (b *keyed[K]) snapshotTimers() (*state.TimerSnapshot, error) {
	codec := state.KeyCodecOf(&b.keys)
	ts := &state.TimerSnapshot{}
	var buf []byte
	add := func(q *timerQueue[K], domain uint8) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("encoding a timer's key: %v", r)
			}
		}()
		for tk := range q.set {
			buf = codec.Append(buf[:0], tk.key)
			ts.Add(keygroup.Of(b.hash(tk.key), b.c.MaxParallelism), buf, tk.at, domain)
		}
		return nil
	}
	if err := add(&b.timers.event, snapEventTimer); err != nil {
		return nil, err
	}
	if err := add(&b.timers.proc, snapProcTimer); err != nil {
		return nil, err
	}
	return ts, nil
}

// snapshotKeyed captures the subtask's keyed state (copy-on-write, or a backend snapshot) and
// its live timers, which are keyed state too: they move with their key group on a rescale.
func (b *keyed[K]) snapshotKeyed() (*state.Snapshot, error) {
	sn, ok := b.backend.(state.Snapshotter)
	if !ok {
		return nil, fmt.Errorf("the %s state backend cannot take snapshots", b.backend.Name())
	}
	ts, err := b.snapshotTimers()
	if err != nil {
		return nil, err
	}
	snap, err := sn.Snapshot()
	if err != nil {
		return nil, err
	}
	if ts.Len() > 0 {
		snap.Add(ts)
	}
	return snap, nil
}

// restoreKeyed restores the keyed state and timers of the key groups the subtask owns from
// the snapshot the job restores, if any. Call it once, in Open, after the timer service's
// onProcTime is set.
func (b *keyed[K]) restoreKeyed() error {
	r := b.c.Restored()
	if r == nil {
		return nil
	}
	sn, ok := b.backend.(state.Snapshotter)
	if !ok {
		return fmt.Errorf("the %s state backend cannot restore snapshots", b.backend.Name())
	}
	if len(r.Files()) > 0 {
		if fb, ok := b.backend.(state.FileCheckpointer); !ok || !fb.RestoredFiles() {
			return fmt.Errorf("the snapshot holds the keyed state as Pebble files (an incremental checkpoint); restore it with the pebble state backend, or take a savepoint to change backends")
		}
	}
	codec := state.KeyCodecOf(&b.keys)
	return r.KeyGroups(func(kg int, blob []byte) error {
		if !b.c.KeyGroups.Contains(kg) {
			return fmt.Errorf("key group %d is not in the subtask's range %v", kg, b.c.KeyGroups)
		}
		if err := sn.Restore(kg, blob); err != nil {
			return err
		}
		return state.RestoreTimers(blob, func(key []byte, at int64, domain uint8) error {
			k, err := codec.Decode(key)
			if err != nil {
				return fmt.Errorf("decoding a timer's key: %w", err)
			}
			switch domain {
			case snapEventTimer:
				b.timers.event.add(k, kg, at)
			case snapProcTimer:
				b.timers.registerProc(k, kg, at)
			default:
				return fmt.Errorf("timer of unknown domain %d", domain)
			}
			return nil
		})
	})
}
