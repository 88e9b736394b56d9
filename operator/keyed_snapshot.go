package operator

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

// SnapshotState implements runtime.Snapshotter for every operator built on Keyed: its keyed
// state and timers.
func (b *Keyed[K]) SnapshotState(id int64) (rt.OperatorSnapshot, error) {
	if fb, ok := b.Backend.(state.FileCheckpointer); ok && !b.C.IsSavepoint(id) {
		return b.snapshotFiles(fb, id)
	}
	snap, err := b.snapshotKeyed()
	return rt.OperatorSnapshot{Keyed: snap}, err
}

// snapshotFiles takes an incremental snapshot: the backend's files, and the timers in the
// key-group format.
func (b *Keyed[K]) snapshotFiles(fb state.FileCheckpointer, id int64) (rt.OperatorSnapshot, error) {
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
func (b *Keyed[K]) snapshotTimers() (*state.TimerSnapshot, error) {
	codec := state.KeyCodecOf(&b.Keys)
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
			ts.Add(keygroup.Of(b.Hash(tk.key), b.C.MaxParallelism), buf, tk.at, domain)
		}
		return nil
	}
	if err := add(&b.Timers.event, snapEventTimer); err != nil {
		return nil, err
	}
	if err := add(&b.Timers.proc, snapProcTimer); err != nil {
		return nil, err
	}
	return ts, nil
}

// snapshotKeyed captures the subtask's keyed state (copy-on-write, or a backend snapshot) and
// its live timers, which are keyed state too: they move with their key group on a rescale.
func (b *Keyed[K]) snapshotKeyed() (*state.Snapshot, error) {
	sn, ok := b.Backend.(state.Snapshotter)
	if !ok {
		return nil, fmt.Errorf("the %s state backend cannot take snapshots", b.Backend.Name())
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

// RestoreKeyed restores the keyed state and timers of the key groups the subtask owns from
// the snapshot the job restores, if any. Call it once, in Open, after the timer service's
// onProcTime is set.
func (b *Keyed[K]) RestoreKeyed() error {
	r := b.C.Restored()
	if r == nil {
		return nil
	}
	sn, ok := b.Backend.(state.Snapshotter)
	if !ok {
		return fmt.Errorf("the %s state backend cannot restore snapshots", b.Backend.Name())
	}
	if len(r.Files()) > 0 {
		if fb, ok := b.Backend.(state.FileCheckpointer); !ok || !fb.RestoredFiles() {
			return fmt.Errorf("the snapshot holds the keyed state as Pebble files (an incremental checkpoint); restore it with the pebble state backend, or take a savepoint to change backends")
		}
	}
	codec := state.KeyCodecOf(&b.Keys)
	return r.KeyGroups(func(kg int, blob []byte) error {
		if !b.C.KeyGroups.Contains(kg) {
			return fmt.Errorf("key group %d is not in the subtask's range %v", kg, b.C.KeyGroups)
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
				b.Timers.event.add(k, kg, at)
			case snapProcTimer:
				b.Timers.registerProc(k, kg, at)
			default:
				return fmt.Errorf("timer of unknown domain %d", domain)
			}
			return nil
		})
	})
}
