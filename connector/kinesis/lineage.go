package kinesis

import (
	"cmp"
	"slices"
	"sync"
)

// lineage is what the enumerator and the readers of one run of a Source share: which shards
// were read to their end (readers record it, the enumerator waits for it before assigning a
// child) and which shards the stream listed last (the enumerator records it; readers drop their
// markers of shards it no longer lists, which expired past the stream's retention). The Connector contract has no event from a reader to the enumerator,
// so this is the one channel between them; it lives no longer than a run, and a restored run
// rebuilds it from the finished markers in the readers' snapshots. It is safe for concurrent
// use.
type lineage struct {
	mu struct {
		sync.Mutex
		finished map[string]bool
		listed   map[string]bool // the last listing, never modified; nil before the first
	}
}

func newLineage() *lineage {
	l := &lineage{}
	l.mu.finished = map[string]bool{}
	return l
}

// finish records that shard was read to its end.
func (l *lineage) finish(shard string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mu.finished[shard] = true
}

// finished reports whether shard was read to its end.
func (l *lineage) finished(shard string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.finished[shard]
}

// setListed records the shards of the latest listing. The lineage keeps listed, which the
// caller must not modify afterwards.
func (l *lineage) setListed(listed map[string]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mu.listed = listed
}

// unlisted reports whether the latest listing lacks shard: it expired.
func (l *lineage) unlisted(shard string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.listed != nil && !l.mu.listed[shard]
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
