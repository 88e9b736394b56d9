package pebble

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/state/blob"
)

// Backend is the Pebble state backend of one operator subtask. It implements
// state.BytesBackend and state.Snapshotter. It is not safe for concurrent use, except that
// Snapshots it returns may be serialised on another goroutine.
type Backend struct {
	db   *pebble.DB
	opts Options
	// states is the registry, by name; byID the same by id.
	states map[string]stateInfo
	byID   map[uint64]stateInfo
	nextID uint64
	tables map[string]*table
	now    func() int64
}

// stateInfo is one entry of the state registry.
type stateInfo struct {
	name string
	id   uint64
	kind blob.Kind
}

// metaPrefix starts every key outside the key groups' space (key groups start with a byte
// below 0x80).
const metaPrefix = 0xff

// registryPrefix is the prefix of the state registry's keys: state name -> id, kind.
var registryPrefix = []byte{metaPrefix, 's'}

// Open opens (creating it if needed) the database in opts.Dir. It returns an error if opts are
// invalid or Pebble cannot open the directory.
func Open(opts Options) (*Backend, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("pebble: creating %s: %w", opts.Dir, err)
	}
	cache := pebble.NewCache(cacheSize(opts))
	defer cache.Unref() // the DB holds its own reference
	db, err := pebble.Open(opts.Dir, pebbleOptions(opts, cache, false))
	if err != nil {
		return nil, fmt.Errorf("pebble: opening %s: %w", opts.Dir, err)
	}
	b := &Backend{db: db, opts: opts, tables: map[string]*table{}}
	if err := b.loadRegistry(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return b, nil
}

// memTables is the most memtables a database has at a time (Pebble's
// MemTableStopWritesThreshold): one written, one being flushed.
const memTables = 2

// cacheSize returns the size of the Pebble cache for o: Pebble reserves the memtables' memory
// in its block cache, so the cache holds both, and its size is the backend's memory budget.
func cacheSize(o Options) int64 { return o.CacheSize + memTables*int64(o.MemTableSize) }

// pebbleOptions returns the Pebble options of a backend's database (or of a checkpoint opened
// read-only to copy key groups out of it).
func pebbleOptions(o Options, cache *pebble.Cache, readOnly bool) *pebble.Options {
	po := &pebble.Options{
		Cache:                       cache,
		MemTableSize:                o.MemTableSize,
		MemTableStopWritesThreshold: memTables,
		DisableWAL:                  true,
		Merger:                      pebble.DefaultMerger,
		Logger:                      logger{o.Logger},
		FormatMajorVersion:          pebble.FormatNewest,
		ReadOnly:                    readOnly,
		MaxOpenFiles:                256,
		FS:                          noSyncFS{vfs.Default},
	}
	// Bloom filters on every level: a state read is a point look-up, often of a key that has
	// no state yet, and without filters it would read a block of every overlapping file.
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	po.EnsureDefaults()
	return po
}

// loadRegistry reads the state registry.
func (b *Backend) loadRegistry() error {
	reg, err := readRegistry(b.db)
	if err != nil {
		return err
	}
	b.states, b.byID, b.nextID = map[string]stateInfo{}, map[uint64]stateInfo{}, 1
	for _, si := range reg {
		b.states[si.name], b.byID[si.id] = si, si
		b.nextID = max(b.nextID, si.id+1)
	}
	return nil
}

// reader is what readRegistry needs of a database or snapshot.
type reader interface {
	NewIter(*pebble.IterOptions) (*pebble.Iterator, error)
}

func readRegistry(r reader) ([]stateInfo, error) {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: registryPrefix, UpperBound: prefixEnd(registryPrefix)})
	if err != nil {
		return nil, fmt.Errorf("pebble: reading the state registry: %w", err)
	}
	var out []stateInfo
	for it.First(); it.Valid(); it.Next() {
		name := string(it.Key()[len(registryPrefix):])
		v := it.Value()
		id, n := binary.Uvarint(v)
		if n <= 0 || len(v) != n+1 || !blob.Kind(v[n]).Valid() {
			_ = it.Close()
			return nil, fmt.Errorf("pebble: state registry entry of %q is corrupt: %x", name, v)
		}
		out = append(out, stateInfo{name: name, id: id, kind: blob.Kind(v[n])})
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("pebble: reading the state registry: %w", err)
	}
	return out, nil
}

// Name returns "pebble".
func (*Backend) Name() string { return "pebble" }

// Dir returns the database's working directory.
func (b *Backend) Dir() string { return b.opts.Dir }

// Close closes the database; its files stay in Options.Dir. With the write-ahead log off,
// writes not yet flushed (by a Checkpoint or a full memtable) are lost: reopening the directory
// is no substitute for restoring a checkpoint. Every Snapshot must have been released first.
func (b *Backend) Close() error {
	if b.db == nil {
		return nil
	}
	err := b.db.Close()
	b.db = nil
	if err != nil {
		return fmt.Errorf("pebble: closing %s: %w", b.opts.Dir, err)
	}
	return nil
}

// Table returns the storage of a state, registering it. It returns an error if the state is
// registered with another kind.
func (b *Backend) Table(spec state.TableSpec) (state.BytesTable, error) {
	return b.table(spec)
}

func (b *Backend) table(spec state.TableSpec) (*table, error) {
	if b.db == nil {
		return nil, errors.New("pebble: backend is closed")
	}
	if b.now == nil && spec.Now != nil {
		b.now = spec.Now
	}
	if t, ok := b.tables[spec.Name]; ok {
		if t.info.kind != spec.Kind {
			return nil, fmt.Errorf("pebble: state %q is %v state, not %v", spec.Name, t.info.kind, spec.Kind)
		}
		return t, nil
	}
	si, ok := b.states[spec.Name]
	if !ok {
		if !spec.Kind.Valid() {
			return nil, fmt.Errorf("pebble: state %q: invalid kind %d", spec.Name, spec.Kind)
		}
		si = stateInfo{name: spec.Name, id: b.nextID, kind: spec.Kind}
		v := append(binary.AppendUvarint(nil, si.id), byte(si.kind))
		if err := b.db.Set(append(registryPrefix[:len(registryPrefix):len(registryPrefix)], spec.Name...), v, pebble.NoSync); err != nil {
			return nil, fmt.Errorf("pebble: registering state %q: %w", spec.Name, err)
		}
		b.nextID++
		b.states[si.name], b.byID[si.id] = si, si
	} else if si.kind != spec.Kind {
		return nil, fmt.Errorf("pebble: state %q is stored as %v state, not %v", spec.Name, si.kind, spec.Kind)
	}
	t := &table{db: b.db, info: si, idBytes: binary.AppendUvarint(nil, si.id)}
	b.tables[spec.Name] = t
	return t, nil
}

// nowMillis returns processing time for dropping expired state, or the smallest time when no
// handle gave a clock (then nothing has an expiry).
func (b *Backend) nowMillis() int64 {
	if b.now == nil {
		return math.MinInt64
	}
	return b.now()
}

// table is one state's storage: the keys of its id in every key group.
type table struct {
	db      *pebble.DB
	info    stateInfo
	idBytes []byte
	kbuf    []byte
	ubuf    []byte
}

// key returns the database key of key in key group kg, in a buffer reused by the next call.
func (t *table) key(kg int, key []byte) []byte {
	t.kbuf = appendPrefix(t.kbuf[:0], kg, t.idBytes)
	t.kbuf = append(t.kbuf, key...)
	return t.kbuf
}

func appendPrefix(dst []byte, kg int, id []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(kg))
	return append(dst, id...)
}

func (t *table) Get(dst []byte, kg int, key []byte) ([]byte, bool, error) {
	v, closer, err := t.db.Get(t.key(kg, key))
	if errors.Is(err, pebble.ErrNotFound) {
		return dst, false, nil
	}
	if err != nil {
		return dst, false, err
	}
	dst = append(dst, v...)
	return dst, true, closer.Close()
}

func (t *table) Set(kg int, key, value []byte) error {
	return t.db.Set(t.key(kg, key), value, pebble.NoSync)
}

func (t *table) Merge(kg int, key, value []byte) error {
	return t.db.Merge(t.key(kg, key), value, pebble.NoSync)
}

func (t *table) Delete(kg int, key []byte) error {
	return t.db.Delete(t.key(kg, key), pebble.NoSync)
}

func (t *table) DeletePrefix(kg int, prefix []byte) error {
	start := t.key(kg, prefix)
	t.ubuf = prefixEndInto(t.ubuf[:0], start)
	return t.db.DeleteRange(start, t.ubuf, pebble.NoSync)
}

func (t *table) Scan(kg int, prefix []byte, fn func(suffix, value []byte) bool) error {
	// Own copies of the bounds: fn may call Get, which reuses kbuf.
	lower := appendPrefix(nil, kg, t.idBytes)
	lower = append(lower, prefix...)
	it, err := t.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return err
		}
		if !fn(it.Key()[len(lower):], v) {
			break
		}
	}
	return it.Close()
}

// prefixEnd returns the smallest key greater than every key starting with p, a new slice.
func prefixEnd(p []byte) []byte { return prefixEndInto(nil, p) }

func prefixEndInto(dst, p []byte) []byte {
	dst = append(dst, p...)
	for i := len(dst) - 1; i >= 0; i-- {
		if dst[i] != 0xff {
			dst[i]++
			return dst[:i+1]
		}
	}
	return nil // p is all 0xff: no upper bound
}

// groupKey returns the first key of key group kg.
func groupKey(kg int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(kg)) }

var (
	_ state.BytesBackend = (*Backend)(nil)
	_ state.Snapshotter  = (*Backend)(nil)
	_ state.BytesTable   = (*table)(nil)
)
