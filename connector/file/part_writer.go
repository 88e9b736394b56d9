package file

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/runnel-io/runnel/connector"
)

// What the line Sink and the BulkSink do alike with their part files: make the root, start a
// subtask's writer, roll and hand out parts at a pre-commit, and drop what was not handed out.

// makeRoot returns dir made absolute, so committables name absolute paths, creating it if
// missing.
func makeRoot(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("file: empty output directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("file: output directory %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", fmt.Errorf("file: creating output directory %s: %w", abs, err)
	}
	return abs, nil
}

// startWriter deletes the in-progress files that subtask sc.Subtask left below root in earlier
// attempts (see the package documentation) and returns the prefix of the writer's part names,
// "part-<subtask>-<attempt>-<run><token>-", with its logger.
func startWriter(ctx context.Context, root, run string, sc connector.SinkContext) (base string, log *slog.Logger, err error) {
	log = sc.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	removed, err := removeLeftovers(ctx, root, func(n partName) bool {
		return n.state == stateInProgress && n.subtask == sc.Subtask && n.attempt < sc.Attempt
	}, nil)
	for _, p := range removed {
		log.Info("file sink: removed in-progress file of an earlier attempt", "path", p, "subtask", sc.Subtask)
	}
	if err != nil {
		return "", nil, fmt.Errorf("file: subtask %d: removing in-progress files of earlier attempts: %w", sc.Subtask, err)
	}
	var token [4]byte
	_, _ = rand.Read(token[:]) // never fails (crypto/rand crashes the program instead)
	return fmt.Sprintf("part-%d-%d-%s%s-", sc.Subtask, sc.Attempt, run, hex.EncodeToString(token[:])), log, nil
}

// preCommitParts rolls every open part, in bucket order, and hands out the rolled ones since
// the previous pre-commit (handOut), emptying rolled.
func preCommitParts[P any](ctx context.Context, subtask int, checkpointID int64, root string,
	open map[string]P, roll func(P) error, rolled *[]record) ([]connector.Committable, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("file: subtask %d: pre-commit of checkpoint %d: %w", subtask, checkpointID, err)
	}
	var errs []error
	for _, b := range slices.Sorted(maps.Keys(open)) {
		p := open[b]
		delete(open, b)
		errs = append(errs, roll(p))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("file: pre-commit of checkpoint %d: %w", checkpointID, err)
	}
	cs, err := handOut(*rolled, root)
	if err != nil {
		return nil, fmt.Errorf("file: subtask %d: pre-commit of checkpoint %d: %w", subtask, checkpointID, err)
	}
	*rolled = (*rolled)[:0]
	return cs, nil
}

// discard closes the open parts' files and deletes them, and the pending files of rolled: what a
// writer's Close leaves behind of what no pre-commit handed out.
func discard(subtask int, open []*partFile, rolled []record) error {
	var errs []error
	remove := func(path string) {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	for _, p := range open {
		_ = p.f.Close() // abandoned: its content does not matter
		remove(p.inProgressPath())
	}
	for _, r := range rolled {
		remove(r.Pending)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("file: subtask %d: removing uncommitted files: %w", subtask, err)
	}
	return nil
}

// handOut makes the rolled pending files durable and returns their committables: it syncs every
// bucket directory holding one and that directory's parents up to root, so the pending names and
// the bucket directories themselves survive a crash.
func handOut(rolled []record, root string) ([]connector.Committable, error) {
	if len(rolled) == 0 {
		return nil, nil
	}
	dirs := map[string]bool{}
	cs := make([]connector.Committable, 0, len(rolled))
	for _, r := range rolled {
		dirs[filepath.Dir(r.Pending)] = true
		cs = append(cs, r.marshal())
	}
	synced := map[string]bool{}
	for _, d := range slices.Sorted(maps.Keys(dirs)) {
		for ; !synced[d]; d = filepath.Dir(d) {
			synced[d] = true
			if err := syncDir(d); err != nil {
				return nil, err
			}
			if d == root || filepath.Dir(d) == d {
				break
			}
		}
	}
	return cs, nil
}

// syncDir fsyncs a directory, making the names created or renamed in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing directory: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}
