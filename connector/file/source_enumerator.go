package file

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/filesystem"
)

// enumerator hands files out to readers, round robin in path order. It is called from one
// goroutine (the runtime serialises Discover with the other calls).
//
// It remembers every file it has ever put in a split in seen, and its Snapshot returns seen as a
// seenSplit beside the unassigned file splits. A file is therefore, at any checkpoint, in exactly
// one of: the enumerator's unassigned splits, a reader's snapshot (assigned and unfinished, at its
// position), or neither (finished); in all three cases it is in seen, so a restored enumerator
// never makes a split for it again and Discover skips it.
type enumerator struct {
	list    func(context.Context) ([]filesystem.FileInfo, error)
	ctx     connector.EnumeratorContext
	bounded bool
	fresh   bool // not restored: list the files at Start

	seen       map[string]bool
	queues     [][]*Split // unassigned splits, by the subtask they will go to
	registered []bool     // subtasks whose reader is ready for splits
	next       int        // subtask of the next new split
}

// enqueue queues sp for the next subtask in round-robin order.
func (e *enumerator) enqueue(sp *Split) {
	e.queues[e.next] = append(e.queues[e.next], sp)
	e.next = (e.next + 1) % len(e.queues)
}

// addNew makes splits of the listed files not seen before and assigns them.
func (e *enumerator) addNew(files []filesystem.FileInfo) int {
	n := 0
	for _, f := range files {
		if e.seen[f.Name] {
			continue
		}
		e.seen[f.Name] = true
		e.enqueue(&Split{Path: f.Name, Size: max(f.Size, 0), Version: f.Version})
		n++
	}
	for i := range e.queues {
		e.flush(i)
	}
	return n
}

// flush assigns the queued splits of subtask i if its reader is ready.
func (e *enumerator) flush(i int) {
	if !e.registered[i] || len(e.queues[i]) == 0 {
		return
	}
	splits := make([]connector.Split, len(e.queues[i]))
	for j, sp := range e.queues[i] {
		splits[j] = sp
	}
	e.queues[i] = nil
	e.ctx.Assign(i, splits...)
}

// Start lists the files on a fresh start.
func (e *enumerator) Start(ctx context.Context) error {
	if !e.fresh {
		return nil
	}
	paths, err := e.list(ctx)
	if err != nil {
		return err
	}
	e.addNew(paths)
	e.ctx.Logger().Info("file source: listed files", "files", len(paths))
	return nil
}

// AddReader assigns the reader its queued files; for a bounded source that is all it will get.
func (e *enumerator) AddReader(_ context.Context, subtask int) error {
	e.registered[subtask] = true
	e.flush(subtask)
	if e.bounded {
		e.ctx.NoMoreSplits(subtask)
	}
	return nil
}

// AddSplitsBack queues the splits again for the same subtask, to be assigned when its reader is
// added again.
func (e *enumerator) AddSplitsBack(splits []connector.Split, subtask int) {
	e.registered[subtask] = false
	for _, sp := range splits {
		if f, ok := sp.(*Split); ok {
			c := *f
			e.queues[subtask] = append(e.queues[subtask], &c)
		}
	}
}

// Snapshot returns the record of the files seen and copies of the unassigned splits.
func (e *enumerator) Snapshot() ([]connector.Split, error) {
	out := []connector.Split{&seenSplit{paths: slices.Sorted(maps.Keys(e.seen))}}
	for _, q := range e.queues {
		for _, sp := range q {
			c := *sp
			out = append(out, &c)
		}
	}
	return out, nil
}

func (e *enumerator) Close() error { return nil }

// monitoringEnumerator is the enumerator of a Monitor source: it also lists the files every
// interval and assigns the new ones.
type monitoringEnumerator struct {
	*enumerator
	interval time.Duration
}

// Discover lists the files and assigns those not seen before. A listing error is returned (the
// runtime logs it and tries again at the next interval).
func (e *monitoringEnumerator) Discover(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	paths, err := e.list(ctx)
	if err != nil {
		return err
	}
	if n := e.addNew(paths); n > 0 {
		e.ctx.Logger().Info("file source: discovered new files", "files", n)
	}
	return nil
}

// DiscoveryInterval implements connector.Discoverer: the Monitor interval.
func (e *monitoringEnumerator) DiscoveryInterval() time.Duration { return e.interval }
