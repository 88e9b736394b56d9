package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/internal/snapshot"
	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/state"
)

// uid returns the ID that matches n's state in snapshots: the one the user set, or one derived
// from its name and position in the graph, which changes when the graph does.
func (n *Node) uid() string {
	if n.UID != "" {
		return n.UID
	}
	return derivedUID(n)
}

var nonWord = regexp.MustCompile(`[^a-zA-Z0-9]+`)

func derivedUID(n *Node) string {
	name := strings.Trim(strings.ToLower(nonWord.ReplaceAllString(n.Name, "-")), "-")
	if name == "" {
		name = "operator"
	}
	return name + "-" + strconv.Itoa(n.ID)
}

// checkRestore checks that the snapshot a job restores fits the graph: every operator state in
// it is claimed by a node (unless non-restored state is allowed), and keyed state keeps its
// number of key groups.
func (j *job) checkRestore() error {
	r := j.restore
	if r == nil {
		return nil
	}
	claimed := map[string]*Node{}
	for _, n := range j.g.Nodes {
		claimed[n.uid()] = n
	}
	var unclaimed []string
	for uid, op := range r.Metadata.Operators {
		n, ok := claimed[uid]
		if !ok {
			unclaimed = append(unclaimed, uid)
			continue
		}
		if op.MaxParallelism != j.cfg.MaxParallelism && hasKeyed(op) {
			return fmt.Errorf("runtime: restoring %s: operator %q was snapshotted with max parallelism %d, the job has %d; keyed state cannot move to another number of key groups",
				r.Dir, n.Name, op.MaxParallelism, j.cfg.MaxParallelism)
		}
	}
	if len(unclaimed) > 0 && !r.AllowNonRestoredState {
		slices.Sort(unclaimed)
		return fmt.Errorf("runtime: restoring %s: the snapshot has state for operators the job does not have (UIDs %s); set stable UIDs with Uid(...), or allow non-restored state (--allow-non-restored-state) to drop it",
			r.Dir, strings.Join(unclaimed, ", "))
	}
	for _, uid := range unclaimed {
		j.cfg.Logger.Warn("dropping state no operator claims", "uid", uid, "snapshot", r.Dir)
	}
	return nil
}

func hasKeyed(op *snapshot.OperatorState) bool {
	for _, st := range op.Subtasks {
		if st.Keyed != nil {
			return true
		}
	}
	return false
}

// restoredFor returns what subtask of node n restores, nil if nothing.
func (j *job) restoredFor(n *Node, subtask int) (*Restored, error) {
	if j.restore == nil {
		return nil, nil
	}
	op := j.restore.Metadata.Operators[n.uid()]
	if op == nil {
		return nil, nil
	}
	r := &Restored{CheckpointID: j.restore.Metadata.ID}
	for _, st := range op.Subtasks {
		r.Union = append(r.Union, st.Operator...)
	}
	if len(op.Subtasks) == n.Parallelism {
		// Same parallelism: each subtask gets back what it wrote.
		r.Operator = op.Subtasks[subtask].Operator
		r.Committables = op.Subtasks[subtask].Committables
	} else {
		// Rescaled: the blobs of all old subtasks are dealt round-robin, as Flink deals list
		// state (a source's splits spread over the new readers).
		k := 0
		for _, st := range op.Subtasks {
			for _, b := range st.Operator {
				if k%n.Parallelism == subtask {
					r.Operator = append(r.Operator, b)
				}
				k++
			}
		}
		k = 0
		for _, st := range op.Subtasks {
			for _, b := range st.Committables {
				if k%n.Parallelism == subtask {
					r.Committables = append(r.Committables, b)
				}
				k++
			}
		}
	}
	rng := keygroup.RangeOf(subtask, j.cfg.MaxParallelism, n.Parallelism)
	for _, i := range op.Overlapping(rng) {
		ks := op.Subtasks[i].Keyed
		if len(ks.Shared) == 0 {
			continue
		}
		byName := make(map[string]string, len(ks.Shared))
		rf := state.RestoredFiles{Range: ks.Range()}
		for _, sh := range ks.Shared {
			base := path.Base(sh)
			byName[base] = sh
			rf.Names = append(rf.Names, base)
		}
		st := j.restore.Storage
		rf.Open = func(ctx context.Context, name string) (io.ReadCloser, error) {
			sh, ok := byName[name]
			if !ok {
				return nil, fmt.Errorf("restoring %s: the snapshot has no file %q", n.Name, name)
			}
			return st.Open(ctx, snapshot.SharedFile(sh))
		}
		r.files = append(r.files, rf)
		if ks.Range() == rng && !j.restore.Metadata.Savepoint {
			// The backend restores these very files: they need no new upload.
			r.seed = map[string]string{}
			for base, sh := range byName {
				if !strings.Contains(sh, "/chk-") {
					r.seed[base] = sh
				}
			}
		}
	}
	blobs := op.KeyGroups(rng)
	if len(blobs) > 0 {
		st, dir, ctx := j.restore.Storage, j.restore.Dir, j.ctx
		r.groups = func(fn func(kg int, blob []byte) error) error {
			for _, b := range blobs {
				data, err := snapshot.ReadKeyGroup(ctx, st, dir, b)
				if err != nil {
					return fmt.Errorf("restoring %s subtask %d: %w", n.Name, subtask, err)
				}
				if err := fn(b.Group, data); err != nil {
					return fmt.Errorf("restoring key group %d of %s subtask %d: %w", b.Group, n.Name, subtask, err)
				}
			}
			return nil
		}
	}
	return r, nil
}

// restoredSplits returns the unassigned splits of source n in the snapshot: nil on a fresh
// start, non-nil (maybe empty) on a restore.
func (j *job) restoredSplits(n *Node) ([]connector.Split, error) {
	if j.restore == nil {
		return nil, nil
	}
	op := j.restore.Metadata.Operators[n.uid()]
	if op == nil {
		return nil, nil
	}
	splits, err := decodeSplits(n.Source.codec(), op.Global)
	if err != nil {
		return nil, fmt.Errorf("runtime: restoring source %s: %w", n, err)
	}
	if splits == nil {
		splits = []connector.Split{}
	}
	return splits, nil
}

func (r *Restored) seedFiles() map[string]string {
	if r == nil {
		return nil
	}
	return r.seed
}

// randomToken returns 8 random hex digits.
func randomToken() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}
